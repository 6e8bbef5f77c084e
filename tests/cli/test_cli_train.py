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


EUROSAT_CONFIG = """
task: classification
data: {kind: dataset, name: eurosat, root: eurosat}
model: {name: resnet-classifier, options: {width: 8, depth: 2}}
epochs: 1
batch_size: 8
num_workers: 0
output: {directory: models, name: eurosat, exporter: legacy}
"""


def test_skipped_samples_are_reported_and_recorded_and_strict_refuses_them(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    for name in ("AnnualCrop", "Forest"):
        for i in range(4):
            path = tmp_path / "eurosat" / "EuroSAT_RGB" / name / f"{name}_{i + 1}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = np.random.default_rng(i).integers(0, 255, (16, 16, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(path)
    broken = tmp_path / "eurosat" / "EuroSAT_RGB" / "Forest" / "Forest_3.jpg"
    broken.write_bytes(broken.read_bytes()[:300])
    config = tmp_path / "train.yaml"
    config.write_text(EUROSAT_CONFIG)

    strict = RUNNER.invoke(app, ["train", str(config), "--strict"])
    assert strict.exit_code == 1
    assert strict.stderr.startswith("error: eurosat dataset at ")
    assert "strict: skipped 1 of 8 samples as unreadable: EuroSAT_RGB/Forest/Forest_3.jpg (" in (
        strict.output
    )
    assert not (tmp_path / "models" / "eurosat" / "1").exists()

    result = RUNNER.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "warning: skipped 1 of 8 samples as unreadable: EuroSAT_RGB/Forest/Forest_3.jpg ("
    )
    assert "skipped_samples: 1" in result.output
    meta = json.loads((tmp_path / "models" / "eurosat" / "1" / "bundle.json").read_text())
    skipped = meta["provenance"]["skipped"]
    assert skipped["count"] == 1 and skipped["found"] == 8
    assert [f["file"] for f in skipped["files"]] == ["EuroSAT_RGB/Forest/Forest_3.jpg"]
    assert meta["provenance"]["train_samples"] + meta["provenance"]["val_samples"] == 7
