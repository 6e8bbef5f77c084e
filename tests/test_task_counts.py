"""Task counts of the pipeline cube -> cloud mask -> median composite -> index.

Counted after ``dask.optimize`` (what the scheduler receives), never run. The
cube is chunked as a STAC cube is (one date per chunk, all bands together).
Measured on this synthetic cube (2026-12, dask 2026.8): before the fused
kernel of ``median_composite`` about 8 + 6 x dates tasks per output chunk
(127 for 4 dates x 4 chunks); with it, dates + 6 (40 for 4 dates x 4
chunks): the cube's own chunk per date, one gather of the dates, one kernel
(nodata, rules mask of every date, where, median), the index.

The last test builds a Sentinel-2 tile-year's graph from a STAC catalogue
(odc-stac's cube: there each band is a file, read per (date, band, block))
without reading a pixel, and checks it stays under 100k tasks.
"""

from __future__ import annotations

import math

import dask
import numpy as np
import pytest

from satlearn.ops.clouds import RULES_BANDS
from satlearn.ops.composite import median_composite
from satlearn.ops.indices import compute_index
from satlearn.synth import make_scene

# Tasks per (output chunk x (dates + 1)): 6.6 at most before the fusion, 2 after
# (40 / (4 x 5)); 8 leaves room for dask's own changes without hiding a per-band or
# per-step blow-up (one more task per band would add 13 per date-chunk).
K = 8


@pytest.fixture(scope="module")
def scenes():
    return {n: make_scene(256, seed=1, n_dates=n, ships=False) for n in (2, 4)}


def pipeline_tasks(scene, px: int, bands=None) -> tuple[int, int]:
    image = scene.image if bands is None else scene.image.sel(band=bands)
    cube = image.chunk({"time": 1, "band": -1, "y": px, "x": px})
    ndvi = compute_index(median_composite(cube, cloud_mask="rules"), "ndvi")
    (optimised,) = dask.optimize(ndvi.data)
    return len(optimised.__dask_graph__()), int(np.prod(ndvi.data.numblocks))


@pytest.mark.parametrize("dates", [2, 4])
@pytest.mark.parametrize("px", [128, 64])
def test_tasks_grow_with_output_chunks_not_bands_or_steps(scenes, dates, px):
    tasks, chunks = pipeline_tasks(scenes[dates], px)
    assert tasks <= K * chunks * (dates + 1), (tasks, chunks)


def test_tasks_are_linear_in_output_chunks(scenes):
    few, n_few = pipeline_tasks(scenes[2], 128)
    many, n_many = pipeline_tasks(scenes[2], 64)
    assert n_many == 4 * n_few
    # Linear (a constant few tasks aside), never quadratic.
    assert many <= 4 * few + 8


def test_tasks_hardly_depend_on_the_number_of_bands(scenes):
    seven, _ = pipeline_tasks(scenes[4], 128, bands=list(RULES_BANDS))
    thirteen, _ = pipeline_tasks(scenes[4], 128)
    # 6 more bands: far less than one more task per band per date-chunk (6 x 4 x 4 = 96).
    assert thirteen - seven < 6 * 4 * 4 / 2, (seven, thirteen)


def test_the_fused_composite_costs_one_task_per_date_chunk_and_a_few_per_output_chunk(scenes):
    for dates in (2, 4):
        tasks, chunks = pipeline_tasks(scenes[dates], 128)
        # the cube's chunk of each date, then a constant few per output chunk
        assert tasks <= chunks * (dates + 6), (dates, tasks, chunks)


# --------------------------------------------------------------------------- tile-year

S2_BANDS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
            "B12": "swir22", "B10": "cirrus"}  # fmt: skip
TILE_PX, TILE_CHUNK_PX, TILE_DATES = 10980, 2048, 73


