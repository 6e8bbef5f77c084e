"""The Open Inference Protocol of the real server, with tritonclient and raw HTTP."""

from __future__ import annotations

import http.client
import json

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from serve_models import add_version, expected, running_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    add_version(root, "seg", "1", 0.0)
    add_version(root, "seg", "2", 5.0)
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with running_server(root, "--max-body-mb", "1", log=log) as srv:
        srv.root = root
        yield srv


@pytest.fixture(scope="module")
def client(server):
    c = triton.InferenceServerClient(server.address)
    yield c
    c.close()


def image(n=2, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 3, 8, 8)).astype(np.float32)


def test_metadata_and_readiness(client, server):
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.is_model_ready("seg") and client.is_model_ready("seg", "1")
    meta = client.get_model_metadata("seg")
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["versions"] == ["1", "2"]
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, -1, -1]}]
    assert meta["outputs"][0]["shape"] == [-1, 2, -1, -1]
    assert not client.is_model_ready("nope")


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("version", [None, "1"])
def test_infer_equals_onnx_runtime(client, server, binary, version):
    x = image()
    inp = triton.InferInput("image", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = triton.InferRequestedOutput("logits", binary_data=binary)
    kwargs = {"model_version": version} if version else {}
    result = client.infer("seg", [inp], outputs=[out], **kwargs)
    want = expected(server.root / "seg" / (version or "2"), x)
    np.testing.assert_allclose(result.as_numpy("logits"), want, atol=1e-5)
    assert result.get_response()["model_version"] == (version or "2")


def test_every_output_in_binary_when_none_is_named(client, server):
    x = image(1)
    inp = triton.InferInput("image", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("seg", [inp])
    np.testing.assert_allclose(
        result.as_numpy("logits"), expected(server.root / "seg" / "2", x), atol=1e-5
    )


def _post(server, body, path="/v2/models/seg/infer", **kwargs):
    r = httpx.post(server.url + path, content=body, **kwargs)
    assert r.headers["content-type"].startswith("application/json")
    return r.status_code, r.json()["error"]


def _tensor(**changes):
    t = {"name": "image", "datatype": "FP32", "shape": [1, 3, 2, 2], "data": [0.0] * 12}
    t.update(changes)
    return json.dumps({"inputs": [t]}).encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"inputs": 3}', "list of tensor"),
        (_tensor(name="img"), "unknown input 'img'"),
        (_tensor(datatype="INT64"), "expects FP32"),
        (_tensor(shape=[1, 4, 2, 2], data=[0.0] * 16), "reads 3 bands"),
        (_tensor(shape=[1, 3, 2]), "expects [-1, 3, -1, -1]"),
        (_tensor(shape=[1, 3, 2, 3]), "needs 18 values"),
        (_tensor(shape=[10**6, 3, 10**4, 10**4]), "more than the body"),
        (_tensor(shape=[1, 3, "2", 2]), "whole numbers"),
        (_tensor(data=[[0.0, 1.0], [2.0]]), "regular list"),
        (_tensor(data=["a"] * 12), "regular list"),
        (b'{"inputs": []}', "missing input"),
    ],
)
def test_bad_requests_are_400_with_what_was_expected(server, body, says):
    status, error = _post(server, body)
    assert status == 400
    assert says in error


def test_binary_sizes_must_add_up(server):
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "datatype": "FP32",
                    "shape": [10**5, 3, 10**3, 10**3],
                    "parameters": {"binary_data_size": 48},
                }
            ]
        }
    ).encode()
    headers = {"Inference-Header-Content-Length": str(len(head))}
    status, error = _post(server, head + b"\0" * 48, headers=headers)
    assert status == 400 and "needs" in error
    status, error = _post(server, head + b"\0" * 10, headers=headers)
    assert status == 400 and "past the end" in error
    status, error = _post(server, head, headers={"Inference-Header-Content-Length": "99999"})
    assert status == 400 and "Inference-Header-Content-Length" in error


def test_unknown_output_is_400(server):
    body = json.loads(_tensor())
    body["outputs"] = [{"name": "probabilities"}]
    status, error = _post(server, json.dumps(body).encode())
    assert status == 400 and "unknown output" in error


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/../ready",
        "/v2/models/..",
        "/v2/models/%2e%2e/ready",
        "/v2/models/seg%2F..%2F..%2Fetc",
        "/v2/models/%00/ready",
        "/v2/models/seg/versions/../ready",
        "/v2/models/seg/versions/..%2F1/ready",
        "/v2/models/seg/versions/%00",
        "/v1/models/..:predict",
    ],
)
def test_unsafe_names_are_4xx_json(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST" if path.endswith(":predict") else "GET", path)  # sent as written
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert 400 <= response.status < 500, (path, response.status, body)
    assert "error" in json.loads(body)


def test_body_over_the_limit_is_413(server):
    status, error = _post(server, b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert status == 413 and "limit" in error


def test_unknown_model_is_404(server):
    status, error = _post(server, _tensor(), path="/v2/models/nope/infer")
    assert status == 404 and "nope" in error


def test_request_ids_metrics_and_json_logs(server, client):
    r = httpx.get(server.url + "/v2/models/seg", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = [httpx.get(server.url + "/v2").headers["x-request-id"] for _ in range(2)]
    assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made) and made[0] != made[1]
    x = image(1)
    inp = triton.InferInput("image", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    client.infer("seg", [inp])
    text = httpx.get(server.url + "/metrics").text
    assert 'satlearn_requests_total{code="200",model="seg",route="/v2/models/{name}/infer"' in text
    assert 'satlearn_batch_size_count{model="seg",version="2"}' in text
    assert "satlearn_request_latency_seconds_bucket" in text
    assert 'satlearn_queue_depth{model="seg",version="2"}' in text
    lines = server.log_records()
    assert any(d.get("request_id") == "abc-123" and d.get("status") == 200 for d in lines)


def test_repository_unload_and_load(server, client):
    assert httpx.post(server.url + "/v2/repository/models/seg/unload").status_code == 200
    assert httpx.get(server.url + "/v2/models/seg").status_code == 404
    r = httpx.post(server.url + "/v2/repository/models/seg/load")
    assert r.status_code == 200 and r.json()["versions"] == ["1", "2"]
    assert client.is_model_ready("seg")
    assert httpx.post(server.url + "/v2/repository/models/..%2Fx/load").status_code in (400, 404)
    assert httpx.post(server.url + "/v2/repository/models/nope/load").status_code == 404
