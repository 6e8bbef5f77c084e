"""The guard against insignificant change: the noise of the change, from the images.

Otsu, Kittler-Illingworth and k-means split any histogram in two, pure noise
included. The noise of every band's change is estimated from the images (the
differences of horizontally adjacent pixels, :func:`noise_floor`), and the
decision never calls change what noise reaches with probability
``significance``; the ratio methods test each pixel against an
intensity-dependent noise model instead (:func:`ratio_noise`,
:func:`ratio_significance`).

The estimate is *global* (a sub-grid of at most 40,000 neighbour pairs); the
per-pixel test of the ratios runs *blockwise*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from satlearn.ops.change._blockwise import compute, nan_mean_filter, stride
from satlearn.ops.change._irmad import IRMADFit, irmad_variates

__all__ = ["NoiseFloor", "noise_floor", "ratio_noise", "ratio_significance", "signed_change"]

_F32 = np.float32
# The noise estimate: adjacent-pixel pairs it uses, and the side of the
# simulated noise field whose magnitude quantile is the floor.
_NOISE_PAIRS = 40_000
_NOISE_SIDE = 256
# Intensity classes of the ratio methods' noise model.
_NOISE_BINS = 8
# Normal-consistent MAD: sigma = 1.4826 * median(|x - median(x)|).
_MAD_TO_SIGMA = 1.482602218505602


@dataclass(frozen=True)
class NoiseFloor:
    """The change magnitude that noise alone reaches, estimated from the images.

    Attributes
    ----------
    sigma : ndarray (band,)
        Noise standard deviation of each per-band change variable (the band
        difference, signed ratio, log ratio, standardised difference or MAD
        variate): the MAD of the differences of horizontally adjacent pixels,
        divided by sqrt(2). Scene structure and real change are smooth at
        that scale, so the estimate is the pixel-to-pixel noise.
    floor : float
        The magnitude noise exceeds with probability ``significance``: the
        ``1 - significance`` quantile of the magnitude (smoothed as the
        decision smooths it) of independent Gaussian noise of these sigmas,
        from a fixed-seed simulation of 256 x 256 pixels. 0 when the
        differences are exactly constant (identical dates).
    significance : float
        The false-alarm probability the floor is set for.
    curve : (intensity, sigma), optional
        ``ratio`` and ``log-ratio``: the noise of one date as a function of
        intensity, per band at 8 intensity classes (arrays (band, 8)). A ratio
        is relative, so additive sensor noise makes the darkest pixels' ratios
        noisy while speckle is alike at all intensities; the test is per
        pixel, ``sum_b ln(after/before)^2 / (s(a)^2/a^2 + s(b)^2/b^2)``
        against ``floor``, the ``1 - significance`` quantile of that
        statistic (chi-square with one degree per band, smoothed as the
        magnitude is). ``sigma`` is then the median of the curve.
    """

    sigma: np.ndarray
    floor: float
    significance: float
    curve: tuple[np.ndarray, np.ndarray] | None = None


def signed_change(method: str, fit: IRMADFit | None) -> tuple[Any, bool]:
    """Per-band change variables (band, ...) of a method, and whether it takes an RMS.

    Not for the ratio methods, whose noise depends on intensity (ratio_noise).
    """
    if method == "difference":
        return (lambda a, b: np.subtract(b, a, dtype=_F32)), True
    if method == "irmad":
        return (lambda a, b: irmad_variates(a, b, fit)), False
    return (lambda a, b: np.subtract(b, a, dtype=_F32)), False  # cva, pca-kmeans (standardised)


def _neighbour_pairs(x: xr.DataArray, y: xr.DataArray, max_samples: int) -> list[np.ndarray]:
    """Both dates at a sub-grid of pixels and at their right-hand neighbours, (band, n) each."""
    height, width = x.sizes["y"], x.sizes["x"]
    # 40,000 pairs put the median within about 1 % of its value.
    step = stride((height, width), min(max_samples, _NOISE_PAIRS))
    rows = slice(None, None, step)
    if width >= 2:
        first, second = (rows, slice(0, width - 1, step)), (rows, slice(1, width, step))
    else:  # a one-column scene: vertical neighbours
        first, second = (slice(0, height - 1, step), rows), (slice(1, height, step), rows)
    parts = compute(*(da.data[(slice(None), *where)] for da in (x, y) for where in (first, second)))
    return [p.reshape(p.shape[0], -1) for p in parts]  # x1, x2, y1, y2


def _robust_sigma(delta: np.ndarray) -> np.ndarray:
    """Noise sigma of a variable from the differences of neighbours, along the last axis."""
    spread = np.abs(delta - np.median(delta, axis=-1, keepdims=True))
    sigma = _MAD_TO_SIGMA * np.median(spread, axis=-1)
    # Quantised, sparse noise (most neighbours equal) zeroes the median; the
    # mean absolute deviation (sigma = sqrt(pi/2) E|x|) still sees it.
    sigma = np.where(sigma > 0, sigma, math.sqrt(math.pi / 2) * spread.mean(axis=-1))
    return sigma / math.sqrt(2.0)  # the difference of two pixels has twice the variance


def _simulated_quantile(
    sigma: np.ndarray, rms: bool, smooth: int, significance: float, squared: bool = False
) -> float:
    """``1 - significance`` quantile of the magnitude of Gaussian noise, smoothed like the data."""
    # Simulated: the squared magnitude is a weighted chi-square and the
    # smoothing averages it, so there is no closed form (fixed seed: stable).
    rng = np.random.default_rng(0)
    side = _NOISE_SIDE
    noise = rng.standard_normal((len(sigma), side, side), dtype=_F32)
    noise *= sigma.astype(_F32)[:, None, None]
    magnitude = np.einsum("byx,byx->yx", noise, noise)
    if rms:
        magnitude /= _F32(len(sigma))
    if not squared:
        np.sqrt(magnitude, out=magnitude)
    if smooth > 1:
        magnitude = nan_mean_filter(magnitude, smooth)
    return float(np.quantile(magnitude, 1.0 - significance))


def noise_floor(
    x: xr.DataArray,
    y: xr.DataArray,
    signed: Any,
    rms: bool,
    max_samples: int,
    significance: float,
    smooth: int,
) -> NoiseFloor:
    """Noise of the change variables from adjacent-pixel differences, and its floor.

    Global: one estimate from a sub-grid of neighbour pairs (computed for dask).
    """
    x1, x2, y1, y2 = _neighbour_pairs(x, y, max_samples)
    delta = np.asarray(signed(x1, y1), dtype=_F32) - signed(x2, y2)
    delta = delta[:, np.isfinite(delta).all(axis=0)]
    if delta.shape[1] == 0:  # no two valid neighbours: no estimate, no floor
        return NoiseFloor(np.full(delta.shape[0], np.nan), 0.0, significance)
    sigma = _robust_sigma(delta)
    if not (sigma > 0).any():
        return NoiseFloor(sigma, 0.0, significance)
    return NoiseFloor(sigma, _simulated_quantile(sigma, rms, smooth, significance), significance)


def ratio_noise(
    x: xr.DataArray, y: xr.DataArray, max_samples: int, significance: float, smooth: int
) -> NoiseFloor:
    """Noise of each date as a function of intensity, for the ratio methods.

    Global: one estimate from a sub-grid of neighbour pairs (computed for dask).
    """
    x1, x2, y1, y2 = _neighbour_pairs(x, y, max_samples)
    delta = (y1 - x1) - (y2 - x2)  # neighbours' band differences: the sensor noise
    level = (x1 + x2 + y1 + y2) / 4
    count = delta.shape[0]
    intensity = np.full((count, _NOISE_BINS), np.nan)
    sigma = np.zeros((count, _NOISE_BINS))
    for band in range(count):  # a few bands; each a vectorised sort
        ok = np.isfinite(delta[band]) & np.isfinite(level[band])
        if ok.sum() < 2 * _NOISE_BINS:
            continue
        order = np.argsort(level[band, ok])
        for k, part in enumerate(np.array_split(order, _NOISE_BINS)):
            intensity[band, k] = np.median(level[band, ok][part])
            # Per date: the band difference holds the noise of two dates.
            sigma[band, k] = _robust_sigma(delta[band, ok][part]) / math.sqrt(2.0)
    ones = np.ones(count)
    quantile = _simulated_quantile(ones, False, smooth, significance, squared=True)
    return NoiseFloor(np.nanmedian(sigma, axis=1), quantile, significance, (intensity, sigma))


def ratio_significance(before: np.ndarray, after: np.ndarray, noise: NoiseFloor) -> np.ndarray:
    """Sum over bands of (ln after - ln before)^2 / its noise variance: (y, x) float32.

    Blockwise: pixel by pixel, no halo.
    """
    intensity, sigma = noise.curve
    total = np.zeros(before.shape[1:], dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for band in range(before.shape[0]):
            a, b = before[band], after[band]
            if not np.isfinite(intensity[band]).all():
                continue  # too few pixels to model this band's noise
            # var(ln b - ln a) ~ sigma(a)^2 / a^2 + sigma(b)^2 / b^2 (first order):
            # additive noise makes dark pixels noisy, speckle is the same everywhere.
            s_a = np.interp(a, intensity[band], sigma[band]).astype(_F32)
            s_b = np.interp(b, intensity[band], sigma[band]).astype(_F32)
            variance = (s_a / a) ** 2 + (s_b / b) ** 2
            log_ratio = np.log(b) - np.log(a)
            term = np.where(
                variance > 0, log_ratio**2 / variance, np.where(log_ratio != 0, np.inf, 0)
            )
            total += term.astype(_F32)
    return total
