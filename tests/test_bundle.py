"""Model bundles: atomic writes, validation on read, safe name resolution."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from onnx import TensorProto, helper

from satlearn.bundle import (
    BUNDLE_JSON,
    MODEL_ONNX,
    WEIGHTS,
    Bundle,
    read_bundle,
    resolve_bundle,
    write_bundle,
)
from satlearn.errors import BundleError, InvalidInputError


def doubling_model(n_features: int = 3) -> bytes:
    """A tiny ONNX graph: Y = X + X, X float32 (N, n_features)."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n_features])
    graph = helper.make_graph([helper.make_node("Add", ["X", "X"], ["Y"])], "double", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


META = {
    "task": "pixel-classification",
    "classes": [{"id": 1, "name": "water"}, {"id": 2, "name": "land"}],
    "bands": ["green", "red", "nir"],
    "metrics": {"accuracy": 0.9},
}


def test_write_then_read_round_trips_metadata_and_fills_graph_io(tmp_path):
    path = write_bundle(tmp_path / "water" / "1", model_onnx=doubling_model(), metadata=META)
    assert sorted(p.name for p in path.iterdir()) == [BUNDLE_JSON, MODEL_ONNX]
    bundle = read_bundle(path)
    assert isinstance(bundle, Bundle)
    assert bundle.task == "pixel-classification"
    assert bundle.classes == {1: "water", 2: "land"}
    assert bundle.bands == ("green", "red", "nir")
    assert bundle.format_version == 1
    assert bundle.metadata["metrics"] == {"accuracy": 0.9}
    assert bundle.metadata["inputs"] == [{"name": "X", "dtype": "float32", "shape": [None, 3]}]
    assert bundle.metadata["outputs"][0]["name"] == "Y"
    assert bundle.weights_path is None
    # no stray temporaries beside the bundle
    assert [p.name for p in (tmp_path / "water").iterdir()] == ["1"]


def test_session_runs_on_cpu_and_is_cached(tmp_path):
    bundle = read_bundle(write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META))
    session = bundle.session()
    assert session is bundle.session()
    assert session.get_providers() == ["CPUExecutionProvider"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(session.run(None, {"X": x})[0], 2 * x)


def test_weights_are_written_when_given(tmp_path):
    path = write_bundle(
        tmp_path / "b", model_onnx=doubling_model(), metadata=META, weights=b"\x08\x00"
    )
    assert read_bundle(path).weights_path == path / WEIGHTS
    assert (path / WEIGHTS).read_bytes() == b"\x08\x00"


def test_existing_bundle_is_kept_unless_overwrite(tmp_path):
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META)
    with pytest.raises(BundleError, match="already exists"):
        write_bundle(path, model_onnx=doubling_model(4), metadata=META)
    assert read_bundle(path).metadata["inputs"][0]["shape"] == [None, 3]
    write_bundle(path, model_onnx=doubling_model(4), metadata=META, overwrite=True)
    assert read_bundle(path).metadata["inputs"][0]["shape"] == [None, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_failed_write_leaves_nothing_under_the_final_name(tmp_path):
    with pytest.raises(BundleError, match="not JSON-serialisable"):
        write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata={**META, "x": object()})
    with pytest.raises(BundleError, match="not a readable ONNX model"):
        write_bundle(tmp_path / "b", model_onnx=b"not onnx", metadata=META)
    with pytest.raises(BundleError, match="serialised ONNX bytes"):
        write_bundle(tmp_path / "b", model_onnx="text", metadata=META)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"classes": []}, "needs a 'task'"),
        ({"task": "x", "format_version": 2}, "unknown bundle format_version 2"),
        ({"task": "x", "classes": [{"id": "a"}]}, "'classes' must be a list"),
        ({"task": "x", "classes": [{"id": 1}, {"id": 1}]}, "repeats a class id"),
        ({"task": "x", "bands": "red"}, "'bands' must be a list"),
        ({"task": "x", "inputs": [{"name": "features"}]}, "declares \\['features'\\]"),
        ({"task": "x", "inputs": "X"}, "'inputs' must be a list of objects"),
        (
            {"task": "x", "inputs": [{"name": "X", "dtype": "float64"}]},
            "input 'X' has dtype float32, but bundle.json declares float64",
        ),
        ([1, 2], "must hold a JSON object"),
    ],
)
def test_invalid_metadata_is_refused_on_write(tmp_path, metadata, message):
    with pytest.raises(BundleError, match=message):
        write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=metadata)


