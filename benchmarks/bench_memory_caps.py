"""Large jobs under an address-space cap well below their data: save_cog, a composite, predict.

Each job runs in its own process under ``prlimit --as=BYTES`` (RLIMIT_AS, the
process's virtual address space). The cap is set from a baseline: the same
job run uncapped on a tiny input, its peak virtual size (VmPeak) being what
the interpreter, GDAL, dask, numba, torch and ONNX Runtime reserve whatever
the data. The capped run gets that baseline plus a quarter of its data's
size, so a job that held its whole input (or output) in memory would fail
with MemoryError; one that streams blocks finishes. The data are lazy dask
arrays generated from their coordinates (nothing is read from disk but the
prediction's scene, written beforehand, uncapped).

Why RLIMIT_AS and not a resident-memory cap: RLIMIT_RSS is not enforced by
Linux; a cgroup v2 ``memory.max`` would be the true resident cap, but this
machine has cgroup v1 mounted read-only for us. RLIMIT_AS is stricter than a
resident cap (reserved-but-untouched pages count too), which is why the cap
is taken above the measured virtual baseline rather than as an absolute
figure: numba, torch and ONNX Runtime reserve hundreds of MiB of address
space (thread stacks, arenas) they never touch.

The jobs:

* ``save_cog``: a ``(3, N, N)`` uint8 dask array (256 px chunks) to a COG
  with overviews;
* ``composite``: a ``(6, 3, N, N)`` float32 cube, the median composite over
  time, written as a COG;
* ``predict``: ``satlearn predict`` (a small U-Net bundle) on a ``(3, N, N)``
  float32 scene, with probabilities.

Run: ``.venv/bin/python benchmarks/bench_memory_caps.py [--size 8192] [--json out.json]``
(defaults: save_cog 3 x 8192^2 = 192 MiB, composite 6 x 3 x 4096^2 float32 =
1.1 GiB, predict 3 x 3072^2 float32 = 108 MiB; ~2-3 minutes on 2 idle cores).
The tests (tests/reliability/test_memory_caps.py) run the same jobs small.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()

# glibc reserves a 64 MiB malloc arena per thread (address space, not memory):
# under RLIMIT_AS a new GDAL or dask thread would fail on that alone. Two arenas
# is the usual setting for capped processes. GDAL's block cache (default 5 % of RAM)
# is held to 8 MiB: it fills with blocks of a big file, which a tiny run never does.
JOB_ENV = {"OMP_NUM_THREADS": "1", "GDAL_CACHEMAX": "8", "MALLOC_ARENA_MAX": "2"}

# Side of the baseline (tiny) run. It must reach the fixed costs the big run
# reaches, whatever the data: for predict, ONNX Runtime's arena grown to the
# batch's size (it doubles, 1 -> 16 MiB), GDAL's overview worker threads (made
# only for an image past a size) and its 8 MiB block cache filled; a 512 px
# scene (3 MiB) reaches none of them and left ~+55 MiB of them to the big run.
TINY = {"save_cog": 512, "composite": 512, "predict": 1024}


def _status(key: str) -> int:
    """A /proc/self/status figure (VmPeak, VmHWM ...) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _lazy(shape: tuple[int, ...], dtype: str, chunk: int = 256) -> Any:
    """A georeferenced lazy array of ``shape`` (..., y, x), values from the coordinates."""
    import dask.array as dsa
    import numpy as np
    import rasterio
    import xarray as xr
    from affine import Affine

    from satlearn.raster import georeference, pixel_centres

    *lead, height, width = shape
    chunks = (*([1] * len(lead)), chunk, chunk)

    # Each block is made from its own location alone: no shared intermediate
    # (a broadcast plane) that dask would have to keep for later blocks.
    def block(template: Any, block_info: Any = None) -> Any:
        where = block_info[0]["array-location"]
        (y0, y1), (x0, x1) = where[-2], where[-1]
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        plane = (yy * 0.37 + xx * 0.11) % 200.0 + 20.0
        # Vary along the leading axes, so a median is not trivially the first date.
        lead_index = sum(start for start, _ in where[:-2])
        plane = plane + (lead_index % 5) * 3.0
        return np.broadcast_to(plane, template.shape).astype(dtype)

    template = dsa.empty(shape, chunks=chunks, dtype=dtype)
    data = dsa.map_blocks(block, template, dtype=dtype)
    transform = Affine(10, 0, 500000, 0, -10, 4000000)
    ys, xs = pixel_centres(transform, height, width)
    dims = ("time", "band", "y", "x") if len(shape) == 4 else ("band", "y", "x")
    coords: dict[str, Any] = {"y": ys, "x": xs, "band": ["red", "green", "nir"][: shape[-3]]}
    if len(shape) == 4:
        coords["time"] = np.arange(shape[0]).astype("datetime64[D]")
    da = xr.DataArray(data, dims=dims, coords=coords)
    return georeference(da, rasterio.crs.CRS.from_epsg(32633), transform, None)


