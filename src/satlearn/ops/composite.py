"""Cloud-free composites of a ``(time, band, y, x)`` cube.

:func:`median_composite` is *blockwise in space and global in time*: every
pixel's median is taken over all of its dates, so a dask cube is rechunked to
one chunk along ``time`` and stays lazy; no halo is needed.

Small graphs: for the per-pixel cloud masks (``"scl"``, ``"rules"``,
``"hollstein"``, a boolean mask array, or none) the whole chain -- nodata
test, cloud mask of every date, ``where``, median -- is one fused kernel per
output block (:func:`fused_median`), so the graph holds the cube's own tasks,
one gather of each block's dates and one task per block, whatever the number
of dates and bands. The masks with a halo or a model (``"s2cloudless"``,
``"model:PATH"``, a function) run per date as their op does, then the median.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.errors import InvalidInputError, NoValidDataError, UnknownBandError

__all__ = ["FUSED_METHODS", "SCL_MASKED", "fused_median", "median_composite"]

#: Cloud methods of :func:`satlearn.ops.clouds.cloud_mask` that are per-pixel
#: (blockwise, no halo), so :func:`median_composite` runs them inside its fused kernel.
FUSED_METHODS: tuple[str, ...] = ("rules", "hollstein")

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


def fused_median(
    block: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    out_dtype: Any,
    nodata: float | None,
    method: str | None,
    scl: int | None,
    date_coords: dict[str, Any] | None = None,
    block_info: Any = None,
) -> np.ndarray:
    """The composite of one ``(time, band, y, x)`` block: mask, ``where`` and median fused.

    ``mask`` is a boolean ``(time, y, x)`` block (True = cloud) or None;
    ``method`` a per-pixel cloud method run here on each date (its
    ``(band, y, x)`` DataArray rebuilt from ``date_coords``); ``scl`` the
    position of an SCL band to mask by :data:`SCL_MASKED` (it is dropped).
    Returns ``(band, y, x)``, NaN where no date is clear.
    """
    values = block.astype(out_dtype)
    invalid = np.zeros(block.shape, dtype=bool)
    if nodata is not None and not np.isnan(nodata):
        invalid |= block == nodata
    clouds = np.zeros((block.shape[0], *block.shape[2:]), dtype=bool)
    if mask is not None:
        clouds |= mask
    if scl is not None:
        clouds |= np.isin(block[:, scl], list(SCL_MASKED))
        keep = [b for b in range(block.shape[1]) if b != scl]
        values, invalid = values[:, keep], invalid[:, keep]
    if method is not None and date_coords is not None:
        from satlearn.ops.clouds import cloud_mask as detect

        (r0, r1), (c0, c1) = (
            block_info[0]["array-location"][2:]
            if block_info
            else ((0, block.shape[2]), (0, block.shape[3]))
        )
        for t in range(block.shape[0]):
            coords = {
                **date_coords["scalar"],
                "time": date_coords["time"][t],
                "band": date_coords["band"],
                "y": date_coords["y"][r0:r1],
                "x": date_coords["x"][c0:c1],
                **{k: ("band", v) for k, v in date_coords["per_band"].items()},
            }
            date = xr.DataArray(
                block[t], dims=("band", "y", "x"), coords=coords, attrs=date_coords["attrs"]
            )
            clouds[t] |= np.asarray(detect(date, method=method).values, dtype=bool)
    invalid |= clouds[:, None]
    values[invalid] = np.nan
    return _nanmedian_time(np.moveaxis(values, 0, -1))


def _date_coords(cube: xr.DataArray) -> dict[str, Any]:
    """What :func:`fused_median` needs to rebuild a date's DataArray (numpy only, small)."""
    scalar = {k: v.variable.copy(deep=True) for k, v in cube.coords.items() if v.dims == ()}
    per_band = {
        k: np.asarray(v.values) for k, v in cube.coords.items()
        if v.dims == ("band",) and k != "band"
    }  # fmt: skip
    return {
        "scalar": scalar,
        "per_band": per_band,
        "time": np.asarray(cube["time"].values),
        "band": np.asarray(cube["band"].values),
        "y": np.asarray(cube["y"].values),
        "x": np.asarray(cube["x"].values),
        "attrs": dict(cube.attrs),
    }


def _fused_plan(cube: xr.DataArray, cloud_mask: Any) -> dict[str, Any] | None:
    """How the fused kernel masks clouds, or None when the mask cannot be fused."""
    if cloud_mask is None:
        return {"mask": None, "method": None, "scl": None}
    if isinstance(cloud_mask, str):
        if cloud_mask.lower() == "scl":
            _scl_mask(cube)  # the same error without an scl band
            bands = [str(b).lower() for b in cube["band"].values]
            return {"mask": None, "method": None, "scl": bands.index("scl")}
        if cloud_mask in FUSED_METHODS:
            return {"mask": None, "method": cloud_mask, "scl": None}
    return None  # a mask array, a halo or model method, a function: the per-date path


def _fused_composite(
    cube: xr.DataArray, plan: dict[str, Any], nodata: Any, crs: Any, transform: Any
) -> xr.DataArray:
    out_dtype = np.float64 if cube.dtype == np.float64 else np.float32
    nodata = None if nodata is None else float(nodata)
    options = dict(
        out_dtype=out_dtype, nodata=nodata, method=plan["method"], scl=plan["scl"],
        date_coords=_date_coords(cube) if plan["method"] is not None else None,
    )  # fmt: skip
    keep = [b for b in range(cube.sizes["band"]) if b != plan["scl"]]
    if cube.chunks is None:
        data: Any = fused_median(np.asarray(cube.values), **options)
    else:
        blocks = cube.data.rechunk({0: -1, 1: -1})
        data = blocks.map_blocks(
            fused_median,
            **options,
            drop_axis=0,
            chunks=(len(keep), *blocks.chunks[2:]),
            dtype=out_dtype,
            meta=np.empty((0, 0, 0), dtype=out_dtype),
        )
    coords: dict[str, Any] = {
        "band": cube["band"].values[keep],
        "y": cube["y"].values,
        "x": cube["x"].values,
    }
    for name, coord in cube.coords.items():
        if coord.dims == ("band",) and name != "band":
            coords[name] = ("band", np.asarray(coord.values)[keep])
        elif coord.dims == () and name != "time":
            coords[name] = coord.variable
    # The cube's attrs, as the per-date path (apply_ufunc) keeps them.
    result = xr.DataArray(data, dims=("band", "y", "x"), coords=coords, attrs=dict(cube.attrs))
    result = result.rio.write_crs(crs) if crs is not None else result
    result = result.rio.write_transform(transform)
    return result.rio.write_nodata(np.nan)


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

    fused = _fused_plan(cube, cloud_mask)
    if fused is not None:
        return _fused_composite(cube, fused, nodata, crs, transform)

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
