"""The shared 8-bit stretch of a stereo pair, and the checks of the pair.

SGBM wants 8-bit images; float reflectance or uint16 DN become 8-bit with one
robust percentile stretch shared by both images, so that one radiance maps
to one level in both. The pair itself is plain arrays (numpy or dask, read
strip by strip), so its checks are these rather than
:func:`satlearn.checks.check_raster`, which the DataArray layer
(:func:`stereo_dem`) uses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NoValidDataError

__all__ = ["STRETCH_PERCENTILES", "check_pair", "scale_to_8bit", "stretch_pair", "valid_pixels"]

#: Percentiles of the shared 8-bit stretch.
STRETCH_PERCENTILES = (1.0, 99.0)
# Pixels sampled at most for the stretch percentiles (a strided subsample).
_STRETCH_SAMPLE = 1_000_000


def check_pair(left: Any, right: Any, names: tuple[str, str]) -> tuple[Any, Any]:
    """The pair, checked: 2-D, numeric, one shape, at least 16 x 16 (numpy or dask, not read)."""
    arrays = []
    for array, name in zip((left, right), names, strict=True):
        if np.ndim(array) != 2:
            raise InvalidInputError(f"{name}: expected a 2-D image, got shape {np.shape(array)}")
        if np.asarray(array[:1, :1]).dtype.kind not in "uif":
            raise InvalidInputError(f"{name}: expected a numeric image, got dtype {array.dtype}")
        arrays.append(array)
    if tuple(left.shape) != tuple(right.shape):
        raise InvalidInputError(
            f"{names[0]} has shape {tuple(left.shape)} but {names[1]} has shape "
            f"{tuple(right.shape)}; a rectified pair must share one grid"
        )
    if min(left.shape) < 16:
        raise InvalidInputError(f"{names[0]}: image {tuple(left.shape)} is too small (16 x 16)")
    return arrays[0], arrays[1]


def valid_pixels(image: np.ndarray, nodata: float | None) -> np.ndarray:
    """True where ``image`` holds data: finite and not ``nodata``."""
    valid = np.isfinite(image) if image.dtype.kind == "f" else np.ones(image.shape, bool)
    if nodata is not None and not np.isnan(nodata):
        valid &= image != nodata
    return valid


def stretch_pair(
    left: Any,
    right: Any,
    *,
    nodata: float | None = None,
    percentiles: tuple[float, float] = STRETCH_PERCENTILES,
) -> tuple[float, float]:
    """The shared robust stretch ``(low, high)`` of a stereo pair.

    The percentiles are taken over the valid pixels of both images together
    (a strided subsample of at most a million pixels for large scenes), so
    one radiance maps to one 8-bit level in both images. *Global*: one pair
    of percentiles from a strided sample of the whole images.

    Parameters
    ----------
    left, right : array-like (y, x)
        numpy or dask arrays, float reflectance or integer DN.
    nodata : float, optional
        Value marking invalid pixels (NaN always does).
    percentiles : (float, float)
        Lower and upper percentiles mapped to 0 and 255.

    Returns
    -------
    (float, float)

    Raises
    ------
    NoValidDataError
        Neither image holds a valid pixel.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, 1, 10000).reshape(100, 100)
    >>> [round(v, 2) for v in stretch_pair(a, a)]
    [0.01, 0.99]
    """
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise InvalidInputError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}"
        )
    step = max(1, math.ceil(math.sqrt(left.shape[0] * left.shape[1] / _STRETCH_SAMPLE)))
    samples = []
    for image in (left, right):
        sample = np.asarray(image[::step, ::step], dtype=np.float64)
        samples.append(sample[valid_pixels(sample, nodata)])
    values = np.concatenate(samples)
    if values.size == 0:
        raise NoValidDataError("left and right images hold no valid pixel (all nodata or NaN)")
    low, high = np.percentile(values, [lo_p, hi_p])
    if not high > low:
        high = low + 1.0  # a flat pair: any non-zero span will do, matching fails anyway
    return float(low), float(high)


def scale_to_8bit(image: np.ndarray, valid: np.ndarray, low: float, high: float) -> np.ndarray:
    """float32 in [0, 255] (clipped), invalid pixels set to mid-grey (no false edges)."""
    out = np.asarray(image, dtype=np.float32) - np.float32(low)
    out *= np.float32(255.0 / (high - low))
    np.clip(out, 0, 255, out=out)
    out[~valid] = 127.5
    return out
