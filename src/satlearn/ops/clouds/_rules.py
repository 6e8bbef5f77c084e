"""The band-test detectors: Fmask-style rules and the Hollstein et al. (2016) tree.

Pure kernels on reflectance arrays (:func:`rules_classes`,
:func:`hollstein_classes`) and their DataArray layer
(:func:`elementwise_classes`), which runs them blockwise: per chunk for dask
input, per strip of rows in memory. The thresholds are tabulated in the
docstring of :mod:`satlearn.ops.clouds`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from satlearn.ops.clouds._data import (
    CIRRUS,
    CLEAR,
    CLOUD,
    NODATA_CLASS,
    SHADOW,
    SNOW,
    WATER,
    is_dask,
    scene_reflectance,
)

__all__ = [
    "HOLLSTEIN_BANDS",
    "RULES_BANDS",
    "elementwise_classes",
    "hollstein_classes",
    "rules_classes",
]

#: Bands of each detector, in kernel order.
RULES_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22", "cirrus")
HOLLSTEIN_BANDS: tuple[str, ...] = (
    "coastal", "blue", "green", "rededge1", "rededge2", "rededge3",
    "nir08", "nir09", "cirrus", "swir16",
)  # fmt: skip

_F32 = np.float32
_STRIP = 512  # rows per strip of the in-memory kernels: temporaries stay a few MB wide


def _strips(func: Callable[..., np.ndarray], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Run an elementwise kernel over row strips so temporaries stay small."""
    height = arrays[0].shape[0]
    if height <= _STRIP:
        return func(*arrays)
    out = None
    for start in range(0, height, _STRIP):
        part = func(*(a[start : start + _STRIP] for a in arrays))
        if out is None:
            out = np.empty((height, *part.shape[1:]), dtype=part.dtype)
        out[start : start + _STRIP] = part
    assert out is not None
    return out


def rules_classes(
    blue: np.ndarray,
    green: np.ndarray,
    red: np.ndarray,
    nir: np.ndarray,
    swir16: np.ndarray,
    swir22: np.ndarray,
    cirrus: np.ndarray,
) -> np.ndarray:
    """Fmask-style band tests: cloud, cirrus, snow, water or clear per pixel.

    A pure kernel on reflectance arrays of one shape (see the module's table
    of thresholds). Shadows need geometry and are not assigned here; pixels
    where a band is not finite get :data:`NODATA_CLASS`.

    Returns
    -------
    numpy.ndarray
        uint8 codes of :data:`CLASSES`.

    Examples
    --------
    >>> import numpy as np
    >>> from satlearn.ops.clouds import CLASSES
    >>> bright = [np.array([v], np.float32) for v in (0.5, 0.5, 0.5, 0.5, 0.4, 0.3, 0.002)]
    >>> int(rules_classes(*bright)[0]) == CLASSES["cloud"]
    True
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
        ndsi = (green - swir16) / (green + swir16)
        mean_vis = (blue + green + red) / _F32(3.0)
        whiteness = (
            np.abs(blue - mean_vis) + np.abs(green - mean_vis) + np.abs(red - mean_vis)
        ) / (mean_vis)
        cloud = (swir22 > 0.03) & (ndsi < 0.8) & (ndvi < 0.8)  # basic test
        cloud &= whiteness < 0.7
        cloud &= (blue - _F32(0.5) * red - _F32(0.08)) > 0  # haze-optimised transform
        cloud &= nir > _F32(0.75) * swir16  # nir / swir16 > 0.75 without a division
        water = ((ndvi < 0.01) & (nir < 0.11)) | ((ndvi > 0) & (ndvi < 0.1) & (nir < 0.05))
        snow = (ndsi > 0.15) & (nir > 0.11) & (green > 0.1)
    out = np.full(blue.shape, CLEAR, dtype=np.uint8)
    out[water] = WATER
    out[snow] = SNOW
    out[cirrus > 0.01] = CIRRUS
    out[cloud] = CLOUD
    bad = ~np.isfinite(blue)
    for band in (green, red, nir, swir16, swir22, cirrus):
        bad |= ~np.isfinite(band)
    out[bad] = NODATA_CLASS
    return out


def hollstein_classes(
    coastal: np.ndarray,
    blue: np.ndarray,
    green: np.ndarray,
    rededge1: np.ndarray,
    rededge2: np.ndarray,
    rededge3: np.ndarray,
    nir08: np.ndarray,
    nir09: np.ndarray,
    cirrus: np.ndarray,
    swir16: np.ndarray,
) -> np.ndarray:
    """The Hollstein et al. (2016) decision tree for Sentinel-2 (see the module docstring).

    Every leaf is a boolean expression of the split tests, evaluated for all
    pixels at once (no per-pixel branching).

    Returns
    -------
    numpy.ndarray
        uint8 codes of :data:`CLASSES`; :data:`NODATA_CLASS` where a band is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from satlearn.ops.clouds import CLASSES
    >>> values = (0.6, 0.6, 0.7, 0.6, 0.6, 0.6, 0.6, 0.3, 0.01, 0.1)
    >>> snow = [np.array([v], np.float32) for v in values]
    >>> int(hollstein_classes(*snow)[0]) == CLASSES["snow"]
    True
    """
    b01, b02, b03, b05, b06, b07, b8a, b09, b10, b11 = (
        coastal, blue, green, rededge1, rededge2, rededge3, nir08, nir09, cirrus, swir16,
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        dark = b03 < 0.319
        low_nir = b8a < 0.166
        vis_re = (b03 - b07) < 0.027
        wv_swir = b09 - b11
        blue_cirrus = (b02 / b10) < 14.689
        blue_wv = (b02 / b09) < 0.788
        re_swir = (b05 / b11) < 4.33
        swir_cirrus = (b11 - b10) < 0.255
        re_slope = (b06 - b07) < -0.016
        coastal_re = (b01 / b05) < 1.184
    out = np.full(b01.shape, CLEAR, dtype=np.uint8)
    branch = dark & low_nir
    out[branch & vis_re & ~(wv_swir < -0.097)] = SHADOW
    out[branch & ~vis_re & (wv_swir < 0.021)] = WATER
    out[branch & ~vis_re & ~(wv_swir < 0.021)] = SHADOW
    out[dark & ~low_nir & blue_cirrus & ~blue_wv] = CIRRUS
    branch = ~dark & re_swir
    out[branch & swir_cirrus & re_slope] = CLOUD
    out[branch & swir_cirrus & ~re_slope] = CIRRUS
    out[branch & ~swir_cirrus & ~(b01 < 0.3)] = CLOUD
    branch = ~dark & ~re_swir
    out[branch & (b03 < 0.525) & ~coastal_re] = SHADOW
    out[branch & ~(b03 < 0.525)] = SNOW
    bad = ~np.isfinite(b01)
    for band in (b02, b03, b05, b06, b07, b8a, b09, b10, b11):
        bad |= ~np.isfinite(band)
    out[bad] = NODATA_CLASS
    return out


def elementwise_classes(
    da: xr.DataArray, bands: Sequence[str], kernel: Callable[..., np.ndarray], what: str
) -> Any:
    """uint8 codes of a per-pixel kernel over the scene's ``bands`` (numpy or lazy dask).

    Blockwise: each dask chunk (all bands at once) is one call of the kernel.
    """
    refl = scene_reflectance(da, bands, what)

    def block_kernel(block: np.ndarray) -> np.ndarray:
        return _strips(kernel, list(block))

    if is_dask(refl):
        return refl.map_blocks(block_kernel, drop_axis=0, dtype=np.uint8)
    return block_kernel(np.asarray(refl))
