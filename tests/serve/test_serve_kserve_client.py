"""The real server against KServe's own Python client (``kserve.InferenceRESTClient``, V2).

``kserve`` cannot live in the project's environment (it pins older pandas,
protobuf, httpx and uvicorn), so a session fixture makes a virtual
environment of its own under ``.cache/`` (gitignored), installs the pinned
``kserve`` there once (kept between runs, keyed by the version spec) and runs
tests/serve/kserve_client_script.py with it against a ``satlearn serve``
subprocess. The script prints JSON; the comparison with ONNX Runtime is here.
Skipped, with pip's own words, when the package index cannot be reached.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest
from serve_models import add_version, expected, running_server

pytestmark = pytest.mark.timeout(600)

#: The client under test; changing it makes (and keeps) a fresh environment.
KSERVE_SPEC = "kserve==0.15.2"
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("kserve_client_script.py")


def _venv_python(home: Path) -> Path:
    return home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="session")
def kserve_python() -> Path:
    """The python of a virtual environment with ``KSERVE_SPEC`` installed (made once)."""
    key = hashlib.sha256(KSERVE_SPEC.encode()).hexdigest()[:12]
    home = ROOT / ".cache" / f"kserve-client-venv-{key}"
    python = _venv_python(home)
    done = home / "installed.txt"  # written last: a half-made environment is made again
    if done.is_file() and done.read_text() == KSERVE_SPEC and python.is_file():
        return python
    venv.EnvBuilder(clear=True, with_pip=True).create(home)
    try:
        run = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                KSERVE_SPEC,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {KSERVE_SPEC} did not finish within 300 s")
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
        pytest.skip(f"pip install {KSERVE_SPEC} failed: {' | '.join(tail)}")
    done.write_text(KSERVE_SPEC)
    return python


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    add_version(root, "seg", "1", 0.0)
    add_version(root, "seg", "2", 5.0)
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with running_server(root, log=log) as srv:
        srv.root = root
        yield srv


def test_kserve_rest_client_v2(kserve_python, server, tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run(
        [str(kserve_python), str(SCRIPT), server.url, "seg", str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        # Only the client's own environment: nothing of the project's leaks in.
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["server_live"] is True
    assert answer["server_ready"] is True
    assert answer["model_ready"] is True
    meta = answer["metadata"]
    assert meta["name"] == "seg" and meta["versions"] == ["1", "2"]
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][0]["name"] == "image"
    assert meta["inputs"][0]["datatype"] == "FP32"
    assert meta["inputs"][0]["shape"] == [-1, 3, -1, -1]
    assert meta["outputs"][0]["name"] == "logits"
    want = expected(server.root / "seg" / "2", x)
    for kind in ("json", "binary"):
        got = answer[kind]
        assert got["model_name"] == "seg" and got["id"] == "kserve-1"
        assert got["name"] == "logits" and got["datatype"] == "FP32"
        assert got["shape"] == list(want.shape)
        np.testing.assert_allclose(
            np.asarray(got["data"], np.float32).reshape(got["shape"]), want, atol=1e-5, rtol=0
        )
