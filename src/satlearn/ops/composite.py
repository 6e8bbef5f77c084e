"""Cloud-free composites of a ``(time, band, y, x)`` cube.

:func:`median_composite` is *blockwise in space and global in time*: every
pixel's median is taken over all of its dates, so a dask cube is rechunked to
one chunk along ``time`` and stays lazy; no halo is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.errors import InvalidInputError, NoValidDataError, UnknownBandError

__all__ = ["SCL_MASKED", "median_composite"]

#: Sentinel-2 L2A scene classification (SCL) classes masked by
#: ``median_composite(cloud_mask="scl")``: no data (0), saturated or defective
#: (1), cloud shadow (3), cloud medium and high probability (8, 9), thin
#: cirrus (10). Snow (11) is kept: it is the surface, not the weather.
SCL_MASKED: tuple[int, ...] = (0, 1, 3, 8, 9, 10)


def _nanmedian_time(block: np.ndarray) -> np.ndarray:
    """Median over the last axis (time) ignoring NaN; all-NaN pixels give NaN, silently."""
    # np.nanmedian warns on all-NaN slices, and silencing warnings is not
    # thread-safe under dask; fill those pixels with 0 first, then put NaN back.
    empty = np.isnan(block).all(axis=-1)
    if empty.any():
        block = np.where(empty[..., None], 0, block)
    out = np.asarray(np.nanmedian(block, axis=-1), dtype=block.dtype)
    out[empty] = np.nan
    return out


def _cloud_from_method(cube: xr.DataArray, method: str) -> xr.DataArray:
    from satlearn.ops.clouds import cloud_mask as detect

    masks = [detect(cube.isel(time=t), method=method) for t in range(cube.sizes["time"])]
    return xr.concat(masks, dim="time").assign_coords(time=cube["time"])


def _scl_mask(cube: xr.DataArray) -> xr.DataArray:
    bands = [str(b) for b in cube["band"].values]
    key = next((b for b in bands if b.lower() == "scl"), None)
    if key is None:
        raise UnknownBandError(
            "median_composite: cloud_mask='scl' needs an 'scl' band (Sentinel-2 L2A scene "
            f"classification) in the cube; its bands are {', '.join(bands)}"
        )
    return cube.sel(band=key).isin(list(SCL_MASKED))


def median_composite(
    cube: xr.DataArray,
    *,
    cloud_mask: xr.DataArray | str | Callable[[xr.DataArray], Any] | None = None,
) -> xr.DataArray:
    """Per-pixel median over time of the clear observations: a cloud-free composite.

    Parameters
    ----------
    cube : xarray.DataArray
        ``(time, band, y, x)``, as from :func:`load_cube`; numpy or dask.
        Nodata (``cube.rio.nodata``) and NaN pixels are left out.
    cloud_mask : DataArray, str or callable, optional
        What to leave out as cloud (True = cloud):

        * a boolean ``(time, y, x)`` DataArray aligned with the cube;
        * ``"scl"``: the cube's ``scl`` band (Sentinel-2 L2A scene
          classification; classes :data:`SCL_MASKED`); the band is dropped
          from the result;
        * a method of :func:`satlearn.ops.clouds.cloud_mask` (``"rules"``,
          ``"hollstein"``, ``"s2cloudless"``), run on each date;
        * a function ``(band, y, x) DataArray -> bool (y, x)``, run on each date.

    Returns
    -------
    xarray.DataArray
        float32 (float64 for float64 input) ``(band, y, x)`` with the cube's
        CRS and transform, nodata NaN; NaN where no date was clear. Lazy when
        the cube is. The values are as stored: ``scale`` / ``offset``
        coordinates are kept.

    Raises
    ------
    InvalidInputError
        Wrong dims, a mask of the wrong shape or dtype.
    UnknownBandError
        ``cloud_mask="scl"`` without an ``scl`` band.

    Examples
    --------
    >>> composite = median_composite(cube, cloud_mask="scl")  # doctest: +SKIP
    """
    if not isinstance(cube, xr.DataArray) or tuple(cube.dims) != ("time", "band", "y", "x"):
        dims = getattr(cube, "dims", type(cube).__name__)
        raise InvalidInputError(
            f"median_composite: cube must be a (time, band, y, x) DataArray, got {dims}"
        )
    if cube.sizes["time"] == 0:
        raise NoValidDataError("median_composite: the cube has no time steps")
    nodata = cube.rio.nodata if cube.rio.nodata is not None else cube.rio.encoded_nodata
    crs, transform = cube.rio.crs, cube.rio.transform()

    if isinstance(cloud_mask, str):
        if cloud_mask.lower() == "scl":
            mask = _scl_mask(cube)
            cube = cube.sel(band=[b for b in cube["band"].values if str(b).lower() != "scl"])
        else:
            mask = _cloud_from_method(cube, cloud_mask)
    elif callable(cloud_mask) and not isinstance(cloud_mask, xr.DataArray):
        masks = [cloud_mask(cube.isel(time=t)) for t in range(cube.sizes["time"])]
        mask = xr.concat(
            [m if isinstance(m, xr.DataArray) else xr.DataArray(m, dims=("y", "x")) for m in masks],
            dim="time",
        )
    else:
        mask = cloud_mask
    if mask is not None:
        if not isinstance(mask, xr.DataArray) or set(mask.dims) != {"time", "y", "x"}:
            raise InvalidInputError(
                "median_composite: cloud_mask must be a boolean (time, y, x) DataArray, 'scl', "
                "a cloud method name or a function; "
                f"got {getattr(mask, 'dims', type(mask).__name__)}"
            )
        if mask.dtype != bool:
            raise InvalidInputError(
                f"median_composite: cloud_mask must be boolean (True = cloud), got {mask.dtype}"
            )
        shape = (mask.sizes["time"], mask.sizes["y"], mask.sizes["x"])
        wanted = (cube.sizes["time"], cube.sizes["y"], cube.sizes["x"])
        if shape != wanted:
            raise InvalidInputError(
                f"median_composite: cloud_mask has (time, y, x) shape {shape}, the cube {wanted}"
            )
        # Positional alignment: the mask comes from the same grid, whatever its coordinates.
        mask = mask.transpose("time", "y", "x").variable

    out_dtype = np.float64 if cube.dtype == np.float64 else np.float32
    values = cube.astype(out_dtype)
    invalid = None
    if nodata is not None and not np.isnan(nodata):
        invalid = cube == nodata
    if mask is not None:
        clouds = xr.DataArray(mask, dims=("time", "y", "x"))
        invalid = clouds if invalid is None else (invalid | clouds)
    if invalid is not None:
        values = values.where(~invalid)
    if values.chunks is not None:
        values = values.chunk({"time": -1})
    result = xr.apply_ufunc(
        _nanmedian_time,
        values,
        input_core_dims=[["time"]],
        dask="parallelized",
        output_dtypes=[out_dtype],
    )
    result = result.transpose("band", "y", "x")
    # Rechunking made the per-band coordinates lazy; they are tiny, keep them numpy.
    for coord in ("scale", "offset"):
        if coord in cube.coords and cube[coord].dims == ("band",):
            result = result.assign_coords({coord: ("band", np.asarray(cube[coord].values))})
    result = result.rio.write_crs(crs) if crs is not None else result
    result = result.rio.write_transform(transform)
    return result.rio.write_nodata(np.nan)