def test_read_names_the_path_and_the_problem(tmp_path):
    with pytest.raises(BundleError, match=r"bundle .*nowhere: no such bundle folder"):
        read_bundle(tmp_path / "nowhere")
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META)

    (path / BUNDLE_JSON).write_text("{not json")
    with pytest.raises(BundleError, match=rf"{path}: bundle.json is not valid JSON"):
        read_bundle(path)

    meta = json.loads(json.dumps({**META, "format_version": 7}))
    (path / BUNDLE_JSON).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="unknown bundle format_version 7"):
        read_bundle(path)

    # bundle.json that declares another input than model.onnx has
    meta = {**META, "inputs": [{"name": "X", "dtype": "float32", "shape": [None, 5]}]}
    (path / BUNDLE_JSON).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"has shape \[None, 3\], but bundle.json declares"):
        read_bundle(path)

    (path / MODEL_ONNX).unlink()
    with pytest.raises(BundleError, match=rf"{path}: model.onnx is missing"):
        read_bundle(path)


def _drop_checksums(path):
    """Make ``path`` look like a bundle written before bundle.json recorded SHA-256s."""
    meta = json.loads((path / BUNDLE_JSON).read_text())
    del meta["sha256"]
    (path / BUNDLE_JSON).write_text(json.dumps(meta))


def test_a_corrupt_graph_fails_on_read_not_later(tmp_path):
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META)
    (path / MODEL_ONNX).write_bytes(b"\x00garbage")
    with pytest.raises(BundleError, match=r"model\.onnx is damaged or was changed"):
        read_bundle(path)
    _drop_checksums(path)  # without checksums, the graph still fails to parse on read
    with pytest.raises(BundleError, match=r"model\.onnx is not a readable ONNX model"):
        read_bundle(path)


def test_write_records_the_sha256_of_each_payload_file(tmp_path):
    stale = {**META, "sha256": {MODEL_ONNX: "0" * 64}}  # e.g. copied from another bundle
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=stale, weights=b"w")
    recorded = json.loads((path / BUNDLE_JSON).read_text())["sha256"]
    assert recorded == {
        MODEL_ONNX: hashlib.sha256((path / MODEL_ONNX).read_bytes()).hexdigest(),
        WEIGHTS: hashlib.sha256(b"w").hexdigest(),
    }
    assert read_bundle(path).verified
    unweighted = write_bundle(tmp_path / "c", model_onnx=doubling_model(), metadata=META)
    assert set(json.loads((unweighted / BUNDLE_JSON).read_text())["sha256"]) == {MODEL_ONNX}


def _flip_one_byte(file, position=-1):
    data = bytearray(file.read_bytes())
    data[position] ^= 0x01
    file.write_bytes(bytes(data))


@pytest.mark.parametrize("name", [MODEL_ONNX, WEIGHTS])
def test_one_flipped_byte_in_a_payload_file_is_refused_naming_it(tmp_path, name):
    path = write_bundle(
        tmp_path / "b", model_onnx=doubling_model(), metadata=META, weights=b"weights"
    )
    # The graph's last byte is the opset version: still a valid graph, a different one.
    _flip_one_byte(path / name)
    with pytest.raises(BundleError, match=rf"{name} is damaged or was changed after export"):
        read_bundle(path)


def test_a_bundle_without_checksums_still_loads_unverified(tmp_path):
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META, weights=b"w")
    _drop_checksums(path)
    bundle = read_bundle(path)
    assert not bundle.verified and bundle.task == META["task"]


