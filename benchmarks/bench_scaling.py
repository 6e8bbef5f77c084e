"""Scale-out of the multi-date pipeline on Dask: strong scaling, memory and tasks per cube size.

Pipeline (as tests/cli/test_cli_scheduler.py, plus the model): a STAC
catalogue of a synthetic scene's dates (``satlearn synth`` + ``satlearn stac
build``) -> ``load_cube`` (7 bands, every date of a block in one chunk, as
``satlearn composite`` loads it) -> ``median_composite(cloud_mask="rules")``
(persisted once: ``satlearn.compute.materialise``) -> NDVI COG, and a
3-class UNet bundle's class map (``satlearn.predict.predict``, lazy, the
bundle loaded once per worker) -> class COG; every COG written block by
block by the workers (``save_cog``). Each run goes through
``satlearn.compute.scheduler(spec)``, as the CLI's ``--scheduler`` does.

Configurations, timed interleaved (the order rotates each repeat), median of
REPEATS: the threaded scheduler (one thread per core), and two real clusters
on 127.0.0.1 started here as subprocesses -- ``dask scheduler`` with one,
and with two, ``dask worker --nworkers 1 --nthreads 1`` -- both up for the
whole run (torn down by PID at the end). Parallel efficiency = t1 / (2 t2).

Memory: for each cube size of SIZES, the two-worker cluster is restarted
(fresh worker processes), the pipeline runs once, and each worker's peak RSS
(``ru_maxrss``, via ``Client.run``) is read; with the idle peak beside. The
task count is that of the pipeline's graph after ``dask.optimize``.

Reads: the sum of a local COG (the largest cube's first date, 13 bands, read
by ``open_raster(..., chunks=CHUNK)`` on the workers, each opening its own
dataset) on one and on two workers, interleaved, median of REPEATS.

Run: ``python benchmarks/bench_scaling.py [--size 512] [--dates 4] [--chunk 256]
[--sizes 256,512,1024] [--repeats 3]``; data and the bundle are cached in
``benchmarks/_data/scaling/``. Prints the load average before and after: on a
shared machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "scaling"
BIN = Path(sys.executable).parent
BANDS = ["blue", "green", "red", "nir", "swir16", "swir22", "cirrus"]


# --------------------------------------------------------------------------- data


def catalogue(size: int, dates: int) -> Path:
    """A STAC catalogue of a synthetic scene's ``dates`` dates (cached)."""
    root = DATA / f"s{size}_d{dates}"
    catalog = root / "catalog" / "catalog.json"
    if catalog.exists():
        return catalog
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    satlearn = str(BIN / "satlearn")
    subprocess.run([satlearn, "synth", str(root / "scene"), "--size", str(size), "--dates",
                    str(dates), "--seed", "4"], check=True, capture_output=True)  # fmt: skip
    (root / "images").mkdir()
    for image in sorted((root / "scene").glob("image_*.tif")):
        shutil.copy(image, root / "images" / image.name)
    subprocess.run([satlearn, "stac", "build", str(root / "images"), "--out",
                    str(root / "catalog"), "--no-thumbnails"], check=True,
                   capture_output=True)  # fmt: skip
    return catalog


def bundle() -> Path:
    """The 3-class UNet of tests/fixtures_predict.py (red, green, nir ~ 100 +- 30), cached."""
    path = DATA / "bundle" / "seg" / "1"
    if (path / "bundle.json").exists():
        return path
    import torch

    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(0)
    model = build_model("unet", in_channels=3, num_classes=3, width=8, depth=2)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight *= 30
        last.bias.zero_()
    export_bundle(model, path, task="semantic-segmentation", classes=["water", "forest", "urban"],
                  bands=["red", "green", "nir"],
                  normalisation={"mean": [100.0] * 3, "std": [30.0] * 3}, tile_size=64,
                  exporter="legacy")  # fmt: skip
    return path


# --------------------------------------------------------------------------- clusters


class Cluster:
    """``dask scheduler`` + ``n`` one-thread ``dask worker`` subprocesses on 127.0.0.1."""

    def __init__(self, n_workers: int, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        dask = str(BIN / "dask")
        scheduler_file = folder / "scheduler.json"
        args = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(scheduler_file)]  # fmt: skip
        self._start(args, "scheduler")
        deadline = time.monotonic() + 60
        while not (scheduler_file.exists() and scheduler_file.stat().st_size):
            if time.monotonic() > deadline:
                raise TimeoutError("the scheduler did not start")
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(n_workers):
            self._start([dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
                         "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}",
                         "--local-directory", str(folder / f"w{i}")], f"w{i}")  # fmt: skip
        from distributed import Client

        with Client(self.address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=60)

    def _start(self, args: list[str], name: str) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))
        log.close()

    def close(self) -> None:
        for process in reversed(self.processes):  # workers first, by PID
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def peak_rss_mib() -> float:
    """This process's peak resident memory (run on each worker by Client.run)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- pipeline


def all_dates(chunk: int) -> dict[str, int]:
    """The cube's chunks, as ``satlearn composite`` loads them: every date of a block in one."""
    return {"time": -1, "y": chunk, "x": chunk}


def build(catalog: Path, model: Path, chunk: int) -> tuple[Any, Any]:
    """The lazy outputs (NDVI, classes) of the pipeline; the composite is materialised."""
    import pystac

    from satlearn.compute import materialise
    from satlearn.cube import load_cube
    from satlearn.ops.composite import median_composite
    from satlearn.ops.indices import compute_index
    from satlearn.predict import predict

    items = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    cube = load_cube(items, bands=BANDS, chunks=all_dates(chunk))
    composite = materialise(median_composite(cube, cloud_mask="rules"))
    ndvi = compute_index(composite, "ndvi")
    image = composite.sel(band=["red", "green", "nir"]).fillna(0) * 300
    image = image.astype("float32").rio.write_crs(composite.rio.crs)
    classes = predict(str(model), image.rio.write_transform(composite.rio.transform()),
                      tile_size=64)  # fmt: skip
    return ndvi, classes


