"""Running a bundle's graph on batches of tiles: normalise, run, activate, TTA.

Maps (segmentation, change) come out as probabilities (softmax or sigmoid);
detection heatmaps as the graph gives them (already through its sigmoid);
super-resolved bands mapped back to band values by the bundle's
``output_normalisation`` (``value = output * std + mean``).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from satlearn.bundle import Bundle
from satlearn.errors import BundleError, InvalidInputError

__all__ = ["MAP_TASKS", "TASKS", "TileRunner", "cached_runner", "execution_providers"]

#: Bundle tasks that predict class maps (one output per input pixel).
MAP_TASKS = ("semantic-segmentation", "change-detection")
#: Every bundle task :func:`satlearn.predict.predict` runs over whole scenes.
TASKS = (*MAP_TASKS, "object-detection", "super-resolution")
# Tasks whose graph output is read as it is (no softmax or sigmoid here).
_RAW_OUTPUT = ("object-detection", "super-resolution")

# The eight symmetries of the square (D4): (number of 90-degree turns, flip).
_DIHEDRAL = tuple((k, flip) for flip in (False, True) for k in range(4))


def _onnxruntime() -> Any:
    """The ``onnxruntime`` module (its telemetry is off: see ``satlearn/__init__.py``).

    Besides network traffic nobody asked for, the uploader's threads (8 MiB
    stacks each, started anew every few seconds) made a long run's address
    space grow with its duration, so a RLIMIT_AS cap failed on them.
    """
    import onnxruntime

    return onnxruntime


def execution_providers() -> list[str]:
    """ONNX Runtime providers to use: CUDA when this onnxruntime has it, then CPU."""
    ort = _onnxruntime()

    available = ort.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*chosen, "CPUExecutionProvider"]


def _forward(x: np.ndarray, k: int, flip: bool) -> np.ndarray:
    if flip:
        x = x[..., ::-1]
    return np.rot90(x, k, axes=(-2, -1))


def _inverse(y: np.ndarray, k: int, flip: bool) -> np.ndarray:
    y = np.rot90(y, -k, axes=(-2, -1))
    return y[..., ::-1] if flip else y


class TileRunner:
    """Turns ``(N, C, T, T)`` tiles of stored values into the graph's answer for each.

    ``(N, K, T, T)`` probabilities for a map task, ``(N, K + 4, T/s, T/s)``
    centernet outputs for ``object-detection``, ``(N, C, sT, sT)`` band values
    for ``super-resolution``.

    Parameters
    ----------
    bundle : Bundle
        A bundle of one of :data:`TASKS` (``change-detection`` reads both
        dates stacked on the channels, before then after).
    tta : bool
        Average over the eight dihedral transforms of each tile (8x the work);
        not for ``object-detection`` (box sizes and offsets do not turn with
        the tile).
    threads : int, optional
        ONNX Runtime intra-op threads; default the CPU count.

    Raises
    ------
    BundleError
        Another task, or a graph onnxruntime cannot load.
    InvalidInputError
        ``tta`` for an object-detection bundle.
    """

    def __init__(self, bundle: Bundle, *, tta: bool = False, threads: int | None = None) -> None:
        if bundle.task not in TASKS:
            raise BundleError(
                f"bundle {bundle.path}: prediction over scenes supports tasks "
                f"{', '.join(TASKS)}; this bundle's task is {bundle.task!r}"
            )
        if tta and bundle.task == "object-detection":
            raise InvalidInputError(
                "tta is not available for object-detection bundles: box sizes and "
                "offsets do not turn with the tile"
            )
        ort = _onnxruntime()

        self.bundle = bundle
        self.tta = bool(tta)
        meta = bundle.metadata
        norm = meta.get("normalisation") or {}
        #: Dates the graph reads stacked on the channels (2 for change detection).
        self.dates = int((meta.get("input_layout") or {}).get("dates", 1))
        n_channels = len(bundle.bands) * self.dates
        mean = np.asarray(norm.get("mean", np.zeros(n_channels)), dtype=np.float32)
        std = np.asarray(norm.get("std", np.ones(n_channels)), dtype=np.float32)
        if mean.size * self.dates == n_channels:  # statistics of one date serve both
            mean, std = np.tile(mean, self.dates), np.tile(std, self.dates)
        self.mean, self.std = mean[:, None, None], std[:, None, None]
        output = meta.get("output") or {}
        self.output = dict(output)
        raw = bundle.task in _RAW_OUTPUT
        self.activation = "identity" if raw else output.get("activation", "softmax")
        out_norm = meta.get("output_normalisation") if raw else None
        self.out_mean = self.out_std = None
        if out_norm:
            self.out_mean = np.asarray(out_norm["mean"], dtype=np.float32)[:, None, None]
            self.out_std = np.asarray(out_norm["std"], dtype=np.float32)[:, None, None]
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or os.cpu_count() or 1)
        try:
            self.session = ort.InferenceSession(
                str(bundle.model_path), sess_options=options, providers=execution_providers()
            )
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise BundleError(f"bundle {bundle.path}: onnxruntime cannot load it: {err}") from None
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name
        classes = bundle.classes
        self.n_classes = max(2, len(classes)) if classes else None
        if bundle.task in MAP_TASKS and classes and max(classes) >= 255:
            # Class maps are uint8 with 255 as nodata; a larger id would wrap silently.
            raise BundleError(
                f"bundle {bundle.path}: class ids up to {max(classes)}; whole-scene class maps "
                "hold ids 0-254 (uint8, 255 is nodata)"
            )

    def _run(self, x: np.ndarray) -> np.ndarray:
        (logits,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x)})
        logits = np.asarray(logits, dtype=np.float32)
        if self.activation == "identity":
            if self.out_std is not None:
                logits = logits * self.out_std + self.out_mean
            return logits
        if self.activation == "sigmoid" and logits.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-logits))
            return np.concatenate([1.0 - p, p], axis=1)
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        """The graph's float32 answer (see the class) for stored-value tiles ``(N, C, T, T)``."""
        x = (tiles.astype(np.float32, copy=False) - self.mean) / self.std
        if not self.tta:
            return self._run(x)
        total: np.ndarray | None = None
        for k, flip in _DIHEDRAL:
            y = _inverse(self._run(_forward(x, k, flip)), k, flip)
            total = y.copy() if total is None else total + y
        assert total is not None
        return total / len(_DIHEDRAL)


