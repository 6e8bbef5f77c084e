"""The lazy form: a dask-backed class map or super-resolved bands, computed block by block.

Each output block is predicted from its input block plus a halo of one tile
on every side (``dask.array.overlap``, no padding at the scene's edges: the
tile grid's own reflect padding handles those). Because the tiles stay on the
scene's grid, a block's pixels equal the same pixels of a whole-scene run, so
the result does not depend on the chunking.

The block function carries no ONNX Runtime session (it cannot be pickled to a
distributed worker): only a :class:`~satlearn.predict._workers.RunnerRef`,
which loads the bundle once per worker process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.predict._plan import TilePlan
from satlearn.predict._source import Source
from satlearn.predict._stream import stream
from satlearn.predict._workers import RunnerRef

__all__ = ["lazy_classes", "lazy_layers"]


def lazy_classes(
    source: Source,
    data: Any,
    run: Any,
    plan: TilePlan,
    *,
    fill: np.ndarray,
    encode: Any,
    batch_size: int,
) -> Any:
    """A ``(y, x)`` uint8 dask array of classes over the ``(band, y, x)`` dask ``data``.

    Blockwise with a halo of ``plan.tile`` pixels.
    """

    def first(probs: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return encode(probs, valid)[:1]  # the class layer only

    return lazy_layers(source, data, run, plan, fill=fill, encode=first, layers=1,
                       batch_size=batch_size)[0]  # fmt: skip


def lazy_layers(
    source: Source,
    data: Any,
    run: Any,
    plan: TilePlan,
    *,
    fill: np.ndarray,
    encode: Any,
    layers: int,
    batch_size: int,
    dtype: Any = np.uint8,
    scale: int = 1,
) -> Any:
    """A ``(layers, s*y, s*x)`` dask array of ``encode(probs, valid)`` over the dask ``data``.

    Blockwise with a halo of ``plan.tile`` input pixels; ``scale`` (``s``) is
    the model's output pixels per input pixel (super-resolution).
    """
    import dask.array as dsa

    halo = plan.tile
    # The graph carries a reference, never the runner (see the module's docstring).
    # A plain callable (no bundle) goes as it is.
    ref = RunnerRef.of(run) if hasattr(run, "bundle") and not isinstance(run, RunnerRef) else run
    # Only the grid of the source travels with the blocks, not its reader (an
    # open dataset handle cannot be pickled either).
    grid = dict(height=source.height, width=source.width, crs=source.crs,
                transform=source.transform, nodata=source.nodata, name=source.name)  # fmt: skip
    # overlap() needs every chunk at least as deep as the halo; say so up front
    # so that the output's chunks are the padded input's.
    from dask.array.overlap import ensure_minimum_chunksize

    data = data.rechunk(
        (-1, *(ensure_minimum_chunksize(halo, data.chunks[axis]) for axis in (1, 2)))
    )
    chunks = data.chunks
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in chunks]
    padded = dsa.overlap.overlap(data, depth={0: 0, 1: halo, 2: halo}, boundary="none")

    def predict_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        _, iy, ix = block_info[0]["chunk-location"]
        (y0, y1), (x0, x1) = starts[1][iy : iy + 2], starts[2][ix : ix + 2]
        hy, hx = max(0, y0 - halo), max(0, x0 - halo)

        def read(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
            return block[:, rows[0] - hy : rows[1] - hy, cols[0] - hx : cols[1] - hx]

        local = Source(**grid, _read=read)
        s = scale
        out = np.empty((layers, int(y1 - y0) * s, int(x1 - x0) * s), dtype=dtype)

        def keep(key: str, rows: Any, cols: Any, probs: np.ndarray, valid: np.ndarray) -> None:
            # rows and cols are on the output grid (s times the input's).
            out[:, rows[0] - y0 * s : rows[1] - y0 * s, cols[0] - x0 * s : cols[1] - x0 * s] = (
                encode(probs, valid)
            )

        stream(local, ref, plan, fill=fill, sink=keep, region=((int(y0), int(y1)),
               (int(x0), int(x1))), batch_size=batch_size, scale=scale)  # fmt: skip
        return out

    out_chunks = ((layers,), *(tuple(c * scale for c in chunks[axis]) for axis in (1, 2)))
    return padded.map_blocks(
        predict_block, chunks=out_chunks, dtype=dtype, meta=np.empty((0, 0, 0), dtype),
    )  # fmt: skip
