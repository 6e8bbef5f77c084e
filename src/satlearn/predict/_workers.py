"""One :class:`TileRunner` per process: what the lazy form's blocks carry to Dask workers.

An ONNX Runtime session cannot be pickled, so a block function that closed
over a runner could not travel to a distributed worker, and one that rebuilt
it would load the bundle once per chunk. Blocks carry a :class:`RunnerRef`
instead (the bundle's folder, the sha256 of its graph, the options), and
:meth:`RunnerRef.get` loads the runner once per process, under a lock, keyed
by all three. On a Dask worker the session gets ``cores // task threads``
intra-op threads, counted per host over all its workers when the graph is
built (:func:`session_threads`): with one-thread workers that is
``cores // workers``, so that workers x tasks x intra-op threads stays at
the host's cores (without a client to ask, the worker's own task threads);
in the client's process the runner the caller built is reused as it is
(:func:`remember`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RunnerRef",
    "cached_runners",
    "cpu_count",
    "load_count",
    "remember",
    "session_threads",
    "worker_threads",
]

_LOCK = threading.Lock()
_RUNNERS: dict[tuple[str, str, bool], Any] = {}
# A few bundles at most stay loaded (sessions hold the graph's weights).
_KEEP = 4
# Bundles loaded by this process through RunnerRef.get (tests read it on each
# worker with Client.run to check "at most once per worker").
_LOADS = {"count": 0}


def load_count() -> int:
    """How many runners :meth:`RunnerRef.get` has loaded in this process."""
    return _LOADS["count"]


def cached_runners() -> list[Any]:
    """The runners this process holds, oldest first."""
    with _LOCK:
        return list(_RUNNERS.values())


def worker_threads() -> int | None:
    """The task threads of the Dask worker running this code; None outside a worker."""
    try:
        from distributed import get_worker
    except ImportError:  # distributed is optional: no worker can be running
        return None
    try:
        worker = get_worker()
    except ValueError:  # not inside a worker's task
        return None
    state = getattr(worker, "state", None)
    return int(getattr(state, "nthreads", None) or worker.nthreads)


def cpu_count() -> int:
    """The cores this process may use (dask's count: affinity and cgroup quotas included)."""
    try:
        from distributed.system import CPU_COUNT
    except ImportError:  # pragma: no cover - distributed is a dependency
        return os.cpu_count() or 1
    return int(CPU_COUNT)


def session_threads(client: Any) -> int | None:
    """Intra-op threads per ONNX Runtime session on ``client``'s cluster.

    For each host, its cores divided by the task threads of all its workers
    (a host's workers share its cores); the smallest over the hosts, at
    least 1. None when the cluster has no worker yet.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        return None
    cores = client.run(cpu_count)
    hosts: dict[str, list[int]] = {}
    for address, info in workers.items():
        tasks_and_cores = hosts.setdefault(str(info.get("host", address)), [0, 1])
        tasks_and_cores[0] += int(info.get("nthreads") or 1)
        tasks_and_cores[1] = max(tasks_and_cores[1], int(cores.get(address) or 1))
    return max(1, min(n_cores // max(1, tasks) for tasks, n_cores in hosts.values()))


@dataclass(frozen=True)
class RunnerRef:
    """A picklable reference to a :class:`~satlearn.predict._runner.TileRunner`.

    Parameters
    ----------
    path : str
        The bundle's folder (it must be readable at the same path on workers).
    sha256 : str
        The recorded sha256 of the bundle's graph ('' when bundle.json has
        none): a bundle replaced at the same path is loaded again.
    tta : bool
        The runner's test-time augmentation.
    threads : int or None
        Intra-op threads of a session loaded on a worker
        (:func:`session_threads`); None: the worker's task threads.
    """

    path: str
    sha256: str
    tta: bool
    threads: int | None = field(default=None, compare=False)

    @classmethod
    def of(cls, runner: Any) -> RunnerRef:
        """The reference of ``runner`` (the runner itself is remembered in this process).

        Under a distributed client, the reference carries the cluster's
        :func:`session_threads`.
        """
        from satlearn.compute import active_client

        bundle = runner.bundle
        recorded = bundle.metadata.get("sha256") or {}
        digest = str(recorded.get("model.onnx", "")) if isinstance(recorded, dict) else ""
        client = active_client()
        threads = session_threads(client) if client is not None else None
        ref = cls(str(Path(bundle.path).resolve()), digest, bool(runner.tta), threads)
        remember(ref, runner)
        return ref

    @property
    def key(self) -> tuple[str, str, bool]:
        return (self.path, self.sha256, self.tta)

    def get(self) -> Any:
        """This process's runner for the reference, loading the bundle on first use."""
        runner = _RUNNERS.get(self.key)
        if runner is not None:
            return runner
        with _LOCK:  # two task threads of one worker must not both load it
            runner = _RUNNERS.get(self.key)
            if runner is None:
                from satlearn.bundle import read_bundle
                from satlearn.predict._runner import TileRunner

                threads = self.threads or worker_threads()
                runner = TileRunner(read_bundle(self.path), tta=self.tta, threads=threads)
                _LOADS["count"] += 1
                _store(self.key, runner)
        return runner

    def __call__(self, tiles: Any) -> Any:
        return self.get()(tiles)


def remember(ref: RunnerRef, runner: Any) -> None:
    """Use ``runner`` for ``ref`` in this process (the caller's runner, already loaded)."""
    with _LOCK:
        _store(ref.key, runner)


def _store(key: tuple[str, str, bool], runner: Any) -> None:
    # Callers hold _LOCK. Dicts keep insertion order: the first key is the oldest.
    _RUNNERS.pop(key, None)
    _RUNNERS[key] = runner
    while len(_RUNNERS) > _KEEP:
        _RUNNERS.pop(next(iter(_RUNNERS)))
