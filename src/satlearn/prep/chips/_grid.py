"""Regular chip grids: windows with overlap, chips padded at the far edges.

The last partial row and column of a grid are padded with nodata to the full
chip size (not shifted inwards, which would count pixels twice in metrics),
or dropped. The helpers here (size checks, grid offsets, georeferenced chip
cutting) are shared by the random sampler and the chip-set writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from affine import Affine
from rasterio.windows import Window

from satlearn.errors import InvalidInputError

# --------------------------------------------------------------------------- grids


def check_size(size: int, overlap: int, height: int, width: int, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise InvalidInputError(f"{what}: chip size must be a positive int, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int | np.integer) or overlap < 0:
        raise InvalidInputError(f"{what}: overlap must be an int >= 0, got {overlap!r}")
    if overlap >= size:
        raise InvalidInputError(
            f"{what}: overlap {overlap} must be smaller than the chip size {size}"
        )
    if size > height or size > width:
        raise InvalidInputError(
            f"{what}: chip size {size} is larger than the scene ({height} x {width} pixels)"
        )


def offsets(extent: int, size: int, overlap: int, drop_partial: bool) -> list[int]:
    """Chip origins along one axis: every ``size - overlap`` pixels until the edge is covered."""
    stride = size - overlap
    # A chip starting at ``o`` adds pixels only if the previous one (ending at o + overlap)
    # left some uncovered.
    offsets = [o for o in range(0, extent, stride) if o == 0 or o + overlap < extent]
    if drop_partial:
        offsets = [o for o in offsets if o + size <= extent]
    return offsets


def grid_windows(
    height: int, width: int, size: int, *, overlap: int = 0, drop_partial: bool = False
) -> list[Window]:
    """The windows of a regular chip grid over a ``height`` x ``width`` raster.

    Windows are clipped to the raster: with ``drop_partial=False`` the last
    row and column may be smaller than ``size`` (the chips pad them).

    Examples
    --------
    >>> [(w.col_off, w.width) for w in grid_windows(64, 100, 64, overlap=16)]
    [(0, 64), (48, 52)]
    """
    check_size(size, overlap, height, width, "grid")
    rows = offsets(height, size, overlap, drop_partial)
    cols = offsets(width, size, overlap, drop_partial)
    return [Window(c, r, min(size, width - c), min(size, height - r)) for r in rows for c in cols]


def as_raster(da: Any, transform: Affine | None, crs: Any, what: str) -> xr.DataArray:
    """A DataArray with ``y``/``x`` dims last, georeferenced where possible."""
    if isinstance(da, xr.DataArray):
        if da.dims[-2:] != ("y", "x"):
            raise InvalidInputError(f"{what}: dims must end with (y, x), got {tuple(da.dims)}")
        if transform is not None:
            da = da.rio.write_transform(transform)
        if crs is not None:
            da = da.rio.write_crs(crs)
        return da
    values = da if hasattr(da, "ndim") and hasattr(da, "shape") else np.asarray(da)
    if values.ndim < 2:
        raise InvalidInputError(f"{what}: needs at least 2 dims (y, x), got shape {values.shape}")
    dims = (*(f"dim_{i}" for i in range(values.ndim - 2)), "y", "x")
    if values.ndim == 3:
        dims = ("band", "y", "x")
    transform = transform or Affine.identity()
    height, width = values.shape[-2:]
    coords = {
        "y": transform.f + transform.e * (np.arange(height) + 0.5),
        "x": transform.c + transform.a * (np.arange(width) + 0.5),
    }
    out = xr.DataArray(values, dims=dims, coords=coords).rio.write_transform(transform)
    return out.rio.write_crs(crs) if crs is not None else out


def fill_value(da: xr.DataArray, fill: float | None) -> Any:
    if fill is not None:
        return fill
    nodata = da.rio.nodata
    if nodata is not None:
        return nodata
    return np.nan if np.dtype(da.dtype).kind in "fc" else 0


def cut_chip(
    da: xr.DataArray, window: Window, size: int, transform: Affine, fill: Any
) -> xr.DataArray:
    """The chip of ``da`` at ``window``, padded to ``size`` at the far edges, georeferenced."""
    r, c, h, w = int(window.row_off), int(window.col_off), int(window.height), int(window.width)
    chip = da.isel(y=slice(r, r + h), x=slice(c, c + w))
    if h < size or w < size:
        chip = chip.pad(y=(0, size - h), x=(0, size - w), constant_values=fill)
    chip_transform = transform @ Affine.translation(c, r)
    chip = chip.assign_coords(
        y=chip_transform.f + chip_transform.e * (np.arange(size) + 0.5),
        x=chip_transform.c + chip_transform.a * (np.arange(size) + 0.5),
    )
    return chip.rio.write_transform(chip_transform)


def grid_chips(
    da: Any,
    size: int,
    *,
    overlap: int = 0,
    drop_partial: bool = False,
    fill: float | None = None,
    transform: Affine | None = None,
    crs: Any = None,
) -> Iterator[tuple[Window, xr.DataArray]]:
    """Regular grid chips with overlap over a raster or cube.

    Parameters
    ----------
    da : DataArray or array_like
        Dims ending in ``(y, x)``: ``(band, y, x)``, ``(time, band, y, x)``...
        numpy- or dask-backed (a dask chip stays lazy; only its window is
        computed when its values are read). A plain array gets ``transform``
        and ``crs``.
    size : int
        Chip side in pixels.
    overlap : int
        Pixels shared by neighbouring chips (``0 <= overlap < size``).
    drop_partial : bool
        Drop the chips that would cross the far edges instead of padding them.
    fill : number, optional
        Padding value (default: the raster's nodata, else NaN for floats and 0
        for integers).
    transform, crs : optional
        Georeferencing of a plain array (or overriding the DataArray's).

    Yields
    ------
    (rasterio.windows.Window, DataArray)
        The window read (clipped to the raster) and the ``size`` x ``size``
        chip with its own transform (``window_transform``) and the CRS.

    Raises
    ------
    InvalidInputError
        ``overlap >= size``, a chip larger than the raster, or bad dims.

    Examples
    --------
    >>> import numpy as np
    >>> [w.width for w, _ in grid_chips(np.zeros((50, 50)), 32, drop_partial=True)]
    [32]
    """
    raster = as_raster(da, transform, crs, "grid_chips")
    height, width = raster.sizes["y"], raster.sizes["x"]
    windows = grid_windows(height, width, size, overlap=overlap, drop_partial=drop_partial)
    base = raster.rio.transform()
    value = fill_value(raster, fill)
    for window in windows:
        yield window, cut_chip(raster, window, size, base, value)
