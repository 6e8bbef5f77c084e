"""``--scheduler``: a multi-date pipeline through the CLI on a real Dask cluster.

A STAC catalogue over a synthetic scene's dates -> cloud mask (rules) ->
median composite -> spectral indices -> COG, each step one ``satlearn``
process, run once on the default threaded scheduler and again on the
session's cluster (``dask scheduler`` + two ``dask worker`` processes), on a
``local:2`` cluster, and on a cluster that loses a worker to SIGKILL mid-run:
the pixels are identical every time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from fixtures_dask import Cluster, start_worker, wait_for_workers, worker_names

SATLEARN = Path(sys.executable).with_name("satlearn")
BANDS = "blue,green,red,nir,swir16,swir22,cirrus"
CHUNK = "128"  # 4 blocks a band, x 7 bands x 3 dates: enough tasks to spread


def _run(*args: str, scheduler: str | None = None, env: dict[str, str] | None = None) -> str:
    command = [str(SATLEARN), *args]
    if scheduler is not None:
        command += ["--scheduler", scheduler]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, env=env or _env(), check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SATLEARN_SCHEDULER", None)
    return env


def _pipeline(catalog: Path, out: Path, scheduler: str | None) -> tuple[Path, Path]:
    composite, indices = out / "composite.tif", out / "indices.tif"
    _run("composite", str(catalog), str(composite), "--bands", BANDS, "--cloud-mask", "rules",
         "--chunk", CHUNK, scheduler=scheduler)  # fmt: skip
    _run("index", str(composite), "ndvi,ndwi", str(indices), "--chunk", CHUNK,
         "--sensor", "sentinel2_l1c", scheduler=scheduler)  # fmt: skip
    return composite, indices


def _read(path: Path) -> tuple[dict, np.ndarray]:
    with rasterio.open(path) as ds:
        profile = {**ds.profile, "descriptions": ds.descriptions}
        return profile, ds.read()


def _assert_identical(a: Path, b: Path) -> None:
    (pa, xa), (pb, xb) = _read(a), _read(b)
    na, nb = pa.pop("nodata"), pb.pop("nodata")
    assert pa == pb
    assert na == nb or (np.isnan(na) and np.isnan(nb))
    np.testing.assert_array_equal(xa, xb)  # NaNs at the same places count as equal


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The catalogue and the threaded run's composite and indices."""
    root = tmp_path_factory.mktemp("cli_scheduler")
    _run("synth", str(root / "scene"), "--size", "256", "--dates", "3", "--seed", "4")
    (root / "images").mkdir()
    for image in sorted((root / "scene").glob("image_*.tif")):
        shutil.copy(image, root / "images" / image.name)
    _run("stac", "build", str(root / "images"), "--out", str(root / "catalog"),
         "--no-thumbnails")  # fmt: skip
    catalog = root / "catalog" / "catalog.json"
    (root / "threads").mkdir()
    composite, indices = _pipeline(catalog, root / "threads", None)
    with rasterio.open(composite) as ds:
        assert ds.count == 7 and np.isfinite(ds.read()).any()
    return catalog, composite, indices


def _executed(client: object) -> dict[str, int]:
    counts = client.run(lambda dask_worker: dask_worker.state.executed_count)  # type: ignore[attr-defined]
    info = client.scheduler_info(n_workers=-1)["workers"]  # type: ignore[attr-defined]
    return {str(info[a]["name"]): n for a, n in counts.items() if a in info}


def test_the_pipeline_on_a_cluster_is_identical_and_runs_on_both_workers(
    tmp_path, dask_cluster: Cluster, pipeline
) -> None:
    from distributed import Client

    catalog, composite, indices = pipeline
    with Client(dask_cluster.address, timeout="20s", set_as_default=False) as client:
        assert {"w1", "w2"} <= worker_names(client)
        before = _executed(client)
        got = _pipeline(catalog, tmp_path, dask_cluster.address)
        after = _executed(client)
    for name in ("w1", "w2"):
        assert after[name] > before[name], (before, after)
    _assert_identical(got[0], composite)
    _assert_identical(got[1], indices)


def test_local_worker_processes(tmp_path, pipeline) -> None:
    catalog, composite, _ = pipeline
    out = tmp_path / "composite.tif"
    _run("composite", str(catalog), str(out), "--bands", BANDS, "--cloud-mask", "rules",
         "--chunk", CHUNK, scheduler="local:2")  # fmt: skip
    _assert_identical(out, composite)


