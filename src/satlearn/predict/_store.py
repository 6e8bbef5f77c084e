"""The resumable block store: finished rows on disk, a journal of what is done.

A prediction run writes each finished stretch of rows straight to a plain
row-major file (``pwrite``, never a memory map, so resident memory stays flat
however big the scene) and then appends its key to a journal, after an
``fsync`` of the data: a key in the journal means its pixels are on disk. A
SIGKILL can therefore lose only work not yet journalled, and ``resume=True``
recomputes exactly that. The COG is made from the store once every key is
in; the store lives in a hidden folder of the output folder, which a run
without ``resume`` clears.

The store is hand-written because nothing in rasterio or GDAL offers a
write-once, crash-safe, resumable raster sink: GDAL caches blocks and has no
durable partial-file state to resume from.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["BlockStore"]

STATE_DIR = ".satlearn-predict"


class BlockStore:
    """Layers of ``height`` x ``width`` uint8 pixels on disk, with a journal.

    Parameters
    ----------
    folder : path
        The output folder; the store lives in ``folder/.satlearn-predict``.
    layers, height, width : int
        The raster's shape (layer 0: classes, then one per probability band).
    settings : dict
        What the run depends on (bundle checksum, scene, tiling); a resumed
        run with other settings is refused.
    resume : bool
        Keep what an earlier run journalled; otherwise start afresh.
    """

    def __init__(
        self,
        folder: Path,
        *,
        layers: int,
        height: int,
        width: int,
        settings: dict[str, Any],
        resume: bool,
    ) -> None:
        self.root = Path(folder) / STATE_DIR
        self.layers, self.height, self.width = layers, height, width
        settings = {**settings, "layers": layers, "height": height, "width": width}
        settings_path = self.root / "settings.json"
        if resume and settings_path.is_file():
            try:
                before = json.loads(settings_path.read_text(encoding="utf-8"))
            except ValueError:
                before = None
            if before != json.loads(json.dumps(settings)):
                raise InvalidInputError(
                    f"{folder}: the interrupted run there used other settings or another "
                    "scene or model; run again without --resume to start afresh"
                )
        elif self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        if not settings_path.is_file():
            tmp = settings_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(settings, indent=2), encoding="utf-8")
            os.replace(tmp, settings_path)
        self.data_path = self.root / "layers.u8"
        self.fd = os.open(self.data_path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self.fd, layers * height * width)
        self.journal_path = self.root / "journal.txt"
        self.done = self._read_journal()
        self.journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115

    def _read_journal(self) -> set[str]:
        if not self.journal_path.is_file():
            return set()
        lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        # A line cut by a kill has no newline after it and is ignored.
        return {line for line in lines if line}

    def write(
        self, key: str, rows: tuple[int, int], cols: tuple[int, int], data: np.ndarray
    ) -> None:
        """Write ``data`` ``(layers, h, w)`` uint8 at ``rows`` x ``cols``, then journal ``key``."""
        data = np.ascontiguousarray(data, dtype=np.uint8)
        (y0, y1), (x0, _) = rows, cols
        for layer in range(self.layers):
            base = layer * self.height * self.width
            for i, y in enumerate(range(y0, y1)):
                os.pwrite(self.fd, data[layer, i].tobytes(), base + y * self.width + x0)
        os.fsync(self.fd)
        self.journal.write(key + "\n")
        self.journal.flush()
        os.fsync(self.journal.fileno())
        self.done.add(key)

    def read(self, layer: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """One layer's pixels over a window, ``(h, w)`` uint8."""
        (y0, y1), (x0, x1) = rows, cols
        out = np.empty((y1 - y0, x1 - x0), dtype=np.uint8)
        base = layer * self.height * self.width
        for i, y in enumerate(range(y0, y1)):
            out[i] = np.frombuffer(
                os.pread(self.fd, x1 - x0, base + y * self.width + x0), dtype=np.uint8
            )
        return out

    def as_dask(self, layers: list[int], chunk: int) -> Any:
        """The given layers as a lazy ``(band, y, x)`` dask array read by windows."""
        import dask.array as dsa

        chunks = dsa.core.normalize_chunks(
            (1, chunk, chunk), shape=(len(layers), self.height, self.width)
        )

        def block(block_info: Any = None) -> np.ndarray:
            (b0, _), rows, cols = block_info[None]["array-location"]
            return self.read(layers[b0], rows, cols)[None]

        return dsa.map_blocks(
            block, chunks=chunks, dtype=np.uint8, meta=np.empty((0, 0, 0), np.uint8)
        )

    def close(self) -> None:
        self.journal.close()
        os.close(self.fd)

    def remove(self) -> None:
        """Delete the store (after the outputs are in place)."""
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)
