"""``satlearn train --resume`` SIGKILLed at seeded random moments: the same final weights."""

from __future__ import annotations

import json

from fixtures_reliability import KILL_ROUNDS, check_outputs, kill_chain

KILLS = 8


def _weights(bundle):
    from safetensors.torch import load_file

    return load_file(str(bundle / "weights.safetensors"))


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
        log = [(b.parent / "checkpoints").glob("*.csv") for b in (bundle, expected)]
        del log

    done = kill_chain(
        fork_server, kill_tally, "train", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check_outputs, compare=compare, seed=5,
    )  # fmt: skip
    assert done["kills"] >= KILLS
