"""The streaming loop: strips of tiles in, blended finished rows out.

The scene is cut into column bands (``band_width`` output pixels wide) and
each band is swept top to bottom one row of tiles at a time:

1. read the strip of the scene under the row of tiles (one windowed read,
   reflect-padded beyond the scene's edges), while a reader thread already
   reads the next strip;
2. run the tiles through the model in batches and add each tile's
   probabilities, times the blending window, into the accumulators of the
   output rows it covers;
3. hand every stretch of ``block`` output rows that no later tile touches to
   the sink, normalised by the summed weights, and forget it.

Live memory is a few strips and stretches of one band, whatever the scene's
size: the band is :func:`band_width_for` the tile (8 tiles, at least 512
pixels) wide, so the working set is bounded by the tile, not by the scene's
width or area. Tiles on a band's edge are run for both bands it touches
(each keeps its own side): about one tile column in eight, ~12 % more model
work, bought for memory that does not grow with the scene.

A model whose output grid is ``scale`` times finer than its input
(super-resolution) is blended the same way on the fine grid: the plan,
stretches and keys stay on the input grid, the accumulators and what the sink
receives are ``scale`` times bigger. :func:`read_ahead` and :func:`run_row`
serve the other sweeps (object detection) too.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from satlearn.predict._blend import blend_window
from satlearn.predict._plan import TilePlan
from satlearn.predict._source import Source

__all__ = ["band_width_for", "read_ahead", "read_strip", "reader_pool", "run_row", "stream"]

#: A finished stretch: (key, rows, cols, probabilities (K, h, w) float32, valid (h, w)).
#: With ``scale`` > 1, rows, cols and both arrays are on the fine grid.
Sink = Callable[[str, tuple[int, int], tuple[int, int], np.ndarray, np.ndarray], None]


def band_width_for(tile: int) -> int:
    """The column band width (output pixels) :func:`stream` uses for tiles of side ``tile``.

    Eight tiles, at least 512 pixels: wide enough that the tiles run twice
    (those on a band's edge) stay about one in eight, narrow enough that the
    strips and stretches held stay a few MiB for small tiles.

    Examples
    --------
    >>> band_width_for(64), band_width_for(256)
    (512, 2048)
    """
    return max(512, 8 * int(tile))


def _pad(size: int, lo: int, hi: int) -> tuple[int, int, int, int]:
    """Clip ``[lo, hi)`` to ``[0, size)``; return the clip and the padding before/after."""
    a, b = max(lo, 0), min(hi, size)
    return a, b, a - lo, hi - b


def read_strip(
    source: Source, rows: tuple[int, int], cols: tuple[int, int], fill: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The scene over ``rows`` x ``cols`` (which may stick out), reflect-padded.

    Invalid pixels are set to ``fill`` (the bands' means, so the model sees
    neutral values rather than a nodata number); returns data and validity.
    """
    y0, y1, top, bottom = _pad(source.height, *rows)
    x0, x1, left, right = _pad(source.width, *cols)
    data, valid = source.read((y0, y1), (x0, x1))
    data = np.where(valid, data, fill)
    if top or bottom or left or right:
        data = np.pad(data, ((0, 0), (top, bottom), (left, right)), mode="reflect")
        valid = np.pad(valid, ((top, bottom), (left, right)), mode="constant")
    return data, valid


Window = tuple[tuple[int, int], tuple[int, int]]


_READERS: dict[int, ThreadPoolExecutor] = {}
_READERS_LOCK = threading.Lock()


def _after_fork() -> None:
    # The child has no reader thread and may have forked while the lock was held.
    global _READERS_LOCK
    _READERS_LOCK = threading.Lock()
    _READERS.clear()


os.register_at_fork(after_in_child=_after_fork)


@contextlib.contextmanager
def reader_pool() -> Iterator[ThreadPoolExecutor]:
    """The reader thread: one per process, reading the next strip while the model runs.

    One is enough (:func:`read_ahead` keeps one read pending). It is made
    once and kept, not made and joined per run: each new thread reserves an
    8 MiB stack, so a run that started its own could grow the address space
    past a cap the previous run fitted in. Keyed by process id, so a forked
    child (whose copy of the thread does not run) makes its own.
    """
    pid = os.getpid()
    with _READERS_LOCK:
        pool = _READERS.get(pid)
        if pool is None:
            _READERS.clear()  # a parent's pool, dead in this child
            pool = _READERS[pid] = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="satlearn-read"
            )
    yield pool


