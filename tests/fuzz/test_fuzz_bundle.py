"""Fuzzing bundle.json, read by satlearn.bundle.read_bundle beside a tiny valid model.onnx."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given

from fixtures_fuzz import FUZZ, expect_clean, json_documents
from satlearn.bundle import BUNDLE_JSON, read_bundle, write_bundle

pytestmark = pytest.mark.timeout(120)


def _identity_onnx() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["logits"])],
        "identity",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 2, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2, None, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


_MODEL = _identity_onnx()


def _sample() -> dict:
    """The bundle.json write_bundle makes (with its sha256 of the model): the valid seed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_bundle(
            Path(tmp) / "b",
            model_onnx=_MODEL,
            metadata={
                "task": "semantic-segmentation",
                "bands": ["red", "nir"],
                "classes": [{"id": 0, "name": "land"}, {"id": 1, "name": "water"}],
                "tile_size": 16,
            },
        )
        return json.loads((path / BUNDLE_JSON).read_text())


@FUZZ
@given(body=json_documents(_sample()))
def test_bundle_json_is_read_or_named(body):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle"
        path.mkdir()
        (path / "model.onnx").write_bytes(_MODEL)
        (path / BUNDLE_JSON).write_bytes(body)
        bundle = expect_clean(lambda: read_bundle(path), [str(path)])
        if bundle is not None:
            assert isinstance(bundle.task, str) and bundle.task
            assert all(isinstance(k, int) for k in bundle.classes)
            assert all(isinstance(b, str) for b in bundle.bands)