def run(spec: str, catalog: Path, model: Path, chunk: int, out: Path) -> float:
    from satlearn.compute import scheduler
    from satlearn.raster import save_cog

    started = time.perf_counter()
    with scheduler(spec):
        ndvi, classes = build(catalog, model, chunk)
        save_cog(ndvi, out / "ndvi.tif")
        save_cog(classes, out / "classes.tif", nodata=255, resampling="nearest")
    return time.perf_counter() - started


def task_count(catalog: Path, model: Path, chunk: int) -> int:
    """Tasks of the whole pipeline after dask.optimize (built, never run)."""
    import dask
    import pystac

    from satlearn.cube import load_cube
    from satlearn.ops.composite import median_composite
    from satlearn.ops.indices import compute_index
    from satlearn.predict import predict

    items = list(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True))
    composite = median_composite(
        load_cube(items, bands=BANDS, chunks=all_dates(chunk)), cloud_mask="rules"
    )
    image = (composite.sel(band=["red", "green", "nir"]).fillna(0) * 300).astype("float32")
    image = image.rio.write_crs(composite.rio.crs).rio.write_transform(composite.rio.transform())
    classes = predict(str(model), image, tile_size=64)
    ndvi = compute_index(composite, "ndvi")
    a, b = dask.optimize(ndvi.data, classes.data)
    return len({**dict(a.__dask_graph__()), **dict(b.__dask_graph__())})


def read_sum(spec: str, path: Path, chunk: int) -> float:
    from satlearn.compute import scheduler
    from satlearn.raster import open_raster

    started = time.perf_counter()
    with scheduler(spec):
        float(open_raster(path, chunks={"band": -1, "y": chunk, "x": chunk}).data.sum().compute())
    return time.perf_counter() - started


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    started = time.perf_counter()
    catalogs = {s: catalogue(s, args.dates) for s in sorted({args.size, *sizes})}
    model = bundle()
    work = Path(tempfile.mkdtemp(prefix="bench_scaling_"))
    clusters: dict[str, Cluster] = {}
    try:
        for n in (1, 2):
            (work / f"c{n}").mkdir()
            clusters[f"{n} worker(s)"] = Cluster(n, work / f"c{n}")
        specs = {"threads": "threads", **{k: c.address for k, c in clusters.items()}}
        out = work / "out"
        out.mkdir()
        for spec in specs.values():  # warm: imports on the workers, the bundle, file caches
            run(spec, catalogs[args.size], model, args.chunk, out)
        times: dict[str, list[float]] = {k: [] for k in specs}
        names = list(specs)
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                times[name].append(run(specs[name], catalogs[args.size], model, args.chunk, out))
        median = {k: statistics.median(v) for k, v in times.items()}
        t1, t2 = median["1 worker(s)"], median["2 worker(s)"]
        pixels = args.size**2 * args.dates
        print(f"# pipeline {args.size}^2 px x {args.dates} dates x {len(BANDS)} bands, "
              f"chunk {args.chunk}, median of {args.repeats}")  # fmt: skip
        for name, t in median.items():
            print(f"{name:12s} {t:7.2f} s  (runs {', '.join(f'{x:.2f}' for x in times[name])})")
        print(f"parallel efficiency t1 / (2 t2) = {t1 / (2 * t2):.0%}; "
              f"per core {pixels / t1 / 1e6:.3f} Mpx-dates/s (1 worker)")  # fmt: skip

        from distributed import Client

        print("# memory and tasks per cube size (2 workers, restarted before each)")
        with Client(clusters["2 worker(s)"].address, set_as_default=False) as client:
            for size in sizes:
                client.restart()
                idle = client.run(peak_rss_mib)
                run(clusters["2 worker(s)"].address, catalogs[size], model, args.chunk, out)
                peak = client.run(peak_rss_mib)
                tasks = task_count(catalogs[size], model, args.chunk)
                cube_mib = size**2 * args.dates * len(BANDS) * 4 / 2**20
                print(f"{size:5d} px  cube {cube_mib:7.1f} MiB  tasks {tasks:6d}  "
                      f"peak RSS per worker {' / '.join(f'{v:.0f}' for v in peak.values())} MiB "
                      f"(idle {' / '.join(f'{v:.0f}' for v in idle.values())})")  # fmt: skip

        cog = next((catalogs[max(sizes)].parents[1] / "images").glob("image_*.tif"))
        reads: dict[str, list[float]] = {k: [] for k in clusters}
        for r in range(args.repeats):
            for name in list(clusters)[r % 2 :] + list(clusters)[: r % 2]:
                reads[name].append(read_sum(clusters[name].address, cog, args.chunk))
        r1, r2 = (statistics.median(reads[k]) for k in clusters)
        print(f"# parallel read of {cog.name}: 1 worker {r1:.2f} s, 2 workers {r2:.2f} s, "
              f"speed-up {r1 / r2:.2f}x")  # fmt: skip
    finally:
        for cluster in clusters.values():
            cluster.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    load_after = os.getloadavg()
    print(f"# {os.cpu_count()} cores; load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f}; {time.perf_counter() - started:.0f} s in all")  # fmt: skip


if __name__ == "__main__":
    main()
