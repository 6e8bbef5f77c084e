"""Map tiles from a COG: satlearn's tile server (no cache, warm cache) against TiTiler.

Three servers, each one uvicorn process on 127.0.0.1 with its defaults, started
side by side and measured in turns (the order rotating each round):

* ``satlearn``: :func:`satlearn.view._tiles.create_tiles_router` over a
  one-item catalogue, its tile cache off (``cache_mb=0``);
* ``satlearn-cached``: the same with a 256 MiB cache, warmed by one pass over
  the tiles before it is measured;
* ``titiler``: TiTiler's ``TilerFactory`` (``titiler.core``, installed for this
  benchmark only into ``.cache/titiler-venv``), serving the same COG.

The COG: 4096 x 4096 x 4 bands uint16 (smooth fields plus noise, deflate,
512 px blocks, overviews to 256 px), UTM 33N at 10 m, made once under
``benchmarks/_data/``. Tiles are PNG, RGB from bands 3, 2, 1, with an explicit
``rescale=0,4000`` for both servers (so neither computes statistics), at the
COG's native zoom (full resolution) and two zooms above (read from the 4x
overview). Every request asks for another tile, drawn from the tiles that lie
wholly inside the image, in the same order for every server.

The load generator (this process: a minimal asyncio HTTP/1.1 keep-alive
client, ~10x less CPU per request than httpx) keeps ``concurrency`` requests
in flight until ``--requests`` are answered, for concurrency 1 and 8. It
records tiles/s, p50 and p99 latency, non-200 answers, the server process's
CPU ms per tile (/proc) and the machine's load average. Each figure is the
median of ``--repeats`` rounds. One tile of each server is decoded and compared
first (same pixels?).

Run: ``.venv/bin/python benchmarks/bench_tiles.py [--requests 32] [--repeats 2]
[--json out.json]`` (212 s with ``--requests 40`` on the 2-core machine at load
average 13; the default 32 and a quieter machine take less. The first run also
makes the COG, ~20 s, and TiTiler's venv, ~1 minute).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np

from satlearn.testing.process import free_port, start_server, stop_process

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "_data"
COG = DATA / "tiles_4096x4096x4_uint16.tif"
TITILER_HOME = ROOT / ".cache" / "titiler-venv"
TITILER_SPEC = ["titiler.core", "uvicorn"]
SIZE = 4096
BANDS = ["blue", "green", "red", "nir"]
QUERY_SATLEARN = "bands=3,2,1&rescale=0,4000"
QUERY_TITILER = "bidx=3&bidx=2&bidx=1&rescale=0,4000"

TITILER_APP = """
import sys
import uvicorn
from fastapi import FastAPI
from titiler.core.factory import TilerFactory

app = FastAPI()
app.include_router(TilerFactory().router, prefix="/cog")


@app.get("/ready")
def ready():
    return {"ok": True}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


# -- data and servers ---------------------------------------------------------------------------


def make_cog() -> Path:
    """The 4096^2 4-band uint16 COG with overviews (made once)."""
    import rasterio
    from affine import Affine

    if COG.is_file():
        return COG
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    partial = COG.with_suffix(".partial.tif")
    with rasterio.open(
        partial, "w", driver="COG", width=SIZE, height=SIZE, count=4, dtype="uint16",
        crs="EPSG:32633", transform=Affine(10.0, 0, 500000.0, 0, -10.0, 5000000.0),
        nodata=0, blocksize=512, compress="deflate", overview_resampling="average",
    ) as dst:  # fmt: skip
        for k in range(4):
            field = np.sin(2 * np.pi * (xx * (k + 3) + yy)) + np.cos(2 * np.pi * yy * (k + 5))
            band = 2000 + 800 * field + rng.normal(0, 60, field.shape).astype(np.float32)
            dst.write(np.clip(band, 200, 4000).astype(np.uint16), k + 1)
            dst.set_band_description(k + 1, BANDS[k])
    partial.rename(COG)
    return COG


