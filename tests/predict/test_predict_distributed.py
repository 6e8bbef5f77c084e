"""The lazy predict form on a real distributed cluster (two worker processes).

The blocks carry a RunnerRef (bundle path, sha256, tta), never an ONNX Runtime
session; each worker loads the bundle at most once, whatever the number of
chunks, with one intra-op thread per task thread.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from satlearn.predict import predict
from satlearn.predict._workers import RunnerRef, load_count

distributed = pytest.importorskip("distributed")


def _loads() -> int:
    from satlearn.predict._workers import load_count

    return load_count()


def _threads() -> list[int]:
    from satlearn.predict._workers import cached_runners

    return [r.session.get_session_options().intra_op_num_threads for r in cached_runners()]


def test_runner_ref_pickles_and_is_cached(seg_bundle):
    from satlearn.bundle import read_bundle
    from satlearn.predict._runner import TileRunner

    runner = TileRunner(read_bundle(seg_bundle))
    ref = RunnerRef.of(runner)
    assert ref.sha256  # export_bundle records the graph's sha256
    again = pickle.loads(pickle.dumps(ref))  # what a worker receives
    before = load_count()
    assert again.get() is runner  # this process reuses the caller's runner
    assert load_count() == before


def test_lazy_predict_on_local_cluster(seg_bundle, scene):
    in_memory = predict(seg_bundle, scene, tile_size=64).values
    lazy = predict(seg_bundle, scene.chunk({"y": 70, "x": 90}), tile_size=64)
    n_chunks = int(np.prod(lazy.data.numblocks))
    assert n_chunks > 2  # more chunks than workers: a per-chunk load would show
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            # The scheduler's HTTP server (dashboard, metrics) starts on 8787 even
            # with dashboard_address=None, and warns when another cluster holds
            # that port (warnings are errors here): a free port instead.
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = lazy.compute()
        loads = client.run(_loads)
        threads = client.run(_threads)
    assert np.array_equal(result.values, in_memory)
    assert len(loads) == 2
    assert all(n <= 1 for n in loads.values()), loads
    assert sum(loads.values()) >= 1  # the workers did the work
    # workers x threads does not oversubscribe: one intra-op thread per task thread
    assert all(t == [1] for t in threads.values() if t), threads
