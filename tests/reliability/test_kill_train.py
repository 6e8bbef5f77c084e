"""``satlearn train --resume`` SIGKILLed at seeded random moments: the same final weights."""

from __future__ import annotations

import json

import pytest

from fixtures_reliability import KILL_ROUNDS, check_outputs, kill_chain

KILLS = 8


def _weights(bundle):
    from safetensors.torch import load_file

    return load_file(str(bundle / "weights.safetensors"))


def _last_weights(checkpoints):
    from safetensors.torch import load_file

    return load_file(str(checkpoints / "model.safetensors"))


def test_train_resumes_after_sigkill(tmp_path, fork_server, kill_tally):
    def job(folder):
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "task": "segmentation",
            "data": {"kind": "synthetic", "target": "water", "size": 64, "chip_size": 32},
            "model": {"name": "unet", "options": {"width": 4, "depth": 1}},
            "epochs": 3,
            "batch_size": 2,
            "seed": 7,
            "output": {"directory": str(folder / "models"), "name": "water", "exporter": "legacy"},
        }
        path = folder.parent / f"{folder.name}.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")  # YAML is a superset of JSON
        argv = ["train", str(path), "--resume", "--overwrite", "--workers", "0"]
        return {"kind": "cli", "argv": argv}

    def compare(folder, reference):
        bundle, expected = folder / "models/water/1", reference / "models/water/1"
        got, want = _weights(bundle), _weights(expected)
        assert got.keys() == want.keys()
        assert all(got[k].equal(want[k]) for k in want), "weights differ after resuming"
        meta = [json.loads((b / "bundle.json").read_text()) for b in (bundle, expected)]
        assert meta[0]["metrics"] == meta[1]["metrics"]
        last = [_last_weights(b.parent / ".1.checkpoints") for b in (bundle, expected)]
        assert all(last[0][k].equal(last[1][k]) for k in last[1]), "last epoch's weights differ"

    done = kill_chain(
        fork_server, kill_tally, "train", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check_outputs, compare=compare, seed=5,
    )  # fmt: skip
    assert done["kills"] >= KILLS


class _Killed(BaseException):
    """Stands for a SIGKILL at one exact line (BaseException: nothing may catch it)."""


def _tiny_config(folder):
    from satlearn.train.config import TrainConfig

    return TrainConfig.model_validate(
        {
            "task": "segmentation",
            "data": {"kind": "synthetic", "target": "water", "size": 64, "chip_size": 32},
            "model": {"name": "unet", "options": {"width": 4, "depth": 1}},
            "epochs": 3,
            "batch_size": 2,
            "seed": 7,
            "num_workers": 0,
            "output": {"directory": str(folder), "name": "water"},
        }
    )


def test_a_checkpoint_torn_between_its_files_resumes_exactly(tmp_path, monkeypatch):
    """A kill after epoch 2's tensors are written but before state.json commits them.

    Before the fix this left epoch 2's weights beside epoch 1's state: the
    resumed run re-trained epoch 2 from epoch 2's weights and ended elsewhere.
    """
    import satlearn.atomic
    from satlearn.train.loop import train

    straight = train(_tiny_config(tmp_path / "straight"), export=False)
    real = satlearn.atomic.write_json

    def kill_at_the_commit_of_epoch_2(obj, path):
        if str(path).endswith("state.json") and obj.get("epoch") == 2:
            raise _Killed
        return real(obj, path)

    monkeypatch.setattr(satlearn.atomic, "write_json", kill_at_the_commit_of_epoch_2)
    torn = _tiny_config(tmp_path / "torn")
    with pytest.raises(_Killed):
        train(torn, export=False)
    monkeypatch.undo()
    ckpt = torn.output.checkpoint_dir
    assert json.loads((ckpt / "state.json").read_text())["epoch"] == 1
    resumed = train(torn.model_copy(update={"resume": True}), export=False)
    # The last epoch's weights (the result's model holds the best epoch's).
    want = _last_weights(straight.checkpoint_dir)
    got = _last_weights(ckpt)
    assert all(got[k].equal(want[k]) for k in want), "final weights differ after resuming"
    assert resumed.best_epoch == straight.best_epoch
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert (ckpt / "log.csv").read_text().count("\n") == 4  # header + 3 epochs, none twice
