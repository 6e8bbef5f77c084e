"""STAC search in a 10,000-item static catalogue: satlearn CatalogIndex vs pystac + a filter.

What is compared, in the same run, on the same catalogue:

* **satlearn**: ``CatalogIndex.from_catalog(path)`` once (crawl: read every JSON file
  once; then the index: STRtree of footprints, datetime arrays, property columns),
  then ``index.search(...)`` per query.
* **pystac, cold** (what a script does per query): ``pystac.Catalog.from_file`` +
  ``catalog.get_items(recursive=True)`` + a Python predicate per item (shapely
  ``intersects`` on the footprint, datetime comparison, property test). Every query
  re-reads every item file.
* **pystac, warm**: the same predicate over the items of a catalogue object whose
  links pystac has already resolved (kept in memory between queries).

Catalogue: N synthetic items (default 10,000) in 10 collections, random footprints
(0.1..1 degree squares over Europe), random datetimes over 2020-2021, properties
``eo:cloud_cover`` (absent on 1 in 7), ``platform``, ``gsd``; written by pystac as a
self-contained static catalogue in a temporary folder. Queries: random bboxes
(1..5 degrees), random datetime intervals (7..60 days), CQL2-JSON filters
(``eo:cloud_cover < x and platform in [...]``), and all three combined. Every
query's result is checked to be equal (ids, in order) across the three ways.

Latency: median and p95 over the queries, per kind. Ratio = peer / satlearn.

Run: ``python benchmarks/bench_stac_search.py [--items N] [--queries N] [--cold N]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pystac
from shapely.geometry import box, shape

from satlearn.catalog import CatalogIndex

UTC = dt.UTC
T0 = dt.datetime(2020, 1, 1, tzinfo=UTC)
PLATFORMS = ["sentinel-2a", "sentinel-2b", "landsat-8", "landsat-9"]


def write_catalogue(root: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    catalog = pystac.Catalog("bench", "synthetic items for bench_stac_search")
    collections = []
    for c in range(10):
        collection = pystac.Collection(
            f"c{c}",
            f"collection {c}",
            pystac.Extent(
                pystac.SpatialExtent([[-10, 35, 31, 61]]),
                pystac.TemporalExtent([[T0, T0 + dt.timedelta(days=731)]]),
            ),
        )
        catalog.add_child(collection)
        collections.append(collection)
    for i in range(n):
        west, south, size = rng.uniform(-10, 30), rng.uniform(35, 60), rng.uniform(0.1, 1.0)
        footprint = box(west, south, west + size, south + size)
        props: dict[str, Any] = {"platform": PLATFORMS[i % 4], "gsd": [10, 20, 30][i % 3]}
        if i % 7:
            props["eo:cloud_cover"] = round(float(rng.uniform(0, 100)), 1)
        item = pystac.Item(
            f"item-{i:06d}",
            json.loads(json.dumps(footprint.__geo_interface__)),
            list(footprint.bounds),
            T0 + dt.timedelta(seconds=int(rng.integers(0, 731 * 86400))),
            props,
        )
        collections[i % 10].add_item(item)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def make_queries(kind: str, count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        query: dict[str, Any] = {}
        if kind in ("bbox", "combined"):
            w, s, size = rng.uniform(-10, 28), rng.uniform(35, 58), rng.uniform(1, 5)
            query["bbox"] = [w, s, w + size, s + size]
        if kind in ("datetime", "combined"):
            start = T0 + dt.timedelta(days=int(rng.integers(0, 700)))
            end = start + dt.timedelta(days=int(rng.integers(7, 60)))
            query["datetime"] = (start, end)
        if kind in ("filter", "combined"):
            limit = float(rng.uniform(5, 60))
            platforms = list(rng.choice(PLATFORMS, 2, replace=False))
            query["filter"] = {
                "op": "and",
                "args": [
                    {"op": "<", "args": [{"property": "eo:cloud_cover"}, limit]},
                    {"op": "in", "args": [{"property": "platform"}, platforms]},
                ],
            }
            query["_predicate"] = (limit, set(platforms))
        out.append(query)
    return out


def predicate(query: dict[str, Any]) -> Callable[[pystac.Item], bool]:
    """What a user writes by hand for one query."""
    aoi = box(*query["bbox"]) if "bbox" in query else None
    interval = query.get("datetime")
    props = query.get("_predicate")

    def keep(item: pystac.Item) -> bool:
        if interval is not None and not interval[0] <= item.datetime <= interval[1]:
            return False
        if props is not None:
            cloud = item.properties.get("eo:cloud_cover")
            if cloud is None or cloud >= props[0] or item.properties["platform"] not in props[1]:
                return False
        return aoi is None or shape(item.geometry).intersects(aoi)

    return keep


def ordered_ids(items) -> list[str]:
    return [it.id for it in sorted(items, key=lambda it: (it.datetime, it.id))]


def stats(times: list[float]) -> tuple[float, float]:
    return float(np.median(times)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=50, help="per kind, satlearn and warm")
    parser.add_argument("--cold", type=int, default=3, help="per kind, pystac cold")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        href = write_catalogue(Path(tmp) / "catalog", args.items)
        print(
            f"catalogue: {args.items} items written by pystac "
            f"in {time.perf_counter() - start:.1f} s"
        )

        start = time.perf_counter()
        index = CatalogIndex.from_catalog(href)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        CatalogIndex.from_items(index.items)
        in_memory_s = time.perf_counter() - start
        print(
            f"satlearn CatalogIndex.from_catalog (crawl + index): {build_s:.2f} s; "
            f"index alone (from_items): {in_memory_s:.2f} s"
        )

        warm_catalog = pystac.Catalog.from_file(str(href))
        start = time.perf_counter()
        warm_items = list(warm_catalog.get_items(recursive=True))
        print(
            "pystac get_items(recursive=True), first (cold) pass: "
            f"{time.perf_counter() - start:.2f} s"
        )

        rows = []
        for k, kind in enumerate(("bbox", "datetime", "filter", "combined")):
            queries = make_queries(kind, args.queries, seed=100 + k)
            ours, warm, cold = [], [], []
            matched = []
            for q in queries:
                call = {key: v for key, v in q.items() if not key.startswith("_")}
                t = time.perf_counter()
                found = [it.id for it in index.search(**call)]
                ours.append(time.perf_counter() - t)
                keep = predicate(q)
                t = time.perf_counter()
                expected = ordered_ids(it for it in warm_items if keep(it))
                warm.append(time.perf_counter() - t)
                if found != expected:
                    raise SystemExit(f"{kind} query {call}: satlearn and pystac disagree")
                matched.append(len(found))
            for q in queries[: args.cold]:
                keep = predicate(q)
                t = time.perf_counter()
                catalog = pystac.Catalog.from_file(str(href))
                expected = ordered_ids(it for it in catalog.get_items(recursive=True) if keep(it))
                cold.append(time.perf_counter() - t)
                call = {key: v for key, v in q.items() if not key.startswith("_")}
                if [it.id for it in index.search(**call)] != expected:
                    raise SystemExit(f"{kind} query {call}: satlearn and cold pystac disagree")
            rows.append((kind, float(np.mean(matched)), stats(ours), stats(warm), stats(cold)))

    print()
    print(
        f"| query ({args.items} items) | mean hits | satlearn median / p95 (ms) "
        "| pystac warm median / p95 (ms) | pystac cold median (s) "
        "| warm / satlearn | cold / satlearn |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind, hits, (om, op), (wm, wp), (cm, _) in rows:
        print(
            f"| {kind} | {hits:.0f} | {om * 1e3:.2f} / {op * 1e3:.2f} "
            f"| {wm * 1e3:.1f} / {wp * 1e3:.1f} | {cm:.2f} | {wm / om:.0f}x | {cm / om:.0f}x |"
        )


if __name__ == "__main__":
    main()
