"""The training loop on a tiny model: loss falls, seeds, workers, resume, early stopping, log."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from satlearn.errors import BundleError, InvalidInputError
from satlearn.train import TrainConfig, train
from satlearn.train.loop import resolve_device

# One thread: on 2 shared cores, two torch threads spin against each other (40x slower
# tiny convolutions under load).
torch.set_num_threads(1)


class Tiny(nn.Module):
    """A two-layer classifier: enough to learn land cover of 16-pixel chips a little."""

    def __init__(self, bands: int = 3, classes: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(bands, 8, 3, padding=1)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _config(tmp_path, **over) -> TrainConfig:
    base = {
        "task": "classification",
        "data": {"kind": "synthetic", "target": "landcover-chips", "size": 64, "chip_size": 16,
                 "clouds": False},
        "bands": ["green", "red", "nir"],
        "model": {"name": "unused"},
        "epochs": 4, "batch_size": 4, "learning_rate": 0.05, "num_workers": 0,
        "augment": {"brightness": 0.1, "noise": 0.05},
        "early_stopping": {"patience": 0},
        "output": {"directory": str(tmp_path / "models"), "name": "tiny"},
    }  # fmt: skip
    for key, value in over.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) and key in base else value
    return TrainConfig.from_dict(base)


def _tiny(**kw) -> Tiny:
    """A Tiny with the same initial weights every time (a model passed in is the caller's)."""
    with torch.random.fork_rng():
        torch.manual_seed(5)
        return Tiny(**kw)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_loss_falls_and_runs_are_deterministic(tmp_path) -> None:
    first = train(_config(tmp_path), model=_tiny(), export=False)
    losses = [row["train_loss"] for row in first.history]
    assert losses[-1] < losses[0]
    assert first.epochs_run == 4 and not first.stopped_early
    torch.manual_seed(7)  # the loop reseeds: global state before it does not matter
    again = train(_config(tmp_path), model=_tiny(), export=False)
    assert _same(_weights(first.model), _weights(again.model))
    other = train(_config(tmp_path, seed=1), model=_tiny(), export=False)
    assert not _same(_weights(first.model), _weights(other.model))
    assert set(first.metrics) >= {"accuracy", "macro_f1", "f1_per_class", "confusion"}
    assert len(first.normalisation["mean"]) == 3


def test_worker_processes_give_the_same_weights(tmp_path) -> None:
    config = _config(tmp_path, epochs=2)
    inline = train(config, model=_tiny(), export=False)
    workers = train(config.model_copy(update={"num_workers": 2}), model=_tiny(), export=False)
    assert _same(_weights(inline.model), _weights(workers.model))


class _Stop(Exception):
    pass


def test_resume_after_an_interruption_ends_with_the_same_weights(tmp_path) -> None:
    config = _config(tmp_path, schedule="one-cycle")
    straight = train(config, model=_tiny(), export=False)

    def interrupt(row):
        if row["epoch"] == 2:
            raise _Stop

    broken = _config(tmp_path, output={"checkpoints": str(tmp_path / "ck")}, schedule="one-cycle")
    with pytest.raises(_Stop):
        train(broken, model=_tiny(), export=False, on_epoch=interrupt)
    resumed = train(broken.model_copy(update={"resume": True}), model=_tiny(), export=False)
    assert resumed.epochs_run == 4 and len(resumed.history) == 4
    assert _same(_weights(straight.model), _weights(resumed.model))
    with open(resumed.log, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert "val_macro_f1" in rows[0] and float(rows[0]["seconds"]) > 0
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[1] > lrs[3]  # one-cycle anneals towards the end


def test_early_stopping_and_best_epoch(tmp_path) -> None:
    config = _config(
        tmp_path, epochs=6, learning_rate=1e-9, early_stopping={"patience": 2, "min_delta": 0.5}
    )
    result = train(config, model=_tiny(), export=False)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1
    by_loss = _config(tmp_path, epochs=2, early_stopping={"metric": "val_loss", "patience": 3})
    assert train(by_loss, model=_tiny(), export=False).best_epoch >= 1


def test_errors_are_named(tmp_path, monkeypatch) -> None:
    with pytest.raises(InvalidInputError, match="'kappa_x' is not a classification metric"):
        train(_config(tmp_path, early_stopping={"metric": "kappa_x"}), model=_tiny(), export=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InvalidInputError, match="cuda"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(InvalidInputError, match=r"model\.options\.num_classes"):
        train(_config(tmp_path, model={"name": "unet", "options": {"num_classes": 3}}))
    with pytest.raises(InvalidInputError, match="expected a TrainConfig"):
        train(42)

    class Broken(Tiny):
        def forward(self, x):
            return super().forward(x) * float("nan")

    with pytest.raises(InvalidInputError, match="loss became nan"):
        train(_config(tmp_path), model=Broken(), export=False)
    (tmp_path / "models" / "tiny" / "1").mkdir(parents=True)
    with pytest.raises(BundleError, match="already exists"):
        train(_config(tmp_path), model=_tiny())


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path) -> None:
    config = _config(tmp_path, epochs=1)
    train(config, model=_tiny(), export=False)
    with pytest.raises(InvalidInputError, match="does not fit this model"):
        train(config.model_copy(update={"resume": True}), model=_tiny(classes=5), export=False)


def test_mapping_and_yaml_configs_and_capped_epochs(tmp_path) -> None:
    import yaml

    config = _config(tmp_path, epochs=1, steps_per_epoch=1).model_dump(mode="json")
    from_dict = train(config, model=_tiny(), export=False)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    from_yaml = train(path, model=_tiny(), export=False)
    assert _same(_weights(from_dict.model), _weights(from_yaml.model))
    # One batch of 4 chips per epoch: the optimiser stepped once.
    state = json.loads((from_dict.checkpoint_dir / "state.json").read_text())
    assert state["scheduler"]["last_epoch"] == 1


def test_unreadable_checkpoint_is_named(tmp_path) -> None:
    config = _config(tmp_path, epochs=1)
    result = train(config, model=_tiny(), export=False)
    (result.checkpoint_dir / "optimizer.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(InvalidInputError, match="cannot read"):
        train(config.model_copy(update={"resume": True}), model=_tiny(), export=False)


def test_samples_in_memory_replace_the_config_source(tmp_path) -> None:
    from satlearn.train.data import TaskData

    gen = np.random.default_rng(0)
    # Class = whether band 0 is bright: learnable from in-memory chips only.
    images = gen.normal(size=(24, 3, 8, 8)).astype(np.float32)
    labels = np.arange(24) % 2
    images[:, 0] += 3 * labels[:, None, None]
    samples = [{"image": images[i], "label": int(labels[i])} for i in range(24)]
    data = TaskData("classification", samples, samples, ["a", "b", "c"], ["no", "yes"], 8)
    config = _config(tmp_path, epochs=6, augment={"brightness": 0.0, "noise": 0.0})
    result = train(config, model=_tiny(classes=2), data=data, export=False)
    assert result.data is data
    assert result.metrics["accuracy"] == 1.0
    assert result.normalisation["mean"][0] == pytest.approx(images[:, 0].mean(), abs=1e-4)
    with pytest.raises(InvalidInputError, match="segmentation samples"):
        train(config, data=TaskData("segmentation", samples, samples, [], [], 8), export=False)


def test_foreground_share_trains_on_the_subset_and_validates_on_every_chip(tmp_path) -> None:
    from satlearn.train.data import TaskData

    gen = np.random.default_rng(1)
    masks = np.zeros((40, 8, 8), np.int64)
    masks[:4, 2:5, 2:5] = 1  # 4 of 40 chips hold foreground
    samples = [
        {"image": gen.normal(size=(3, 8, 8)).astype(np.float32), "mask": masks[i]}
        for i in range(40)
    ]
    data = TaskData("segmentation", samples, samples, ["a", "b", "c"], ["bg", "fg"], 8)
    config = _config(
        tmp_path,
        task="segmentation",
        data={"kind": "synthetic", "target": "water", "size": 64, "chip_size": 8},
        model={"name": "unet", "options": {"width": 4, "depth": 1}},
        epochs=1,
        foreground_share=0.5,
    )
    result = train(config, data=data, export=False)
    assert len(result.data.train) == 8 and result.data.val is samples
    assert sum(bool(s["mask"].any()) for s in result.data.train) == 4
    with pytest.raises(InvalidInputError, match="foreground_share applies to segmentation"):
        _config(tmp_path, foreground_share=0.5)
