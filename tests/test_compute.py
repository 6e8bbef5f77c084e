"""satlearn.compute picks the scheduler; save_cog's blocks are written by the workers."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rasterio

from conftest import make_dataarray
from fixtures_dask import worker_names
from satlearn.compute import ENV_VAR, active_client, parse_spec, scheduler
from satlearn.errors import InvalidInputError
from satlearn.raster import save_cog


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ("threads", None)),
        ("", ("threads", None)),
        ("threads", ("threads", None)),
        ("tcp://127.0.0.1:8786", ("tcp", "tcp://127.0.0.1:8786")),
        ("tcp://scheduler.example.org:8786", ("tcp", "tcp://scheduler.example.org:8786")),
        ("tls://scheduler.example.org:8786", ("tls", "tls://scheduler.example.org:8786")),
        ("local:3", ("local", 3)),
    ],
)
def test_the_accepted_forms(monkeypatch, spec, expected) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["local:0", "local:two", "tcp://127.0.0.1", "tcp://h:99999", "http://h:1", "processes"]
)
def test_a_bad_spec_is_one_line_naming_the_forms(spec) -> None:
    forms = "use 'threads', 'tcp://HOST:PORT', 'tls://HOST:PORT' or 'local:N'"
    with pytest.raises(InvalidInputError, match=forms) as e:
        parse_spec(spec)
    assert "\n" not in str(e.value)


def test_the_environment_variable_is_read_when_no_spec_is_given(monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "local:2")
    assert parse_spec(None) == ("local", 2)
    assert parse_spec("threads") == ("threads", None)  # an explicit spec wins
    monkeypatch.setenv(ENV_VAR, "nonsense")
    with pytest.raises(InvalidInputError, match=ENV_VAR):
        parse_spec(None)
    assert os.environ[ENV_VAR] == "nonsense"  # read, never written


def test_the_default_is_the_threaded_scheduler_sized_to_the_machine(monkeypatch) -> None:
    import dask

    monkeypatch.delenv(ENV_VAR, raising=False)
    with scheduler() as client:
        assert client is None
        assert dask.config.get("scheduler") == "threads"
        assert dask.config.get("num_workers") == os.cpu_count()
        assert active_client() is None


def _executed(client) -> dict[str, int]:
    counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
    names = {a: str(w["name"]) for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
    return {names[a]: n for a, n in counts.items()}


def test_save_cog_on_a_cluster_is_written_by_both_workers_and_identical(
    tmp_path, dask_cluster, monkeypatch
) -> None:
    import satlearn.raster

    def not_here(*_: object) -> None:
        raise AssertionError("a block was written in the client process")

    # Patched in this process only: the workers import the real class.
    monkeypatch.setattr(satlearn.raster.StagingTarget, "__setitem__", not_here)
    rng = np.random.default_rng(3)
    data = rng.random((2, 200, 170)).astype(np.float32)
    # Chunks that do not align with the 64-px tiles: neighbouring blocks share tiles.
    da = make_dataarray(data, names=["red", "nir"]).chunk({"band": 1, "y": 50, "x": 45})
    threaded = save_cog(da, tmp_path / "threaded.tif", blocksize=64)
    with scheduler(dask_cluster.address) as client:
        assert active_client() is client
        assert {"w1", "w2"} <= worker_names(client)
        before = _executed(client)
        distributed = save_cog(da, tmp_path / "cluster.tif", blocksize=64)
        after = _executed(client)
    assert active_client() is None
    for name in ("w1", "w2"):
        assert after[name] > before[name], (before, after)
    with rasterio.open(threaded) as a, rasterio.open(distributed) as b:
        assert a.profile == b.profile and a.descriptions == b.descriptions == ("red", "nir")
        np.testing.assert_array_equal(a.read(), b.read())
        np.testing.assert_array_equal(b.read(), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.tif", "threaded.tif"]
