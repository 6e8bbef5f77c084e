"""Lazy (dask) reads of a whole COG: satlearn's per-block reads beside rioxarray's.

Method: write a 4096 x 4096 two-band uint16 COG (noise, deflate, 512 tiles) with
``satlearn.save_cog``, then, in this one process and alternating, sum it through a
dask array built by

* satlearn ``open_raster(path, chunks={"band": 1, "y": c, "x": c})`` (one windowed
  read per block on a dataset each dask thread keeps open), and
* ``rioxarray.open_rasterio(path, chunks=..., lock=False)`` (the peer a user
  would pick),

for chunk sizes 512 and 2048, with dask's threaded scheduler. Best of ``--repeat``
runs each; prints seconds and the ratio rioxarray / satlearn (above 1: satlearn faster).

Run: ``python benchmarks/bench_lazy_read.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dask.array
import rioxarray
import xarray as xr
from affine import Affine

from satlearn.raster import open_raster, save_cog


def make_cog(path: Path) -> Path:
    data = dask.array.random.default_rng(0).integers(
        0, 10000, (2, 4096, 4096), dtype="uint16", chunks=(1, 2048, 2048)
    )
    da = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["b1", "b2"]})
    da = da.rio.write_crs("EPSG:32633").rio.write_transform(Affine(10, 0, 500000, 0, -10, 4200000))
    return save_cog(da, path, blocksize=512, overviews=None)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = make_cog(Path(folder) / "scene.tif")
        expected = int(open_raster(path).values.astype("int64").sum())
        for size in (512, 2048):
            chunks = {"band": 1, "y": size, "x": size}

            def ours(chunks=chunks):
                total = open_raster(path, chunks=chunks).data.astype("int64").sum().compute()
                assert int(total) == expected

            def peer(chunks=chunks):
                lazy = rioxarray.open_rasterio(path, chunks=chunks, lock=False)
                assert int(lazy.data.astype("int64").sum().compute()) == expected

            ours()  # warm the page cache and imports
            peer()
            t_ours, t_peer = best(ours, args.repeat), best(peer, args.repeat)
            print(
                f"chunks {size}: satlearn {t_ours:.3f} s, rioxarray {t_peer:.3f} s, "
                f"ratio {t_peer / t_ours:.2f}"
            )


if __name__ == "__main__":
    main()