def job(kind: str, size: int, folder: Path, bundle: str | None) -> dict[str, Any]:
    """Run one job (in this process); its peak virtual and resident sizes."""
    from satlearn.raster import save_cog

    started = time.perf_counter()
    if kind == "save_cog":
        data_bytes = 3 * size * size
        save_cog(_lazy((3, size, size), "uint8"), folder / "out.tif")
    elif kind == "composite":
        from satlearn.ops.composite import median_composite

        data_bytes = 6 * 3 * size * size * 4
        composite = median_composite(_lazy((6, 3, size, size), "float32"))
        save_cog(composite, folder / "composite.tif")
    elif kind == "predict":
        from satlearn.cli import app

        data_bytes = 3 * size * size * 4
        scene = folder / f"scene-{size}.tif"
        argv = ["predict", str(bundle), str(scene), str(folder / "pred"), "--probabilities"]
        try:
            app(args=[*argv, "--no-vectors"], prog_name="satlearn", standalone_mode=True)
        except SystemExit as done:
            if done.code:
                raise
    else:
        raise SystemExit(f"unknown job {kind!r}")
    return {
        "job": kind,
        "size": size,
        "data_bytes": data_bytes,
        "vm_peak": _status("VmPeak"),
        "rss_peak": _status("VmHWM"),
        "seconds": time.perf_counter() - started,
    }


