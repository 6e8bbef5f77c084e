"""Random chips whose centre pixels are drawn class by class (balanced sampling)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.windows import Window

from satlearn.errors import InvalidInputError
from satlearn.prep.chips._grid import as_raster, check_size, cut_chip


def _mask_values(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    values = mask.values if isinstance(mask, xr.DataArray) else np.asarray(mask)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.shape != shape:
        raise InvalidInputError(
            f"random_chips: mask shape {values.shape} does not match the raster's (y, x) {shape}"
        )
    if values.dtype == np.bool_:
        values = values.view(np.uint8)
    if values.dtype.kind not in "iu":
        raise InvalidInputError(f"random_chips: mask must hold integer classes, got {values.dtype}")
    return values


def random_chips(
    da: Any,
    mask: Any,
    size: int,
    n: int,
    *,
    balance: bool = True,
    seed: int = 0,
    ignore: Sequence[int] = (),
    transform: Affine | None = None,
    crs: Any = None,
) -> Iterator[tuple[Window, xr.DataArray, xr.DataArray]]:
    """``n`` random chips, their centres drawn so every class is equally represented.

    Parameters
    ----------
    da : DataArray or array_like
        The raster or cube (dims ending in ``(y, x)``), numpy- or dask-backed.
    mask : array_like or DataArray, shape (y, x)
        Integer class ids on the raster's grid (read whole: a mask is one
        small-integer band).
    size : int
        Chip side in pixels (no larger than the raster).
    n : int
        Number of chips.
    balance : bool
        Draw the class of each chip's centre pixel uniformly among the classes
        present (then a pixel of that class uniformly); False draws centre
        pixels uniformly over the raster.
    seed : int
        Seed of ``numpy.random.default_rng``.
    ignore : sequence of int
        Classes never chosen as a centre (an ignore index, nodata).
    transform, crs : optional
        Georeferencing of a plain array.

    Yields
    ------
    (Window, DataArray, DataArray)
        The window (always whole: chips are shifted to lie inside the raster),
        the image chip and the mask chip, both georeferenced.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((64, 64), dtype=np.uint8); mask[:2, :2] = 1  # 0.1 % of class 1
    >>> chips = list(random_chips(np.zeros((64, 64)), mask, 8, 10, seed=1))
    >>> sum(bool(m.values.any()) for _, _, m in chips)  # half the chips hold class 1
    5
    """
    raster = as_raster(da, transform, crs, "random_chips")
    height, width = raster.sizes["y"], raster.sizes["x"]
    check_size(size, 0, height, width, "random_chips")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise InvalidInputError(f"random_chips: n must be an int >= 0, got {n!r}")
    values = _mask_values(mask, (height, width))
    rng = np.random.default_rng(seed)
    centres = (
        _balanced_centres(values, n, rng, set(ignore))
        if balance
        else np.stack([rng.integers(0, height, n), rng.integers(0, width, n)], axis=1)
    )
    base = raster.rio.transform()
    mask_da = xr.DataArray(values, dims=("y", "x"), coords={"y": raster.y, "x": raster.x})
    mask_da = mask_da.rio.write_transform(base)
    if raster.rio.crs is not None:
        mask_da = mask_da.rio.write_crs(raster.rio.crs)
    half = size // 2
    for row, col in centres:
        r0 = int(np.clip(row - half, 0, height - size))
        c0 = int(np.clip(col - half, 0, width - size))
        window = Window(c0, r0, size, size)
        yield (
            window,
            cut_chip(raster, window, size, base, None),
            cut_chip(mask_da, window, size, base, None),
        )


def _balanced_centres(
    values: np.ndarray, n: int, rng: np.random.Generator, ignore: set[int]
) -> np.ndarray:
    """``n`` (row, col) pixels whose classes cycle evenly through the classes present.

    Drawing a uniform pixel of class ``c`` without listing every pixel of
    ``c`` (a scene-sized index array for a common class): per-row counts of
    ``c`` locate the row of the ``k``-th pixel, then one row is searched.
    """
    if values.dtype.kind == "u" and values.dtype.itemsize <= 2:
        counts = np.bincount(values.ravel())
        classes = np.flatnonzero(counts)
    else:
        classes = np.unique(values)
    classes = np.array([c for c in classes if int(c) not in ignore], dtype=values.dtype)
    if classes.size == 0:
        raise InvalidInputError("random_chips: the mask holds no class to sample (all ignored)")
    # Each class in turn (a shuffled cycle), so n chips split as evenly as n allows.
    order = np.concatenate(
        [rng.permutation(classes.size) for _ in range(math.ceil(n / classes.size))]
    )[:n]
    centres = np.zeros((n, 2), dtype=np.int64)
    for k, cls in enumerate(classes):
        picks = np.flatnonzero(order == k)
        if picks.size == 0:
            continue
        per_row = np.cumsum((values == cls).sum(axis=1))
        ranks = rng.integers(0, per_row[-1], picks.size)
        rows = np.searchsorted(per_row, ranks, side="right")
        before = np.where(rows > 0, per_row[rows - 1], 0)
        for pick, row, rank in zip(picks, rows, ranks - before, strict=True):
            centres[pick] = row, np.flatnonzero(values[row] == cls)[rank]
    return centres
