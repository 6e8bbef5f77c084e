"""The measured inputs of docs/scaling.md: MGRS tiles over France, memory and tasks per chunk.

Three parts, each a few seconds, nothing downloaded:

* ``tiles``: the Sentinel-2 tiles over metropolitan France, counted on the
  Natural Earth 1:110m outline in pyogrio's test data. For each UTM zone 30,
  31, 32, the 100 km squares (multiples of 100 km in the zone's UTM CRS) that
  (a) meet France inside the zone's 6 degree strip, (b) meet the strip and
  whose 109.8 km tile (the square widened 9.76 km east and south) meets France
  inside the strip, (c) meet the strip and whose tile meets France anywhere.
* ``memory``: peak bytes per element of ``fused_median`` on a ``(dates,
  bands, px, px)`` uint16 block (``tracemalloc``, which numpy reports its
  buffers to), with and without an SCL band, and its throughput; then the
  peak RSS of a whole lazy composite (73 dates x 7 bands, a block over every
  date per chunk) computed one task at a time, in a fresh process.
* ``tasks``: tasks (after ``dask.optimize``) of tests/test_task_counts.py's
  tile-year graph at several chunk sizes, with a date per chunk and with
  every date of a block in one chunk, built for 4 and 8 dates and
  extrapolated linearly in dates (the counts are exactly linear in dates).

Run: ``python benchmarks/plan_scaling.py [tiles] [memory] [tasks]`` (all three
by default).
"""

from __future__ import annotations

import importlib.util
import math
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TILE_PX = 10980


def tiles() -> None:
    import pyogrio
    import shapely
    from pyproj import Transformer
    from shapely.geometry import box

    shp = Path(pyogrio.__file__).parent / "tests/fixtures/naturalearth_lowres"
    shp = shp / "naturalearth_lowres.shp"
    world = pyogrio.read_dataframe(shp)
    france = world[world["name"] == "France"].geometry.iloc[0]
    metro = shapely.intersection(france, box(-6, 41, 10, 52))  # French Guiana left out
    laea = Transformer.from_crs(4326, 3035, always_xy=True)
    area = shapely.transform(metro, lambda xy: np.column_stack(laea.transform(*xy.T))).area
    print(f"metropolitan France (Natural Earth 1:110m): {area / 1e6:,.0f} km2 in EPSG:3035")
    found: dict[str, set[tuple[int, int, int]]] = {"a": set(), "b": set(), "c": set()}
    for zone in (30, 31, 32):
        lon0 = -183 + 6 * zone
        utm = Transformer.from_crs(4326, 32600 + zone, always_xy=True)

        def to_utm(geom: shapely.Geometry, t: Transformer = utm) -> shapely.Geometry:
            # Densified first: a strip's meridians and the coast curve in UTM.
            dense = shapely.segmentize(geom, 0.05)
            return shapely.transform(dense, lambda xy: np.column_stack(t.transform(*xy.T)))

        strip = to_utm(box(lon0 - 3, 40, lon0 + 3, 56))
        country = to_utm(metro)
        inside = shapely.intersection(country, strip)
        for e0 in range(0, 1_000_000, 100_000):
            for n0 in range(4_400_000, 5_800_000, 100_000):
                square = box(e0, n0, e0 + 100_000, n0 + 100_000)
                if not square.intersects(strip):
                    continue  # no tile of this zone there
                tile = box(e0 - 40, n0 - 9_760, e0 + 109_760, n0 + 100_040)
                if square.intersects(inside):
                    found["a"].add((zone, e0, n0))
                if tile.intersects(inside):
                    found["b"].add((zone, e0, n0))
                if tile.intersects(country):
                    found["c"].add((zone, e0, n0))
    for key, label in (("a", "squares holding France in their zone"),
                       ("b", "tiles reaching France in their zone"),
                       ("c", "tiles reaching France anywhere")):  # fmt: skip
        per_zone = Counter(z for z, _, _ in found[key])
        print(f"({key}) {label}: {len(found[key])} ({dict(sorted(per_zone.items()))})")


