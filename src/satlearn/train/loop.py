"""The training loop: AdamW, a per-batch schedule, early stopping, checkpoints, a bundle.

:func:`train` runs a :class:`~satlearn.train.config.TrainConfig` end to end:
load the task's samples, compute per-band normalisation statistics from the
training samples (one streaming pass), build the model, train with AdamW and
a cosine or one-cycle schedule (stepped every batch), validate every epoch,
keep the best weights by the validation metric, stop early when it stalls,
checkpoint every epoch, log a CSV row per epoch, and export the best model as
a bundle (ONNX + safetensors + bundle.json) with
:func:`satlearn.models.export.export_bundle`.

Checkpoints never pickle: weights and optimiser tensors go to safetensors
files (the optimiser state flattened to ``state.<param>.<key>`` names), the
rest (epoch, schedule, optimiser hyper-parameters, history, RNG state as
bytes) to JSON. A run with ``resume: true`` continues from the last complete
epoch and ends with the same weights as an uninterrupted run.

Runs are deterministic on the CPU for a seed: the model's initialisation,
the shuffling (a generator seeded per epoch) and the augmentations (seeded
per epoch and sample, so the number of DataLoader workers does not matter).

Examples
--------
>>> result = train({
...     "task": "segmentation",
...     "data": {"kind": "synthetic", "target": "water", "size": 128, "chip_size": 32},
...     "model": {"name": "unet", "options": {"width": 8, "depth": 2}},
...     "epochs": 2, "output": {"directory": "models", "name": "water"},
... })  # doctest: +SKIP
>>> result.bundle, result.metrics["miou"]  # doctest: +SKIP
(PosixPath('models/water/1'), 0.71)
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satlearn.errors import InvalidInputError
from satlearn.train.augment import Augment
from satlearn.train.config import BUNDLE_TASKS, TrainConfig
from satlearn.train.data import (
    TaskData,
    TrainingSet,
    band_statistics,
    collate,
    foreground_subset,
    load_task_data,
)
from satlearn.train.losses import TaskLoss, build_loss
from satlearn.train.scoring import make_scorer

__all__ = ["TrainResult", "default_workers", "resolve_device", "train"]

_MODEL_FILE = "model.safetensors"
_BEST_FILE = "best.safetensors"
_OPTIM_FILE = "optimizer.safetensors"
_STATE_FILE = "state.json"
LOG_FILE = "log.csv"


@dataclass
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    bundle : pathlib.Path or None
        The exported bundle folder (None when export was not asked for).
    metrics : dict
        Validation metrics of the best epoch.
    history : list of dict
        One row per epoch (the CSV log's rows).
    best_epoch, epochs_run : int
        1-based epoch of the best weights; epochs trained in total.
    stopped_early : bool
        Early stopping ended the run.
    model : torch.nn.Module
        The model with the best weights, on the CPU, in eval mode.
    normalisation : dict
        ``{"mean": [...], "std": [...]}`` per band.
    checkpoint_dir, log : pathlib.Path
        Where checkpoints and the CSV log are.
    """

    bundle: Path | None
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    model: torch.nn.Module
    normalisation: dict[str, list[float]]
    checkpoint_dir: Path
    log: Path
    data: TaskData | None = field(default=None, repr=False)


