"""The sub-pixel peak of a phase-correlation surface, and the spectral weights.

The peak is found on the half spectrum of real FFTs (the cross-correlation of
real images is real, so half the spectrum carries it all) by matrix-multiply
DFTs, refined in stages -- 1/10 pixel over +-0.8 pixel, then 1/100 over +-0.1
pixel, ... -- which lands on the same ``1/upsample`` grid as one big upsampled
region of 1.5 pixels (Guizar-Sicairos et al. 2008), at a fraction of its
matrix products. Shared by :func:`phase_correlation` (one surface) and
:func:`shift_field` (a batch of them).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = [
    "EPS",
    "check_cutoff",
    "dft_kernels",
    "half_spectrum_weights",
    "refine",
    "second_peak",
    "spectral_weights",
    "wrap_peak",
]

# The peak of the integer-grid surface is refined in stages of this ratio
# (1/10 px, then 1/100 px, ...), each covering the last stage's step with room.
_STAGE_RATIO = 10
_FIRST_HALF_WIDTH_PX = 0.8
_STAGE_MARGIN = 1.0
# Radius (px) around the main peak left out when looking for the second peak.
_PEAK_EXCLUSION = 3
#: Floor of the cross-power magnitude before it is inverted (no division by 0).
EPS = np.float32(1e-20)


@functools.lru_cache(maxsize=16)
def spectral_weights(shape: tuple[int, int], cutoff: float) -> tuple[np.ndarray, float]:
    """Radial Hann weights of the rfft half spectrum, 0 from ``cutoff`` cycles/px on.

    Returns the (Ny, Nx//2+1) float32 weights (read-only) and their sum over
    the full spectrum, which normalises the peak height to [0, 1].
    """
    radius = np.hypot(np.fft.fftfreq(shape[0])[:, None], np.fft.rfftfreq(shape[1])[None, :])
    ratio = radius / cutoff
    weights = np.where(ratio < 1, 0.5 + 0.5 * np.cos(np.pi * np.minimum(ratio, 1)), 0.0)
    total = float((weights * half_spectrum_weights(shape[1])[None, :]).sum())
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights, total


def check_cutoff(cutoff: float | None) -> None:
    """Raise :class:`InvalidInputError` unless ``cutoff`` is positive or None."""
    if cutoff is not None and not cutoff > 0:
        raise InvalidInputError(
            f"spectral_cutoff must be positive (cycles/px) or None, got {cutoff!r}"
        )


def half_spectrum_weights(width: int) -> np.ndarray:
    """Weights of the rfft columns: 1 for DC (and Nyquist), 2 for the mirrored ones."""
    weights = np.full(width // 2 + 1, 2.0)
    weights[0] = 1.0
    if width % 2 == 0:
        weights[-1] = 1.0
    return weights


def _stages(upsample: int) -> list[tuple[int, int]]:
    """(factor, half width in samples) of each refinement stage up to ``upsample``."""
    factors = []
    factor = _STAGE_RATIO
    while factor < upsample:
        factors.append(factor)
        factor *= _STAGE_RATIO
    factors.append(upsample)
    stages = [(factors[0], int(np.ceil(_FIRST_HALF_WIDTH_PX * factors[0])))]
    for previous, current in itertools.pairwise(factors):
        stages.append((current, int(np.ceil(_STAGE_MARGIN * current / previous))))
    return stages


def dft_kernels(
    centres: np.ndarray, offsets: np.ndarray, full_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Matrix-DFT kernels evaluating the correlation at ``centres + offsets``.

    Returns ``ky`` (n, u, Ny) and ``kx`` (n, Nx//2+1, u), complex64; phases are
    computed in float64 (they reach thousands of radians) and then cast.
    """
    height, width = full_shape
    freq_y = np.fft.fftfreq(height)
    freq_x = np.fft.rfftfreq(width)
    ys = centres[:, 0, None] + offsets[None, :]
    xs = centres[:, 1, None] + offsets[None, :]
    ky = np.exp(2j * np.pi * ys[:, :, None] * freq_y[None, None, :]).astype(np.complex64)
    kx = np.exp(2j * np.pi * freq_x[None, :, None] * xs[:, None, :])
    kx *= half_spectrum_weights(width)[None, :, None]
    return ky, kx.astype(np.complex64)


def refine(
    spectra: np.ndarray, full_shape: tuple[int, int], seeds: np.ndarray, upsample: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peaks of the correlation surfaces of half ``spectra`` (n, Ny, Nx//2+1).

    Starts at integer ``seeds`` (n, 2) and returns the peaks (n, 2) on the
    ``1 / upsample`` grid and the surface heights there divided by Ny * Nx.
    """
    centres = seeds.astype(np.float64)
    n = len(centres)
    heights = np.zeros(n)
    rows = np.arange(n)
    for factor, half in _stages(upsample):
        centres = np.round(centres * factor) / factor
        offsets = np.arange(-half, half + 1) / factor
        ky, kx = dft_kernels(centres, offsets, full_shape)
        # One 2-D product per item: numpy's stacked matmul does not reach BLAS.
        surface = np.stack([((ky[i] @ spectra[i]) @ kx[i]).real for i in range(n)])
        flat = surface.reshape(n, -1).argmax(axis=1)
        iy, ix = np.unravel_index(flat, surface.shape[1:])
        centres = centres + np.stack([offsets[iy], offsets[ix]], axis=1)
        heights = surface[rows, iy, ix]
    return centres, heights / (full_shape[0] * full_shape[1])


def wrap_peak(index: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Integer peak positions to signed shifts (skimage's convention at N/2)."""
    index = index.astype(np.float64)
    size = np.asarray(shape, dtype=np.float64)
    return np.where(index > np.trunc(size / 2), index - size, index)


def second_peak(surface: np.ndarray, peak: tuple[int, int]) -> float:
    """Highest value of ``surface`` farther than ``_PEAK_EXCLUSION`` px from ``peak``."""
    height, width = surface.shape
    reach = _PEAK_EXCLUSION
    rows = np.arange(peak[0] - reach, peak[0] + reach + 1) % height
    cols = np.arange(peak[1] - reach, peak[1] + reach + 1) % width
    saved = surface[np.ix_(rows, cols)].copy()
    surface[np.ix_(rows, cols)] = -np.inf
    second = float(surface.max())
    surface[np.ix_(rows, cols)] = saved
    return second if np.isfinite(second) else 0.0