def read_ahead(
    pool: ThreadPoolExecutor, source: Source, windows: Sequence[Window], fill: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`read_strip` of each window in turn, the next one read by ``pool`` meanwhile."""
    if not windows:
        return
    pending = pool.submit(read_strip, source, *windows[0], fill)
    for i in range(len(windows)):
        data, valid = pending.result()
        if i + 1 < len(windows):
            pending = pool.submit(read_strip, source, *windows[i + 1], fill)
        yield data, valid


class _Stretch:
    """Accumulators of ``block`` output rows of one band (``scale`` times finer)."""

    def __init__(
        self, rows: tuple[int, int], cols: tuple[int, int], classes: int, scale: int = 1
    ) -> None:
        h, w = rows[1] - rows[0], cols[1] - cols[0]
        self.rows, self.cols, self.scale = rows, cols, scale
        self.total = np.zeros((classes, h * scale, w * scale), dtype=np.float32)
        self.weight = np.zeros((h * scale, w * scale), dtype=np.float32)
        self.valid = np.zeros((h, w), dtype=bool)  # on the input grid


def stream(
    source: Source,
    run: Callable[[np.ndarray], np.ndarray],
    plan: TilePlan,
    *,
    fill: np.ndarray,
    sink: Sink,
    done: Callable[[str], bool] = lambda key: False,
    region: tuple[tuple[int, int], tuple[int, int]] | None = None,
    band_width: int | None = None,
    block: int = 256,
    batch_size: int = 16,
    scale: int = 1,
) -> None:
    """Predict the scene (or a region of it), handing finished stretches to ``sink``.

    Parameters
    ----------
    source : Source
        The scene.
    run : callable
        ``(N, C, T, T)`` stored values -> ``(N, K, sT, sT)`` probabilities
        (or any values blended as such: super-resolved bands).
    plan : TilePlan
        The tiling.
    fill : numpy.ndarray
        ``(C, 1, 1)`` values that replace invalid input pixels.
    sink : callable
        Receives each finished stretch once (see :data:`Sink`); its key is
        ``"{column band}:{stretch}"``.
    done : callable
        ``done(key)`` is True for a stretch an earlier run finished: it is
        neither computed again nor handed to ``sink``.
    region : ((row0, row1), (col0, col1)), optional
        Predict only these output pixels (a dask block); default the scene.
        The tiles stay on the scene's grid, so a region's pixels equal the
        whole scene's.
    band_width, block, batch_size : int
        Column band width (default :func:`band_width_for` the tile) and
        stretch height in input pixels; tiles per model call. The keys
        depend on both: a journal is only valid for the same two.
    scale : int
        How many output pixels the model gives per input pixel along each
        axis (``s`` above; 1 but for super-resolution).
    """
    height, width, tile = source.height, source.width, plan.tile
    if band_width is None:
        band_width = band_width_for(tile)
    (r0, r1), (c0, c1) = region or ((0, height), (0, width))
    window = blend_window(tile * scale, plan.overlap * scale)
    tile_rows = plan.covering(r0, r1, height)

    def units(ky: int) -> range:
        top = plan.start(ky)
        return range((max(top, r0) - r0) // block, (min(top + tile, r1) - 1 - r0) // block + 1)

    with reader_pool() as pool:
        for band, bx0 in enumerate(range(c0, c1, band_width)):
            cols = (bx0, min(bx0 + band_width, c1))
            tile_cols = plan.covering(*cols, width)
            strip_cols = (plan.start(tile_cols[0]), plan.start(tile_cols[-1]) + tile)

            def key(unit: int, band: int = band) -> str:
                return f"{band}:{unit}"

            rows_todo = [ky for ky in tile_rows if any(not done(key(u)) for u in units(ky))]
            if not rows_todo:
                continue

            windows = [((plan.start(ky), plan.start(ky) + tile), strip_cols) for ky in rows_todo]
            stretches: dict[int, _Stretch] = {}
            strips = read_ahead(pool, source, windows, fill)
            for ky, (data, valid) in zip(rows_todo, strips, strict=True):
                top = plan.start(ky)
                probs = run_row(data, run, plan, tile_cols, strip_cols[0], batch_size)
                for unit in units(ky):
                    if done(key(unit)):
                        continue
                    if unit not in stretches:
                        rows = (r0 + unit * block, min(r0 + (unit + 1) * block, r1))
                        stretches[unit] = _Stretch(rows, cols, probs.shape[1], scale)
                    _add(stretches[unit], probs, valid, window, plan, tile_cols, top, strip_cols[0])
                # Rows above the next tile row are final.
                limit = plan.start(ky + 1) if ky != tile_rows[-1] else r1
                for unit in sorted(stretches):
                    stretch = stretches[unit]
                    if stretch.rows[1] <= limit:
                        total, weight = stretch.total, stretch.weight
                        total /= np.maximum(weight, np.float32(1e-12))
                        valid_out = stretch.valid
                        if scale > 1:  # each input pixel's validity covers its s x s outputs
                            valid_out = valid_out.repeat(scale, axis=0).repeat(scale, axis=1)
                        sink(key(unit), _times(stretch.rows, scale), _times(cols, scale), total,
                             valid_out)  # fmt: skip
                        del stretches[unit]


def _times(span: tuple[int, int], scale: int) -> tuple[int, int]:
    return span[0] * scale, span[1] * scale


def run_row(
    data: np.ndarray,
    run: Callable[[np.ndarray], np.ndarray],
    plan: TilePlan,
    tile_cols: range,
    strip_x0: int,
    batch_size: int,
) -> np.ndarray:
    """The model's output for every tile of a strip, in batches of a fixed composition.

    The strip starts at column ``strip_x0`` of the scene and holds the tiles
    ``tile_cols`` of one tile row; the output is their outputs stacked.
    """
    tile = plan.tile
    tiles = np.stack(
        [data[:, :, plan.start(k) - strip_x0 : plan.start(k) - strip_x0 + tile] for k in tile_cols]
    )
    out = [run(tiles[i : i + batch_size]) for i in range(0, len(tiles), batch_size)]
    return np.concatenate(out)


def _add(
    stretch: _Stretch,
    probs: np.ndarray,
    valid: np.ndarray,
    window: np.ndarray,
    plan: TilePlan,
    tile_cols: range,
    top: int,
    strip_x0: int,
) -> None:
    """Add a row of tiles' weighted probabilities to the stretch they overlap."""
    (r0, r1), (c0, c1), s = stretch.rows, stretch.cols, stretch.scale
    y0, y1 = max(r0, top), min(r1, top + plan.tile)
    stretch.valid[y0 - r0 : y1 - r0] = valid[y0 - top : y1 - top, c0 - strip_x0 : c1 - strip_x0]
    # The weights and outputs are on the output grid: s times the input's.
    ty = slice((y0 - top) * s, (y1 - top) * s)
    sy = slice((y0 - r0) * s, (y1 - r0) * s)
    for n, k in enumerate(tile_cols):
        left = plan.start(k)
        x0, x1 = max(c0, left), min(c1, left + plan.tile)
        if x0 >= x1:
            continue
        tx = slice((x0 - left) * s, (x1 - left) * s)
        sx = slice((x0 - c0) * s, (x1 - c0) * s)
        w = window[ty, tx]
        stretch.total[:, sy, sx] += probs[n][:, ty, tx] * w
        stretch.weight[sy, sx] += w
