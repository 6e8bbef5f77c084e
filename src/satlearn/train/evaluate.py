"""Score a bundle on labelled data, running its ONNX graph with onnxruntime.

Evaluation takes the same road as prediction and the server: the bundle's
``model.onnx`` in onnxruntime, fed with the bundle's bands (picked by name
from the data) normalised with the bundle's statistics. So the scores are
those of the artefact that will be deployed, not of the torch model it came
from.

Metrics per task: accuracy, macro-F1, kappa, per-class F1 and the confusion
matrix (also as PNG) for classification; micro/macro F1 for multi-label;
IoU per class, mIoU and boundary F1 for segmentation; F1, precision, recall,
IoU and kappa for change; PSNR (with bicubic's beside it) and SSIM for
super-resolution; mAP@0.5, recall and precision for detection.

Examples
--------
>>> report = evaluate("models/water/1", {"kind": "synthetic", "target": "water",
...                                       "size": 256, "seed": 9})  # doctest: +SKIP
>>> report["metrics"]["miou"]  # doctest: +SKIP
0.83
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from satlearn.bundle import read_bundle
from satlearn.errors import BundleError, InvalidInputError
from satlearn.train.config import (
    BUNDLE_TASKS,
    TASKS,
    ChipsSource,
    DatasetSource,
    OsmSource,
    SyntheticSource,
    TrainConfig,
    parse_data_source,
    read_yaml,
    rebase_paths,
)
from satlearn.train.data import TrainingSet, collate, load_task_data
from satlearn.train.scoring import make_scorer

__all__ = ["bundle_training_task", "evaluate"]

_FROM_BUNDLE = {v: k for k, v in BUNDLE_TASKS.items()}


def bundle_training_task(metadata: Mapping[str, Any], where: str) -> str:
    """The training task (one of :data:`TASKS`) a bundle answers.

    Taken from bundle.json's ``task``, which prediction and the server read
    too; the ``training_config`` recorded beside it must agree, so that an
    edited ``task`` is refused rather than scored as something else.
    """
    task = metadata.get("task")
    if task in _FROM_BUNDLE:
        answered = _FROM_BUNDLE[task]
    elif task in TASKS:
        answered = str(task)
    else:
        raise BundleError(
            f"{where}: task {task!r} is not one satlearn evaluate scores "
            f"({', '.join(sorted(_FROM_BUNDLE))})"
        )
    trained = (metadata.get("training_config") or {}).get("task")
    if trained is not None and trained != answered:
        raise BundleError(
            f"{where}: bundle.json's task {task!r} disagrees with the task its "
            f"training_config trained ({trained!r}); was bundle.json edited?"
        )
    return answered


def _samples(data: Any, task: str, bands: list[str], scale: int) -> tuple[Any, dict[str, Any]]:
    """The samples to score and a description of where they came from."""
    if isinstance(data, TrainConfig):
        config = data
    elif isinstance(data, SyntheticSource | DatasetSource | ChipsSource | OsmSource):
        config = None
        source = data
    else:
        if isinstance(data, str | os.PathLike):
            path = Path(os.fspath(data))
            if path.is_dir():
                data = {"kind": "chips", "root": str(path), "split": None, "val_split": None}
            elif path.is_file():
                data = _rebase_any(read_yaml(path), path.parent)
            else:
                raise InvalidInputError(f"evaluation data {path}: no such file or folder")
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"evaluation data must be a data-source mapping, a config, a YAML file or a "
                f"chip-set folder, got {data!r}"
            )
        if "task" in data:  # a whole training config: score its validation split
            config = TrainConfig.from_dict(dict(data), where="evaluation config")
        else:
            config = None
            source = parse_data_source(dict(data), where="evaluation data")
    if config is not None:
        if config.task != task:
            raise InvalidInputError(
                f"the config trains task {config.task!r} but the bundle answers {task!r}"
            )
        loaded = load_task_data(
            task,
            config.data,
            bands=bands,
            val_fraction=config.val_fraction,
            seed=config.seed,
            scale=scale,
        )
        return loaded.val, {**loaded.provenance, "part": "validation"}
    loaded = load_task_data(task, source, bands=bands, val_fraction=0.0, scale=scale)
    return loaded.train, {**loaded.provenance, "part": "all"}


def _rebase_any(data: Any, base: Path) -> Any:
    if isinstance(data, Mapping) and "task" not in data and "kind" in data:
        return rebase_paths({"data": dict(data)}, base)["data"]
    return rebase_paths(data, base)


def evaluate(
    bundle_dir: str | os.PathLike[str],
    data: Any,
    *,
    output: str | os.PathLike[str] | None = None,
    batch_size: int = 16,
    boundary_tolerance: float = 2.0,
    score_threshold: float = 0.3,
) -> dict[str, Any]:
    """Score a bundle's ONNX model on labelled samples.

    Parameters
    ----------
    bundle_dir : path
        The bundle folder.
    data : mapping, TrainConfig, data source, or path
        What to score on: a data-source mapping (the ``data`` section of a
        training config: every sample is scored), a whole training config
        (its validation split is scored), a YAML file holding either, or a
        chip-set folder.
    output : path, optional
        A folder to write ``metrics.json`` (and ``confusion.png`` for class
        maps) into.
    batch_size : int
        Samples per onnxruntime call.
    boundary_tolerance : float
        Pixel tolerance of the segmentation boundary F1.
    score_threshold : float
        Detection confidence for recall and precision.

    Returns
    -------
    dict
        ``{"bundle", "task", "samples", "data", "metrics"}`` (JSON-ready).

    Raises
    ------
    BundleError
        Unreadable bundle, or one without normalisation or of a task not
        scored here.
    UnknownBandError
        The data lacks a band the bundle reads.
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    bundle = read_bundle(bundle_dir)
    where = f"bundle {bundle.path}"
    meta = bundle.metadata
    task = bundle_training_task(meta, where)
    norm = meta.get("normalisation") or {}
    if "mean" not in norm or "std" not in norm:
        raise BundleError(f"{where}: bundle.json has no normalisation mean/std")
    mean = np.asarray(norm["mean"], np.float32)
    std = np.asarray(norm["std"], np.float32)
    model_config = (meta.get("model") or {}).get("config") or {}
    scale = int(model_config.get("scale") or 2)
    classes = [bundle.classes[k] for k in sorted(bundle.classes)]
    samples, provenance = _samples(data, task, list(bundle.bands), scale)
    if len(samples) == 0:
        raise InvalidInputError("the evaluation data holds no sample")
    n_mean = len(mean)
    if n_mean not in (len(bundle.bands), 2 * len(bundle.bands)):
        raise BundleError(f"{where}: {n_mean} normalisation values for {len(bundle.bands)} bands")
    # Change bundles may carry statistics per input channel (both dates):
    # the first date's serve both (they were computed over both dates).
    mean, std = mean[: len(bundle.bands)], std[: len(bundle.bands)]
    dataset = TrainingSet(samples, mean, std)
    scorer = make_scorer(
        task,
        classes=classes,
        mean=mean,
        std=std,
        boundary_tolerance=boundary_tolerance,
        score_threshold=score_threshold,
        output_normalisation=meta.get("output_normalisation"),
    )
    session = bundle.session()
    input_name = session.get_inputs()[0].name
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        arrays = {
            k: (v.numpy() if hasattr(v, "numpy") else [x.numpy() for x in v])
            for k, v in batch.items()
        }
        x = arrays["image"]
        if task == "change":
            x = np.concatenate([x, arrays["image2"]], axis=1)
        out = session.run(None, {input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]
        scorer.update(out, arrays)
    metrics = scorer.result()
    report: dict[str, Any] = {
        "bundle": str(bundle.path),
        "task": task,
        "samples": len(dataset),
        "data": provenance,
        "settings": {
            "batch_size": batch_size,
            **({"boundary_tolerance_px": boundary_tolerance} if task == "segmentation" else {}),
            **({"score_threshold": score_threshold} if task == "detection" else {}),
        },
        "metrics": metrics,
    }
    if output is not None:
        _write(report, Path(os.fspath(output)), classes, task)
    return report


def _write(report: dict[str, Any], folder: Path, classes: list[str], task: str) -> None:
    from satlearn.atomic import write_json
    from satlearn.viz import write_confusion_png

    folder.mkdir(parents=True, exist_ok=True)
    confusion = report["metrics"].get("confusion")
    if confusion is not None:
        names = ["no_change", "change"] if task == "change" else classes
        if len(names) != len(confusion):
            names = [str(i) for i in range(len(confusion))]
        report["confusion_png"] = str(
            write_confusion_png(confusion, folder / "confusion.png", classes=names)
        )
    report["metrics_json"] = str(folder / "metrics.json")
    write_json(report, folder / "metrics.json")
