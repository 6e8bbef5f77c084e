"""Writing a ``(time, band, y, x)`` cube: a Zarr store, or one COG with a band per date."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import xarray as xr

from satlearn.atomic import temporary_sibling
from satlearn.errors import InvalidInputError

__all__ = ["flatten_time", "save_cube"]

_SUFFIXES = (".tif", ".tiff", ".zarr")


def flatten_time(cube: xr.DataArray) -> xr.DataArray:
    """A ``(time, band, y, x)`` cube as ``(band, y, x)`` layers named ``DATE_BAND``.

    ``scale`` / ``offset`` band coordinates are repeated for every date.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> cube = xr.DataArray(np.zeros((2, 1, 2, 2)), dims=("time", "band", "y", "x"),
    ...     coords={"time": np.array(["2024-04-01", "2024-05-01"], "datetime64[ns]"),
    ...             "band": ["red"]})
    >>> flatten_time(cube).band.values.tolist()
    ['2024-04-01_red', '2024-05-01_red']
    """
    dates = [str(t)[:10] for t in cube["time"].values]
    names = [f"{d}_{b}" for d in dates for b in cube["band"].values]
    flat = cube.stack(layer=("time", "band")).transpose("layer", "y", "x")
    flat = flat.drop_vars(["layer", "time", "band"]).rename(layer="band")
    flat = flat.assign_coords(band=names)
    for coord in ("scale", "offset"):
        if coord in cube.coords:
            flat = flat.assign_coords(
                {coord: ("band", list(cube[coord].values) * cube.sizes["time"])}
            )
    return flat.rio.write_crs(cube.rio.crs) if cube.rio.crs is not None else flat


def save_cube(cube: xr.DataArray, path: str | os.PathLike[str]) -> Path:
    """Write a cube atomically: ``.zarr`` (a Zarr v2 store) or ``.tif`` (a COG).

    A Zarr store keeps ``(time, band, y, x)`` as the variable ``reflectance``;
    it is written under a temporary sibling name and renamed into place, so a
    store under the final name is complete. A ``.tif`` holds one band per
    (date, band), described as ``DATE_BAND`` (:func:`flatten_time`), written
    by :func:`satlearn.save_cog`.

    Raises
    ------
    InvalidInputError
        Another suffix, or a Zarr store that already exists (never replaced
        silently: a store is a folder of a user's data).
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInputError(f"{target}: the output must end in .tif or .zarr")
    if suffix != ".zarr":
        from satlearn.raster import save_cog

        return Path(save_cog(flatten_time(cube), target))
    if target.exists():
        raise InvalidInputError(f"{target}: already exists; remove it or choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_sibling(target)
    dataset = cube.to_dataset(name="reflectance")
    try:
        # Zarr format 2: its string dtype (the band names) has a stable spec, which
        # format 3 lacks as yet, and GDAL and older readers open it.
        dataset.to_zarr(partial, mode="w", zarr_format=2)
        os.replace(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return target
