"""Tiny bundles for the server's tests, built with onnx.helper (no torch: quick to export)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from satlearn.bundle import write_bundle
from satlearn.testing import process
from satlearn.testing.process import free_port

BANDS = ["red", "green", "nir"]


def conv_model(bias: float, *, layers: int = 1, width: int = 4) -> bytes:
    """A (N, 3, H, W) float32 -> (N, 2, H, W) 'logits' graph of 1x1/3x3 convolutions.

    ``bias`` is added to the last layer, so two versions answer differently.
    ``layers`` > 1 stacks 3x3 convolutions: a slower model for overload tests.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    channels, name = 3, "image"
    for i in range(layers):
        last = i == layers - 1
        out_c = 2 if last else width
        k = 1 if layers == 1 else 3
        w = rng.normal(0, 0.3, (out_c, channels, k, k)).astype(np.float32)
        b = np.full(out_c, bias if last else 0.0, np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "logits" if last else f"h{i}"
        nodes.append(helper.make_node("Conv", [name, f"w{i}", f"b{i}"], [out], pads=[k // 2] * 4))
        channels, name = out_c, out
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 3, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2, None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def add_version(root: Path, name: str, version: str, bias: float, **kwargs) -> Path:
    """Write ``root/name/version`` as a semantic-segmentation bundle (atomically)."""
    serving = kwargs.pop("serving", None)
    metadata = {
        "task": "semantic-segmentation",
        "bands": BANDS,
        "classes": [{"id": 0, "name": "land"}, {"id": 1, "name": "water"}],
        "tile_size": 16,
    }
    if serving is not None:
        metadata["serving"] = serving
    return write_bundle(
        root / name / version, model_onnx=conv_model(bias, **kwargs), metadata=metadata
    )


def expected(bundle_dir: Path, image: np.ndarray) -> np.ndarray:
    """ONNX Runtime's own answer for ``image`` on the bundle in ``bundle_dir``."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(bundle_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"image": image})[0]


class Server:
    """A ``satlearn serve`` subprocess: its address, URL and stderr log file."""

    def __init__(self, proc, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.address = f"127.0.0.1:{port}"
        self.url = f"http://{self.address}"

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def log_records(self) -> list[dict]:
        """The server's JSON log lines, parsed (other lines skipped)."""
        return [json.loads(line) for line in self.log_lines() if line.startswith("{")]


@contextlib.contextmanager
def running_server(models: Path, *args: str, log: Path) -> Iterator[Server]:
    """Start ``satlearn serve --models MODELS ARGS`` on a free port; a context manager."""
    port = free_port()
    command = [sys.executable, "-m", "satlearn", "serve", "--models", str(models)]
    command += ["--port", str(port), *args]
    ready = f"http://127.0.0.1:{port}/v2/health/ready"
    with process.running_server(command, ready_url=ready, log=log, timeout_s=60) as proc:
        yield Server(proc, port, log)
