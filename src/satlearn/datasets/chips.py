"""Training chips from scenes: regular grids, class-balanced random chips, chip sets on disk.

A chip is a small window of a raster (or of a ``(time, band, y, x)`` cube)
that keeps its georeferencing: its transform is the window transform of the
scene's, its CRS the scene's. Three ways to cut them:

:func:`grid_chips`
    A regular grid with overlap. The last partial row and column are padded
    with nodata to the full chip size (not shifted inwards, which would count
    pixels twice in metrics), or dropped.
:func:`random_chips`
    ``n`` chips at random centres; with ``balance=True`` each chip's centre
    pixel is drawn class by class in turn, so a rare class is at the centre
    of as many chips as a common one.
:func:`write_chip_set`
    A scene and its labels (a raster mask or vector polygons) to GeoTIFF
    chips on disk, with a CSV index (bounds, split, class counts) and a
    ``chipset.json``; splits are assigned by spatial blocks of chips so
    neighbouring chips stay in the same split. :class:`ChipDataset` reads the
    set back as a dataset.

Chipping never loads a lazy (dask-backed) scene whole: each chip computes its
own window only, and a scene given as a path is read window by window.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> image = np.zeros((3, 100, 100), dtype=np.float32)
>>> chips = list(grid_chips(image, 64, overlap=16, transform=Affine(10, 0, 0, 0, -10, 0)))
>>> [(w.row_off, w.col_off) for w, _ in chips]
[(0, 0), (0, 48), (48, 0), (48, 48)]
>>> chips[-1][1].rio.transform().c  # the chip's own origin: column 48 * 10 m
480.0
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import xarray as xr
from affine import Affine
from rasterio.windows import Window

from satlearn.atomic import atomic_output, write_json
from satlearn.datasets.base import DatasetError, SampleDataset, register
from satlearn.datasets.labels import burn_values, rasterize_features, read_vector_labels
from satlearn.errors import CRSMismatchError, InvalidInputError

__all__ = [
    "ChipDataset",
    "ChipSetSummary",
    "grid_chips",
    "grid_windows",
    "random_chips",
    "write_chip_set",
]

#: Suffixes read as vector labels by :func:`write_chip_set` (anything else is a raster).
VECTOR_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml"})


# --------------------------------------------------------------------------- grids


def _check_size(size: int, overlap: int, height: int, width: int, what: str) -> None:
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


def _offsets(extent: int, size: int, overlap: int, drop_partial: bool) -> list[int]:
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
    _check_size(size, overlap, height, width, "grid")
    rows = _offsets(height, size, overlap, drop_partial)
    cols = _offsets(width, size, overlap, drop_partial)
    return [Window(c, r, min(size, width - c), min(size, height - r)) for r in rows for c in cols]


def _as_raster(da: Any, transform: Affine | None, crs: Any, what: str) -> xr.DataArray:
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


def _fill_value(da: xr.DataArray, fill: float | None) -> Any:
    if fill is not None:
        return fill
    nodata = da.rio.nodata
    if nodata is not None:
        return nodata
    return np.nan if np.dtype(da.dtype).kind in "fc" else 0


def _chip(
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
    raster = _as_raster(da, transform, crs, "grid_chips")
    height, width = raster.sizes["y"], raster.sizes["x"]
    windows = grid_windows(height, width, size, overlap=overlap, drop_partial=drop_partial)
    base = raster.rio.transform()
    value = _fill_value(raster, fill)
    for window in windows:
        yield window, _chip(raster, window, size, base, value)


# --------------------------------------------------------------------------- random chips


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
    raster = _as_raster(da, transform, crs, "random_chips")
    height, width = raster.sizes["y"], raster.sizes["x"]
    _check_size(size, 0, height, width, "random_chips")
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
            _chip(raster, window, size, base, None),
            _chip(mask_da, window, size, base, None),
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


# --------------------------------------------------------------------------- chip sets


@dataclass
class ChipSetSummary:
    """What :func:`write_chip_set` did."""

    out_dir: str
    index: str
    written: int = 0
    resumed: int = 0
    skipped_nodata: int = 0
    skipped_empty: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    class_pixels: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in self.splits.items())
        return (
            f"{self.written + self.resumed} chips ({splits}) in {self.out_dir}: "
            f"{self.written} written, {self.resumed} already there, "
            f"{self.skipped_nodata} skipped as nodata, {self.skipped_empty} as unlabelled"
        )


def _open_scene(scene: Any) -> tuple[xr.DataArray, str]:
    if isinstance(scene, xr.DataArray):
        return _as_raster(scene, None, None, "scene"), str(scene.attrs.get("source", "scene"))
    from satlearn.raster import open_raster

    # Lazy: each chip reads its own window, never the whole scene.
    return open_raster(scene, chunks={"band": -1, "y": 1024, "x": 1024}), os.fspath(scene)


def _label_source(
    labels: Any,
    scene: xr.DataArray,
    scene_name: str,
    attribute: str | None,
    class_map: Mapping[Any, int] | None,
) -> tuple[Any, dict[int, str], str]:
    """The labels as a (y, x) DataArray on the scene grid, or vector features.

    Returns (source, class names, label name); vector sources come back as
    (features, values, STRtree).
    """
    name = "labels"
    if isinstance(labels, str | os.PathLike):
        name = os.fspath(labels)
        if Path(name).suffix.lower() in VECTOR_SUFFIXES:
            labels = read_vector_labels(labels, attribute=attribute, like=scene)
        else:
            from satlearn.raster import open_raster

            labels = open_raster(labels, chunks={"band": 1, "y": 1024, "x": 1024})
    if isinstance(labels, xr.DataArray):
        if labels.ndim == 3:
            if labels.sizes[labels.dims[0]] != 1:
                raise InvalidInputError(f"{name}: a label raster must have one band")
            labels = labels[0]
        _check_same_grid(labels, scene, name, scene_name)
        return labels, {}, name
    features = list(labels)
    names: dict[int, str] = {}
    if attribute is not None and class_map is None:
        found = {(f.get("properties") or {}).get(attribute) for f in features}
        if any(isinstance(v, str) for v in found):
            # Class names: ids 1..K in sorted order, 0 stays background.
            class_map = {v: i for i, v in enumerate(sorted(map(str, found)), start=1)}
    if class_map is not None:
        names = {int(v): str(k) for k, v in class_map.items()}
    # Check every feature's class once, up front, not at the chip that meets it.
    burn_values(features, attribute, class_map, False)
    geometries = np.array(
        [shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None for f in features],
        dtype=object,
    )
    return _VectorLabels(features, shapely.STRtree(geometries), attribute, class_map), names, name


@dataclass
class _VectorLabels:
    features: list[dict[str, Any]]
    tree: shapely.STRtree
    attribute: str | None
    class_map: Mapping[Any, int] | None


def _check_same_grid(labels: xr.DataArray, scene: xr.DataArray, name: str, scene_name: str) -> None:
    if labels.rio.crs != scene.rio.crs:
        raise CRSMismatchError(
            f"{name}: label raster CRS {labels.rio.crs} differs from {scene_name}'s "
            f"{scene.rio.crs}; reproject it onto the scene's grid first"
        )
    same_shape = (labels.sizes["y"], labels.sizes["x"]) == (scene.sizes["y"], scene.sizes["x"])
    if not same_shape or not labels.rio.transform().almost_equals(scene.rio.transform()):
        raise InvalidInputError(
            f"{name}: label raster grid ({labels.sizes['y']} x {labels.sizes['x']}, "
            f"{tuple(labels.rio.transform())[:6]}) is not {scene_name}'s "
            f"({scene.sizes['y']} x {scene.sizes['x']}, {tuple(scene.rio.transform())[:6]})"
        )


def _block_splits(
    n_rows: int, n_cols: int, block: int, split: Sequence[float], seed: int
) -> tuple[np.ndarray, list[str]]:
    """Split index of every grid cell, drawn per spatial block of ``block`` x ``block`` chips."""
    names = ["train", "val", "test"][: len(split)]
    fractions = np.asarray(split, dtype=np.float64)
    if (
        len(split) not in (1, 2, 3)
        or (fractions < 0).any()
        or not math.isclose(fractions.sum(), 1.0, abs_tol=1e-6)
    ):
        raise InvalidInputError(
            f"split must be 1-3 fractions (train, val, test) >= 0 summing to 1, got {tuple(split)}"
        )
    block_rows, block_cols = math.ceil(n_rows / block), math.ceil(n_cols / block)
    rows = np.arange(n_rows) // block
    cols = np.arange(n_cols) // block
    # Chips per block: edge blocks hold fewer, so shares are counted in chips,
    # not blocks (else a split can draw only a corner block and end up empty).
    chips = np.outer(
        np.bincount(rows, minlength=block_rows), np.bincount(cols, minlength=block_cols)
    )
    order = np.random.default_rng(seed).permutation(block_rows * block_cols)
    # Each shuffled block goes to the split its middle chip falls in, cumulatively.
    counts = chips.ravel()[order]
    middle = (np.cumsum(counts) - counts / 2) / counts.sum()
    shuffled_split = np.searchsorted(np.cumsum(fractions), middle, side="right")
    block_split = np.empty(order.size, dtype=np.int64)
    block_split[order] = np.minimum(shuffled_split, len(names) - 1)
    # Coarse blocks can leave a wanted split empty: give it the smallest block
    # of the largest split, while that split keeps at least one block.
    sizes = chips.ravel()
    for wanted in np.flatnonzero(fractions > 0):
        if (block_split == wanted).any():
            continue
        donor = int(np.bincount(block_split, minlength=len(names)).argmax())
        candidates = np.flatnonzero(block_split == donor)
        if candidates.size > 1:
            block_split[candidates[np.argmin(sizes[candidates])]] = wanted
    block_split = block_split.reshape(block_rows, block_cols)
    return block_split[rows[:, None], cols[None, :]], names


def _write_tif(
    path: Path, data: np.ndarray, transform: Affine, crs: Any, nodata: Any, names: list[str]
) -> None:
    # A plain tiled GeoTIFF: a chip is a single tile, so a COG's overviews and
    # two-step write (save_cog) would only cost time.
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    if height % 16 == 0 and width % 16 == 0:
        profile.update(tiled=True, blockxsize=width, blockysize=height)
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)


def _crs_text(crs: Any) -> str:
    if crs is None:
        return ""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def _valid_pixels(image: np.ndarray, nodata: Any, inside: np.ndarray) -> np.ndarray:
    """Pixels inside the scene where some band holds data."""
    bands = image.reshape(-1, *image.shape[-2:])
    if np.dtype(bands.dtype).kind == "f":
        empty = np.isnan(bands)
        if nodata is not None and not np.isnan(nodata):
            empty |= bands == nodata
    else:
        empty = bands == nodata if nodata is not None else np.zeros(bands.shape, dtype=bool)
    return inside & ~empty.all(axis=0)


def write_chip_set(
    scene: Any,
    labels: Any,
    out_dir: str | os.PathLike[str],
    *,
    size: int = 256,
    overlap: int = 32,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    block: int = 4,
    seed: int = 0,
    attribute: str | None = None,
    class_map: Mapping[Any, int] | None = None,
    all_touched: bool = False,
    max_nodata: float = 0.5,
    skip_empty: bool = False,
    ignore_index: int = 255,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
) -> ChipSetSummary:
    """Cut a scene and its labels into GeoTIFF chips with an index, resumably.

    Parameters
    ----------
    scene : str, path or DataArray
        The image (``(band, y, x)``); a path is read window by window.
    labels : str, path, DataArray or list of Features
        A label raster on the scene's grid (one band of class ids), or vector
        labels (``.geojson``, ``.gpkg``, ``.shp``...: reprojected to the
        scene's CRS and rasterized chip by chip), or GeoJSON Feature dicts in
        the scene's CRS.
    out_dir : str or path
        Receives ``images/ID.tif``, ``masks/ID.tif``, ``index.csv`` and
        ``chipset.json``.
    size, overlap : int
        Chip side and overlap in pixels (:func:`grid_chips`; edge chips are
        padded: nodata in the image, ``ignore_index`` in the mask).
    split : sequence of float
        Fractions of (train, val, test) *blocks*.
    block : int
        Side, in chips, of the square spatial blocks that are assigned to one
        split together (neighbouring chips share a split; only chips on block
        borders share ``overlap`` pixels with another split).
    seed : int
        Seed of the block assignment.
    attribute, class_map, all_touched :
        For vector labels, as in :func:`~satlearn.datasets.labels.rasterize_features`.
        String class names without a ``class_map`` become ids 1..K in sorted
        order. Without ``attribute`` every polygon burns 1.
    max_nodata : float
        Chips with a larger fraction of nodata pixels (padding included) are
        skipped and counted.
    skip_empty : bool
        Also skip chips with no labelled pixel (all background).
    ignore_index : int
        Mask value of padded pixels and pixels outside the labels' raster;
        recorded as the mask's nodata.
    class_names : mapping or sequence, optional
        Class id -> name for ``chipset.json`` (default: the names of a
        ``class_map``, else the ids).

    Returns
    -------
    ChipSetSummary

    Raises
    ------
    InvalidInputError
        Bad size/overlap/split, a chip larger than the scene, a label raster
        off the scene's grid.
    CRSMismatchError
        A label raster in another CRS.
    DatasetError
        Vector labels unreadable, without ``attribute``, or outside the scene.

    Examples
    --------
    >>> summary = write_chip_set("scene.tif", "buildings.gpkg", "chips/",
    ...                          size=256, overlap=32, attribute="class")  # doctest: +SKIP
    >>> ChipDataset("chips/", split="train")[0]["mask"].shape  # doctest: +SKIP
    (256, 256)
    """
    image_da, scene_name = _open_scene(scene)
    if image_da.ndim != 3:
        raise InvalidInputError(f"{scene_name}: a chip set needs a (band, y, x) scene")
    height, width = image_da.sizes["y"], image_da.sizes["x"]
    _check_size(size, overlap, height, width, scene_name)
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise InvalidInputError(f"block must be a positive int (chips per side), got {block!r}")
    if not 0 <= max_nodata <= 1:
        raise InvalidInputError(f"max_nodata must be a fraction in [0, 1], got {max_nodata!r}")
    source, names_found, label_name = _label_source(
        labels, image_da, scene_name, attribute, class_map
    )
    if class_names is not None:
        given = class_names if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        class_names = {**names_found, **{int(k): str(v) for k, v in given.items()}}
    else:
        class_names = names_found
    rows = _offsets(height, size, overlap, False)
    cols = _offsets(width, size, overlap, False)
    cell_split, split_names = _block_splits(len(rows), len(cols), block, split, seed)
    out = Path(os.fspath(out_dir))
    transform, crs = image_da.rio.transform(), image_da.rio.crs
    nodata = image_da.rio.nodata
    fill = _fill_value(image_da, None)
    bands = [str(b) for b in image_da.coords["band"].values] if "band" in image_da.coords else []
    summary = ChipSetSummary(out_dir=str(out), index=str(out / "index.csv"))
    records: list[dict[str, Any]] = []
    class_ids: set[int] = set()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            window = Window(c, r, min(size, width - c), min(size, height - r))
            chip_id = f"r{i:04d}_c{j:04d}"
            image_path, mask_path = (
                out / "images" / f"{chip_id}.tif",
                out / "masks" / f"{chip_id}.tif",
            )
            chip_transform = transform @ Affine.translation(c, r)
            if image_path.exists() and mask_path.exists():
                with rasterio.open(mask_path) as ds:
                    mask = ds.read(1)
                with rasterio.open(image_path) as ds:
                    valid_fraction = float(ds.tags().get("VALID_FRACTION", "nan"))
                summary.resumed += 1
            else:
                image = _chip(image_da, window, size, transform, fill).values
                inside = np.zeros((size, size), dtype=bool)
                inside[: window.height, : window.width] = True
                valid = _valid_pixels(image, nodata, inside)
                valid_fraction = float(valid.mean())
                if 1.0 - valid_fraction > max_nodata:
                    summary.skipped_nodata += 1
                    continue
                mask = _mask_chip(source, window, size, chip_transform, ignore_index, all_touched)
                if skip_empty and not ((mask != 0) & (mask != ignore_index)).any():
                    summary.skipped_empty += 1
                    continue
                mask_dtype = "uint8" if max(int(mask.max()), ignore_index) < 256 else "uint16"
                _write_tif(
                    mask_path,
                    mask[None].astype(mask_dtype),
                    chip_transform,
                    crs,
                    ignore_index,
                    ["mask"],
                )
                _write_tif(image_path, image, chip_transform, crs, nodata, bands)
                with rasterio.open(image_path, "r+") as ds:
                    ds.update_tags(VALID_FRACTION=f"{valid_fraction:.6f}")
                summary.written += 1
            counts = np.bincount(mask.ravel().astype(np.int64))
            present = {int(k): int(v) for k, v in enumerate(counts) if v and k != ignore_index}
            class_ids |= set(present)
            left, top = chip_transform.c, chip_transform.f
            right = left + chip_transform.a * size
            bottom = top + chip_transform.e * size
            records.append(
                {
                    "id": chip_id,
                    "image": f"images/{chip_id}.tif",
                    "mask": f"masks/{chip_id}.tif",
                    "row": r,
                    "col": c,
                    "minx": min(left, right),
                    "miny": min(top, bottom),
                    "maxx": max(left, right),
                    "maxy": max(top, bottom),
                    "crs": _crs_text(crs),
                    "split": split_names[cell_split[i, j]],
                    "valid_fraction": round(valid_fraction, 6),
                    "counts": present,
                }
            )
    _write_index(out, records, sorted(class_ids))
    for record in records:
        summary.splits[record["split"]] = summary.splits.get(record["split"], 0) + 1
        for k, v in record["counts"].items():
            summary.class_pixels[str(k)] = summary.class_pixels.get(str(k), 0) + v
    summary.splits = {name: summary.splits.get(name, 0) for name in split_names}
    write_json(
        {
            "scene": scene_name,
            "labels": label_name,
            "size": size,
            "overlap": overlap,
            "split": list(split),
            "block": block,
            "seed": seed,
            "crs": _crs_text(crs),
            "bands": bands,
            "classes": {
                str(k): class_names.get(k, str(k)) for k in sorted(class_ids | set(class_names))
            },
            "ignore_index": ignore_index,
            "attribute": attribute,
            "summary": summary.as_dict(),
        },
        out / "chipset.json",
    )
    return summary


def _mask_chip(
    source: Any, window: Window, size: int, transform: Affine, ignore: int, all_touched: bool
) -> np.ndarray:
    if isinstance(source, xr.DataArray):
        chip = _chip(source, window, size, transform, ignore)
        return np.asarray(chip.values)
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * size, top + transform.e * size
    footprint = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    hits = np.sort(source.tree.query(footprint))
    mask = rasterize_features(
        [source.features[k] for k in hits],
        transform=transform,
        shape=(size, size),
        attribute=source.attribute,
        class_map=source.class_map,
        all_touched=all_touched,
        dtype="uint16",
    )
    mask[int(window.height) :, :] = ignore
    mask[:, int(window.width) :] = ignore
    return mask


def _write_index(out: Path, records: list[dict[str, Any]], classes: list[int]) -> Path:
    """``index.csv``: one row per chip, with a ``count_K`` column per class K."""
    columns = [
        "id",
        "image",
        "mask",
        "row",
        "col",
        "minx",
        "miny",
        "maxx",
        "maxy",
        "crs",
        "split",
        "valid_fraction",
    ] + [f"count_{k}" for k in classes]
    path = out / "index.csv"
    with atomic_output(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for record in records:
            row = {k: v for k, v in record.items() if k != "counts"}
            row.update({f"count_{k}": record["counts"].get(k, 0) for k in classes})
            writer.writerow(row)
    return path


# --------------------------------------------------------------------------- reading back


@register
class ChipDataset(SampleDataset):
    """A chip set written by :func:`write_chip_set`, read back as samples.

    Samples: ``image`` ``(band, y, x)`` in the scene's dtype, ``mask``
    ``(y, x)`` class ids (``ignore_index`` where padded), ``meta`` with the
    chip's id, transform, CRS and bounds.

    Examples
    --------
    >>> train = ChipDataset("chips/", split="train")  # doctest: +SKIP
    >>> train[0]["image"].shape  # doctest: +SKIP
    (4, 256, 256)
    """

    name = "chips"
    task = "segmentation"
    source = "chips written by satlearn (satlearn chips / write_chip_set)"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = "train",
        transforms: Any = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        index, info = self.root / "index.csv", self.root / "chipset.json"
        if not index.is_file() or not info.is_file():
            raise DatasetError(
                f"chips: {self.root} has no index.csv and chipset.json (write it with "
                "satlearn chips or write_chip_set)"
            )
        try:
            self.info = json.loads(info.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DatasetError(f"chips: {info} is not valid JSON ({err})") from err
        with index.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"id", "image", "mask", "split"} - set(reader.fieldnames or ())
            if missing:
                raise DatasetError(f"chips: {index} lacks column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
        splits = sorted({row["split"] for row in rows})
        if split is not None and split not in ("train", "val", "test", *splits):
            raise DatasetError(f"chips: unknown split {split!r}; choose train, val or test")
        self.rows = [row for row in rows if split is None or row["split"] == split]
        classes = self.info.get("classes", {})
        self.class_ids = tuple(int(k) for k in classes)
        self.classes = tuple(classes.values())
        self.bands = tuple(self.info.get("bands", ()))
        self.ignore_index = int(self.info.get("ignore_index", 255))

    def __len__(self) -> int:
        return len(self.rows)

    def _load(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        try:
            with rasterio.open(self.root / row["image"]) as ds:
                image = ds.read()
                transform, crs = ds.transform, ds.crs
            with rasterio.open(self.root / row["mask"]) as ds:
                mask = ds.read(1)
        except rasterio.errors.RasterioIOError as err:
            raise DatasetError(f"chips: chip {row['id']} in {self.root}: {err}") from err
        return {
            "image": image,
            "mask": mask,
            "meta": {
                "id": row["id"],
                "file": row["image"],
                "transform": tuple(transform)[:6],
                "crs": _crs_text(crs),
                "bounds": tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy")),
            },
        }
