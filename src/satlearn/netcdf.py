"""NetCDF and HDF5 products as georeferenced rasters, and swath products gridded.

Two kinds of product arrive as NetCDF/HDF5:

*Gridded* products (ERA5, CMEMS, MODIS/VIIRS L3, Sentinel-3 L3, many L4)
    carry 1-D ``x``/``y`` (or ``lon``/``lat``) coordinates and, per CF, a
    *grid mapping* variable naming the projection. :func:`open_netcdf` reads
    one variable as a ``(band, y, x)`` DataArray like
    :func:`satlearn.open_raster`'s, with the CRS from the grid mapping
    (``crs_wkt``/``spatial_ref`` attributes, else the CF parameters through
    PROJ), EPSG:4326 for plain longitude/latitude coordinates, and the
    transform from the regular coordinate spacing. A south-up grid
    (latitude ascending, the usual NetCDF order) is flipped north-up.

*Swath* products (Sentinel-5P L2, and other L2 products on the sensor's own
    geometry) carry 2-D ``latitude``/``longitude`` arrays of the pixel
    centres and a ``qa_value``. :func:`grid_swath` masks pixels below
    ``qa_min`` and grids the rest onto a regular longitude/latitude grid:

    ``method="mean"``
        bin-averaging: every grid cell is the mean of the valid pixels whose
        *centres* fall in it (cells with none are NaN). Right when the grid
        cells are larger than the swath pixels.
    ``method="nearest"``
        every cell takes the value of the valid pixel whose centre is nearest
        to the cell's centre (great-circle distance, a k-d tree on unit
        vectors), if it lies within ``max_distance_deg``. Right when the
        cells are smaller than the pixels.

    Both are vectorised (``np.bincount``, ``scipy.spatial.cKDTree``); the
    gridded product is global in the sense of the house style (one pass over
    the whole swath). Swaths crossing the antimeridian are not split: give
    ``bounds`` in a continuous longitude range or grid each side.

Files are read with xarray's ``h5netcdf`` engine (NetCDF-4/HDF5, on the h5py
satlearn already depends on) or, for NetCDF-3 classic files, scipy's.
:func:`satlearn.open_raster` hands ``.nc``, ``.nc4``, ``.h5``, ``.hdf5`` and
``.he5`` paths to :func:`open_netcdf_raster`.

Examples
--------
>>> sst = open_netcdf("sst.nc", "analysed_sst")  # doctest: +SKIP
>>> sst.rio.crs  # doctest: +SKIP
CRS.from_epsg(4326)
>>> no2 = grid_swath("S5P_OFFL_L2__NO2.nc", "nitrogendioxide_tropospheric_column",
...                  resolution_deg=0.05, qa_min=0.75)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from satlearn.errors import DatasetError, InvalidInputError, RasterNotFoundError

__all__ = ["NETCDF_SUFFIXES", "grid_swath", "open_netcdf", "open_netcdf_raster"]

#: Path endings :func:`satlearn.open_raster` reads through this module.
NETCDF_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5", ".he5")

_X_NAMES = ("x", "lon", "longitude", "easting")
_Y_NAMES = ("y", "lat", "latitude", "northing")
_X_STANDARD = ("projection_x_coordinate", "longitude", "grid_longitude")
_Y_STANDARD = ("projection_y_coordinate", "latitude", "grid_latitude")
_WGS84 = CRS.from_epsg(4326)


def _open(path: Path, group: str | None, chunks: Any = None) -> xr.Dataset:
    if not path.is_file():
        raise RasterNotFoundError(f"{path}: NetCDF/HDF5 file not found")
    with path.open("rb") as f:
        magic = f.read(4)
    engine = "scipy" if magic[:3] == b"CDF" else "h5netcdf"
    try:
        return xr.open_dataset(path, engine=engine, group=group, chunks=chunks)
    except OSError as err:
        if group is not None and "group" in str(err).lower():
            raise DatasetError(f"{path}: no group {group!r}") from err
        raise DatasetError(f"{path}: not a NetCDF/HDF5 file xarray can read ({err})") from err
    except (ValueError, KeyError) as err:
        raise DatasetError(f"{path}: cannot read group {group!r} ({err})") from err


def _spatial_dims(da: xr.DataArray, ds: xr.Dataset, path: Path, name: str) -> tuple[str, str]:
    """``(y_dim, x_dim)`` of a variable, from CF ``axis``/``standard_name`` or the usual names."""

    def find(axis: str, names: tuple[str, ...], standard: tuple[str, ...]) -> str | None:
        for dim in da.dims:
            coord = ds[dim] if dim in ds.variables else None
            attrs = coord.attrs if coord is not None else {}
            if attrs.get("axis", "").upper() == axis or attrs.get("standard_name") in standard:
                return str(dim)
        for dim in da.dims:
            if str(dim).lower() in names:
                return str(dim)
        return None

    y = find("Y", _Y_NAMES, _Y_STANDARD)
    x = find("X", _X_NAMES, _X_STANDARD)
    if y is None or x is None or y not in ds.variables or x not in ds.variables:
        raise DatasetError(
            f"{path}: variable {name!r} (dims {', '.join(map(str, da.dims))}) has no 1-D x/y or "
            "lon/lat coordinates; a swath with 2-D latitude/longitude arrays is read with "
            "satlearn.netcdf.grid_swath"
        )
    return y, x


def _crs(da: xr.DataArray, ds: xr.Dataset, x_dim: str, path: Path, name: str) -> CRS | None:
    mapping_name = da.attrs.get("grid_mapping") or da.encoding.get("grid_mapping")
    if mapping_name:
        mapping_name = str(mapping_name).split(":")[0].split()[0]
        if mapping_name not in ds.variables:
            raise DatasetError(
                f"{path}: variable {name!r} names grid mapping {mapping_name!r}, which is absent"
            )
        attrs = ds[mapping_name].attrs
        for key in ("crs_wkt", "spatial_ref"):
            if attrs.get(key):
                return CRS.from_wkt(str(attrs[key]))
        try:
            from pyproj import CRS as ProjCRS
            from pyproj.exceptions import CRSError

            return CRS.from_wkt(ProjCRS.from_cf(dict(attrs)).to_wkt())
        except CRSError as err:
            raise DatasetError(
                f"{path}: grid mapping {mapping_name!r} is not one PROJ reads ({err})"
            ) from err
    attrs = ds[x_dim].attrs
    if attrs.get("standard_name") == "longitude" or x_dim.lower() in ("lon", "longitude"):
        return _WGS84
    return None


def _regular(values: np.ndarray, path: Path, dim: str) -> float:
    if values.size < 2:
        raise DatasetError(f"{path}: coordinate {dim!r} has fewer than 2 values; no pixel size")
    steps = np.diff(values.astype(np.float64))
    step = float(np.median(steps))
    if step == 0 or not np.allclose(steps, step, rtol=1e-4, atol=abs(step) * 1e-4):
        raise DatasetError(f"{path}: coordinate {dim!r} is not regularly spaced; not a raster grid")
    return step


def _gridded(
    ds: xr.Dataset, path: Path, variable: str | Sequence[str] | None
) -> tuple[xr.DataArray, CRS | None, Affine]:
    """The variable(s) as (band, y, x) north-up, with the CRS and transform to write."""
    gridded = [str(n) for n, v in ds.data_vars.items() if v.ndim >= 2]
    if variable is None:
        if len(gridded) != 1:
            raise DatasetError(
                f"{path}: {len(gridded)} variables with two or more dims "
                f"({', '.join(gridded) or 'none'}); say which with variable="
            )
        variable = gridded[0]
    names = [variable] if isinstance(variable, str) else list(variable)
    for name in names:
        if name not in ds.data_vars:
            raise DatasetError(
                f"{path}: no variable {name!r} (variables: {', '.join(map(str, ds.data_vars))})"
            )
    arrays = [ds[name] for name in names]
    y_dim, x_dim = _spatial_dims(arrays[0], ds, path, names[0])
    parts = []
    for name, da in zip(names, arrays, strict=True):
        if da.ndim > 3 or y_dim not in da.dims or x_dim not in da.dims:
            raise DatasetError(
                f"{path}: variable {name!r} has dims {da.dims}; expected ({y_dim}, {x_dim}) "
                "with at most one more"
            )
        if da.ndim == 2:
            da = da.expand_dims(band=[name])
        else:
            extra = next(d for d in da.dims if d not in (y_dim, x_dim))
            if len(names) > 1:
                raise DatasetError(f"{path}: {name!r} is 3-D; only 2-D variables stack as bands")
            labels = [f"{name}_{i}" for i in range(da.sizes[extra])]
            da = da.rename({extra: "band"}).assign_coords(band=labels)
            if extra in ds.coords:
                da = da.assign_coords({str(extra): ("band", ds[extra].values)})
        parts.append(da.transpose("band", y_dim, x_dim))
    crs = _crs(arrays[0], ds, x_dim, path, names[0])
    da = xr.concat(parts, dim="band") if len(parts) > 1 else parts[0]
    da = da.rename({y_dim: "y", x_dim: "x"}) if (y_dim, x_dim) != ("y", "x") else da
    dy = _regular(da["y"].values, path, y_dim)
    dx = _regular(da["x"].values, path, x_dim)
    if dy > 0:  # south-up, the usual order of NetCDF latitudes: flip north-up
        da, dy = da.isel(y=slice(None, None, -1)), -dy
    x0, y0 = float(da["x"].values[0]) - dx / 2, float(da["y"].values[0]) - dy / 2
    da = da.drop_vars([c for c in da.coords if c not in ("band", "x", "y", "time")])
    da.attrs = {k: v for k, v in arrays[0].attrs.items() if k != "grid_mapping"}
    da.attrs["source"] = str(path)
    da.encoding = {}
    da.name = names[0] if len(names) == 1 else None
    return da, crs, Affine(dx, 0.0, x0, 0.0, dy, y0)


def open_netcdf(
    path: str | os.PathLike[str],
    variable: str | Sequence[str] | None = None,
    *,
    group: str | None = None,
    chunks: Any = None,
) -> xr.DataArray:
    """Read a gridded NetCDF/HDF5 variable as a georeferenced ``(band, y, x)`` DataArray.

    Parameters
    ----------
    path : str or path-like
        A NetCDF-4/HDF5 or NetCDF-3 file.
    variable : str or sequence of str, optional
        The data variable; several 2-D variables on one grid become bands in
        this order. Default: the file's only variable with x/y dimensions.
    group : str, optional
        HDF5 group holding the variable (``"PRODUCT"``).
    chunks : optional
        Dask chunks for a lazy read (as :func:`xarray.open_dataset`).

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` north-up, with ``x``/``y`` at pixel centres, CRS and
        transform through ``.rio``, NaN as nodata (CF ``_FillValue``,
        ``scale_factor`` and ``add_offset`` are applied). A 2-D variable is
        one band named after it; a 3-D one (time, y, x) keeps its leading
        coordinate on the ``band`` dim.

    Raises
    ------
    RasterNotFoundError
        No such file.
    DatasetError
        Not a NetCDF/HDF5 file, no such variable (the message lists those
        there are), no x/y coordinates, an irregular grid, a grid mapping
        PROJ cannot read.

    Examples
    --------
    >>> da = open_netcdf("era5.nc", "t2m")  # doctest: +SKIP
    """
    path = Path(os.fspath(path))
    ds = _open(path, group, chunks)
    try:
        da, crs, transform = _gridded(ds, path, variable)
        if chunks is None:
            da = da.load()  # eager: read now, and close the file below
    except BaseException:
        ds.close()
        raise
    if chunks is None:
        ds.close()  # a lazy array keeps it open for dask
    if crs is not None:
        da = da.rio.write_crs(crs)
    da = da.rio.write_transform(transform)
    if da.dtype.kind == "f":
        da = da.rio.write_nodata(np.nan, encoded=False)
    return da


def open_netcdf_raster(
    path: str | os.PathLike[str],
    *,
    bands: Any = None,
    chunks: Any = None,
    window: Any = None,
    bbox: Sequence[float] | None = None,
    bbox_crs: Any = None,
) -> xr.DataArray:
    """What :func:`satlearn.open_raster` returns for a NetCDF/HDF5 path.

    ``bands`` names variables (each one band) or, as integers, 1-based bands
    of the file's only gridded variable; ``window`` and ``bbox`` subset as
    they do for a GeoTIFF; ``chunks`` gives a lazy array.
    """
    names = [bands] if isinstance(bands, str) else bands
    if names is not None and all(isinstance(b, str) for b in names):
        da = open_netcdf(path, list(names), chunks=chunks or None)
    else:
        da = open_netcdf(path, chunks=chunks or None)
        if names is not None:
            index = [names] if isinstance(names, int) else list(names)
            if not all(isinstance(i, int) and 1 <= i <= da.sizes["band"] for i in index):
                raise InvalidInputError(
                    f"{path}: bands {bands!r}: expected variable names or 1-based indexes "
                    f"up to {da.sizes['band']}"
                )
            da = da.isel(band=[i - 1 for i in index])
    if window is not None and bbox is not None:
        raise InvalidInputError(f"{path}: give window or bbox, not both")
    if window is not None:
        (r0, r1), (c0, c1) = window.toranges() if hasattr(window, "toranges") else window
        da = da.isel(y=slice(int(r0), int(r1)), x=slice(int(c0), int(c1)))
        if da.sizes["y"] == 0 or da.sizes["x"] == 0:
            raise InvalidInputError(f"{path}: window {window!r} is empty or outside the raster")
    elif bbox is not None:
        da = da.rio.clip_box(*bbox, crs=bbox_crs)
    return da


def _lonlat_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lon_r, lat_r = np.radians(lon), np.radians(lat)
    return np.column_stack(
        (np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r))
    )


def _swath(
    ds: xr.Dataset, path: Path, variable: str, qa_min: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Values, latitudes, longitudes (flat float64), the valid mask and the attributes."""
    if variable not in ds.variables:
        raise DatasetError(
            f"{path}: no variable {variable!r} (variables: {', '.join(map(str, ds.data_vars))})"
        )
    lat_name = next((n for n in ("latitude", "lat") if n in ds.variables), None)
    lon_name = next((n for n in ("longitude", "lon") if n in ds.variables), None)
    if lat_name is None or lon_name is None:
        raise DatasetError(f"{path}: no latitude/longitude arrays beside {variable!r}")
    values = ds[variable]
    lat, lon = ds[lat_name], ds[lon_name]
    if lat.shape != values.shape or lon.shape != values.shape:
        raise DatasetError(
            f"{path}: {variable!r} has shape {values.shape} but latitude/longitude "
            f"{lat.shape}/{lon.shape}; not a swath on its pixel centres"
        )
    v = np.asarray(values.values, dtype=np.float64).ravel()
    la = np.asarray(lat.values, dtype=np.float64).ravel()
    lo = np.asarray(lon.values, dtype=np.float64).ravel()
    valid = np.isfinite(v) & np.isfinite(la) & np.isfinite(lo)
    if qa_min is not None:
        if "qa_value" not in ds.variables:
            raise DatasetError(
                f"{path}: no qa_value to mask with qa_min={qa_min}; pass qa_min=None"
            )
        qa = np.asarray(ds["qa_value"].values, dtype=np.float64).ravel()
        valid &= qa >= qa_min  # NaN (fill) qa compares False: masked
    attrs = {k: a for k, a in values.attrs.items() if isinstance(a, str | int | float)}
    return v, la, lo, valid, attrs


def grid_swath(
    path: str | os.PathLike[str],
    variable: str,
    *,
    resolution_deg: float,
    qa_min: float | None = 0.5,
    method: Literal["mean", "nearest"] = "mean",
    max_distance_deg: float | None = None,
    bounds: Sequence[float] | None = None,
    group: str | None = "PRODUCT",
) -> xr.DataArray:
    """Grid a swath product (Sentinel-5P L2 and alike) onto a regular lon/lat grid.

    Parameters
    ----------
    path : str or path-like
        The NetCDF-4 product.
    variable : str
        The variable to grid (``"nitrogendioxide_tropospheric_column"``).
    resolution_deg : float
        Grid cell size in degrees of longitude and latitude.
    qa_min : float or None
        Keep pixels whose ``qa_value`` is at least this (Sentinel-5P: 0.5
        for most uses, 0.75 for NO2 columns); None keeps all and does not
        need a ``qa_value``.
    method : {"mean", "nearest"}
        ``"mean"``: each cell is the mean of the valid pixels whose centres
        fall in it (bin-averaging). ``"nearest"``: each cell takes the
        nearest valid pixel centre within ``max_distance_deg``.
    max_distance_deg : float, optional
        Largest great-circle distance, in degrees, from a cell centre to its
        nearest pixel (``"nearest"`` only; default twice the resolution).
    bounds : (west, south, east, north), optional
        The grid's extent (default: cells on multiples of the resolution
        covering every valid pixel centre).
    group : str or None
        Group holding the variable, latitude, longitude and qa_value
        (``"PRODUCT"`` in Sentinel-5P files; falls back to the root group
        when the file has no such group).

    Returns
    -------
    xarray.DataArray
        float32 ``(band, y, x)``, one band named after ``variable``,
        EPSG:4326, NaN where no valid pixel contributes; ``attrs`` record the
        method, ``qa_min`` and the number of pixels used.

    Raises
    ------
    DatasetError
        No such variable, no ``latitude``/``longitude`` arrays, no
        ``qa_value`` when ``qa_min`` is set, no valid pixel.
    InvalidInputError
        A bad method, resolution or bounds.

    Examples
    --------
    >>> no2 = grid_swath("S5P_OFFL_L2__NO2.nc", "nitrogendioxide_tropospheric_column",
    ...                  resolution_deg=0.05, qa_min=0.75)  # doctest: +SKIP
    """
    path = Path(os.fspath(path))
    if method not in ("mean", "nearest"):
        raise InvalidInputError(f"method must be 'mean' or 'nearest', got {method!r}")
    if not resolution_deg > 0:
        raise InvalidInputError(f"resolution_deg must be > 0, got {resolution_deg!r}")
    try:
        ds = _open(path, group)
    except DatasetError:
        if group is None:
            raise
        ds = _open(path, None)  # a file with its variables in the root group
    try:
        v, la, lo, valid, attrs = _swath(ds, path, variable, qa_min)
    finally:
        ds.close()  # everything needed is in memory
    if not valid.any():
        raise DatasetError(f"{path}: no valid pixel of {variable!r} (qa_min={qa_min})")
    v, la, lo = v[valid], la[valid], lo[valid]
    res = float(resolution_deg)
    if bounds is None:
        # Cells on multiples of the resolution, with the same floor as the binning
        # below, so a centre on the last edge still falls in the last cell.
        west = float(np.floor(lo.min() / res) * res)
        north = float(np.floor(la.max() / res) * res + res)
        width = int(np.floor((lo.max() - west) / res)) + 1
        height = int(np.floor((north - la.min()) / res)) + 1
        east, south = west + width * res, north - height * res
    else:
        west, south, east, north = (float(b) for b in bounds)
        if not (east > west and north > south):
            raise InvalidInputError(
                f"bounds {tuple(bounds)!r}: expected west < east, south < north"
            )
        width = max(int(np.rint((east - west) / res)), 1)
        height = max(int(np.rint((north - south) / res)), 1)
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    if method == "mean":
        col = np.floor((lo - west) / res).astype(np.int64)
        row = np.floor((north - la) / res).astype(np.int64)
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        cell = row[inside] * width + col[inside]
        total = np.bincount(cell, weights=v[inside], minlength=height * width)
        count = np.bincount(cell, minlength=height * width)
        with np.errstate(invalid="ignore", divide="ignore"):
            grid = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        used = int(inside.sum())
    else:
        from scipy.spatial import cKDTree

        limit = 2 * res if max_distance_deg is None else float(max_distance_deg)
        cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        cx, cy = transform @ (cols.ravel(), rows.ravel())
        tree = cKDTree(_lonlat_xyz(lo, la))
        # The chord of the largest angle, as the tree measures straight-line distances.
        chord = 2 * np.sin(np.radians(limit) / 2)
        dist, index = tree.query(_lonlat_xyz(cx, cy), distance_upper_bound=chord)
        hit = np.isfinite(dist)
        grid = np.full(height * width, np.nan)
        grid[hit] = v[index[hit]]
        used = int(np.unique(index[hit]).size)
    out = xr.DataArray(
        grid.reshape(1, height, width).astype(np.float32),
        dims=("band", "y", "x"),
        coords={
            "band": [variable],
            "y": north - (np.arange(height) + 0.5) * res,
            "x": west + (np.arange(width) + 0.5) * res,
        },
        name=variable,
        attrs={
            **attrs,
            "source": str(path),
            "gridding": method,
            "qa_min": "none" if qa_min is None else float(qa_min),
            "pixels_used": used,
        },
    )
    out = out.rio.write_crs(_WGS84).rio.write_transform(transform)
    return out.rio.write_nodata(np.nan, encoded=False)