def test_a_bad_scheduler_is_a_one_line_error(tmp_path, pipeline) -> None:
    _, composite, _ = pipeline
    args = [str(SATLEARN), "index", str(composite), "ndvi", str(tmp_path / "x.tif"),
            "--scheduler", "local:none"]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=_env(), check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: scheduler 'local:none': use 'threads', 'tcp://HOST:PORT', 'tls://HOST:PORT' "
        "or 'local:N' (N worker processes)"
    ]
    assert not (tmp_path / "x.tif").exists()
    env = {**_env(), "SATLEARN_SCHEDULER": "tcp://nowhere"}
    done = subprocess.run(args[:-2], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: SATLEARN_SCHEDULER 'tcp://nowhere': use 'threads'")


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, dask_cluster: Cluster, pipeline) -> None:
    from distributed import Client

    catalog, composite, _ = pipeline
    victim = start_worker(dask_cluster, "victim", nanny=False)
    wait_for_workers(dask_cluster.address, {"w1", "w2", "victim"})
    out = tmp_path / "composite.tif"
    run = subprocess.Popen(
        [str(SATLEARN), "composite", str(catalog), str(out), "--bands", BANDS,
         "--cloud-mask", "rules", "--chunk", CHUNK, "--scheduler", dask_cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    try:
        with Client(dask_cluster.address, timeout="20s", set_as_default=False) as client:
            address = next(
                a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
                if w["name"] == "victim"
            )  # fmt: skip
            deadline = time.monotonic() + 120
            # Wait until the victim has finished some tasks of this run (and so
            # holds results others need), then kill it while the run goes on.
            while (
                client.run(
                    lambda dask_worker: dask_worker.state.executed_count, workers=[address]
                ).get(address, 0)
                < 5
            ):
                assert run.poll() is None, "the run ended before the victim worked"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert run.poll() is None, "the run ended before the kill"
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 0, stderr
    assert "median of 3 date(s)" in stdout
    _assert_identical(out, composite)


def _run_out(*args: str) -> str:
    """stdout of a satlearn run that must succeed (options passed as they are)."""
    return _run_both(*args)[0]


def _run_both(*args: str) -> tuple[str, str]:
    """stdout and stderr of a satlearn run that must succeed."""
    done = subprocess.run(
        [str(SATLEARN), *args], capture_output=True, text=True, timeout=180, env=_env(),
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_clouds_and_change_on_a_cluster_match_threads_and_show_progress(
    tmp_path, dask_cluster: Cluster, pipeline
) -> None:
    catalog, _, _ = pipeline
    scene = catalog.parents[1] / "scene"
    first, last = sorted(scene.glob("image_*.tif"))[0], sorted(scene.glob("image_*.tif"))[-1]
    on = ["--scheduler", dask_cluster.address, "--chunk", CHUNK]
    (tmp_path / "threads").mkdir()
    (tmp_path / "cluster").mkdir()
    # clouds with the bar forced on, change with the default (stderr is not a TTY: no bar).
    for name, args, flags in (
        ("clouds", ["clouds", str(first)], ["--progress"]),
        ("change", ["change", str(first), str(last)], []),
    ):
        threads = tmp_path / "threads" / f"{name}.tif"
        cluster = tmp_path / "cluster" / f"{name}.tif"
        plain = _run_out(*args, str(threads), "--chunk", CHUNK)
        got, err = _run_both(*args, str(cluster), *on, *flags)
        # The bar is on stderr only; stdout is the threaded run's summary, byte for
        # byte but the output path, with no carriage return or escape code in it.
        assert ("% Completed" in err) == bool(flags), err
        assert "% Completed" not in got and "\r" not in got and "\x1b" not in got, repr(got)
        assert got.split(": ", 1)[1] == plain.split(": ", 1)[1], (got, plain)
        _assert_identical(cluster, threads)
    for suffix in ("_magnitude.tif", ".geojson"):
        a = tmp_path / "threads" / f"change{suffix}"
        b = tmp_path / "cluster" / f"change{suffix}"
        if suffix == ".geojson":
            assert a.read_text() == b.read_text()
        else:
            _assert_identical(b, a)


def test_predict_on_a_cluster_matches_the_streamed_run(
    tmp_path, dask_cluster: Cluster, seg_bundle
) -> None:
    from distributed import Client

    from fixtures_predict import make_scene
    from satlearn.predict._workers import cached_runners, cpu_count
    from satlearn.raster import save_cog

    save_cog(make_scene(160, 200), tmp_path / "scene.tif")
    args = ["predict", str(seg_bundle), str(tmp_path / "scene.tif")]
    _run_out(*args, str(tmp_path / "threads"), "--no-vectors")
    out = _run_out(*args, str(tmp_path / "cluster"), "--scheduler", dask_cluster.address)
    assert f"wrote {tmp_path / 'cluster' / 'classes.tif'}" in out
    _assert_identical(tmp_path / "cluster" / "classes.tif", tmp_path / "threads" / "classes.tif")

    def threads() -> list[int]:
        return [r.session.get_session_options().intra_op_num_threads for r in cached_runners()]

    with Client(dask_cluster.address, timeout="20s", set_as_default=False) as client:
        used = {k: v for k, v in client.run(threads).items() if v}
    # Two one-thread workers on this host: cores // 2 intra-op threads each.
    assert used and all(v == [max(1, cpu_count() // 2)] for v in used.values()), used
    done = subprocess.run(
        [str(SATLEARN), *args, str(tmp_path / "x"), "--resume", "--scheduler",
         dask_cluster.address],
        capture_output=True, text=True, timeout=120, env=_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: predict on a Dask cluster (--scheduler) makes a class")


def test_session_threads_split_each_host_between_its_task_threads() -> None:
    from satlearn.predict._workers import session_threads

    class Fake:
        def scheduler_info(self, n_workers: int) -> dict:
            one, two = {"host": "a", "nthreads": 1}, {"host": "b", "nthreads": 2}
            return {"workers": {"tcp://a:1": one, "tcp://a:2": one, "tcp://b:1": two}}

        def run(self, func: object) -> dict:
            return {"tcp://a:1": 16, "tcp://a:2": 16, "tcp://b:1": 8}

    assert session_threads(Fake()) == 4  # a: 16 // 2 = 8, b: 8 // 2 = 4 -> the smaller