def test_checksum_records_that_do_not_fit_are_refused(tmp_path):
    path = write_bundle(tmp_path / "b", model_onnx=doubling_model(), metadata=META)
    meta = json.loads((path / BUNDLE_JSON).read_text())
    for bad in ("abc", {WEIGHTS: "0" * 64}, {MODEL_ONNX: "XYZ"}, {"other.bin": "0" * 64}):
        (path / BUNDLE_JSON).write_text(json.dumps({**meta, "sha256": bad}))
        with pytest.raises(BundleError, match=r"'sha256' must map model\.onnx"):
            read_bundle(path)
    # Weights dropped in after export are not covered by the checksums: refused.
    (path / BUNDLE_JSON).write_text(json.dumps(meta))
    (path / WEIGHTS).write_bytes(b"foreign")
    with pytest.raises(BundleError, match=r"weights\.safetensors is not recorded"):
        read_bundle(path)
    # Recorded weights that went missing are named too.
    path2 = write_bundle(tmp_path / "c", model_onnx=doubling_model(), metadata=META, weights=b"w")
    (path2 / WEIGHTS).unlink()
    with pytest.raises(BundleError, match=r"weights\.safetensors is recorded .* cannot be read"):
        read_bundle(path2)


def test_session_error_is_a_bundle_error(tmp_path):
    # a graph that parses but that onnxruntime refuses (an unknown operator)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None])
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["X"], ["Y"])], "g", [x], [x])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = write_bundle(tmp_path / "b", model_onnx=model.SerializeToString(), metadata=META)
    with pytest.raises(BundleError, match=r"onnxruntime cannot load model\.onnx"):
        read_bundle(path).session()


def make_repository(root, versions):
    for v in versions:
        write_bundle(root / "clouds" / v, model_onnx=doubling_model(), metadata=META)


def test_resolve_picks_the_highest_numeric_version(tmp_path):
    make_repository(tmp_path, ["1", "2", "10", "9"])
    (tmp_path / "clouds" / "11").mkdir()  # no bundle.json: an unfinished folder
    assert resolve_bundle(tmp_path, "clouds") == tmp_path / "clouds" / "10"
    assert resolve_bundle(tmp_path, "clouds", "2") == tmp_path / "clouds" / "2"


def test_resolve_orders_dotted_and_named_versions(tmp_path):
    make_repository(tmp_path, ["v1.2", "1.10", "latest-test"])
    assert resolve_bundle(tmp_path, "clouds").name == "1.10"


@pytest.mark.parametrize(
    ("name", "version"),
    [("..", None), ("../etc", None), ("/etc", None), ("a/b", None), (".hidden", None),
     ("clouds", ".."), ("clouds", "1/../../x"), ("clouds", "/abs"), ("cl ouds", None),
     ("", None), ("clouds", "%2e%2e"), (3, None)],
)  # fmt: skip
def test_resolve_refuses_unsafe_names(tmp_path, name, version):
    make_repository(tmp_path, ["1"])
    with pytest.raises(InvalidInputError, match="is not allowed"):
        resolve_bundle(tmp_path, name, version)


def test_resolve_reports_missing_bundles_and_escaping_links(tmp_path):
    make_repository(tmp_path / "repo", ["1"])
    root = tmp_path / "repo"
    with pytest.raises(BundleError, match="no bundle named 'water'"):
        resolve_bundle(root, "water")
    with pytest.raises(BundleError, match="has no version '3'"):
        resolve_bundle(root, "clouds", "3")
    (root / "empty").mkdir()
    with pytest.raises(BundleError, match=r"has no version with bundle\.json"):
        resolve_bundle(root, "empty")
    make_repository(tmp_path / "outside", ["1"])
    (root / "clouds" / "2").symlink_to(tmp_path / "outside" / "clouds" / "1")
    with pytest.raises(BundleError, match="leads outside the repository"):
        resolve_bundle(root, "clouds")
