"""Every task, end to end on tiny synthetic data: the loss falls, the bundle round-trips.

The bundle is scored through ONNX Runtime (:func:`satlearn.train.evaluate`) on
the run's own validation split, and must give the scores the torch model gave
at its best epoch.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from satlearn.bundle import read_bundle
from satlearn.errors import BundleError, InvalidInputError, UnknownBandError
from satlearn.models.export import load_torch_model
from satlearn.train import TrainConfig, evaluate, train

# One thread: on 2 shared cores, two torch threads spin against each other.
torch.set_num_threads(1)

CASES = {
    "classification": ({"target": "landcover-chips", "chip_size": 16, "clouds": False},
                       "resnet-classifier", {"width": 8, "depth": 2}, "macro_f1"),
    "multilabel": ({"target": "landcover-multilabel", "chip_size": 16, "clouds": False},
                   "resnet-classifier", {"width": 8, "depth": 2}, "f1"),
    "segmentation": ({"target": "water", "chip_size": 16}, "unet", {"width": 8, "depth": 2},
                     "miou"),
    "change": ({"target": "change", "chip_size": 16}, "siamese-unet", {"width": 8, "depth": 2},
               "f1"),
    "superres": ({"target": "superres", "chip_size": 16}, "espcn", {"width": 8}, "psnr"),
    "detection": ({"target": "ships", "chip_size": 32, "size": 128, "stride": 16},
                  "centernet", {"width": 8, "depth": 2}, "map50"),
}  # fmt: skip


def _config(tmp_path, task: str, **over) -> TrainConfig:
    data, model, options, _ = CASES[task]
    base = {
        "task": task,
        "data": {"kind": "synthetic", "size": 64, **data},
        "bands": ["blue", "green", "red", "nir"],
        "model": {"name": model, "options": options},
        "epochs": 3, "batch_size": 8, "learning_rate": 0.01, "num_workers": 0,
        "val_fraction": 0.25, "augment": {"flip": True, "rotate90": True},
        "output": {"directory": str(tmp_path / "models"), "name": task, "exporter": "legacy"},
        **over,
    }  # fmt: skip
    return TrainConfig.from_dict(base)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, abs_tol=0.02)


@pytest.mark.parametrize("task", list(CASES))
def test_task_learns_and_its_bundle_round_trips(tmp_path, task) -> None:
    config = _config(tmp_path, task)
    result = train(config)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0], losses
    bundle = read_bundle(result.bundle)
    assert bundle.bands == ("blue", "green", "red", "nir")
    meta = bundle.metadata
    assert meta["training_config"]["task"] == task
    assert meta["normalisation"]["mean"] == pytest.approx(result.normalisation["mean"])
    assert meta["provenance"]["source"] == "synthetic"
    # The torch weights come back through safetensors (no pickle) and agree.
    reloaded = load_torch_model(result.bundle)
    for key, value in result.model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value)
    report = evaluate(result.bundle, config, output=tmp_path / "eval")
    assert report["task"] == task and report["samples"] == len(result.data.val)
    metric = CASES[task][3]
    assert _close(report["metrics"][metric], result.metrics[metric])
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["metrics"][metric] == report["metrics"][metric]
    if task in ("classification", "segmentation", "change"):
        assert (tmp_path / "eval" / "confusion.png").is_file()
    if task == "superres":
        assert report["metrics"]["psnr_bicubic"] is not None and report["metrics"]["ssim"] > 0


def test_evaluate_on_a_data_source_and_its_errors(tmp_path) -> None:
    config = _config(tmp_path, "segmentation", epochs=1)
    bundle = train(config).bundle
    source = {"kind": "synthetic", "target": "water", "size": 64, "chip_size": 32, "seed": 3}
    report = evaluate(bundle, source, batch_size=2)
    assert report["samples"] == 4 and report["data"]["part"] == "all"
    assert 0 <= report["metrics"]["miou"] <= 1 and 0 <= report["metrics"]["boundary_f1"] <= 1
    (tmp_path / "data.yaml").write_text("kind: synthetic\ntarget: water\nsize: 64\nchip_size: 32\n")
    assert evaluate(bundle, tmp_path / "data.yaml")["samples"] == 4
    with pytest.raises(InvalidInputError, match="no such file"):
        evaluate(bundle, tmp_path / "absent.yaml")
    with pytest.raises(InvalidInputError, match="trains task 'change'"):
        evaluate(bundle, _config(tmp_path, "change"))
    with pytest.raises(InvalidInputError, match="batch_size"):
        evaluate(bundle, source, batch_size=0)
    with pytest.raises(InvalidInputError, match="data-source mapping"):
        evaluate(bundle, 3)
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["bands"] = ["blue", "green", "red", "swir99"]
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(UnknownBandError, match="swir99"):
        evaluate(bundle, source)
    # An edited task is refused, not scored as the training config's task.
    original = json.loads((bundle / "bundle.json").read_text())
    for edited in ("classification", "change-detection"):
        (bundle / "bundle.json").write_text(json.dumps({**original, "task": edited}))
        with pytest.raises(BundleError, match=rf"task '{edited}' disagrees .*\('segmentation'\)"):
            evaluate(bundle, source)
    meta["task"], meta["training_config"] = "stereo", {}
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="'stereo'"):
        evaluate(bundle, source)
    meta["task"], meta["normalisation"] = "semantic-segmentation", {}
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="normalisation"):
        evaluate(bundle, source)


def test_superres_scale_must_agree(tmp_path) -> None:
    config = _config(tmp_path, "superres", model={"name": "espcn", "options": {"scale": 4}})
    with pytest.raises(InvalidInputError, match="scale 4 differs"):
        train(config)


def test_chip_set_folder_trains_and_evaluates(tmp_path) -> None:
    from satlearn.prep.chips import write_chip_set
    from satlearn.synth import make_scene

    scene = make_scene(64, seed=4, ships=False, clouds=False)
    water = (scene.landcover == 0).astype("uint8")
    image = scene.image.isel(time=0).sel(band=["blue", "green", "red", "nir"])
    write_chip_set(image, water, tmp_path / "chips", size=16, overlap=0, split=(0.5, 0.5),
                   block=1, class_names=["other", "water"])  # fmt: skip
    config = _config(tmp_path, "segmentation", epochs=2,
                     data={"kind": "chips", "root": str(tmp_path / "chips")})  # fmt: skip
    result = train(config)
    assert len(result.data.train) + len(result.data.val) == 16
    assert result.data.classes == ["other", "water"]
    report = evaluate(result.bundle, tmp_path / "chips")
    assert report["samples"] == 16 and 0 <= report["metrics"]["miou"] <= 1
