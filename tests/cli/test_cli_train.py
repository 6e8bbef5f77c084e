"""``satlearn train`` and ``satlearn evaluate``: YAML in, bundle out, metrics printed and saved."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from satlearn.cli import app

RUNNER = CliRunner()
torch.set_num_threads(1)  # two threads on 2 shared cores spin against each other

CONFIG = """
task: classification
data: {kind: synthetic, target: landcover-chips, size: 64, chip_size: 16, clouds: false}
bands: [green, red, nir]
model: {name: resnet-classifier, options: {width: 8, depth: 2}}
epochs: 2
batch_size: 8
num_workers: 0
output: {directory: models, name: chips, exporter: legacy}
"""


def test_train_then_evaluate(tmp_path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG)
    result = RUNNER.invoke(app, ["train", str(config), "--workers", "0"])
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "models" / "chips" / "1"
    assert result.output.strip().splitlines()[-1] == str(bundle)
    assert "macro_f1:" in result.output and "best_epoch: " in result.output
    # A second run needs --overwrite; --resume continues the finished run.
    again = RUNNER.invoke(app, ["train", str(config)])
    assert again.exit_code == 1 and "already exists" in again.output
    resumed = RUNNER.invoke(app, ["train", str(config), "--resume", "--overwrite"])
    assert resumed.exit_code == 0, resumed.output
    assert "epochs_run: 2" in resumed.output

    out = tmp_path / "eval"
    scored = RUNNER.invoke(app, ["evaluate", str(bundle), str(config), "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    report = json.loads((out / "metrics.json").read_text())
    assert f"accuracy: {report['metrics']['accuracy']:.4f}" in scored.output
    assert (out / "confusion.png").is_file()
    args = ["evaluate", str(bundle), str(config), "--out", str(out), "--json"]
    as_json = RUNNER.invoke(app, args)
    assert json.loads(as_json.output)["metrics"] == report["metrics"]


def test_errors_are_one_line(tmp_path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(CONFIG + "learning_rat: 0.1\n")
    result = RUNNER.invoke(app, ["train", str(config)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: config {config}: unknown key 'learning_rat'"
    ]
    missing = RUNNER.invoke(app, ["evaluate", str(tmp_path / "nope"), str(config)])
    assert missing.exit_code == 1 and "no such bundle folder" in missing.output
