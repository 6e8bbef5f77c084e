"""export_bundle / load_torch_model: ONNX agrees with torch, bundle.json complete, no pickle."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from satlearn.bundle import BUNDLE_JSON, MODEL_ONNX, WEIGHTS, read_bundle
from satlearn.errors import BundleError, InvalidInputError
from satlearn.models import build_model, export_bundle, load_torch_model
from satlearn.models import export as export_module

BANDS = ["blue", "green", "red", "nir"]
NORM = {"mean": [0.1, 0.2, 0.3, 0.4], "std": [0.05, 0.05, 0.1, 0.2]}


def unet(**options):
    torch.manual_seed(0)
    return build_model("unet", in_channels=4, num_classes=2, width=4, depth=2, **options)


def export(model, path, **kwargs):
    args = {
        "task": "semantic-segmentation",
        "classes": ["land", "water"],
        "bands": BANDS,
        "normalisation": NORM,
        "tile_size": 32,
        "exporter": "legacy",
    }
    args.update(kwargs)
    return export_bundle(model, path, **args)


def test_round_trip_torch_onnx_and_reloaded_torch_agree_for_batches_1_and_3(tmp_path):
    model = unet()
    path = export(
        model,
        tmp_path / "water" / "1",
        metrics={"iou": np.float32(0.75)},
        training_config={"epochs": 2},
        provenance={"data": "synthetic scene seed 3"},
    )
    assert sorted(p.name for p in path.iterdir()) == [BUNDLE_JSON, MODEL_ONNX, WEIGHTS]
    bundle = read_bundle(path)
    meta = bundle.metadata
    assert bundle.task == "semantic-segmentation"
    assert bundle.classes == {0: "land", 1: "water"} and bundle.bands == tuple(BANDS)
    assert meta["normalisation"] == NORM and meta["tile_size"] == 32
    assert meta["output_normalisation"] is None  # logits are read as they are
    assert meta["output"]["kind"] == "logits" and meta["output"]["activation"] == "softmax"
    assert meta["model"] == {"name": "unet", "config": model.config}
    assert meta["metrics"] == {"iou": 0.75} and meta["training_config"] == {"epochs": 2}
    assert meta["provenance"]["data"] == "synthetic scene seed 3"
    assert meta["provenance"]["torch"] == torch.__version__
    assert meta["export"]["exporter"] == "legacy"
    assert 0 <= meta["export"]["max_abs_difference"] <= 1e-4
    assert meta["inputs"][0]["shape"] == [None, 4, None, None]

    reloaded = load_torch_model(path)
    assert not reloaded.training
    session = bundle.session()
    model.eval()
    for shape in [(1, 4, 32, 32), (3, 4, 21, 38)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = model(x)
            assert torch.equal(reloaded(x), expected)
        got = session.run(None, {"input": x.numpy()})[0]
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-4, rtol=0)


def test_weights_file_is_the_state_dict_in_safetensors(tmp_path):
    model = unet()
    path = export(model, tmp_path / "b")
    state = load_file(str(path / WEIGHTS))
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value)


def test_the_export_records_the_checksums_of_graph_and_weights(tmp_path):
    path = export(unet(), tmp_path / "b")
    recorded = json.loads((path / BUNDLE_JSON).read_text())["sha256"]
    for name in ("model.onnx", WEIGHTS):
        assert recorded[name] == hashlib.sha256((path / name).read_bytes()).hexdigest()


def test_dynamo_exporter_is_the_default_and_recorded(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet-classifier", in_channels=3, num_classes=4, width=4, depth=1)
    path = export_bundle(
        model,
        tmp_path / "clf",
        task="classification",
        classes=None,
        bands=["red", "green", "blue"],
        normalisation=None,
        tile_size=16,
        activation="sigmoid",
    )
    meta = read_bundle(path).metadata
    assert meta["export"]["exporter"] == "dynamo"
    assert meta["output"] == {
        "kind": "logits",
        "shape": ["batch", "class"],
        "activation": "sigmoid",
    }
    assert meta["normalisation"] is None and meta["classes"] == []
    x = torch.randn(3, 3, 16, 16)
    got = read_bundle(path).session().run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model.eval()(x).numpy(), atol=1e-4, rtol=0)


def test_auto_falls_back_to_torchscript_when_dynamo_fails(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(export_module, "_dynamic_export", broken)
    path = export(unet(), tmp_path / "b", exporter="auto")
    meta = read_bundle(path).metadata
    assert meta["export"]["exporter"] == "legacy"
    assert "unsupported operator" in meta["export"]["dynamo_error"]
    with pytest.raises(BundleError, match=r"dynamo.*unsupported operator"):
        export(unet(), tmp_path / "c", exporter="dynamo")


def test_disagreeing_graph_is_refused_and_nothing_written(tmp_path, monkeypatch):
    real = export_module._legacy_export

    def off_by_a_bit(model, probe, spatial):
        # Export a copy whose head bias is shifted: ONNX now differs from torch.
        shifted = type(model)(**{k: v for k, v in model.config.items()})
        shifted.load_state_dict(model.state_dict())
        with torch.no_grad():
            shifted.head.bias += 1e-3
        return real(shifted.eval(), probe, spatial)

    monkeypatch.setattr(export_module, "_legacy_export", off_by_a_bit)
    with pytest.raises(BundleError, match=r"differs from torch by 0\.001"):
        export(unet(), tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_callers_model_keeps_its_mode_and_example_input_is_used(tmp_path):
    model = unet()
    model.train()
    example = np.random.default_rng(0).normal(size=(1, 4, 24, 24)).astype(np.float32)
    path = export(model, tmp_path / "b", example_input=example)
    assert model.training
    shapes = read_bundle(path).metadata["export"]["probe_shapes"]
    assert shapes == [[2, 4, 24, 24], [1, 4, 27, 25]]


def test_existing_bundle_needs_overwrite(tmp_path):
    path = export(unet(), tmp_path / "b")
    with pytest.raises(BundleError, match="already exists"):
        export(unet(), path)
    export(unet(), path, overwrite=True, classes={0: "dry", 1: "wet"})
    assert read_bundle(path).classes == {0: "dry", 1: "wet"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bands": ["red", "nir"]}, "2 bands given, but the model reads 4"),
        ({"bands": "rgbn"}, "list of band names"),
        ({"classes": ["a", "b", "c"]}, "3 classes given, but the model outputs 2"),
        ({"classes": "water"}, "classes must be"),
        ({"normalisation": {"mean": [0, 0, 0, 0]}}, "needs 'std'"),
        ({"normalisation": {"mean": [0, 0], "std": [1, 1]}}, "2 values for 4 bands"),
        ({"normalisation": {"mean": [0] * 4, "std": [1, 0, 1, 1]}}, "std > 0"),
        ({"normalisation": {"mean": ["a"] * 4, "std": [1] * 4}}, "'mean' must be numbers"),
        ({"output_normalisation": [0, 1]}, "output normalisation must be a mapping"),
        (
            {"output_normalisation": {"mean": [0] * 3, "std": [1] * 3}},
            "output normalisation 'mean' has 3",
        ),
        ({"tile_size": 0}, "tile_size"),
        ({"example_input": np.zeros((2, 3, 8, 8))}, r"example_input must be \(N, 4, H, W\)"),
    ],
)
def test_inputs_that_do_not_fit_the_model_are_refused(tmp_path, kwargs, match):
    with pytest.raises(BundleError, match=match):
        export(unet(), tmp_path / "b", **kwargs)
    assert not (tmp_path / "b").exists()


def test_bad_arguments_and_non_satlearn_models():
    with pytest.raises(InvalidInputError, match="exporter"):
        export(unet(), "unused", exporter="onnx")
    with pytest.raises(InvalidInputError, match="activation"):
        export(unet(), "unused", activation="relu")
    with pytest.raises(BundleError, match="satlearn model"):
        export(torch.nn.Conv2d(4, 2, 1), "unused")


def test_onnx_runtime_failure_is_a_bundle_error(tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "_legacy_export", lambda *a: b"not an onnx graph")
    with pytest.raises(BundleError, match="ONNX Runtime cannot run"):
        export(unet(), tmp_path / "b")


def test_load_refuses_bundles_it_cannot_rebuild(tmp_path):
    path = export(unet(), tmp_path / "b")
    meta_path = path / BUNDLE_JSON
    meta = json.loads(meta_path.read_text())

    def rewrite(**changes):
        meta_path.write_text(json.dumps({**meta, **changes}))

    rewrite(model={"name": "unet", "config": {**meta["model"]["config"], "width": 8}})
    with pytest.raises(BundleError, match="does not fit model 'unet'"):
        load_torch_model(path)
    rewrite(model={"name": "x", "config": {**meta["model"]["config"], "name": "transformer"}})
    with pytest.raises(BundleError, match="cannot rebuild model"):
        load_torch_model(path)
    rewrite(model=None)
    with pytest.raises(BundleError, match="no 'model' config"):
        load_torch_model(path)
    rewrite()
    (path / WEIGHTS).write_bytes(b"\x00" * 16)
    with pytest.raises(BundleError, match=r"weights\.safetensors is damaged"):
        load_torch_model(path)
    (path / WEIGHTS).unlink()
    with pytest.raises(BundleError, match=r"weights\.safetensors is recorded .* cannot be read"):
        load_torch_model(path)
    # A bundle without checksums (written before they were recorded) gets the same
    # refusals from the safetensors reader and the file check.
    rewrite(sha256=None)
    with pytest.raises(BundleError, match=r"weights\.safetensors is missing"):
        load_torch_model(path)
    (path / WEIGHTS).write_bytes(b"\x00" * 16)
    with pytest.raises(BundleError, match="unreadable"):
        load_torch_model(path)


def test_load_puts_the_model_on_the_requested_device(tmp_path):
    path = export(unet(), tmp_path / "b")
    model = load_torch_model(path, device="cpu")
    assert next(model.parameters()).device.type == "cpu"


EVERY_MODEL = [
    ("resnet-classifier", {"num_classes": 3}, 3, ["a", "b", "c"]),
    ("chip-classifier", {}, 3, ["drop", "keep"]),
    ("unet", {"num_classes": 1, "depth": 2}, 3, ["land", "water"]),
    ("siamese-unet", {"num_classes": 1, "depth": 2, "fusion": "concat"}, 6, None),
    ("early-fusion-unet", {"num_classes": 2, "depth": 2}, 6, ["same", "changed"]),
    ("srcnn", {"scale": 2}, 3, None),
    ("vdsr", {"scale": 4, "depth": 3}, 3, None),
    ("espcn", {"scale": 4}, 3, None),
    ("centernet", {"num_classes": 2, "depth": 2, "stride": 2}, 3, ["ship", "boat"]),
]


@pytest.mark.parametrize(("name", "options", "channels", "classes"), EVERY_MODEL)
def test_every_model_round_trips_through_a_bundle(tmp_path, name, options, channels, classes):
    torch.manual_seed(0)
    model = build_model(name, in_channels=channels, width=4, **options)
    dates = getattr(model, "dates", 1)
    bands = ["red", "green", "blue"][: channels // dates]
    path = export_bundle(
        model,
        tmp_path / name,
        task=model.task,
        classes=classes,
        bands=bands,
        normalisation={"mean": [0.0] * len(bands), "std": [1.0] * len(bands)},
        tile_size=16,
        exporter="legacy",
    )
    bundle = read_bundle(path)
    assert bundle.metadata["output"]["kind"] == model.output["kind"]
    if dates > 1:
        assert bundle.metadata["input_layout"]["dates"] == 2
    session = bundle.session()
    reloaded = load_torch_model(path)
    model.eval()
    for shape in [(1, channels, 16, 16), (3, channels, 19, 13)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = model(x)
            assert torch.equal(reloaded(x), expected)
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == tuple(expected.shape)
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-4, rtol=0)


def test_change_bundles_name_one_dates_bands_and_may_normalise_each_date(tmp_path):
    model = build_model("siamese-unet", in_channels=4, num_classes=1, width=4, depth=1)
    per_channel = {"mean": [0.1, 0.2, 0.3, 0.4], "std": [1.0, 1.0, 2.0, 2.0]}
    path = export(model, tmp_path / "b", bands=["red", "nir"], normalisation=per_channel)
    meta = read_bundle(path).metadata
    assert meta["bands"] == ["red", "nir"] and meta["normalisation"] == per_channel
    with pytest.raises(BundleError, match="differ in length"):
        export(
            model,
            tmp_path / "c",
            bands=["red", "nir"],
            normalisation={"mean": [0, 0], "std": [1, 1, 1, 1]},
        )
    with pytest.raises(BundleError, match=r"3 bands given per date.*\(2 dates\)"):
        export(model, tmp_path / "d", bands=["red", "green", "nir"])


def test_numpy_metrics_paths_and_class_records_become_json(tmp_path):
    path = export(
        unet(),
        tmp_path / "b",
        classes=[{"id": 3, "name": "land"}, {"id": 7, "name": "water"}],
        metrics={"confusion": np.array([[5, 1], [0, 4]]), "f1": (np.float64(0.5),)},
        provenance={"data": tmp_path / "chips"},
    )
    meta = read_bundle(path).metadata
    assert read_bundle(path).classes == {3: "land", 7: "water"}
    assert meta["metrics"] == {"confusion": [[5, 1], [0, 4]], "f1": [0.5]}
    assert meta["provenance"]["data"] == str(tmp_path / "chips")


def test_graph_with_another_output_shape_is_refused(tmp_path, monkeypatch):
    real = export_module._legacy_export

    def three_classes(model, probe, spatial):
        other = build_model(**{**model.config, "num_classes": 3})
        return real(other.eval(), probe, spatial)

    monkeypatch.setattr(export_module, "_legacy_export", three_classes)
    with pytest.raises(BundleError, match=r"ONNX output shape \(2, 3, 32, 32\) differs"):
        export(unet(), tmp_path / "b")


def test_torchscript_exporter_failure_is_a_bundle_error(tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("cannot script")

    monkeypatch.setattr(export_module, "_legacy_export", broken)
    with pytest.raises(BundleError, match=r"TorchScript\) cannot export: cannot script"):
        export(unet(), tmp_path / "b")


def test_load_refuses_a_config_without_in_channels(tmp_path):
    path = export(unet(), tmp_path / "b")
    meta = json.loads((path / BUNDLE_JSON).read_text())
    config = {k: v for k, v in meta["model"]["config"].items() if k != "in_channels"}
    (path / BUNDLE_JSON).write_text(
        json.dumps({**meta, "model": {"name": "unet", "config": config}})
    )
    with pytest.raises(BundleError, match="cannot rebuild model 'unet'"):
        load_torch_model(path)


def test_image_outputs_record_how_they_map_back_to_band_values(tmp_path):
    torch.manual_seed(0)
    model = build_model("espcn", in_channels=4, scale=2, width=4)
    path = export(
        model, tmp_path / "sr", task="super-resolution", classes=None, output_normalisation=NORM
    )
    meta = read_bundle(path).metadata
    assert meta["output_normalisation"] == {**NORM, "inverse": "value = output * std + mean"}