def default_workers() -> int:
    """``min(2, cpus)`` DataLoader workers."""
    return min(2, os.cpu_count() or 1)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("device 'cuda' was asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def _coerce(config: Any) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, Mapping):
        return TrainConfig.from_dict(dict(config))
    if isinstance(config, str | os.PathLike):
        return TrainConfig.from_yaml(config)
    raise InvalidInputError(
        f"train: expected a TrainConfig, a mapping or a YAML path, got {config!r}"
    )


def in_channels(task: str, n_bands: int) -> int:
    """Input channels of the model of ``task`` (change: both dates stacked)."""
    return 2 * n_bands if task == "change" else n_bands


def model_input(task: str, batch: Mapping[str, Any]) -> Any:
    """The model's input tensor of a batch (change: dates stacked on channels)."""
    if task == "change":
        return torch.cat([batch["image"], batch["image2"]], dim=1)
    return batch["image"]


def _build(config: TrainConfig, data: TaskData) -> torch.nn.Module:
    from satlearn.models import build_model

    options = dict(config.model.options)
    for reserved in ("in_channels", "num_classes", "name"):
        if reserved in options:
            raise InvalidInputError(
                f"model.options.{reserved} is set by the data; remove it from the config"
            )
    if config.task == "superres":
        scale = options.setdefault("scale", data.scale)
        if scale != data.scale:
            raise InvalidInputError(
                f"model.options.scale {scale} differs from the data's scale {data.scale}"
            )
        num_classes = None
    elif config.task == "change":
        num_classes = options.pop("num_classes", 1)
    else:
        num_classes = len(data.classes)
    return build_model(
        config.model.name,
        in_channels=in_channels(config.task, len(data.bands)),
        num_classes=num_classes,
        **options,
    )


# --------------------------------------------------------------------------- checkpoints


def _save_checkpoint(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
) -> None:
    from safetensors.torch import save_file

    from satlearn.atomic import atomic_output, write_json

    directory.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    # AdamW's state is all tensors (step, exp_avg, exp_avg_sq): flattened names.
    tensors = {
        f"state.{pid}.{key}": torch.as_tensor(value).detach().cpu().contiguous()
        for pid, pstate in opt["state"].items()
        for key, value in pstate.items()
    }
    tensors["rng.torch"] = torch.get_rng_state()
    # Three files cannot be replaced in one step, so a SIGKILL between them left
    # epoch N's weights beside epoch N-1's state.json: the resumed run then
    # differed from an uninterrupted one. The tensors are written beside the
    # files first (tagged with their epoch), state.json is the commit point, and
    # only then do they take the final names; _settle_checkpoint rolls an
    # interrupted step forward (committed) or back (not) before a resume.
    tag = {"epoch": str(state["epoch"])}
    for name, payload in ((_MODEL_FILE, weights), (_OPTIM_FILE, tensors)):
        with atomic_output(directory / _pending(name)) as tmp:
            save_file(payload, str(tmp), metadata=tag)
    write_json(
        {
            **state,
            "optimizer": {"param_groups": opt["param_groups"]},
            "scheduler": scheduler.state_dict(),
        },
        directory / _STATE_FILE,
    )
    for name in (_MODEL_FILE, _OPTIM_FILE):
        os.replace(directory / _pending(name), directory / name)


def _pending(name: str) -> str:
    """The name a checkpoint file has between its writing and its commit."""
    return name.replace(".safetensors", ".pending.safetensors")


def _settle_checkpoint(directory: Path) -> None:
    """Finish or undo a checkpoint whose writing was interrupted (see _save_checkpoint)."""
    from safetensors import safe_open

    try:
        epoch = str(json.loads((directory / _STATE_FILE).read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # _load_checkpoint names the problem
    for name in (_MODEL_FILE, _OPTIM_FILE):
        pending = directory / _pending(name)
        if not pending.is_file():
            continue
        try:
            with safe_open(str(pending), framework="pt") as handle:
                committed = (handle.metadata() or {}).get("epoch") == epoch
        except Exception:  # unreadable (safetensors' own error type): never committed
            committed = False
        if committed:
            os.replace(pending, directory / name)
        else:
            pending.unlink()


def _rewrite_log(path: Path, history: list[dict[str, Any]]) -> None:
    """The CSV log as the checkpoint's history (a killed run may have logged an epoch twice)."""
    from satlearn.atomic import atomic_output

    if not history:
        path.unlink(missing_ok=True)
        return
    with atomic_output(path) as tmp:
        for row in history:
            _append_csv(tmp, row)


def _load_checkpoint(
    directory: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> dict[str, Any]:
    from safetensors.torch import load_file

    where = f"checkpoint {directory}"
    try:
        state = json.loads((directory / _STATE_FILE).read_text(encoding="utf-8"))
        weights = load_file(str(directory / _MODEL_FILE))
        tensors = load_file(str(directory / _OPTIM_FILE))
    except Exception as err:  # OSError, JSON errors, safetensors' own SafetensorError
        raise InvalidInputError(f"{where}: cannot read: {err}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise InvalidInputError(
            f"{where} does not fit this model (was the config changed?): {err}"
        ) from None
    opt_state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("state."):
            _, pid, key = name.split(".", 2)
            opt_state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict(
        {"state": opt_state, "param_groups": state["optimizer"]["param_groups"]}
    )
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    return state


# --------------------------------------------------------------------------- the loop


def _loader(dataset: TrainingSet, config: TrainConfig, *, shuffle: bool, epoch: int) -> Any:
    from torch.utils.data import DataLoader

    workers = default_workers() if config.num_workers is None else config.num_workers
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=shuffle,
        num_workers=workers,
        collate_fn=collate,
        generator=generator,
        persistent_workers=False,
    )


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}


def _numpy_batch(batch: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.cpu().numpy() if torch.is_tensor(v) else [x.cpu().numpy() for x in v])
        for k, v in batch.items()
    }


def _scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _validate(
    model: torch.nn.Module,
    loader: Any,
    config: TrainConfig,
    data: TaskData,
    mean: np.ndarray,
    std: np.ndarray,
    device: torch.device,
    loss_fn: TaskLoss,
) -> tuple[float, dict[str, Any]]:
    scorer = make_scorer(config.task, classes=data.classes, mean=mean, std=std)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            batch = _to(batch, device)
            out = model(model_input(config.task, batch))
            loss = loss_fn(out, batch)
            n = len(batch["image"])
            total += float(loss) * n
            count += n
            scorer.update(out.cpu().numpy(), _numpy_batch(batch))
    return total / max(count, 1), scorer.result()


class _Progress:
    """A rich bar with loss and metric on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool | None, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(stderr=True)
        show = console.is_terminal if enabled is None else enabled
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[metric]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not show,
            transient=True,
        )
        self.task = self.bar.add_task("training", total=total, loss="-", metric="")

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def step(self, description: str, loss: float, metric: str | None = None) -> None:
        fields: dict[str, Any] = {"loss": f"{loss:.4f}"}
        if metric is not None:
            fields["metric"] = metric
        self.bar.update(self.task, advance=1, description=description, **fields)


def _tensorboard(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional and not a dependency
        return None
    return SummaryWriter(str(directory / "tensorboard"))  # pragma: no cover


def _append_csv(path: Path, row: Mapping[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def train(
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str],
    *,
    model: torch.nn.Module | None = None,
    data: TaskData | None = None,
    export: bool = True,
    progress: bool | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_data: Callable[[TaskData], None] | None = None,
) -> TrainResult:
    """Train a model from a config and write its bundle.

    Parameters
    ----------
    config : TrainConfig, mapping or path
        The run's settings (a YAML path is read with
        :meth:`TrainConfig.from_yaml`).
    model : torch.nn.Module, optional
        A ready model instead of ``config.model`` (it must take the task's
        input and give the task's output; see :mod:`satlearn.models`).
    data : TaskData, optional
        Samples already in memory (e.g. cut by the caller from a real scene
        that no reader covers) instead of those of ``config.data``, which is
        then not read; ``config.bands`` is not applied either (the samples'
        bands are ``data.bands``).
    export : bool
        Write the bundle (``config.output``) at the end.
    progress : bool, optional
        Show the progress bar; default: when stderr is a terminal.
    on_epoch : callable, optional
        Called with each epoch's log row (for callers that report progress).
    on_data : callable, optional
        Called once with the loaded :class:`TaskData`, before training (the
        CLI reports skipped files from its ``provenance["skipped"]`` here).

    Returns
    -------
    TrainResult

    Raises
    ------
    InvalidInputError
        Bad config, bands or model options; a checkpoint that does not fit.
    satlearn.datasets.DatasetError
        Unreadable dataset; with ``config.strict``, any file its reader skipped.
    satlearn.errors.BundleError
        The bundle exists (and ``output.overwrite`` is false) or cannot be written.
    """
    config = _coerce(config)
    device = resolve_device(config.device)
    if data is None:
        scale = config.model.options.get("scale", 2)
        data = load_task_data(
            config.task,
            config.data,
            bands=config.bands,
            val_fraction=config.val_fraction,
            seed=config.seed,
            scale=int(scale) if isinstance(scale, int) else 2,
            strict=config.strict,
        )
    elif data.task != config.task:
        raise InvalidInputError(f"data holds {data.task} samples, the config trains {config.task}")
    if export and config.output.bundle_dir.exists() and not config.output.overwrite:
        # Refuse before spending the training time, not after.
        from satlearn.errors import BundleError

        raise BundleError(
            f"bundle {config.output.bundle_dir} already exists; set output.overwrite: true"
        )
    if on_data is not None:
        on_data(data)
    if config.foreground_share is not None:
        subset = foreground_subset(data.train, config.foreground_share, config.seed)
        data = replace(data, train=subset)
    mean, std = band_statistics(data.train)
    # pos_weight "auto" counts the training targets' classes here, once.
    loss_fn = build_loss(config.task, config.loss, data.train, num_classes=len(data.classes))
    torch.manual_seed(config.seed)
    if model is None:
        model = _build(config, data)
    model = model.to(device)
    augment = Augment(config.augment, std=std, scale=data.scale or 1)
    train_set = TrainingSet(data.train, mean, std, augment=augment, seed=config.seed)
    val_set = TrainingSet(data.val, mean, std)
    batches = math.ceil(len(train_set) / config.batch_size)
    steps = min(batches, config.steps_per_epoch or batches)
    total_steps = steps * config.epochs
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler: Any
    if config.schedule == "one-cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, total_steps=total_steps
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)

    ckpt = config.output.checkpoint_dir
    log = ckpt / LOG_FILE
    metric = config.stop_metric
    lower_better = metric == "val_loss"
    state: dict[str, Any] = {
        "epoch": 0,
        "best": None,
        "best_epoch": 0,
        "bad_epochs": 0,
        "history": [],
        "best_metrics": {},
    }
    if config.resume and (ckpt / _STATE_FILE).is_file():
        _settle_checkpoint(ckpt)
        state = _load_checkpoint(ckpt, model, optimizer, scheduler)
        state.pop("optimizer", None)
        state.pop("scheduler", None)
        _rewrite_log(log, state["history"])
    else:
        ckpt.mkdir(parents=True, exist_ok=True)
        stale_files = (_STATE_FILE, _MODEL_FILE, _BEST_FILE, _OPTIM_FILE, LOG_FILE)
        for stale in (*stale_files, _pending(_MODEL_FILE), _pending(_OPTIM_FILE)):
            (ckpt / stale).unlink(missing_ok=True)
    writer = _tensorboard(ckpt)
    stopped = False
    with _Progress(progress, total_steps) as bar:
        bar.bar.update(bar.task, completed=state["epoch"] * steps)
        for epoch in range(state["epoch"], config.epochs):
            if stopped or (
                config.early_stopping.patience
                and state["bad_epochs"] >= config.early_stopping.patience
            ):
                stopped = True
                break
            started = time.perf_counter()
            train_set.epoch = epoch
            model.train()
            running, seen = 0.0, 0
            for i, batch in enumerate(_loader(train_set, config, shuffle=True, epoch=epoch)):
                if i >= steps:
                    break
                batch = _to(batch, device)
                out = model(model_input(config.task, batch))
                loss = loss_fn(out, batch)
                if not torch.isfinite(loss):
                    raise InvalidInputError(
                        f"the training loss became {float(loss.detach())} at epoch {epoch + 1}, "
                        f"batch {i + 1}: lower the learning rate ({config.learning_rate})"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                n = len(batch["image"])
                running += float(loss.detach()) * n
                seen += n
                bar.step(f"epoch {epoch + 1}/{config.epochs}", running / seen)
            val_loss, metrics = _validate(
                model, _loader(val_set, config, shuffle=False, epoch=epoch),
                config, data, mean, std, device, loss_fn,
            )  # fmt: skip
            scalars = _scalar_metrics(metrics)
            if metric != "val_loss" and metric not in metrics:
                raise InvalidInputError(
                    f"early_stopping.metric {metric!r} is not a {config.task} metric; "
                    f"choose val_loss or one of {', '.join(sorted(scalars))}"
                )
            value = val_loss if lower_better else metrics[metric]
            value = float("nan") if value is None else float(value)
            row = {
                "epoch": epoch + 1,
                "train_loss": running / max(seen, 1),
                "val_loss": val_loss,
                **{f"val_{k}": v for k, v in scalars.items()},
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - started,
            }
            bar.step(
                f"epoch {epoch + 1}/{config.epochs}", row["train_loss"], f"{metric} {value:.4f}"
            )
            state["history"].append(row)
            _append_csv(log, row)
            if writer is not None:  # pragma: no cover - tensorboard is not installed
                for key, v in row.items():
                    writer.add_scalar(key, v, epoch + 1)
            best = state["best"]
            delta = config.early_stopping.min_delta
            # An undefined score (NaN: e.g. F1 without any positive) never
            # counts as progress, but the first epoch always sets the best.
            improved = state["best_epoch"] == 0 or (
                not math.isnan(value)
                and (
                    best is None or (value < best - delta if lower_better else value > best + delta)
                )
            )
            if improved:
                state.update(
                    best=None if math.isnan(value) else value,
                    best_epoch=epoch + 1,
                    bad_epochs=0,
                    best_metrics=metrics,
                )
                from safetensors.torch import save_file

                from satlearn.atomic import atomic_output

                with atomic_output(ckpt / _BEST_FILE) as tmp:
                    save_file(
                        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                        str(tmp),
                    )
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch + 1
            _save_checkpoint(ckpt, model, optimizer, scheduler, state)
            if on_epoch is not None:
                on_epoch(row)
    if writer is not None:  # pragma: no cover
        writer.close()
    stopped = stopped or state["epoch"] < config.epochs

    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(ckpt / _BEST_FILE)))
    model = model.cpu().eval()
    normalisation = {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}
    bundle = None
    if export:
        bundle = _export(config, data, model, normalisation, state, loss_fn.settings)
    return TrainResult(
        bundle=bundle,
        metrics=state["best_metrics"],
        history=state["history"],
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        stopped_early=stopped,
        model=model,
        normalisation=normalisation,
        checkpoint_dir=ckpt,
        log=log,
        data=data,
    )


def _export(
    config: TrainConfig,
    data: TaskData,
    model: torch.nn.Module,
    normalisation: dict[str, list[float]],
    state: dict[str, Any],
    loss: dict[str, Any],
) -> Path:
    import satlearn
    from satlearn.models.export import export_bundle

    val_set = TrainingSet(data.val, normalisation["mean"], normalisation["std"])
    example = collate([val_set[i] for i in range(min(2, len(val_set)))])
    provenance = {
        **data.provenance,
        "satlearn": satlearn.__version__,
        "torch": torch.__version__,
        "seed": config.seed,
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_samples": len(data.train),
        "val_samples": len(data.val),
        "stop_metric": config.stop_metric,
        "loss": loss,
    }
    return export_bundle(
        model,
        config.output.bundle_dir,
        task=BUNDLE_TASKS[config.task],
        classes=data.classes,
        bands=data.bands,
        normalisation=normalisation,
        tile_size=data.tile_size,
        metrics=state["best_metrics"],
        training_config=config.model_dump(mode="json"),
        provenance=provenance,
        example_input=model_input(config.task, example),
        overwrite=config.output.overwrite,
        activation="sigmoid" if config.task == "multilabel" else None,
        exporter=config.output.exporter,
        # Super-resolution learns the normalised high-resolution image: its
        # outputs map back to reflectance with the inputs' own statistics.
        output_normalisation=normalisation if config.task == "superres" else None,
    )
