"""Reading and drawing one map tile: rio-tiler reads, rescale, colour map, PNG/WEBP encode.

rio-tiler's :class:`~rio_tiler.io.Reader` reads the tile's window from the
COG (the right overview for the zoom) and warps it to WebMercatorQuad; its
``ImageData.rescale`` maps values to bytes and its colour-map registry colours
one-band results, so plain band tiles hold rio-tiler's own pixels. The encode
is Pillow's, at a low zlib level: a map tile is fetched once and cached, so
the few percent of size a harder squeeze saves cost more than they give.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NotFoundError

__all__ = [
    "MEDIA_TYPES",
    "AssetMeta",
    "colormap_names",
    "colormap_table",
    "encode",
    "file_stamp",
    "legend_png",
    "open_reader",
    "parse_colormap",
    "parse_rescale",
    "read_meta",
    "render_bands",
    "render_single",
]

#: Tile formats and their media types.
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}
TILE_SIZE = 256
# Zooms served: from this many levels above the COG's min zoom to this many below its
# max zoom (past the native resolution tiles only magnify pixels; far above it they
# show the whole asset as a speck, read from the smallest overview either way).
ZOOMS_ABOVE = 8
ZOOMS_BELOW = 4


def open_reader(href: str) -> Any:
    """A rio-tiler Reader of ``href`` (a context manager)."""
    from rio_tiler.io import Reader

    return Reader(href)


@dataclass(frozen=True)
class AssetMeta:
    """What the tile server knows of one COG asset: its bands, grid and value ranges."""

    href: str
    count: int
    dtype: str
    nodata: float | None
    width: int
    height: int
    bounds: tuple[float, float, float, float]  # lon/lat (WGS 84)
    minzoom: int
    maxzoom: int
    names: tuple[str, ...]  # one per band: eo:bands name, else description, else b<i>
    descriptions: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]  # default rescale per band
    stats: tuple[dict[str, float], ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    expression_ranges: dict[str, tuple[float, float]] = field(default_factory=dict, compare=False)

    @property
    def zoom_range(self) -> tuple[int, int]:
        """The zooms the server renders (see ZOOMS_ABOVE / ZOOMS_BELOW)."""
        return max(0, self.minzoom - ZOOMS_ABOVE), min(30, self.maxzoom + ZOOMS_BELOW)

    def band_index(self, token: str) -> int:
        """The 1-based index of band ``token`` (an index ``"3"`` or a band name)."""
        text = token.strip()
        if text.isdigit():
            # isdigit() also accepts '²' (int() refuses it); int() refuses > 4300 digits.
            if not text.isascii() or len(text) > 18:
                raise InvalidInputError(
                    f"bands: {text[:40]!r} is not a band index (the asset has 1..{self.count})"
                )
            index = int(text)
            if 1 <= index <= self.count:
                return index
            raise InvalidInputError(
                f"bands: band index {index} is out of range (the asset has bands 1..{self.count})"
            )
        lowered = [n.lower() for n in self.names]
        if text.lower() in lowered:
            return lowered.index(text.lower()) + 1
        raise InvalidInputError(
            f"bands: unknown band {text!r} (the asset's bands: {', '.join(self.names)})"
        )


_META_LOCK = threading.Lock()
_META: dict[tuple[Any, ...], AssetMeta] = {}


def read_meta(href: str, stamp: Any, asset: Any) -> AssetMeta:
    """The :class:`AssetMeta` of ``asset`` (a pystac Asset at ``href``), made once per stamp.

    Band names come from ``eo:bands`` (or STAC 1.1 ``bands``) of the asset, else
    the file's band descriptions; default ranges from ``raster:bands``
    statistics, else the 2nd-98th percentiles rio-tiler measures on an overview.
    """
    fields = dict(getattr(asset, "extra_fields", {}) or {})
    eo = fields.get("eo:bands") or fields.get("bands") or []
    raster = fields.get("raster:bands") or []
    # Two assets may share a file and differ in what the item says of its bands.
    key = (href, stamp, json.dumps([eo, raster], sort_keys=True, default=str))
    with _META_LOCK:
        found = _META.get(key)
    if found is not None:
        return found
    with open_reader(href) as reader:
        info = reader.info()
        dataset = reader.dataset
        count = dataset.count
        descriptions = tuple(d or "" for d in dataset.descriptions)
        names = []
        for i in range(count):
            entry = eo[i] if i < len(eo) and isinstance(eo[i], dict) else {}
            name = entry.get("name") or entry.get("common_name") or descriptions[i]
            names.append(str(name) if name else f"b{i + 1}")
        given = []
        for i in range(count):
            entry = raster[i] if i < len(raster) and isinstance(raster[i], dict) else {}
            stats = entry.get("statistics") or {}
            if "minimum" in stats and "maximum" in stats:
                given.append((float(stats["minimum"]), float(stats["maximum"])))
            else:
                given.append(None)
        measured: dict[str, Any] = {}
        if any(g is None for g in given):
            measured = reader.statistics(max_size=512)
        stats_out, ranges = [], []
        for i in range(count):
            band = measured.get(f"b{i + 1}")
            stat = {}
            if band is not None:
                stat = {
                    "min": float(band.min),
                    "max": float(band.max),
                    "mean": float(band.mean),
                    "std": float(band.std),
                    "p2": float(band.percentile_2),
                    "p98": float(band.percentile_98),
                }
            if given[i] is not None:
                stat.update({"min": given[i][0], "max": given[i][1]})
                ranges.append(given[i])
            else:
                ranges.append((stat["p2"], stat["p98"]))
            stats_out.append(stat)
        scales = tuple(float(s) for s in dataset.scales)
        offsets = tuple(float(o) for o in dataset.offsets)
        for i in range(count):  # raster:bands scale/offset win over the file's own
            entry = raster[i] if i < len(raster) and isinstance(raster[i], dict) else {}
            if "scale" in entry or "offset" in entry:
                scales = (*scales[:i], float(entry.get("scale", 1.0)), *scales[i + 1 :])
                offsets = (*offsets[:i], float(entry.get("offset", 0.0)), *offsets[i + 1 :])
        meta = AssetMeta(
            href=href,
            count=count,
            dtype=str(dataset.dtypes[0]),
            nodata=None if dataset.nodata is None else float(dataset.nodata),
            width=dataset.width,
            height=dataset.height,
            bounds=tuple(float(b) for b in reader.get_geographic_bounds("EPSG:4326")),
            minzoom=int(reader.minzoom),
            maxzoom=int(reader.maxzoom),
            names=tuple(names),
            descriptions=descriptions,
            ranges=tuple(ranges),
            stats=tuple(stats_out),
            scales=scales,
            offsets=offsets,
        )
        del info
    with _META_LOCK:
        if len(_META) > 1024:  # a long-running server sees files change; forget old stamps
            _META.clear()
        _META[key] = meta
    return meta


def file_stamp(href: str) -> Any:
    """What changes when the file does: (mtime ns, size) of a local file; None for a URL."""
    if "://" in href and not href.startswith("file://"):
        return None
    path = href.removeprefix("file://")
    try:
        stat = os.stat(path)
    except OSError:
        raise NotFoundError(f"the asset's file {os.path.basename(path)!r} cannot be read") from None
    return (stat.st_mtime_ns, stat.st_size)


# ---------------------------------------------------------------------- parameters


def parse_rescale(text: str | None, n_bands: int) -> list[tuple[float, float]] | None:
    """``"min,max"`` (every band) or ``"min,max;min,max;..."`` / ``"a,b,c,d,..."`` per band."""
    if text is None or text == "":
        return None
    parts = [p for chunk in text.split(";") for p in chunk.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidInputError(
            f"rescale {text!r}: expected numbers 'min,max' (one pair, or one per band)"
        ) from None
    if len(values) % 2 or not values or not all(math.isfinite(v) for v in values):
        raise InvalidInputError(f"rescale {text!r}: expected finite 'min,max' pairs")
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    if any(lo >= hi for lo, hi in pairs):
        raise InvalidInputError(f"rescale {text!r}: each min must be smaller than its max")
    if len(pairs) == 1:
        return pairs * n_bands
    if len(pairs) != n_bands:
        raise InvalidInputError(
            f"rescale {text!r}: {len(pairs)} pairs for {n_bands} bands (give one, or one per band)"
        )
    return pairs


@functools.cache
def colormap_names() -> tuple[str, ...]:
    """The names of rio-tiler's colour-map registry."""
    from rio_tiler.colormap import cmap

    return tuple(sorted(cmap.list()))


