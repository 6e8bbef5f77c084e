"""The per-pixel change magnitudes: differencing, the two ratios and CVA.

Pure numpy kernels, ``(band, y, x)`` in, ``(y, x)`` out, float32: each runs
*blockwise* (pixel by pixel, no halo); :mod:`._detect` lifts them onto
DataArrays and dask blocks.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cva", "difference_magnitude", "log_ratio_magnitude", "ratio_magnitude"]

_F32 = np.float32


def _rms_over_bands(values: np.ndarray) -> np.ndarray:
    """sqrt(mean over axis 0 of values**2) in float32, NaN if any band is NaN."""
    out = np.einsum("byx,byx->yx", values, values, dtype=_F32)
    out /= _F32(values.shape[0])
    return np.sqrt(out, out=out)


def difference_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Root mean square over bands of ``after - before``.

    Parameters
    ----------
    before, after : ndarray, shape (band, y, x)
        Float values on one grid; NaN marks missing pixels.

    Returns
    -------
    numpy.ndarray
        float32 (y, x); ``|after - before|`` for one band; NaN where any band
        of either date is NaN.

    Examples
    --------
    >>> difference_magnitude(np.array([[[1.0, 2.0]]]), np.array([[[1.5, 0.0]]]))
    array([[0.5, 2. ]], dtype=float32)
    """
    diff = np.subtract(after, before, dtype=_F32)
    return _rms_over_bands(diff)


def ratio_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Normalised image ratio ``1 - min(a/b, b/a)``, root mean square over bands.

    0 means no change, values near 1 a large relative change in either
    direction. Pixels where a value is not positive are NaN.

    Examples
    --------
    >>> ratio_magnitude(np.array([[[1.0, 2.0, 0.0]]]), np.array([[[1.0, 1.0, 3.0]]]))
    array([[0. , 0.5, nan]], dtype=float32)
    """
    a = np.asarray(before, dtype=_F32)
    b = np.asarray(after, dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 1.0 - np.minimum(a, b) / np.maximum(a, b)
    ratio[~((a > 0) & (b > 0))] = np.nan
    return _rms_over_bands(ratio)


def log_ratio_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``|ln(after / before)|``, root mean square over bands.

    Pixels where a value is not positive are NaN.

    Examples
    --------
    >>> out = log_ratio_magnitude(np.array([[[1.0, 1.0]]]), np.array([[[np.e, 1.0]]]))
    >>> np.round(out, 4)
    array([[1., 0.]], dtype=float32)
    """
    a = np.asarray(before, dtype=_F32)
    b = np.asarray(after, dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(b) - np.log(a)
    log_ratio[~((a > 0) & (b > 0))] = np.nan
    return _rms_over_bands(log_ratio)


def cva(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Change vector analysis: magnitude and direction of ``after - before``.

    Parameters
    ----------
    before, after : ndarray, shape (band, y, x)
        Comparable (e.g. standardised) values; NaN marks missing pixels.

    Returns
    -------
    magnitude : numpy.ndarray
        float32 (y, x), the Euclidean norm of the change vector.
    direction : numpy.ndarray
        float32 (y, x), radians in [0, pi]: the angle between the change
        vector and the diagonal (1, ..., 1) (Bovolo & Bruzzone 2007). NaN
        where the vector is zero or a value is missing.

    Examples
    --------
    >>> magnitude, direction = cva(np.zeros((2, 1, 2)), np.array([[[3.0, 1.0]], [[4.0, -1.0]]]))
    >>> magnitude
    array([[5.       , 1.4142135]], dtype=float32)
    >>> np.round(np.degrees(direction), 1)
    array([[ 8.1, 90. ]], dtype=float32)
    """
    diff = np.subtract(after, before, dtype=_F32)
    magnitude = np.sqrt(np.einsum("byx,byx->yx", diff, diff, dtype=_F32))
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = diff.sum(axis=0, dtype=_F32) / (_F32(math.sqrt(diff.shape[0])) * magnitude)
    direction = np.arccos(np.clip(cosine, -1.0, 1.0, out=cosine), out=cosine)
    return magnitude, direction
