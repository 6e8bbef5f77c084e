"""The lean ASGI infer path answers exactly as FastAPI's infer routes do."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serve_models import add_version, expected

from satlearn.serve import ServeSettings, create_app
from satlearn.serve._v2 import InferMiddleware

pytestmark = pytest.mark.timeout(60)

X = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2) / 10


def _requests() -> list[tuple[str, bytes, dict[str, str]]]:
    tensor = {"name": "image", "shape": list(X.shape), "datatype": "FP32"}
    good = json.dumps({"id": "a", "inputs": [{**tensor, "data": X.ravel().tolist()}]})
    header = json.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": X.nbytes}}],
            "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
        }
    ).encode()
    nan = X.copy()
    nan[0, 0, 0, 0] = np.nan
    return [
        ("/v2/models/seg/infer", good.encode(), {}),
        ("/v2/models/seg/versions/1/infer", good.encode(), {}),
        (
            "/v2/models/seg/infer",
            header + X.tobytes(),
            {"inference-header-content-length": str(len(header))},
        ),
        # NaN in and out: the json module writes NaN as the standard parser reads it.
        (
            "/v2/models/seg/infer",
            json.dumps({"inputs": [{**tensor, "data": nan.ravel().tolist()}]}).encode(),
            {},
        ),
        ("/v2/models/nope/infer", good.encode(), {}),
        ("/v2/models/seg/versions/9/infer", good.encode(), {}),
        ("/v2/models/seg/infer", b"{not json", {}),
        ("/v2/models/seg/infer", good.replace("FP32", "INT8").encode(), {}),
        ("/v2/models/seg/infer", good.replace('"id"', '"outputs":[{"name":"x"}],"i"').encode(), {}),
        ("/v2/models/seg/infer", header + b"short", {"inference-header-content-length": "7"}),
        # A string is not a boolean: "false" must not switch binary outputs on.
        (
            "/v2/models/seg/infer",
            good.replace('"id"', '"parameters":{"binary_data_output":"false"},"i"').encode(),
            {},
        ),
    ]


def _same(a, b) -> bool:
    """Equal JSON documents, floats equal as float32 (NaN equal to NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.float32(a) == np.float32(b) or (np.isnan(a) and np.isnan(b)))
    return a == b


def _answers(app) -> list[tuple[int, str, bytes, str | None]]:
    out = []
    with TestClient(app) as client:
        for path, body, headers in _requests():
            r = client.post(path, content=body, headers=headers)
            assert r.headers["x-request-id"]
            out.append(
                (
                    r.status_code,
                    r.headers["content-type"],
                    r.content,
                    r.headers.get("inference-header-content-length"),
                )
            )
        metrics = client.get("/metrics").text
    return out, metrics


def test_the_lean_path_answers_as_the_fastapi_routes(tmp_path):
    bundle = add_version(tmp_path, "seg", "1", 0.5)
    lean = create_app(ServeSettings(models=tmp_path))
    plain = create_app(ServeSettings(models=tmp_path))
    # The same app without the lean path: FastAPI's routes answer.
    plain.user_middleware = [m for m in plain.user_middleware if m.cls is not InferMiddleware]
    (ours, lean_metrics), (theirs, plain_metrics) = _answers(lean), _answers(plain)
    assert [a[0] for a in ours] == [200, 200, 200, 200, 404, 404, 400, 400, 400, 400, 400]
    assert json.loads(ours[-1][2]) == {
        "error": "parameter 'binary_data_output' must be true or false, got 'false'"
    }
    for (code, ctype, body, hlen), (code2, ctype2, body2, hlen2) in zip(ours, theirs, strict=True):
        assert (code, ctype, hlen) == (code2, ctype2, hlen2)
        if hlen is None:  # JSON: the same document (orjson writes float32 values shorter)
            assert _same(json.loads(body), json.loads(body2))
        else:
            assert body[int(hlen) :] == body2[int(hlen2) :]
    answer = json.loads(ours[0][2])
    assert answer["id"] == "a" and answer["model_version"] == "1"
    np.testing.assert_allclose(
        np.asarray(answer["outputs"][0]["data"], np.float32).reshape(2, 2, 2, 2),
        expected(bundle, X),
        atol=1e-5,
    )
    assert b"NaN" in ours[3][2]
    route = 'route="/v2/models/{name}/infer"'
    for text in (lean_metrics, plain_metrics):
        assert f'satlearn_requests_total{{code="200",model="seg",{route},version="1"}} 3.0' in text
        assert 'code="404"' in text
