"""A real Dask distributed cluster on 127.0.0.1, shared by the scale-out tests.

``dask scheduler`` and two ``dask worker --nworkers 1 --nthreads 1`` run as
subprocesses of the venv (the same commands a user types); they are torn down
by PID at the end of the session. :func:`start_worker` adds one more worker
(no nanny, so a SIGKILL really loses it) for a test that kills one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DASK = Path(sys.executable).with_name("dask")

# Locks held by a killed worker are released after the lease timeout: short here,
# so the SIGKILL test does not wait distributed's default 30 s for a staging lock.
CLUSTER_ENV = {
    "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_TIMEOUT": "3s",
    "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_VALIDATION_INTERVAL": "500ms",
    "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
}


@dataclass
class Cluster:
    address: str
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**os.environ, **CLUSTER_ENV}


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.stat().st_size > 0):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {timeout_s} s")
        time.sleep(0.1)


def start_worker(cluster: Cluster, name: str, *, nanny: bool = True) -> subprocess.Popen[bytes]:
    """Start ``dask worker`` named ``name`` on ``cluster``; returns the process."""
    log = (cluster.folder / f"{name}.log").open("wb")
    args = [str(DASK), "worker", cluster.address, "--nworkers", "1", "--nthreads", "1",
            "--no-dashboard", "--host", "127.0.0.1", "--name", name,
            "--local-directory", str(cluster.folder / name)]  # fmt: skip
    if not nanny:
        args.append("--no-nanny")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=cluster.env())
    log.close()
    cluster.processes[name] = process
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """End one process we started, by its PID: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_for_workers(address: str, names: set[str], timeout_s: float = 60) -> None:
    """Block until the scheduler at ``address`` lists every worker in ``names``."""
    from distributed import Client

    with Client(address, timeout="20s", set_as_default=False) as client:
        deadline = time.monotonic() + timeout_s
        while not names <= worker_names(client):
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers {names - worker_names(client)} did not join")
            time.sleep(0.2)


def worker_names(client: object) -> set[str]:
    info = client.scheduler_info(n_workers=-1)  # type: ignore[attr-defined]
    return {str(w["name"]) for w in info["workers"].values()}


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``dask scheduler`` and two one-thread workers on 127.0.0.1, for the session."""
    folder = tmp_path_factory.mktemp("dask_cluster")
    scheduler_file = folder / "scheduler.json"
    log = (folder / "scheduler.log").open("wb")
    args = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file)]  # fmt: skip
    scheduler = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CLUSTER_ENV},
    )
    log.close()
    cluster = Cluster(address="", folder=folder, processes={"scheduler": scheduler})
    try:
        _wait_for_file(scheduler_file, scheduler, timeout_s=60)
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        assert cluster.address.startswith("tcp://127.0.0.1:")
        for name in ("w1", "w2"):
            start_worker(cluster, name)
        wait_for_workers(cluster.address, {"w1", "w2"})
        yield cluster
    finally:
        # Workers first, so none reconnects to a scheduler that is going away.
        for process in reversed(list(cluster.processes.values())):
            with contextlib.suppress(ProcessLookupError):
                stop(process)
