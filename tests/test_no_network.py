"""satlearn makes no network call but to the addresses it is given.

ONNX Runtime (1.29+, Linux) starts a telemetry uploader with its first session
that looks up mobile.events.data.microsoft.com every few seconds; ``import
satlearn`` sets ``ORT_DISABLE_TELEMETRY=1`` (unless the user set it), which is
the only switch that stops it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from fixtures_demo import apt_install

ENV = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}


def _run(code: str, env: dict[str, str], *prefix: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_import_satlearn_turns_onnxruntime_telemetry_off_unless_the_user_chose():
    code = "import os, satlearn; print(os.environ['ORT_DISABLE_TELEMETRY'])"
    assert _run(code, ENV).stdout.strip() == "1"
    assert _run(code, {**ENV, "ORT_DISABLE_TELEMETRY": "0"}).stdout.strip() == "0"


# A session through satlearn's own loader, then long enough for the uploader's
# first look-up (it came 5-10 s after the session, measured with strace).
SESSION = """
import time
import numpy as np
from onnx import TensorProto, helper
from satlearn.predict._runner import _onnxruntime
ort = _onnxruntime()
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
session.run(None, {"x": np.ones(1, np.float32)})
time.sleep(12)
"""


@pytest.fixture(scope="module")
def strace() -> str:
    """Debian's strace; installed with apt-get when missing (as root); skip if impossible."""
    if shutil.which("strace") is None:
        reason = apt_install("strace")
        if shutil.which("strace") is None:
            pytest.skip(f"strace is needed to watch the process's sockets, and {reason}")
    return shutil.which("strace")


def test_an_onnxruntime_session_through_satlearn_opens_no_socket(tmp_path, strace):
    trace = tmp_path / "trace"
    done = _run(SESSION, ENV, strace, "-f", "-e", "trace=connect,sendto", "-o", str(trace))
    if "ptrace" in done.stderr and done.returncode != 0:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    network = [
        line
        for line in trace.read_text().splitlines()
        if re.search(r"AF_INET6?|htons\(53\)", line) and "127.0.0.1" not in line
    ]
    assert network == []