def memory() -> None:
    # End to end first, in a fresh process: a lazy cube laid out as `satlearn composite`
    # loads it (a band's block over every date per chunk). First, because a child's
    # ru_maxrss starts from its parent's at the fork.
    child = subprocess.run([sys.executable, __file__, "_cube", "256"], capture_output=True,
                           text=True, check=True)  # fmt: skip
    print(child.stdout.strip())
    from satlearn.ops.composite import fused_median

    rng = np.random.default_rng(0)
    for dates, bands, px, scl in ((73, 7, 128, None), (73, 7, 128, 6), (73, 7, 256, 6)):
        block = rng.integers(1, 10_000, size=(dates, bands, px, px), dtype=np.uint16)
        if scl is not None:  # clear (4, 5) and cloudy (8, 9) classes
            classes = np.array([4, 5, 8, 9], dtype=np.uint16)
            block[:, scl] = rng.choice(classes, size=(dates, px, px))
        tracemalloc.start()
        started = time.perf_counter()
        fused_median(block, out_dtype=np.float32, nodata=0.0, method=None, scl=scl)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"kernel, {dates} dates x {bands} bands x {px}^2 px, scl={scl}: peak "
              f"{peak / 2**20:.0f} MiB above the {block.nbytes / 2**20:.0f} MiB block = "
              f"{peak / block.size:.1f} B an element; "
              f"{dates * px * px / seconds / 1e6:.2f} Mpx-dates/s")  # fmt: skip


def _cube(px: int) -> None:
    import dask
    import dask.array as dsa
    import xarray as xr

    from satlearn.ops.composite import median_composite

    dates, size = 73, 512
    names = ["blue", "green", "red", "nir", "swir16", "swir22", "scl"]
    rng = dsa.random.default_rng(0)
    chunks = (-1, 1, px, px)
    refl = rng.integers(1, 10_000, size=(dates, 6, size, size), dtype=np.uint16, chunks=chunks)
    classes = np.array([4, 5, 8, 9], dtype=np.uint16)
    scl = rng.choice(classes, size=(dates, 1, size, size), chunks=chunks)
    coords = {"time": np.arange(dates), "band": names,
              "y": np.arange(size)[::-1] * 10.0, "x": np.arange(size) * 10.0}  # fmt: skip
    cube = xr.DataArray(dsa.concatenate([refl, scl], axis=1), dims=("time", "band", "y", "x"),
                        coords=coords)  # fmt: skip
    cube = cube.rio.write_crs("EPSG:32631").rio.write_nodata(0)
    result = median_composite(cube, cloud_mask="scl")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with dask.config.set(scheduler="synchronous"):  # one task at a time
        result.compute()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per = (after - before) * 1024 / (dates * len(names) * px * px)
    print(f"cube, {dates} dates x {len(names)} bands, chunk {px} px, scl: peak RSS "
          f"{before / 1024:.0f} -> {after / 1024:.0f} MiB, {per:.1f} B an element "
          "of a block")  # fmt: skip


def tasks(chunks: tuple[int, ...] = (2048, 1024, 512, 256)) -> None:
    import rasterio
    from rasterio.transform import from_origin

    spec = importlib.util.spec_from_file_location(
        "task_counts", HERE.parent / "tests" / "test_task_counts.py"
    )
    assert spec is not None and spec.loader is not None
    counts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(counts)
    with tempfile.TemporaryDirectory() as folder:
        placeholder = str(Path(folder) / "placeholder.tif")
        with rasterio.open(placeholder, "w", driver="GTiff", width=1, height=1, count=1,
                           dtype="uint16", crs="EPSG:32631",
                           transform=from_origin(399960, 5000040, 10, 10)):  # fmt: skip
            pass
        for px in chunks:
            blocks = math.ceil(TILE_PX / px) ** 2
            # A date per chunk (the cube's default), then every date of a block in one
            # chunk (what `satlearn composite` loads).
            for layout, chunking in (
                ("a date a chunk", px),
                ("all dates", {"x": px, "y": px, "time": -1}),
            ):
                if layout == "a date a chunk" and px < 512:
                    continue  # ~2M tasks: slow to build, and no better
                few, more = (counts.tile_tasks(n, placeholder, chunking) for n in (4, 8))
                per_date = (more - few) / 4
                year = {d: few + per_date * (d - 4) for d in (73, 146)}
                print(f"chunk {px} px, {layout}: {blocks} blocks, {per_date:,.0f} tasks a "
                      f"date; tile-year {year[73]:,.0f} tasks (73 dates), "
                      f"{year[146]:,.0f} (146)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["_cube"]:
        _cube(int(sys.argv[2]))
        sys.exit()
    parts = sys.argv[1:] or ["tiles", "memory", "tasks"]
    for part in parts:
        print(f"# {part}")
        {"tiles": tiles, "memory": memory, "tasks": tasks}[part]()
