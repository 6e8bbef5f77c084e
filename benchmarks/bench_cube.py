"""A small box out of a 20-item cube over HTTP: time and bytes read, satlearn beside its peers.

Method: write 20 two-band (red, nir) uint16 COGs of SIZE x SIZE pixels on one
10 m UTM grid (smooth field plus noise, deflate, 512 tiles, overviews) with
``satlearn.save_cog``, describe each as a STAC item (eo, projection, raster),
and serve the folder with ``satlearn.testing.http.RangeHTTPServer`` on
127.0.0.1, which honours Range requests and counts the bytes it sends. Then
load a BOX x BOX pixel box (not aligned to the tiles) of both bands for all 20
dates into memory with

* ``satlearn.cube.load_cube(items, bands=["red", "nir"], bbox=..., bbox_crs=...)``
  then ``.values`` (odc-stac underneath, plus satlearn's band mapping),
* ``odc.stac.load(items, bands=["red", "nir"], x=..., y=..., chunks={...})``
  then ``.compute()`` (the peer a user would call directly),
* a hand-rolled loop: ``rasterio.open(url).read(window=from_bounds(...))`` per
  item (the floor: no grid logic at all).

Each run is a fresh Python process (GDAL's HTTP and block caches start empty);
the time covers item parsing, opening and reading, not the imports. Prints the
median of REPEATS runs, bytes served, requests, and ratios against the peers.

Run: ``python benchmarks/bench_cube.py [--size 2048] [--box 256] [--repeats 3]``;
the COGs are cached in ``benchmarks/_data/cube/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr
from affine import Affine

from satlearn import save_cog
from satlearn.testing.http import RangeHTTPServer

HERE = Path(__file__).resolve().parent
CRS = "EPSG:32633"
N_ITEMS = 20

RUNNERS = {
    "satlearn.load_cube": """
        from satlearn.cube import load_cube
        def load(items, box):
            cube = load_cube(items, bands=["red", "nir"], bbox=box, bbox_crs="EPSG:32633",
                             chunks=512)
            return cube.values
    """,
    "odc.stac.load": """
        import odc.stac
        def load(items, box):
            ds = odc.stac.load(items, bands=["red", "nir"], x=(box[0], box[2]),
                               y=(box[1], box[3]), crs="EPSG:32633", groupby="solar_day",
                               chunks={"x": 512, "y": 512})
            return ds.to_dataarray("band").compute().values
    """,
    "rasterio loop": """
        import numpy as np, rasterio
        from rasterio.windows import from_bounds
        def load(items, box):
            out = []
            for item in items:
                with rasterio.open(item.assets["data"].href) as src:
                    window = from_bounds(*box, transform=src.transform).round_offsets()
                    window = window.round_lengths()
                    out.append(src.read(window=window))
            return np.stack(out)
    """,
}

CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pystac
{runner}
items = [pystac.Item.from_dict(d) for d in json.loads(open(sys.argv[1]).read())]
box = json.loads(sys.argv[2])
start = time.perf_counter()
values = load(items, box)
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "shape": list(values.shape),
                  "checksum": float(values.astype("float64").sum())}}))
"""


def make_cogs(folder: Path, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    transform = Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 5000040.0)
    ys, xs = np.mgrid[0:size, 0:size] / size
    paths = []
    for t in range(N_ITEMS):
        path = folder / f"s_{size}_{t:02d}.tif"
        paths.append(path)
        if path.exists():
            continue
        field = 2000 + 1500 * np.sin(6 * xs + t) * np.cos(4 * ys - t)
        data = np.stack([field, 1.6 * field]) + rng.normal(0, 60, (2, size, size))
        da = xr.DataArray(
            data.clip(1, 65000).astype(np.uint16),
            dims=("band", "y", "x"),
            coords={
                "band": ["red", "nir"],
                "y": transform.f - 10 * (np.arange(size) + 0.5),
                "x": transform.c + 10 * (np.arange(size) + 0.5),
            },
        )
        save_cog(da.rio.write_crs(CRS).rio.write_nodata(0), path)
    return paths


