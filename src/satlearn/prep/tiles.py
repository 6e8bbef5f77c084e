"""Slippy-map XYZ tiles (web-mercator) cut from any georeferenced raster.

Web-map pipelines (RoboSat, OpenStreetMap-derived labels, tile servers) work
on the ``z/x/y`` grid of the WebMercatorQuad tile matrix set. This module
uses morecantile's definition of that grid (tile bounds, which tiles cover a
box) and GDAL's warper (``rasterio.warp.reproject``) to resample the raster
into each tile. Only the source window under a tile (plus a margin for the
resampling kernel) is read, so a lazy scene is never loaded whole.

Examples
--------
>>> tiles = list(xyz_tiles(scene, 17))  # doctest: +SKIP
>>> tile, da = tiles[0]  # doctest: +SKIP
>>> da.rio.crs.to_epsg(), da.shape  # doctest: +SKIP
(3857, (4, 256, 256))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import rasterio
import rasterio.warp
import rasterio.windows
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

from satlearn.atomic import atomic_output
from satlearn.errors import InvalidInputError

__all__ = ["WEB_MERCATOR_QUAD", "TileSetSummary", "tile_transform", "write_xyz_tiles", "xyz_tiles"]

#: The slippy-map tile grid (OGC WebMercatorQuad, EPSG:3857).
WEB_MERCATOR_QUAD = morecantile.tms.get("WebMercatorQuad")
_MERCATOR = CRS.from_epsg(3857)
_WGS84 = CRS.from_epsg(4326)
_RESAMPLINGS = {"nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode"}
# Source pixels of margin the resampling kernels need around a tile's footprint.
_MARGIN = {"nearest": 1, "bilinear": 2, "average": 2, "mode": 2}


def _check(da: Any, zoom: int, tile_size: int, resampling: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray) or da.dims[-2:] != ("y", "x"):
        raise InvalidInputError("xyz_tiles needs a georeferenced DataArray with dims (..., y, x)")
    if da.rio.crs is None:
        source = da.attrs.get("source", "the raster")
        raise InvalidInputError(f"{source} has no CRS: it cannot be placed on web-mercator tiles")
    if isinstance(zoom, bool) or not isinstance(zoom, int | np.integer) or not 0 <= zoom <= 24:
        raise InvalidInputError(f"zoom must be an int in 0..24, got {zoom!r}")
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise InvalidInputError(f"tile_size must be a positive int, got {tile_size!r}")
    if resampling not in _RESAMPLINGS:
        raise InvalidInputError(
            f"unknown resampling {resampling!r}; choose one of {', '.join(sorted(_RESAMPLINGS))}"
        )
    return da


def tile_transform(tile: morecantile.Tile, tile_size: int = 256) -> Affine:
    """The EPSG:3857 pixel-to-map transform of ``tile`` at ``tile_size`` pixels.

    Examples
    --------
    >>> tile_transform(morecantile.Tile(0, 0, 0)).a  # metres per pixel at zoom 0
    156543.03392804097
    """
    left, bottom, right, top = WEB_MERCATOR_QUAD.xy_bounds(tile)
    return rasterio.transform.from_bounds(left, bottom, right, top, tile_size, tile_size)


def xyz_tiles(
    da: xr.DataArray,
    zoom: int,
    *,
    tile_size: int = 256,
    resampling: str = "bilinear",
    nodata: float | None = None,
) -> Iterator[tuple[morecantile.Tile, xr.DataArray]]:
    """The WebMercatorQuad tiles covering ``da`` at ``zoom``, resampled.

    Parameters
    ----------
    da : DataArray
        A georeferenced raster, ``(band, y, x)`` or ``(y, x)``, numpy- or
        dask-backed, in any CRS.
    zoom : int
        Tile zoom level (0..24).
    tile_size : int
        Tile side in pixels.
    resampling : str
        GDAL resampling: ``"bilinear"`` for images, ``"nearest"`` or
        ``"mode"`` for class masks.
    nodata : float, optional
        Value of tile pixels outside the raster (default: the raster's nodata,
        else NaN for floats and 0 for integers).

    Yields
    ------
    (morecantile.Tile, DataArray)
        Tiles in row-major order (``y`` then ``x``); each DataArray is
        ``tile_size`` square in EPSG:3857 with the tile's exact bounds.

    Raises
    ------
    InvalidInputError
        No CRS, a bad zoom, tile size or resampling.
    """
    da = _check(da, zoom, tile_size, resampling)
    squeeze = da.ndim == 2
    if squeeze:
        da = da.expand_dims(band=[str(da.name) if da.name is not None else "b1"])
    src_crs, src_transform = da.rio.crs, da.rio.transform()
    height, width = da.sizes["y"], da.sizes["x"]
    if nodata is None:
        nodata = da.rio.nodata
    if nodata is None:
        nodata = np.nan if np.dtype(da.dtype).kind == "f" else 0
    west, south, east, north = rasterio.warp.transform_bounds(
        src_crs, _WGS84, *da.rio.bounds(), densify_pts=21
    )
    margin = _MARGIN.get(resampling, 4)
    full = rasterio.windows.Window(0, 0, width, height)
    for tile in WEB_MERCATOR_QUAD.tiles(west, south, east, north, [int(zoom)]):
        dst_transform = tile_transform(tile, tile_size)
        bounds = WEB_MERCATOR_QUAD.xy_bounds(tile)
        # The source window under this tile only, with a margin for the kernel.
        left, bottom, right, top = rasterio.warp.transform_bounds(
            _MERCATOR, src_crs, *bounds, densify_pts=21
        )
        window = rasterio.windows.from_bounds(left, bottom, right, top, src_transform)
        window = window.round_offsets(op="floor").round_lengths(op="ceil")
        window = rasterio.windows.Window(
            window.col_off - margin,
            window.row_off - margin,
            window.width + 2 * margin,
            window.height + 2 * margin,
        )
        try:
            window = window.intersection(full)
        except rasterio.errors.WindowError:
            continue  # the tile's box touches the raster's only beyond its edge
        r0, c0 = int(window.row_off), int(window.col_off)
        source = np.asarray(
            da.isel(
                y=slice(r0, r0 + int(window.height)), x=slice(c0, c0 + int(window.width))
            ).values
        )
        out = np.full((source.shape[0], tile_size, tile_size), nodata, dtype=source.dtype)
        rasterio.warp.reproject(
            source,
            out,
            src_transform=src_transform @ Affine.translation(c0, r0),
            src_crs=src_crs,
            src_nodata=da.rio.nodata,
            dst_transform=dst_transform,
            dst_crs=_MERCATOR,
            dst_nodata=nodata,
            resampling=Resampling[resampling],
        )
        xs = dst_transform.c + dst_transform.a * (np.arange(tile_size) + 0.5)
        ys = dst_transform.f + dst_transform.e * (np.arange(tile_size) + 0.5)
        result = xr.DataArray(
            out,
            dims=("band", "y", "x"),
            coords={"band": da.coords["band"].values, "y": ys, "x": xs},
            attrs={"tile": f"{tile.z}/{tile.x}/{tile.y}"},
        )
        result = result.rio.write_crs(_MERCATOR).rio.write_transform(dst_transform)
        result = result.rio.write_nodata(nodata)
        yield tile, result[0] if squeeze else result


@dataclass
class TileSetSummary:
    """What :func:`write_xyz_tiles` wrote."""

    out_dir: str
    zoom: int
    written: int
    empty: int
    stretch: tuple[float, float] | None

    def __str__(self) -> str:
        return (
            f"{self.written} tiles at zoom {self.zoom} in {self.out_dir} "
            f"({self.empty} empty tiles skipped)"
        )


def _display_bands(da: xr.DataArray) -> xr.DataArray:
    """One band (grey) or three (RGB): red/green/blue by common name when present."""
    if da.ndim == 2:
        return da.expand_dims(band=["b1"])
    names = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    if {"red", "green", "blue"} <= set(names):
        return da.sel(band=["red", "green", "blue"])
    return da.isel(band=[0, 1, 2]) if da.sizes["band"] >= 3 else da.isel(band=[0])


def _stretch(da: xr.DataArray) -> tuple[float, float]:
    """2nd and 98th percentiles of the valid pixels, on a strided sample of the scene."""
    step = max(1, int(np.ceil(max(da.sizes["y"], da.sizes["x"]) / 1024)))
    sample = np.asarray(da.isel(y=slice(None, None, step), x=slice(None, None, step)).values)
    values = sample.astype(np.float64)
    nodata = da.rio.nodata
    valid = np.isfinite(values)
    if nodata is not None and not np.isnan(nodata):
        valid &= values != nodata
    if not valid.any():
        return 0.0, 1.0
    low, high = np.percentile(values[valid], [2, 98])
    return float(low), float(high) if high > low else float(low) + 1.0


def write_xyz_tiles(
    da: xr.DataArray,
    out_dir: str | os.PathLike[str],
    zoom: int,
    *,
    tile_size: int = 256,
    resampling: str = "bilinear",
    format: str = "png",
    skip_empty: bool = True,
) -> TileSetSummary:
    """Write ``{z}/{x}/{y}.png`` (or ``.tif``) tiles of ``da`` at ``zoom``.

    Parameters
    ----------
    da : DataArray
        A georeferenced raster in any CRS.
    out_dir : str or path
        Root of the ``z/x/y`` tree.
    zoom, tile_size, resampling :
        As in :func:`xyz_tiles`.
    format : {"png", "tif"}
        ``png``: 8-bit RGBA (red, green, blue by common name, else the first
        three bands, else grey), stretched between the 2nd and 98th
        percentiles of the whole scene (one stretch for every tile, so tiles
        match at their seams; uint8 data is written as is), transparent
        where there is no data. ``tif``: GeoTIFF in EPSG:3857 with every band
        and the data's own values.
    skip_empty : bool
        Do not write tiles without any valid pixel.

    Returns
    -------
    TileSetSummary

    Examples
    --------
    >>> write_xyz_tiles(scene, "tiles/", 15)  # doctest: +SKIP
    """
    if format not in ("png", "tif"):
        raise InvalidInputError(f"format must be 'png' or 'tif', got {format!r}")
    da = _check(da, zoom, tile_size, resampling)
    stretch = None
    if format == "png":
        da = _display_bands(da)
        if da.dtype != np.uint8:
            stretch = _stretch(da)
    root = Path(os.fspath(out_dir))
    written = empty = 0
    for tile, data in xyz_tiles(da, zoom, tile_size=tile_size, resampling=resampling):
        values = np.asarray(data.values)
        nodata = data.rio.nodata
        invalid = ~np.isfinite(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
        if nodata is not None and not np.isnan(nodata):
            invalid |= values == nodata
        valid = ~invalid.all(axis=0)
        if skip_empty and not valid.any():
            empty += 1
            continue
        path = root / str(tile.z) / str(tile.x) / f"{tile.y}.{format}"
        if format == "tif":
            _write_geotiff(path, data)
        else:
            _write_png(path, values, valid, stretch)
        written += 1
    return TileSetSummary(str(root), int(zoom), written, empty, stretch)


def _write_png(
    path: Path, values: np.ndarray, valid: np.ndarray, stretch: tuple[float, float] | None
) -> None:
    import cv2

    if stretch is None:
        rgb = values.astype(np.uint8)
    else:
        low, high = stretch
        with np.errstate(invalid="ignore"):
            scaled = (values.astype(np.float32) - low) * (255.0 / (high - low))
        rgb = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)
    if rgb.shape[0] == 1:
        rgb = np.repeat(rgb, 3, axis=0)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    # OpenCV orders channels blue, green, red, alpha.
    bgra = np.ascontiguousarray(np.stack([rgb[2], rgb[1], rgb[0], alpha], axis=-1))
    ok, encoded = cv2.imencode(".png", bgra)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGRA image
        raise InvalidInputError(f"{path}: OpenCV could not encode the tile as PNG")
    with atomic_output(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


def _write_geotiff(path: Path, data: xr.DataArray) -> None:
    values = np.asarray(data.values)
    count, height, width = values.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": values.dtype.name,
        "crs": _MERCATOR,
        "transform": data.rio.transform(),
        "nodata": data.rio.nodata,
        "compress": "deflate",
    }
    if height % 16 == 0:
        profile.update(tiled=True, blockxsize=width, blockysize=height)
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(values)
        for i, name in enumerate(data.coords["band"].values, start=1):
            dst.set_band_description(i, str(name))
