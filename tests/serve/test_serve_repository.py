"""The watched repository: hot reload under load, broken and half-copied versions, removal."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import numpy as np
import pytest
from serve_models import add_version, expected, running_server

from satlearn.errors import InvalidInputError, ModelNotFoundError
from satlearn.serve import ModelRepository

pytestmark = pytest.mark.timeout(120)

X = np.random.default_rng(3).normal(size=(1, 3, 8, 8)).astype(np.float32)


def _infer(url: str) -> tuple[str, np.ndarray]:
    body = {
        "inputs": [
            {
                "name": "image",
                "datatype": "FP32",
                "shape": list(X.shape),
                "data": X.ravel().tolist(),
            }
        ]
    }
    r = httpx.post(f"{url}/v2/models/seg/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    return r.json()["model_version"], np.asarray(out["data"], np.float32).reshape(out["shape"])


def _wait_for(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_hot_reload_under_load_broken_and_half_copied_versions(tmp_path):
    root, staging = tmp_path / "models", tmp_path / "staging"
    add_version(root, "seg", "1", 0.0)
    v2 = add_version(staging, "seg", "2", 5.0)
    with running_server(root, "--poll-s", "0.1", log=tmp_path / "log") as srv:
        answers, failures, stop = [], [], threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    answers.append(_infer(srv.url))
                except Exception as err:  # collected: the test fails on any
                    failures.append(err)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        _wait_for(lambda: len(answers) > 10)
        shutil.copytree(v2, root / "seg" / "2")  # a plain copy, not an atomic rename
        _wait_for(lambda: answers and answers[-1][0] == "2")
        n = len(answers)
        _wait_for(lambda: len(answers) > n + 10)
        stop.set()
        for t in threads:
            t.join()
        assert failures == []
        versions = [v for v, _ in answers]
        first_new = versions.index("2")
        assert set(versions[:first_new]) == {"1"}
        # After the swap, only requests that were already in flight answer from 1.
        assert versions[first_new + 3 :].count("1") == 0
        for v, out in answers[:5] + answers[-5:]:
            np.testing.assert_allclose(out, expected(root / "seg" / v, X), atol=1e-5)

        # Half copied (no bundle.json yet): ignored, no error.
        (root / "seg" / "3").mkdir()
        shutil.copy(v2 / "model.onnx", root / "seg" / "3" / "model.onnx")
        # Broken: a complete bundle.json beside a truncated model.onnx.
        broken = root / "seg" / "4"
        shutil.copytree(v2, broken)
        data = (broken / "model.onnx").read_bytes()
        (broken / "model.onnx").write_bytes(data[: len(data) // 2])

        def has_error():
            meta = httpx.get(f"{srv.url}/v2/models/seg").json()
            return [e["version"] for e in meta.get("load_errors", [])] == ["4"]

        _wait_for(has_error)
        meta = httpx.get(f"{srv.url}/v2/models/seg").json()
        assert meta["versions"] == ["1", "2"]
        assert "model.onnx" in meta["load_errors"][0]["error"]
        assert _infer(srv.url)[0] == "2"  # the old version keeps serving
        r = httpx.get(f"{srv.url}/v2/models/seg/versions/4/ready")
        assert r.status_code == 404 and "failed to load" in r.json()["error"]
        status = httpx.get(f"{srv.url}/v1/models/seg").json()["model_version_status"]
        assert {s["version"]: s["state"] for s in status} == {
            "1": "AVAILABLE",
            "2": "AVAILABLE",
            "4": "END",
        }
        assert any(
            r["level"] == "error" and "failed to load" in r["message"] for r in srv.log_records()
        )

        # The watcher keeps going after the failure: fixing version 4 loads it.
        shutil.copy(v2 / "model.onnx", broken / "model.onnx")
        _wait_for(lambda: _infer(srv.url)[0] == "4")
        # Removed versions are unloaded; answers fall back to the highest left.
        shutil.rmtree(broken)
        shutil.rmtree(root / "seg" / "2")
        _wait_for(lambda: _infer(srv.url)[0] == "1")
        assert httpx.get(f"{srv.url}/v2/models/seg").json()["versions"] == ["1"]


def test_repository_in_process(tmp_path):
    add_version(tmp_path, "seg", "9", 0.0)
    add_version(tmp_path, "seg", "10", 1.0)
    (tmp_path / ".hidden").mkdir()
    repo = ModelRepository(tmp_path)
    repo.scan()
    assert repo.names() == ["seg"]
    assert repo.get("seg").version == "10"  # numeric order, not text
    assert repo.get("seg", "9").bundle.path == tmp_path / "seg" / "9"
    for bad in ("..", "a/b", "a\0", ".hidden", ""):
        with pytest.raises(InvalidInputError):
            repo.get(bad)
    with pytest.raises(ModelNotFoundError, match="no loaded version '3'"):
        repo.get("seg", "3")
    with pytest.raises(ModelNotFoundError):
        repo.get("other")
    assert isinstance(ModelNotFoundError("x"), LookupError)


def test_bad_serving_settings_are_a_load_error(tmp_path):
    add_version(tmp_path, "seg", "1", 0.0)
    (tmp_path / "seg" / "config.yaml").write_text("max_batch: 4\n")
    repo = ModelRepository(tmp_path)
    repo.scan()
    assert "unknown serving setting" in repo.errors("seg")["1"]
    (tmp_path / "seg" / "config.yaml").write_text("max_batch_size: 4\ninstances: 2\n")
    repo.scan()  # the changed config is seen
    model = repo.get("seg")
    assert (model.settings.max_batch_size, model.settings.instances) == (4, 2)