def titiler_python() -> Path:
    """The python of a venv with TiTiler (made once, under .cache/)."""
    python = TITILER_HOME / "bin" / "python"
    done = TITILER_HOME / "installed.txt"
    if done.is_file() and python.is_file():
        return python
    venv.EnvBuilder(clear=True, with_pip=True).create(TITILER_HOME)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *TITILER_SPEC],
        check=True, timeout=600,
    )  # fmt: skip
    done.write_text(" ".join(TITILER_SPEC))
    return python


def serve_satlearn(port: int, cache_mb: int) -> None:
    """(In a child process.) uvicorn with the tile router over a one-item catalogue."""
    import datetime as dt

    import pystac
    import rasterio
    import uvicorn
    from fastapi import FastAPI
    from rasterio.warp import transform_bounds

    from satlearn.catalog import CatalogIndex
    from satlearn.view._tiles import create_tiles_router

    with rasterio.open(COG) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    w, s, e, n = bbox
    item = pystac.Item(
        "scene", {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        bbox, dt.datetime(2024, 6, 1, tzinfo=dt.UTC), {}, collection="bench",
    )  # fmt: skip
    item.add_asset("image", pystac.Asset(str(COG), media_type=pystac.MediaType.COG))
    app = FastAPI()
    router = create_tiles_router(CatalogIndex.from_items([item]), cache_mb=cache_mb)
    app.include_router(router, prefix="/tiles")

    @app.get("/ready")
    def ready() -> dict:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- tiles and load -----------------------------------------------------------------------------


def tile_lists(requests: int) -> dict[str, list[tuple[int, int, int]]]:
    """Tiles wholly inside the COG at its native zoom and two zooms above, shuffled."""
    import morecantile
    from rio_tiler.io import Reader

    tms = morecantile.tms.get("WebMercatorQuad")
    with Reader(str(COG)) as reader:
        native = int(reader.maxzoom)
        west, south, east, north = reader.get_geographic_bounds("EPSG:4326")
    rng = np.random.default_rng(1)
    out = {}
    for label, z in (("full resolution", native), ("overview (z-2)", native - 2)):
        tiles = [
            (t.z, t.x, t.y)
            for t in tms.tiles(west, south, east, north, [z])
            if _inside(tms.bounds(t), (west, south, east, north))
        ]
        order = rng.permutation(len(tiles))
        picked = [tiles[i] for i in order]
        out[f"{label} z{z}"] = (picked * (requests // max(1, len(picked)) + 1))[:requests]
    return out


def _inside(b, outer) -> bool:
    return b.left >= outer[0] and b.bottom >= outer[1] and b.right <= outer[2] and b.top <= outer[3]


async def raw_load(host: str, port: int, paths: list[str], concurrency: int) -> dict:
    """GET every path once, ``concurrency`` keep-alive connections in flight."""
    latencies: list[float] = []
    failures: dict[int, int] = {}
    queue = list(reversed(paths))

    async def one(reader, writer, path: str) -> int:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]

    async def worker(reader, writer) -> None:
        while queue:
            path = queue.pop()
            started = time.perf_counter()
            status = await one(reader, writer, path)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures[status] = failures.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    ms = np.array(latencies) * 1e3
    return {
        "tiles_per_s": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "failures": failures,
    }


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tile_path(kind: str, z: int, x: int, y: int) -> str:
    if kind == "titiler":
        return f"/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={COG}&{QUERY_TITILER}"
    return f"/tiles/bench/scene/image/{z}/{x}/{y}.png?{QUERY_SATLEARN}"


def same_pixels(servers: dict, tile: tuple[int, int, int]) -> bool:
    import httpx
    from PIL import Image

    images = []
    for kind, (port, _) in servers.items():
        body = httpx.get(f"http://127.0.0.1:{port}{tile_path(kind, *tile)}", timeout=60).content
        images.append(np.asarray(Image.open(io.BytesIO(body)).convert("RGBA")))
    return all(np.array_equal(images[0], other) for other in images[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32, help="tiles per measurement")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve-satlearn", nargs=2, type=int, metavar=("PORT", "CACHE_MB"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.serve_satlearn:
        serve_satlearn(*args.serve_satlearn)
        return
    t0 = time.perf_counter()
    make_cog()
    python = titiler_python()
    logs = ROOT / ".cache"
    script = logs / "bench_tiles_titiler_app.py"
    script.write_text(TITILER_APP)
    ports = {k: free_port() for k in ("satlearn", "satlearn-cached", "titiler")}
    me = [sys.executable, str(Path(__file__).resolve()), "--serve-satlearn"]
    commands = {
        "satlearn": [*me, str(ports["satlearn"]), "0"],
        "satlearn-cached": [*me, str(ports["satlearn-cached"]), "256"],
        "titiler": [str(python), str(script), str(ports["titiler"])],
    }
    servers = {}
    try:
        for kind, command in commands.items():
            process = start_server(
                command,
                ready_url=f"http://127.0.0.1:{ports[kind]}/ready",
                log=logs / f"bench_tiles_{kind}.log",
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            servers[kind] = (ports[kind], process)
        lists = tile_lists(args.requests)
        first = next(iter(lists.values()))[0]
        print(f"same pixels from the three servers for tile {first}: {same_pixels(servers, first)}")
        # Warm every server once (imports, GDAL's first opens), and fill satlearn's cache.
        for kind, (port, _) in servers.items():
            for tiles in lists.values():
                paths = [tile_path(kind, *t) for t in tiles]
                if kind != "satlearn-cached":
                    paths = paths[:8]
                asyncio.run(raw_load("127.0.0.1", port, paths, 8))
        rows: dict[tuple[str, str, int], list[dict]] = {}
        kinds = list(servers)
        for round_ in range(args.repeats):
            order = kinds[round_ % 3 :] + kinds[: round_ % 3]
            for label, tiles in lists.items():
                for concurrency in (1, 8):
                    for kind in order:
                        port, process = servers[kind]
                        paths = [tile_path(kind, *t) for t in tiles]
                        before = cpu_s(process.pid)
                        result = asyncio.run(raw_load("127.0.0.1", port, paths, concurrency))
                        result["cpu_ms_per_tile"] = (cpu_s(process.pid) - before) / len(paths) * 1e3
                        result["load_average"] = os.getloadavg()[0]
                        rows.setdefault((label, kind, concurrency), []).append(result)
    finally:
        for _, process in servers.values():
            stop_process(process)
    table = []
    for (label, kind, concurrency), results in rows.items():
        med = {
            key: statistics.median(r[key] for r in results)
            for key in ("tiles_per_s", "p50_ms", "p99_ms", "cpu_ms_per_tile", "load_average")
        }
        fails = sum(sum(r["failures"].values()) for r in results)
        table.append({"zoom": label, "server": kind, "concurrency": concurrency, **med,
                      "failures": fails})  # fmt: skip
    print(f"\n{os.cpu_count()} CPUs; {args.requests} tiles per run, median of {args.repeats}")
    print(f"{'zoom':<26}{'server':<17}{'c':>3}{'tiles/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'CPU ms':>8}{'load':>6}{'fail':>5}")  # fmt: skip
    for row in sorted(table, key=lambda r: (r["zoom"], r["concurrency"], r["server"])):
        print(
            f"{row['zoom']:<26}{row['server']:<17}{row['concurrency']:>3}"
            f"{row['tiles_per_s']:>9.1f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['cpu_ms_per_tile']:>8.1f}{row['load_average']:>6.1f}{row['failures']:>5}"
        )
    print("\nratios to TiTiler (tiles/s):")
    by = {(r["zoom"], r["server"], r["concurrency"]): r for r in table}
    for label in lists:
        for concurrency in (1, 8):
            peer = by[(label, "titiler", concurrency)]["tiles_per_s"]
            plain = by[(label, "satlearn", concurrency)]["tiles_per_s"] / peer
            cached = by[(label, "satlearn-cached", concurrency)]["tiles_per_s"] / peer
            print(f"  {label:<26} c={concurrency}: no cache {plain:.2f}x, warm cache "
                  f"{cached:.1f}x")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