# Runners kept between calls (a model server predicts with the same bundle again and
# again; an ONNX Runtime session takes far longer to make than a small image to run).
_RUNNERS: OrderedDict[tuple, TileRunner] = OrderedDict()
_RUNNERS_LOCK = threading.Lock()
_MAX_RUNNERS = 8


def _model_key(bundle: Bundle) -> tuple:
    """What the runner depends on: the folder, the whole metadata, the graph's checksum."""
    # The metadata too: normalisation and activation come from it, not from the graph.
    meta = json.dumps(bundle.metadata, sort_keys=True, default=str)
    recorded = (bundle.metadata.get("sha256") or {}).get(bundle.model_path.name)
    if recorded:
        return (str(bundle.path), meta, recorded)
    stat = bundle.model_path.stat()
    return (str(bundle.path), meta, stat.st_size, stat.st_mtime_ns)


def cached_runner(bundle: Bundle, *, tta: bool = False) -> TileRunner:
    """The :class:`TileRunner` of ``bundle``, made once and reused (the 8 last used).

    Keyed by the bundle's folder, its metadata and the sha256 its ``bundle.json``
    records for the graph, so a new version copied into the same folder gets a new runner.
    Runners are safe to share between threads (ONNX Runtime's ``run`` is).
    """
    key = (*_model_key(bundle), bool(tta))
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is not None:
            _RUNNERS.move_to_end(key)
            return runner
    # Made outside the lock: two threads may both make one; the second is kept.
    runner = TileRunner(bundle, tta=tta)
    with _RUNNERS_LOCK:
        _RUNNERS[key] = runner
        _RUNNERS.move_to_end(key)
        while len(_RUNNERS) > _MAX_RUNNERS:
            _RUNNERS.popitem(last=False)
    return runner
