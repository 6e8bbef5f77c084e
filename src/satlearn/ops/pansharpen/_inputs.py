"""The two inputs: the MS and pan DataArrays checked, their grids, and the kernels' arrays.

:func:`ms_bands` and :func:`pan_plane` check the DataArrays through
:func:`satlearn.checks.check_raster` (one wording of a bad argument for every
operation), plus what only pansharpening knows: a pan is one band, so a
multi-band "pan" is named as the likely swap of the two arguments.
:func:`check_same_crs` compares the CRSs of two *different* grids (the pan's
is finer), which :func:`satlearn.checks.check_same_grid` cannot.

xarray, rioxarray and rasterio load on first use: the numpy kernels need only
:func:`kernel_arrays` and :func:`band_vector`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from satlearn.errors import CRSMismatchError, DimensionError, InvalidInputError

if TYPE_CHECKING:
    import xarray as xr
    from affine import Affine

__all__ = [
    "F32",
    "as_float_nan",
    "band_vector",
    "check_same_crs",
    "grid_bounds",
    "kernel_arrays",
    "ms_bands",
    "pan_plane",
    "pixel_size",
]

F32 = np.float32


def ms_bands(ms: Any) -> xr.DataArray:
    """The multispectral image as a checked ``(band, y, x)`` DataArray.

    Parameters
    ----------
    ms : xarray.DataArray
        Numeric, dims ``band``, ``y`` and ``x`` (in any order: it is
        transposed), at least 2 x 2 pixels (the resampling kernels need two).

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    DimensionError
        Not a numeric DataArray, other dims, or too small to resample.
    """
    import xarray as xr

    from satlearn.checks import check_raster

    if isinstance(ms, xr.DataArray) and ms.ndim == 3 and set(ms.dims) == {"band", "y", "x"}:
        # pansharpen has always taken the three dims in any order.
        ms = ms.transpose("band", "y", "x")
    ms = check_raster(ms, what="ms")
    if ms.sizes["y"] < 2 or ms.sizes["x"] < 2:
        raise DimensionError(f"ms is too small to resample: {dict(ms.sizes)}")
    return ms


def pan_plane(pan: Any) -> xr.DataArray:
    """The panchromatic band as a checked ``(y, x)`` DataArray.

    Parameters
    ----------
    pan : xarray.DataArray
        Numeric, dims ``(y, x)`` (either order) or ``(1, y, x)``.

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    DimensionError
        Not a numeric DataArray, other dims, or several bands: the message
        then asks whether ms and pan were swapped.
    """
    import xarray as xr

    from satlearn.checks import check_raster

    if isinstance(pan, xr.DataArray):
        if pan.ndim == 3 and "band" in pan.dims:
            if pan.dims[0] != "band" or pan.sizes["band"] != 1:
                raise DimensionError(
                    f"pan must have dims (y, x) or (1, y, x), got {pan.sizes['band']} bands "
                    f"{dict(pan.sizes)}; a panchromatic band is one band "
                    "(were ms and pan swapped?)"
                )
            pan = pan.isel(band=0, drop=True)
        if pan.ndim == 2 and set(pan.dims) == {"y", "x"}:
            pan = pan.transpose("y", "x")
    return check_raster(pan, what="pan", dims=[("y", "x"), ("band", "y", "x")])


def check_same_crs(ms: xr.DataArray, pan: xr.DataArray) -> Any:
    """The CRS both grids share, for GDAL's warper.

    Both CRSs unset is an ungeoreferenced pair placed by its transforms: an
    identical placeholder CRS on both sides makes the warp an identity.

    Returns
    -------
    rasterio.crs.CRS

    Raises
    ------
    CRSMismatchError
        One CRS is unset, or the two differ.
    """
    ms_crs, pan_crs = ms.rio.crs, pan.rio.crs
    if (ms_crs is None) != (pan_crs is None):
        which = "ms" if ms_crs is None else "pan"
        raise CRSMismatchError(f"{which} has no CRS while the other has one; set both or neither")
    if ms_crs is not None and ms_crs != pan_crs:
        raise CRSMismatchError(
            f"ms CRS {ms_crs.to_string()} differs from pan CRS {pan_crs.to_string()}; "
            "reproject one of them first"
        )
    if ms_crs is not None:
        return ms_crs
    from rasterio.crs import CRS

    return CRS.from_epsg(3857)


def kernel_arrays(ms: Any, pan: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(B, H, W)`` MS and ``(H, W)`` pan arrays on one grid, in one float dtype.

    A ``(1, H, W)`` pan is taken as ``(H, W)``; integers compute in float32
    (or float64 when the inputs need it).

    Raises
    ------
    InvalidInputError
        The MS is not 3-D, or the pan is not on the MS grid.
    """
    ms = np.asarray(ms)
    pan = np.asarray(pan)
    if ms.ndim != 3:
        raise InvalidInputError(f"ms must be a (band, y, x) array, got shape {ms.shape}")
    if pan.ndim == 3 and pan.shape[0] == 1:
        pan = pan[0]
    if pan.shape != ms.shape[1:]:
        raise InvalidInputError(
            f"pan shape {pan.shape} does not match the MS grid {ms.shape[1:]}; "
            "resample the MS onto the pan grid first (resample_to_pan)"
        )
    dtype = np.result_type(ms.dtype, pan.dtype, F32)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return ms.astype(dtype, copy=False), pan.astype(dtype, copy=False)


def band_vector(values: Any, count: int, what: str) -> np.ndarray:
    """``values`` as ``count`` finite float64 numbers, one per MS band.

    Raises
    ------
    InvalidInputError
        Another count, or a value that is not finite.
    """
    vector = np.asarray(values, dtype=np.float64).ravel()
    if vector.shape != (count,):
        raise InvalidInputError(f"{what} needs {count} values (one per MS band), got {vector.size}")
    if not np.all(np.isfinite(vector)):
        raise InvalidInputError(f"{what} must be finite, got {vector.tolist()}")
    return vector


def grid_bounds(transform: Affine, height: int, width: int) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a ``height`` x ``width`` grid (rotated grids too)."""
    xs, ys = zip(
        *(transform @ (c, r) for c, r in ((0, 0), (width, 0), (0, height), (width, height))),
        strict=True,
    )
    return min(xs), min(ys), max(xs), max(ys)


def pixel_size(transform: Affine) -> float:
    """Side of a square of the pixel's area, in CRS units."""
    return math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))


def as_float_nan(data: Any, nodata: Any) -> Any:
    """float32 copy of ``data`` with ``nodata`` turned into NaN (numpy or dask, blockwise)."""
    out = data.astype(F32)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        out = _where_nodata(out, nodata)
    return out


def _where_nodata(data: Any, nodata: float) -> Any:
    if hasattr(data, "dask"):
        import dask.array as dsa

        return dsa.where(data == F32(nodata), F32(np.nan), data)
    return np.where(data == F32(nodata), F32(np.nan), data)
