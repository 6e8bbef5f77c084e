"""TF-Serving REST of the real server, and the ``satlearn serve`` command line."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from serve_models import add_version, expected, running_server
from typer.testing import CliRunner

from satlearn.cli import app

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    add_version(root, "seg", "1", 0.0)
    add_version(root, "seg", "2", 5.0)
    settings = root.parent / "serve.yaml"
    settings.write_text(f"models: {root}\noverload_status: 429\n")
    with running_server(root, "--settings", str(settings), log=root.parent / "log") as srv:
        srv.root = root
        yield srv


X = np.random.default_rng(5).normal(size=(2, 3, 4, 4)).astype(np.float32)


def test_status(server):
    status = httpx.get(f"{server.url}/v1/models/seg").json()["model_version_status"]
    assert [s["version"] for s in status] == ["1", "2"]
    assert all(s["state"] == "AVAILABLE" for s in status)
    one = httpx.get(f"{server.url}/v1/models/seg/versions/1").json()
    assert one["model_version_status"][0]["status"]["error_code"] == "OK"
    r = httpx.get(f"{server.url}/v1/models/seg/versions/7")
    assert r.status_code == 404 and "error" in r.json()


@pytest.mark.parametrize("version", [None, "1"])
def test_predict_rows_and_columns(server, version):
    path = f"/v1/models/seg{'/versions/' + version if version else ''}:predict"
    want = expected(server.root / "seg" / (version or "2"), X)
    rows = httpx.post(server.url + path, json={"instances": X.tolist()})
    assert rows.status_code == 200, rows.text
    np.testing.assert_allclose(np.asarray(rows.json()["predictions"]), want, atol=1e-5)
    named = httpx.post(server.url + path, json={"instances": [{"image": x} for x in X.tolist()]})
    np.testing.assert_allclose(np.asarray(named.json()["predictions"]), want, atol=1e-5)
    cols = httpx.post(server.url + path, json={"inputs": {"image": X.tolist()}})
    np.testing.assert_allclose(np.asarray(cols.json()["outputs"]), want, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"nope", "not valid JSON"),
        (b'{"instances": [], "inputs": []}', "'instances' or 'inputs'"),
        (b'{"instances": []}', "non-empty"),
        (b'{"instances": [[1, 2], [3]]}', "regular list"),
        (b'{"instances": [[[[1.0]]]]}', "reads 3 bands"),
        (b'{"inputs": {"img": [1]}}', "every model input"),
    ],
)
def test_predict_errors(server, body, says):
    r = httpx.post(f"{server.url}/v1/models/seg:predict", content=body)
    assert r.status_code == 400 and says in r.json()["error"]
    assert httpx.post(f"{server.url}/v1/models/nope:predict", content=body).status_code == 404


def test_help_documents_every_setting():
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in (
        "--models",
        "--catalog",
        "--host",
        "--port",
        "--poll-s",
        "--max-body-mb",
        "--request-timeout-s",
        "--overload-status",
        "--settings",
        "127.0.0.1",
    ):
        assert option in result.output


def test_a_missing_repository_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--models", str(tmp_path / "none")])
    assert result.exit_code == 1 and "is not a folder" in result.output
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1 and "--models" in result.output
