"""Tiles from models: a served bundle run on a map tile's window, with the margin it needs.

The tile is read with a border of ``margin`` pixels on every side, cut from
the neighbouring tiles' own plain rio-tiler reads (so the border holds exactly
the pixels those tiles hold; kept in a small LRU for the neighbours), the
bundle's :class:`~satlearn.predict.TileRunner` (the cached one, shared with
``satlearn predict`` and ``satlearn serve``) turns it into class
probabilities, and the border is cut off. A pixel's answer then depends only on
pixels within ``margin`` of it, the same ones for either tile it borders, so
tiles meet without seams as long as the model's receptive field fits in the
margin. Classes are drawn with a categorical colour map, probabilities with
viridis.
"""

from __future__ import annotations

import pathlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.errors import BundleError, InvalidInputError, UnknownBandError

__all__ = [
    "CLASS_COLOURS",
    "LAYERS",
    "ModelTile",
    "bundle_band_indexes",
    "draw_model_tile",
    "model_margin",
    "read_with_margin",
    "run_model_tile",
]

#: What a model tile draws: the class map, or one class's probability.
LAYERS = ("classes", "probability")
#: Class id -> RGBA, tab10's colours (cycled): a categorical map with distinct neighbours.
CLASS_COLOURS = np.array(
    [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ],
    dtype=np.uint8,
)  # fmt: skip


@dataclass(frozen=True)
class ModelTile:
    """A model's answer on one map tile."""

    classes: np.ndarray  # (H, W) class ids
    probabilities: np.ndarray  # (K, H, W) float32
    valid: np.ndarray  # (H, W) bool: every input band had data
    class_ids: tuple[int, ...]


def model_margin(bundle: Any) -> int:
    """The border read around a tile: what ``satlearn predict`` overlaps tiles by, halved.

    ``predict`` overlaps its tiles by a quarter of the bundle's tile size and
    keeps the centre, so its answer never leans on pixels nearer than an eighth
    of a tile to the edge; tiles here get the same context. Rounded up to a
    multiple of 16, so downsampling networks see sizes they divide.
    """
    tile = int(bundle.metadata.get("tile_size") or 256)
    margin = max(16, tile // 8)
    return -(-margin // 16) * 16


def bundle_band_indexes(bundle: Any, names: tuple[str, ...]) -> list[int]:
    """The asset's 1-based band indexes, in the bundle's band order."""
    lowered = [n.lower() for n in names]
    indexes = []
    for band in bundle.bands:
        if str(band).lower() not in lowered:
            raise UnknownBandError(
                f"model: the bundle reads band {band!r}, which the asset lacks "
                f"(its bands: {', '.join(names)})"
            )
        indexes.append(lowered.index(str(band).lower()) + 1)
    return indexes


def run_model_tile(
    bundle_dir: pathlib.Path,
    href: str,
    names: tuple[str, ...],
    x: int,
    y: int,
    z: int,
    *,
    tilesize: int = 256,
) -> ModelTile:
    """Run the bundle in ``bundle_dir`` on tile (z, x, y) of the COG at ``href``.

    Raises
    ------
    BundleError
        The folder holds no bundle this can run (a map task).
    UnknownBandError
        The asset lacks a band the bundle reads.
    rio_tiler.errors.TileOutsideBounds
        The tile does not touch the asset.
    """
    from satlearn.bundle import read_bundle
    from satlearn.predict import cached_runner

    bundle = read_bundle(bundle_dir)
    if bundle.task not in ("semantic-segmentation",):
        raise BundleError(
            f"model {bundle_dir.parent.name}: tiles are drawn from semantic-segmentation "
            f"bundles; this one's task is {bundle.task!r}"
        )
    indexes = bundle_band_indexes(bundle, names)
    margin = model_margin(bundle)
    data, mask = read_with_margin(href, x, y, z, indexes, margin, tilesize=tilesize)
    runner = cached_runner(bundle)
    probabilities = runner(data[None])[0]
    inner = (slice(margin, margin + tilesize), slice(margin, margin + tilesize))
    probabilities = np.ascontiguousarray(probabilities[(slice(None), *inner)])
    valid = mask[inner]
    # The channel index is the class id, as in the class COGs satlearn predict writes.
    classes = np.argmax(probabilities, axis=0)
    return ModelTile(classes, probabilities, valid, tuple(range(probabilities.shape[0])))


# Plain tile reads, kept for the neighbouring model tiles that need the same ones as margins
# (a map asks for blocks of tiles: each read then serves up to nine model tiles).
_READS: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray] | None] = OrderedDict()
_READS_LOCK = threading.Lock()
_MAX_READS = 48