def item_dicts(paths: list[Path], server: RangeHTTPServer, size: int) -> list[dict]:
    import pystac
    import rasterio.warp
    import shapely

    out = []
    for t, path in enumerate(paths):
        bounds = (399960.0, 5000040.0 - 10 * size, 399960.0 + 10 * size, 5000040.0)
        lonlat = rasterio.warp.transform_bounds(CRS, "EPSG:4326", *bounds)
        item = pystac.Item(
            path.stem,
            shapely.geometry.mapping(shapely.box(*lonlat)),
            list(lonlat),
            dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC) + dt.timedelta(days=5 * t),
            {},
            stac_extensions=[
                "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            ],
        )
        item.add_asset(
            "data",
            pystac.Asset(
                server.url(path.name),
                media_type=pystac.MediaType.COG,
                roles=["data"],
                extra_fields={
                    "eo:bands": [
                        {"name": "B04", "common_name": "red"},
                        {"name": "B08", "common_name": "nir"},
                    ],
                    "raster:bands": [{"data_type": "uint16", "nodata": 0}] * 2,
                    "proj:code": CRS,
                    "proj:transform": [10.0, 0.0, 399960.0, 0.0, -10.0, 5000040.0],
                    "proj:shape": [size, size],
                },
            ),
        )
        out.append(item.to_dict())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--box", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folder = HERE / "_data" / "cube"
    paths = make_cogs(folder, args.size)
    total = sum(p.stat().st_size for p in paths)
    # A box off the tile grid: rows/cols start at 700 (tiles are 512).
    col0 = row0 = min(700, args.size - args.box)
    box = [
        399960.0 + 10 * col0,
        5000040.0 - 10 * (row0 + args.box),
        399960.0 + 10 * (col0 + args.box),
        5000040.0 - 10 * row0,
    ]
    results: dict[str, dict] = {}
    with RangeHTTPServer(folder) as server:
        items_file = folder / f"items_{args.size}.json"
        items_file.write_text(json.dumps(item_dicts(paths, server, args.size)))
        for name, runner in RUNNERS.items():
            runs = []
            for _ in range(args.repeats):
                server.reset_counters()
                code = CHILD.format(runner=textwrap.dedent(runner))
                proc = subprocess.run(
                    [sys.executable, "-c", code, str(items_file), json.dumps(box)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                run["bytes"] = server.bytes_served
                run["requests"] = len(server.requests)
                runs.append(run)
            results[name] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "bytes": statistics.median(r["bytes"] for r in runs),
                "requests": statistics.median(r["requests"] for r in runs),
                "shape": runs[0]["shape"],
                "checksum": runs[0]["checksum"],
            }
    sums = {r["checksum"] for r in results.values()}
    print(
        f"{N_ITEMS} COGs of {args.size} x {args.size} px x 2 bands over HTTP "
        f"({total / 1e6:.1f} MB in all); box {args.box} x {args.box} px; "
        f"median of {args.repeats} fresh-process runs"
    )
    print(f"same values from every method: {len(sums) == 1}")
    print(f"{'method':<22}{'time s':>9}{'MB read':>10}{'% of files':>12}{'requests':>10}")
    for name, r in results.items():
        print(
            f"{name:<22}{r['seconds']:>9.3f}{r['bytes'] / 1e6:>10.2f}"
            f"{100 * r['bytes'] / total:>12.2f}{r['requests']:>10.0f}"
        )
    ours = results["satlearn.load_cube"]
    for peer in ("odc.stac.load", "rasterio loop"):
        theirs = results[peer]
        print(
            f"satlearn / {peer}: time x{ours['seconds'] / theirs['seconds']:.2f}, "
            f"bytes x{ours['bytes'] / theirs['bytes']:.2f}"
        )


if __name__ == "__main__":
    main()
