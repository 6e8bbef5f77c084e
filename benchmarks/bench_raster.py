"""Windowed reads of a 20000 x 20000 COG: peak memory and time, satlearn beside its peers.

Method: write a 20000 x 20000 single-band uint16 COG (800 MB raw; smooth field plus
noise, deflate, 512 tiles, overviews) with ``satlearn.save_cog`` from a dask array
(which also measures that the writer streams). Then, each in a fresh Python process
with the peak RSS (``VmHWM``) reset after the imports so that the figure belongs to
the reads alone, read 64 random
512 x 512 windows with

* satlearn ``open_raster(path, window=...)`` (rasterio on the hot path),
* plain ``rasterio`` ``DatasetReader.read(window=...)`` (the floor),
* ``rioxarray.open_rasterio(path).isel(...).values`` (the convenience a user would pick),

and a whole-file read with rasterio for contrast. Prints time per window, peak RSS
above the interpreter's baseline, and ratios against rasterio.

Run: ``python benchmarks/bench_raster.py [--size 20000]``; the COG is cached in
``benchmarks/_data/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask.array as darr
import numpy as np
import xarray as xr
from affine import Affine

from satlearn import save_cog

HERE = Path(__file__).resolve().parent

READERS = {
    "satlearn.open_raster": """
        from satlearn import open_raster
        def read(path, r, c, n):
            return open_raster(path, window=((r, r + n), (c, c + n))).values
    """,
    "rasterio": """
        import rasterio
        from rasterio.windows import Window
        _ds = {}
        def read(path, r, c, n):
            if path not in _ds:
                _ds[path] = rasterio.open(path)
            return _ds[path].read(window=Window(c, r, n, n))
    """,
    "rasterio, open per read": """
        import rasterio
        from rasterio.windows import Window
        def read(path, r, c, n):
            with rasterio.open(path) as ds:
                return ds.read(window=Window(c, r, n, n))
    """,
    "rioxarray": """
        import rioxarray
        def read(path, r, c, n):
            da = rioxarray.open_rasterio(path)
            return da.isel(y=slice(r, r + n), x=slice(c, c + n)).values
    """,
    "rasterio whole file": """
        import rasterio
        def read(path, r, c, n):
            with rasterio.open(path) as ds:
                return ds.read()[:, r:r + n, c:c + n]
    """,
}

DRIVER = """
import json, time, warnings
warnings.simplefilter("ignore")
import numpy as np
{reader}
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak (VmHWM) to the current RSS: imports do not count
base = status("VmRSS")
rng = np.random.default_rng(0)
size, n, count = {size}, {window}, {count}
starts = rng.integers(0, size - n, (count, 2))
t0 = time.perf_counter()
checksum = 0
for r, c in starts:
    checksum += int(read({path!r}, int(r), int(c), n).sum())
elapsed = time.perf_counter() - t0
peak = status("VmHWM")
print(json.dumps({{"seconds": elapsed, "grew_mib": (peak - base) / 1024, "checksum": checksum}}))
"""


def make_cog(path: Path, size: int) -> float:
    chunk = 2048
    rng = darr.random.default_rng(0)
    yy = darr.arange(size, chunks=chunk, dtype="float32")[:, None]
    xx = darr.arange(size, chunks=chunk, dtype="float32")[None, :]
    field = 3000 + 1000 * darr.sin(yy / 700) * darr.cos(xx / 900)
    noise = rng.normal(0, 60, (size, size), chunks=chunk).astype("float32")
    data = (field + noise).clip(1, 65535).astype("uint16")[None]
    transform = Affine(10, 0, 300000, 0, -10, 5000000)
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={
            "band": ["nir"],
            "y": transform.f - 10 * (np.arange(size) + 0.5),
            "x": transform.c + 10 * (np.arange(size) + 0.5),
        },
    )
    da = da.rio.write_crs("EPSG:32633").rio.write_transform(transform).rio.write_nodata(0)
    t0 = time.perf_counter()
    save_cog(da, path)
    return time.perf_counter() - t0


def run_reader(name: str, path: Path, size: int, window: int, count: int) -> dict:
    script = DRIVER.format(
        reader=textwrap.dedent(READERS[name]), size=size, window=window, count=count, path=str(path)
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--count", type=int, default=64)
    args = parser.parse_args()

    path = HERE / "_data" / f"big_{args.size}.tif"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        seconds = make_cog(path, args.size)
        print(
            f"wrote {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in {seconds:.1f} s "
            f"with save_cog from a dask array"
        )
    raw_mib = args.size * args.size * 2 / 2**20
    print(
        f"{args.count} random {args.window}^2 windows of a {args.size}^2 uint16 COG "
        f"({raw_mib:.0f} MiB raw), {os.cpu_count()} CPU(s)"
    )
    results = {}
    for name in READERS:
        count = 1 if name == "rasterio whole file" else args.count
        results[name] = run_reader(name, path, args.size, args.window, count)
        results[name]["per_window_ms"] = 1000 * results[name]["seconds"] / count
    floor = results["rasterio"]
    print(f"{'reader':24s} {'ms/window':>10s} {'vs rasterio':>12s} {'peak RSS +MiB':>14s}")
    for name, r in results.items():
        ratio = r["per_window_ms"] / floor["per_window_ms"]
        print(f"{name:24s} {r['per_window_ms']:10.1f} {ratio:11.2f}x {r['grew_mib']:14.1f}")
    sl = results["satlearn.open_raster"]
    rx = results["rioxarray"]
    speedup = rx["per_window_ms"] / sl["per_window_ms"]
    share = 100 * sl["grew_mib"] / raw_mib
    print(
        f"satlearn is {speedup:.2f}x faster than rioxarray per window; "
        f"peak memory {sl['grew_mib']:.0f} MiB = {share:.1f}% of the raw raster"
    )


if __name__ == "__main__":
    main()