def _plain_tile(
    href: str, stamp: Any, x: int, y: int, z: int, indexes: tuple[int, ...], tilesize: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """rio-tiler's plain read of one tile (data, valid mask), or None outside the asset."""
    from rio_tiler.errors import TileOutsideBounds

    from satlearn.view._render import open_reader

    key = (href, stamp, x, y, z, indexes, tilesize)
    with _READS_LOCK:
        if key in _READS:
            _READS.move_to_end(key)
            return _READS[key]
    try:
        with open_reader(href) as reader:
            image = reader.tile(x, y, z, tilesize=tilesize, indexes=list(indexes))
        found = (np.asarray(image.data), np.asarray(image.mask) > 0)
    except TileOutsideBounds:
        found = None
    with _READS_LOCK:
        _READS[key] = found
        while len(_READS) > _MAX_READS:
            _READS.popitem(last=False)
    return found


def read_with_margin(
    href: str,
    x: int,
    y: int,
    z: int,
    indexes: list[int],
    margin: int,
    *,
    tilesize: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Tile (z, x, y) with ``margin`` pixels of its neighbours around it: data and valid mask.

    Made of the neighbours' own plain reads, not of one larger read (rio-tiler's
    ``buffer``): a buffered read resamples on a slightly different grid, so its
    border pixels are not the ones the neighbouring tile holds, and a model run
    on it would not meet its neighbour's answer at the seam.

    Raises
    ------
    rio_tiler.errors.TileOutsideBounds
        The tile itself does not touch the asset.
    """
    from rio_tiler.errors import TileOutsideBounds

    if not 0 <= margin <= tilesize:
        raise InvalidInputError(f"margin {margin} must be within 0..{tilesize}")
    from satlearn.view._render import file_stamp

    stamp = file_stamp(href)
    centre = _plain_tile(href, stamp, x, y, z, tuple(indexes), tilesize)
    if centre is None:
        raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside the asset")
    side = tilesize + 2 * margin
    data = np.zeros((len(indexes), side, side), dtype=centre[0].dtype)
    valid = np.zeros((side, side), dtype=bool)
    n = 2**z
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ty = y + dy
            if not 0 <= ty < n or (margin == 0 and (dx or dy)):
                continue
            read = (
                centre
                if dx == dy == 0
                else _plain_tile(href, stamp, (x + dx) % n, ty, z, tuple(indexes), tilesize)
            )
            if read is None:
                continue
            # The part of neighbour (dx, dy) inside the margin frame, in both frames.
            src_y0 = max(0, tilesize - margin) if dy < 0 else 0
            src_y1 = tilesize if dy <= 0 else min(tilesize, margin)
            src_x0 = max(0, tilesize - margin) if dx < 0 else 0
            src_x1 = tilesize if dx <= 0 else min(tilesize, margin)
            dst_y0 = (margin + dy * tilesize) + src_y0
            dst_x0 = (margin + dx * tilesize) + src_x0
            sy = slice(dst_y0, dst_y0 + src_y1 - src_y0)
            sx = slice(dst_x0, dst_x0 + src_x1 - src_x0)
            data[:, sy, sx] = read[0][:, src_y0:src_y1, src_x0:src_x1]
            valid[sy, sx] = read[1][src_y0:src_y1, src_x0:src_x1]
    return data, valid


def draw_model_tile(
    tile: ModelTile, layer: str, class_id: int | None, colormap: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(bands, H, W) uint8 and a 0/255 mask of the chosen layer."""
    from satlearn.view._render import render_single

    if layer == "classes":
        rgb = CLASS_COLOURS[tile.classes % len(CLASS_COLOURS)]
        mask = np.where(tile.valid, 255, 0).astype(np.uint8)
        return np.ascontiguousarray(np.moveaxis(rgb, -1, 0)), mask
    if layer != "probability":
        raise InvalidInputError(f"layer {layer!r}: one of {', '.join(LAYERS)}")
    wanted = tile.class_ids[-1] if class_id is None else class_id
    if wanted not in tile.class_ids:
        raise InvalidInputError(
            f"class_id {wanted}: the model's classes are {', '.join(map(str, tile.class_ids))}"
        )
    band = tile.probabilities[tile.class_ids.index(wanted)]
    return render_single(band, tile.valid, (0.0, 1.0), colormap or "viridis")
