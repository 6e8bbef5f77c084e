"""OSM extracts: satlearn's reader (osmium) against GDAL's OSM driver, and the whole labelling.

The extract: a synthetic town written once through ``osmium.SimpleWriter`` to
``benchmarks/_data/`` as ``.osm.pbf`` (uncompressed blocks, which GDAL's
driver reads; see ``write_town``): a ``--blocks`` x ``--blocks`` (40) grid of
street blocks 100 m apart, each with 6 rectangular buildings (closed ways),
``highway=residential`` streets between them (one way per block edge), and one
lake with an island (a multipolygon relation), around 52.5 N 13.4 E.

Measured in turns (the order alternating each round), median of ``--repeats``:

* ``satlearn read``: :func:`satlearn.prep.osm.read_osm` with the keys of the
  default classes (osmium's ``FileProcessor`` with node locations, its area
  assembler and a ``KeyFilter``), to lon/lat GeoJSON features;
* ``GDAL read``: GDAL's OSM driver through ``pyogrio.raw.read`` of the
  ``multipolygons`` and ``lines`` layers (WKB, the tags GDAL's default
  ``osmconf.ini`` keeps), the peer a GDAL user reaches for;
* ``satlearn labels``: :func:`satlearn.prep.osm.osm_targets` end to end
  (read, reproject to UTM 33N, buffer the streets, clip, rasterise classes
  and building instance ids) on a 1 m grid over the town.

Both readers return every building, street and the lake (counts checked).
The machine's load average is recorded before and after.

Run: ``.venv/bin/python benchmarks/bench_osm.py [--blocks 40] [--repeats 3]
[--json out.json]`` (about 1 minute with the defaults on the 2-core VM under
load; the first run also writes the extract, a few seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data"
LON0, LAT0 = 13.4, 52.5
M_LAT = 1 / 111_320.0
M_LON = 1 / (111_320.0 * np.cos(np.radians(LAT0)))


def write_town(path: Path, blocks: int) -> dict[str, int]:
    """The synthetic town's PBF; returns the feature counts it holds."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    if path.exists():
        path.unlink()
    # Uncompressed blocks: GDAL's OSM driver (3.x here) fails on the zlib blocks
    # libosmium writes once a file holds more than one ("An error occurred during
    # the parsing of data around byte N") and reads lz4 blocks as empty.
    writer = osmium.SimpleWriter(osmium.io.File(str(path), "pbf,pbf_compression=none"))
    nid = wid = 0
    ways: list[tuple[int, list[int], dict[str, str]]] = []

    def node(x_m: float, y_m: float) -> int:
        nonlocal nid
        nid += 1
        writer.add_node(Node(id=nid, location=(LON0 + x_m * M_LON, LAT0 + y_m * M_LAT), version=1))
        return nid

    def way(refs: list[int], tags: dict[str, str]) -> int:
        nonlocal wid
        wid += 1
        ways.append((wid, refs, tags))
        return wid

    def rect(x0: float, y0: float, x1: float, y1: float, tags: dict[str, str]) -> int:
        refs = [node(x0, y0), node(x1, y0), node(x1, y1), node(x0, y1)]
        return way([*refs, refs[0]], tags)

    corners = np.empty((blocks + 1, blocks + 1), dtype=np.int64)
    for i in range(blocks + 1):
        for j in range(blocks + 1):
            corners[i, j] = node(100.0 * j, 100.0 * i)
    streets = buildings = 0
    for i in range(blocks + 1):
        for j in range(blocks):
            way([int(corners[i, j]), int(corners[i, j + 1])], {"highway": "residential"})
            way([int(corners[j, i]), int(corners[j + 1, i])], {"highway": "residential"})
            streets += 2
    for i in range(blocks):
        for j in range(blocks):
            for k in range(6):
                x0 = 100.0 * j + 12 + 27 * (k % 3)
                y0 = 100.0 * i + 12 + 42 * (k // 3)
                rect(x0, y0, x0 + 20, y0 + 30, {"building": "yes"})
                buildings += 1
    size = 100.0 * blocks
    outer = rect(size + 50, 0, size + 450, 400, {})
    inner = rect(size + 200, 150, size + 300, 250, {})
    for i, refs, tags in ways:
        writer.add_way(Way(id=i, nodes=refs, tags=tags, version=1))
    members = [("w", outer, "outer"), ("w", inner, "inner")]
    writer.add_relation(
        Relation(id=1, members=members, tags={"type": "multipolygon", "natural": "water"},
                 version=1)
    )  # fmt: skip
    writer.close()
    return {"buildings": buildings, "streets": streets, "lakes": 1, "nodes": nid}


def satlearn_read(path: Path) -> int:
    from satlearn.prep.osm import load_classes, read_osm

    return len(read_osm(path, keys=load_classes(None).keys).features)


def gdal_read(path: Path) -> int:
    import pyogrio.raw

    total = 0
    for layer in ("multipolygons", "lines"):
        _meta, _fids, wkb, _fields = pyogrio.raw.read(path, layer=layer)
        total += len(wkb)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import xarray as xr
    from affine import Affine
    from rasterio.warp import transform as warp

    from satlearn.prep.osm import osm_targets

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"osm_town_{args.blocks}.osm.pbf"
    counts = write_town(path, args.blocks)
    size_m = 100 * args.blocks + 500
    # 60 m of margin: the UTM grid is turned ~1.2 degrees from lon/lat here.
    (x0,), (y0,) = warp(
        "EPSG:4326", "EPSG:32633", [LON0 - 60 * M_LON], [LAT0 + (size_m + 60) * M_LAT]
    )
    side = int(size_m + 120)
    grid = xr.DataArray(
        np.zeros((1, side, side), np.uint8), dims=("band", "y", "x"),
        coords={"band": ["b"], "y": y0 - 0.5 - np.arange(side), "x": x0 + 0.5 + np.arange(side)},
    ).rio.write_crs("EPSG:32633").rio.write_transform(Affine(1, 0, x0, 0, -1, y0))  # fmt: skip

    load_before = os.getloadavg()
    times: dict[str, list[float]] = {"satlearn read": [], "GDAL read": [], "satlearn labels": []}
    found: dict[str, int] = {}
    for r in range(args.repeats):
        order = ["satlearn read", "GDAL read"]
        if r % 2:
            order.reverse()
        for name in [*order, "satlearn labels"]:
            start = time.perf_counter()
            if name == "satlearn read":
                found[name] = satlearn_read(path)
            elif name == "GDAL read":
                found[name] = gdal_read(path)
            else:
                targets = osm_targets(path, grid)
                found[name] = sum(targets.counts.values())
            times[name].append(time.perf_counter() - start)
    load_after = os.getloadavg()
    expected = counts["buildings"] + counts["streets"] + counts["lakes"]
    result = {
        "extract": {**counts, "bytes": path.stat().st_size},
        "grid_px": side * side,
        "features_found": found,
        "features_expected": expected,
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "all_s": times,
        "load_average": {"before": load_before, "after": load_after},
    }
    med = result["median_s"]
    print(json.dumps(result, indent=2))
    print(
        f"read: satlearn {med['satlearn read']:.2f} s, GDAL {med['GDAL read']:.2f} s "
        f"({med['GDAL read'] / med['satlearn read']:.2f}x); labels end to end "
        f"{med['satlearn labels']:.2f} s on {side} x {side} px"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
