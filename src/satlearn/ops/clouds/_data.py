"""Class codes and the DataArray plumbing every cloud detector shares.

The scene's bands become float32 reflectance through
:func:`satlearn.bands.reflectance` (the one conversion of stored values) and
the scene is checked by :func:`satlearn.checks.check_raster`; what is left
here is what the detectors add: naming the detector when one of its bands is
missing, refusing unscaled integers, and wrapping ``(y, x)`` results with the
scene's georeferencing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.bands import band_indices, band_positions, band_scale_offset, reflectance
from satlearn.checks import check_raster
from satlearn.errors import InvalidInputError, UnknownBandError

__all__ = [
    "CIRRUS",
    "CLASSES",
    "CLEAR",
    "CLOUD",
    "NODATA_CLASS",
    "SHADOW",
    "SNOW",
    "WATER",
    "is_dask",
    "isin",
    "scene_reflectance",
    "where",
    "yx_like",
]

#: Class name -> code of :func:`satlearn.ops.clouds.classify_clouds`.
CLASSES: dict[str, int] = {"clear": 0, "cloud": 1, "cirrus": 2, "shadow": 3, "snow": 4, "water": 5}
#: Code of pixels where a needed band is nodata.
NODATA_CLASS = 255

CLEAR, CLOUD, CIRRUS, SHADOW, SNOW, WATER = range(6)


def scene_reflectance(da: xr.DataArray, bands: Sequence[str], what: str) -> Any:
    """The scene's ``bands`` as float32 reflectance, NaN where nodata (numpy or dask).

    ``da`` has passed :func:`satlearn.checks.check_raster`. A dask result has
    one chunk along ``band``: every kernel reads all bands of a pixel.

    Raises
    ------
    UnknownBandError
        ``{what} needs band(s) ...``, followed by the bands the scene has.
    InvalidInputError
        Integer values without a ``scale`` coordinate (not reflectance).
    """
    try:
        check_raster(da, what="the scene", bands=bands)
    except UnknownBandError as err:
        lookup = band_positions(da)
        missing = [b for b in bands if b not in lookup]
        raise UnknownBandError(f"{what} needs band(s) {', '.join(missing)}: {err}") from None
    stored = da.isel(band=band_indices(da, bands))
    unscaled = all(band_scale_offset(stored, i) == (1.0, 0.0) for i in range(len(bands)))
    if da.dtype.kind in "ui" and unscaled:
        raise InvalidInputError(
            f"{what} needs reflectance (0..1); the raster holds {da.dtype} values without a "
            "scale (give a float raster, e.g. da * 1e-4, or one with scale/offset coordinates)"
        )
    if is_dask(stored.data):
        # Before the conversion: reflectance() applies per-band scales to whole-band blocks.
        stored = stored.chunk({"band": -1})
    return reflectance(stored).data


def is_dask(data: Any) -> bool:
    """Whether ``data`` is a lazy (dask) array."""
    return getattr(data, "chunks", None) is not None and not isinstance(data, np.ndarray)


def yx_like(data: Any, da: xr.DataArray, name: str, attrs: Mapping[str, Any]) -> xr.DataArray:
    """Wrap a (y, x) array with ``da``'s coordinates and georeferencing."""
    coords = {k: v for k, v in da.coords.items() if set(v.dims) <= {"y", "x"}}
    out = xr.DataArray(data, dims=("y", "x"), coords=coords, name=name, attrs=dict(attrs))
    grid_mapping = da.rio.grid_mapping
    if grid_mapping in da.coords:
        out = out.assign_coords({grid_mapping: da.coords[grid_mapping]})
        out.rio.write_grid_mapping(grid_mapping, inplace=True)
    return out


def isin(values: Any, labels: Sequence[Any]) -> Any:
    """``np.isin`` that stays lazy on dask arrays (blockwise)."""
    if is_dask(values):
        return values.map_blocks(np.isin, np.asarray(labels), dtype=bool)
    return np.isin(np.asarray(values), np.asarray(labels))


def where(condition: Any, a: Any, b: Any) -> Any:
    """uint8 ``np.where`` that stays lazy when any operand is a dask array."""
    if is_dask(condition) or is_dask(a) or is_dask(b):
        import dask.array

        return dask.array.where(condition, a, b).astype(np.uint8)
    return np.where(condition, a, b).astype(np.uint8)