def parse_colormap(name: str | None) -> str | None:
    """``name`` (case-insensitive) if rio-tiler's registry has it, else InvalidInputError."""
    if name is None or name == "":
        return None
    lowered = name.strip().lower()
    if lowered not in colormap_names():
        raise InvalidInputError(
            f"colormap {name!r} is not known (one of rio-tiler's: viridis, rdylgn, magma, "
            "... ; GET /tiles/colormaps lists them)"
        )
    return lowered


@functools.cache
def colormap_table(name: str) -> np.ndarray:
    """A (256, 4) uint8 lookup table of colour map ``name``."""
    from rio_tiler.colormap import cmap

    table = np.zeros((256, 4), np.uint8)
    for key, rgba in cmap.get(name).items():
        if 0 <= int(key) < 256:
            table[int(key)] = rgba
    return table


# ------------------------------------------------------------------------ drawing


def render_bands(
    image: Any, ranges: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """rio-tiler's rescale of ``image`` (an ImageData): (bands, H, W) uint8 and its mask."""
    image.rescale(in_range=list(ranges))
    return np.asarray(image.data), np.asarray(image.mask)


def render_single(
    values: np.ndarray,
    valid: np.ndarray,
    value_range: tuple[float, float],
    colormap: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One float band rescaled to bytes (rio-tiler's rescale) and coloured with ``colormap``."""
    from rio_tiler.utils import linear_rescale

    clean = np.where(valid & np.isfinite(values), values, value_range[0])
    scaled = linear_rescale(clean.astype(np.float64), in_range=value_range, out_range=(0, 255))
    scaled = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    mask = np.where(valid & np.isfinite(values), 255, 0).astype(np.uint8)
    if colormap is None:
        return scaled[None], mask
    rgba = colormap_table(colormap)[scaled]
    return np.moveaxis(rgba[..., :3], -1, 0), np.minimum(mask, rgba[..., 3])


def encode(data: np.ndarray, mask: np.ndarray, fmt: str) -> bytes:
    """(bands, H, W) uint8 plus a 0/255 mask as PNG or WEBP, the mask as alpha."""
    from PIL import Image

    bands = data.shape[0]
    if bands == 1:
        planes, mode = [data[0], mask], "LA"
    elif bands in (3, 4):
        planes, mode = [data[0], data[1], data[2], mask], "RGBA"
    elif bands == 2:
        planes, mode = [data[0], data[1], data[1], mask], "RGBA"
    else:
        raise InvalidInputError(f"bands: {bands} bands cannot be drawn (give 1 or 3)")
    pixels = np.ascontiguousarray(np.stack(planes, axis=-1))
    picture = Image.fromarray(pixels, mode=mode) if _PIL_MODE_ARG else Image.fromarray(pixels)
    out = io.BytesIO()
    if fmt == "png":
        picture.save(out, format="PNG", compress_level=1)
    else:
        picture = picture.convert("RGBA") if mode == "LA" else picture
        picture.save(out, format="WEBP", quality=85, method=0)
    return out.getvalue()


def _pil_takes_mode() -> bool:
    # Pillow 11.3 deprecated Image.fromarray's mode argument; the array's shape says it.
    import PIL

    major, minor = (int(p) for p in PIL.__version__.split(".")[:2])
    return (major, minor) < (11, 3)


_PIL_MODE_ARG = _pil_takes_mode()


@functools.cache
def legend_png(name: str, width: int = 256, height: int = 16) -> bytes:
    """A horizontal ramp of colour map ``name``, low values on the left."""
    table = colormap_table(name)
    ramp = np.linspace(0, 255, width).round().astype(np.uint8)
    rgba = np.broadcast_to(table[ramp][None], (height, width, 4))
    data = np.moveaxis(rgba[..., :3], -1, 0)
    mask = np.where(rgba[..., 3] > 0, 255, 0).astype(np.uint8)
    return encode(np.ascontiguousarray(data), mask, "png")