def _tile_items(n_dates: int, placeholder: str) -> list:
    """A Sentinel-2 tile's items (one COG per band, 10980^2 px), all naming ``placeholder``."""
    import datetime as dt

    import pystac

    start = dt.datetime(2025, 1, 1, 10, 30, tzinfo=dt.UTC)
    ring = [[1.5, 44.0], [3.0, 44.0], [3.0, 45.0], [1.5, 45.0], [1.5, 44.0]]
    items = []
    for d in range(n_dates):
        item = pystac.Item(
            f"T31TDK_{d:03d}", geometry={"type": "Polygon", "coordinates": [ring]},
            bbox=[1.5, 44.0, 3.0, 45.0], datetime=start + dt.timedelta(days=5 * d),
            properties={"platform": "sentinel-2a"},
        )  # fmt: skip
        for key, name in S2_BANDS.items():
            extra = {
                "eo:bands": [{"name": key, "common_name": name}],
                "proj:code": "EPSG:32631",
                "proj:shape": [TILE_PX, TILE_PX],
                "proj:transform": [10, 0, 399960, 0, -10, 5000040],
                "raster:bands": [{"data_type": "uint16", "nodata": 0, "scale": 0.0001}],
            }
            item.add_asset(key, pystac.Asset(placeholder, media_type=pystac.MediaType.COG,
                                             roles=["data"], extra_fields=extra))  # fmt: skip
        items.append(item)
    return items


def tile_tasks(n_dates: int, placeholder: str, chunks: object = TILE_CHUNK_PX) -> int:
    """Tasks (after dask.optimize) of the pipeline over ``n_dates`` dates of one tile."""
    from satlearn.cube import load_cube

    cube = load_cube(_tile_items(n_dates, placeholder), bands=list(S2_BANDS.values()),
                     chunks=chunks)  # fmt: skip
    out = compute_index(median_composite(cube, cloud_mask="rules"), "ndvi")
    (optimised,) = dask.optimize(out.data)
    return len(optimised.__dask_graph__())


@pytest.fixture(scope="module")
def placeholder(tmp_path_factory) -> str:
    """One tiny GeoTIFF that every asset names: the loader checks that local assets
    exist; no pixel of it is ever read."""
    import rasterio
    from rasterio.transform import from_origin

    path = str(tmp_path_factory.mktemp("tile") / "placeholder.tif")
    with rasterio.open(path, "w", driver="GTiff", width=1, height=1, count=1,
                       dtype="uint16", crs="EPSG:32631",
                       transform=from_origin(399960, 5000040, 10, 10)):  # fmt: skip
        pass
    return path


def test_a_sentinel2_tile_year_graph_stays_under_100k_tasks(placeholder):
    # Built for 2, 4 and 6 dates (a 73-date graph takes ~15 s to build here):
    # the count is exactly linear in dates, so the tile-year's is extrapolated.
    two, four, six = (tile_tasks(n, placeholder) for n in (2, 4, 6))
    per_date = (six - four) / 2
    assert four - two == six - four, (two, four, six)
    year = four + per_date * (TILE_DATES - 4)
    blocks = math.ceil(TILE_PX / TILE_CHUNK_PX) ** 2  # 6 x 6
    # Measured (2026-12): 37,521 for the 73 dates built in full, 14.3 a (date, block):
    # 2 per band (odc-stac's read, the band stack) of a (date, block), 1 open per file.
    assert year < 100_000, year
    assert per_date <= 16 * blocks, (per_date, blocks)


def test_all_dates_in_one_chunk_make_the_graph_grow_with_blocks_not_dates(placeholder):
    # chunks={"time": -1}: odc-stac reads each (band, block) over every date in one
    # task, so a date adds only its files' open tasks (one per band), and the graph
    # is (2 x bands + a few) tasks per block. Measured (2026-12): 750 tasks for 4
    # dates and 778 for 8 at 2048 px (36 blocks), against 2262 and 4306 with one
    # date per chunk; a tile-year ~1,260 against 37,521.
    spec = {"time": -1, "x": TILE_CHUNK_PX, "y": TILE_CHUNK_PX}
    four, eight = (tile_tasks(n, placeholder, spec) for n in (4, 8))
    blocks = math.ceil(TILE_PX / TILE_CHUNK_PX) ** 2
    bands = len(S2_BANDS)
    assert eight - four <= 4 * bands, (four, eight)  # one open task per file
    assert four <= (2 * bands + 8) * blocks, (four, blocks)
    year = four + (eight - four) / 4 * (TILE_DATES - 4)
    assert year < 2_000, year