def self_capped(
    kind: str, size: int, folder: Path, bundle: str | None, share: float, tiny: int | None = None
) -> dict[str, Any]:
    """The tests' one-process variant: a tiny run, then RLIMIT_AS = VmPeak + share x data.

    The same limit ``prlimit --as`` sets, set by the process on itself once the
    tiny run has loaded every library (one interpreter start instead of two).
    """
    import resource

    tiny = TINY[kind] if tiny is None else tiny
    (folder / "tiny").mkdir(parents=True, exist_ok=True)
    if kind == "predict":
        (folder / "tiny" / f"scene-{tiny}.tif").symlink_to(folder / f"scene-{tiny}.tif")
    job(kind, tiny, folder / "tiny", bundle)
    baseline = _status("VmPeak")
    data_bytes = {"save_cog": 3, "composite": 72}.get(kind, 12) * size * size
    cap = baseline + int(share * data_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    result = job(kind, size, folder, bundle)
    return {**result, "cap_bytes": cap, "baseline_vm_peak": baseline}


def write_scene(path: Path, size: int) -> None:
    """The prediction's scene, a float32 COG (uncapped, before the capped run)."""
    from satlearn.raster import save_cog

    save_cog(_lazy((3, size, size), "float32"), path, overviews=None)


def run_job(
    kind: str,
    size: int,
    folder: Path,
    *,
    bundle: str | None = None,
    cap_bytes: int | None = None,
    timeout_s: float = 600,
) -> dict[str, Any]:
    """Run :func:`job` in a fresh process, under ``prlimit --as=cap_bytes`` if given."""
    command = [sys.executable, str(HERE), "--job", kind, "--size", str(size), "--dir", str(folder)]
    if bundle is not None:
        command += ["--bundle", bundle]
    if cap_bytes is not None:
        command = ["prlimit", f"--as={cap_bytes}", "--", *command]
    env = {**os.environ, **JOB_ENV}
    # Coverage's subprocess hook would trace the job (and its tracer's memory count too).
    for key in [k for k in env if k.startswith("COV_CORE") or k.startswith("COVERAGE")]:
        env.pop(key)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"job": kind, "size": size, "failed": done.returncode, "error": " | ".join(tail)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def capped(
    kind: str,
    size: int,
    folder: Path,
    *,
    bundle: str | None = None,
    baseline_size: int | None = None,
    share: float = 0.25,
) -> dict[str, Any]:
    """The baseline run (tiny, uncapped), then the big run under baseline + share x data."""
    baseline_size = TINY[kind] if baseline_size is None else baseline_size
    if kind == "predict":
        write_scene(folder / f"scene-{baseline_size}.tif", baseline_size)
        write_scene(folder / f"scene-{size}.tif", size)
    base_dir, big_dir = folder / "baseline", folder / "capped"
    base_dir.mkdir(parents=True, exist_ok=True)
    big_dir.mkdir(parents=True, exist_ok=True)
    if kind == "predict":
        for name in (f"scene-{baseline_size}.tif", f"scene-{size}.tif"):
            for where in (base_dir, big_dir):
                (where / name).symlink_to(folder / name)
    baseline = run_job(kind, baseline_size, base_dir, bundle=bundle)
    if "failed" in baseline:
        raise RuntimeError(f"baseline {kind} failed: {baseline['error']}")
    data_bytes = {"save_cog": 3 * size * size, "composite": 72 * size * size}.get(
        kind, 12 * size * size
    )
    cap = baseline["vm_peak"] + int(share * data_bytes)
    result = run_job(kind, size, big_dir, bundle=bundle, cap_bytes=cap)
    return {**result, "cap_bytes": cap, "baseline_vm_peak": baseline["vm_peak"]}


def _bundle(folder: Path) -> str:
    """A small 3-class U-Net bundle (random weights, as the tests' seg_bundle)."""
    import torch

    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(0)
    model = build_model("unet", in_channels=3, num_classes=3, width=8, depth=2)
    return str(
        export_bundle(
            model,
            folder / "bundles" / "seg" / "1",
            task="semantic-segmentation",
            classes=["water", "forest", "urban"],
            bands=["red", "green", "nir"],
            normalisation={"mean": [100.0] * 3, "std": [30.0] * 3},
            tile_size=64,
            exporter="legacy",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    parser.add_argument("--self-cap", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=None, help="side of the save_cog job")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if args.job:  # the child
        if args.self_cap is not None:
            row = self_capped(args.job, args.size, args.dir, args.bundle, args.self_cap)
            print(json.dumps(row))
        else:
            print(json.dumps(job(args.job, args.size, args.dir, args.bundle)))
        return
    side = args.size or 8192
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bundle = _bundle(root)
        plan = [("save_cog", side), ("composite", side // 2), ("predict", (side * 3) // 8)]
        for kind, size in plan:
            row = capped(kind, size, root / kind, bundle=bundle)
            rows.append(row)
            ok = "finished" if "failed" not in row else f"FAILED ({row['error']})"
            print(
                f"{kind:10s} data {row.get('data_bytes', 0) / 2**20:7.0f} MiB  "
                f"cap {row['cap_bytes'] / 2**20:6.0f} MiB (baseline VmPeak "
                f"{row['baseline_vm_peak'] / 2**20:.0f} + 1/4 data)  "
                f"peak RSS {row.get('rss_peak', 0) / 2**20:5.0f} MiB  "
                f"{row.get('seconds', 0):5.1f} s  {ok}"
            )
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load": load}, indent=2))


if __name__ == "__main__":
    main()
