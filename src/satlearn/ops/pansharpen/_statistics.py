"""The first pass: joint moments of ``[MS_1..MS_B, PAN, PAN_low]`` and what they give.

Methods whose parameters depend on the whole image (IHS, Gram-Schmidt and
PCA need the mean and covariance of the MS bands and the pan; ``"auto"``
weights, HPF's global gains and its local-gain regularisation need the
regression of the low-passed pan on the MS bands) first estimate one joint
mean/covariance (*global*): on every pixel when the scene has at most
``sample_pixels`` pixels, otherwise on a subset of evenly spread dask blocks
(or a strided sample of a numpy array) of about that many pixels.

scipy loads on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.deprecation import renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._inputs import F32, band_vector, kernel_arrays

__all__ = [
    "FusionStatistics",
    "auto_weights",
    "estimate_statistics",
    "gaussian_low_pass",
    "low_pass",
    "moments",
    "mtf_sigma",
    "resolve_weights",
    "sample_statistics",
]


@dataclass(frozen=True)
class FusionStatistics:
    """Joint mean and covariance of ``[MS_1..MS_B, PAN, PAN_low]`` over valid pixels.

    Attributes
    ----------
    mean : ndarray, shape (B + 2,)
    cov : ndarray, shape (B + 2, B + 2)
    n_pixels : int
        Number of pixels the moments were estimated on.
    """

    mean: np.ndarray
    cov: np.ndarray
    n_pixels: int

    @property
    def count(self) -> int:
        """Number of MS bands."""
        return self.mean.size - 2


def moments(ms: np.ndarray, pan: np.ndarray, pan_low: np.ndarray) -> FusionStatistics:
    """The moments of the pixels where every layer is finite.

    Raises
    ------
    InvalidInputError
        Fewer than two such pixels.
    """
    stack = np.concatenate(
        [ms.reshape(ms.shape[0], -1), pan.reshape(1, -1), pan_low.reshape(1, -1)]
    ).astype(np.float64)
    stack = stack[:, np.all(np.isfinite(stack), axis=0)]
    if stack.shape[1] < 2:
        raise InvalidInputError("pansharpen: fewer than 2 valid pixels where MS and pan overlap")
    return FusionStatistics(stack.mean(axis=1), np.cov(stack), int(stack.shape[1]))


@renamed_keywords(sigma="sigma_px")
def estimate_statistics(ms: np.ndarray, pan: np.ndarray, *, sigma_px: float) -> FusionStatistics:
    """Mean and covariance of the MS bands, the pan and the low-passed pan (global).

    Parameters
    ----------
    ms, pan : ndarray
        (B, H, W) MS on the pan grid and (H, W) pan; NaN marks nodata.
    sigma_px : float
        Gaussian low-pass of the pan, in pan pixels (:func:`mtf_sigma`);
        ``sigma=`` is its old spelling (one release, with a warning).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stats = estimate_statistics(rng.random((3, 16, 16)), rng.random((16, 16)), sigma_px=1.0)
    >>> stats.cov.shape
    (5, 5)
    """
    ms, pan = kernel_arrays(ms, pan)
    return moments(ms, pan, gaussian_low_pass(pan, sigma_px))


def gaussian_low_pass(pan: np.ndarray, sigma_px: float) -> np.ndarray:
    """The pan through a Gaussian of ``sigma_px`` pan pixels, edges reflected (scipy: 4 sigma)."""
    from scipy import ndimage

    return ndimage.gaussian_filter(pan, sigma_px, mode="reflect")


def low_pass(pan: Any, sigma_px: float, lazy: bool) -> Any:
    """:func:`gaussian_low_pass` of a numpy pan, or of a dask one with a 4-sigma halo."""
    if not lazy:
        return gaussian_low_pass(pan, sigma_px)
    import dask.array as dsa

    depth = int(4 * sigma_px + 0.5) + 1  # scipy truncates the Gaussian at 4 sigma
    depth = min(depth, *(min(c) for c in pan.chunks))
    return dsa.map_overlap(
        gaussian_low_pass, pan, depth=depth, boundary="reflect", dtype=F32, sigma_px=sigma_px
    )


def sample_statistics(
    ms_up: Any, pan: Any, pan_low: Any, sample_pixels: int, lazy: bool
) -> FusionStatistics:
    """First pass: moments on every pixel, or on a spread-out sample of ~``sample_pixels``."""
    height, width = pan.shape
    if not lazy:
        step = max(1, math.ceil(math.sqrt(height * width / max(sample_pixels, 1))))
        return moments(ms_up[:, ::step, ::step], pan[::step, ::step], pan_low[::step, ::step])
    import dask

    ny, nx = pan.numblocks
    block_pixels = max(height * width / (ny * nx), 1)
    wanted = min(ny * nx, max(1, math.ceil(sample_pixels / block_pixels)))
    picks = np.unique(np.linspace(0, ny * nx - 1, wanted).round().astype(int))
    parts = [
        (
            ms_up.blocks[0, i // nx, i % nx],
            pan.blocks[i // nx, i % nx],
            pan_low.blocks[i // nx, i % nx],
        )
        for i in picks
    ]
    computed = dask.compute(*parts)
    ms_s = np.concatenate([m.reshape(m.shape[0], -1) for m, _, _ in computed], axis=1)
    pan_s = np.concatenate([p.ravel() for _, p, _ in computed])
    low_s = np.concatenate([q.ravel() for _, _, q in computed])
    return moments(ms_s, pan_s, low_s)


def mtf_sigma(ratio: float, *, mtf_gain: float = 0.3) -> float:
    """Gaussian sigma (fine pixels) whose response at the coarse Nyquist is ``mtf_gain``.

    A Gaussian of standard deviation ``s`` pixels has the frequency response
    ``exp(-2 pi^2 s^2 f^2)``; setting it to ``mtf_gain`` at ``f = 1 / (2 ratio)``
    gives ``s = ratio sqrt(-2 ln mtf_gain) / pi``. 0.3 is typical of MS sensors.

    References
    ----------
    Aiazzi, B., Alparone, L., Baronti, S., Garzelli, A., & Selva, M. (2006).
    MTF-tailored multiscale fusion of high-resolution MS and Pan imagery.
    PE&RS, 72(5), 591-596. https://doi.org/10.14358/PERS.72.5.591

    Examples
    --------
    >>> round(mtf_sigma(4, mtf_gain=0.3), 3)
    1.976
    """
    if not 0 < mtf_gain < 1:
        raise InvalidInputError(f"mtf_gain must lie in (0, 1), got {mtf_gain!r}")
    if not ratio > 0:
        raise InvalidInputError(f"ratio must be positive, got {ratio!r}")
    return float(ratio * math.sqrt(-2.0 * math.log(mtf_gain)) / math.pi)


def auto_weights(stats: FusionStatistics) -> np.ndarray:
    """Non-negative least-squares weights of ``PAN_low ~ sum_k w_k MS_k + c``, from moments."""
    from scipy.optimize import nnls

    b = stats.count
    c_mm = stats.cov[:b, :b] + np.eye(b) * 1e-9 * max(np.trace(stats.cov[:b, :b]) / b, 1e-30)
    c_mp = stats.cov[:b, -1]
    # min w'Cw - 2c'w s.t. w >= 0 is nnls(L', L^-1 c) with C = L L'.
    chol = np.linalg.cholesky(c_mm)
    w, _ = nnls(chol.T, np.linalg.solve(chol, c_mp))
    if not np.any(w > 0):
        return np.full(b, 1.0 / b)
    return w


def resolve_weights(weights: Any, stats: FusionStatistics | None, count: int) -> np.ndarray:
    """Intensity weights: ``1/B`` each by default, regressed for ``"auto"``, else checked.

    Raises
    ------
    InvalidInputError
        Another string than ``"auto"``, a wrong count, or all zero.
    """
    if weights is None:
        return np.full(count, 1.0 / count)
    if isinstance(weights, str):
        if weights != "auto":
            raise InvalidInputError(f"weights must be a sequence or 'auto', got {weights!r}")
        assert stats is not None  # the caller estimates statistics for "auto"
        return auto_weights(stats)
    vector = band_vector(weights, count, "weights")
    if not np.any(vector != 0):
        raise InvalidInputError("weights are all zero")
    return vector
