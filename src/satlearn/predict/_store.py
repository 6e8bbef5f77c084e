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

from satlearn.atomic import writing
from satlearn.errors import InvalidInputError

__all__ = ["STATE_DIR", "BlockStore", "open_state"]

STATE_DIR = ".satlearn-predict"


def open_state(folder: Path, settings: dict[str, Any], *, resume: bool) -> Path:
    """The run's state folder ``folder/.satlearn-predict``, with its ``settings.json``.

    With ``resume`` an earlier run's state is kept if its settings are these
    (else refused); without, any earlier state is cleared.

    Raises
    ------
    InvalidInputError
        ``resume`` into a folder whose interrupted run had other settings.
    """
    root = Path(folder) / STATE_DIR
    settings_path = root / "settings.json"
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
    elif root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    if not settings_path.is_file():
        tmp = settings_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings, indent=2), encoding="utf-8")
        os.replace(tmp, settings_path)
    return root


class BlockStore:
    """Layers of ``height`` x ``width`` pixels (uint8 unless told) on disk, with a journal.

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
    dtype : numpy dtype
        The pixels' type (default uint8: classes and quantised probabilities;
        float32 for super-resolved bands).
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
        dtype: Any = np.uint8,
    ) -> None:
        self.layers, self.height, self.width = layers, height, width
        self.dtype = np.dtype(dtype)
        self.itemsize = self.dtype.itemsize
        settings = {**settings, "layers": layers, "height": height, "width": width}
        if self.dtype != np.uint8:
            # Recorded only when not uint8, so a uint8 run left by an older
            # satlearn (no "dtype" key) still resumes.
            settings["dtype"] = self.dtype.str
        self.folder = Path(folder)
        with writing(self.folder):  # disk full or read-only: a WriteError naming the folder
            self.root = open_state(folder, settings, resume=resume)
            suffix = "u8" if self.dtype == np.uint8 else self.dtype.str.lstrip("<>|=")
            self.data_path = self.root / f"layers.{suffix}"
            self.fd = os.open(self.data_path, os.O_RDWR | os.O_CREAT, 0o644)
            os.ftruncate(self.fd, layers * height * width * self.itemsize)
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
        """Write ``data`` ``(layers, h, w)`` at ``rows`` x ``cols``, then journal ``key``."""
        data = np.ascontiguousarray(data, dtype=self.dtype)
        (y0, y1), (x0, _) = rows, cols
        size = self.itemsize
        with writing(self.folder):
            for layer in range(self.layers):
                base = layer * self.height * self.width
                for i, y in enumerate(range(y0, y1)):
                    offset = (base + y * self.width + x0) * size
                    os.pwrite(self.fd, data[layer, i].tobytes(), offset)
            os.fsync(self.fd)
            self.journal.write(key + "\n")
            self.journal.flush()
            os.fsync(self.journal.fileno())
        self.done.add(key)

    def read(self, layer: int, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        """One layer's pixels over a window, ``(h, w)`` of the store's dtype."""
        (y0, y1), (x0, x1) = rows, cols
        out = np.empty((y1 - y0, x1 - x0), dtype=self.dtype)
        base = layer * self.height * self.width
        size = self.itemsize
        for i, y in enumerate(range(y0, y1)):
            chunk = os.pread(self.fd, (x1 - x0) * size, (base + y * self.width + x0) * size)
            out[i] = np.frombuffer(chunk, dtype=self.dtype)
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
            block, chunks=chunks, dtype=self.dtype, meta=np.empty((0, 0, 0), self.dtype)
        )

    def close(self) -> None:
        self.journal.close()
        os.close(self.fd)

    def remove(self) -> None:
        """Delete the store (after the outputs are in place)."""
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)
