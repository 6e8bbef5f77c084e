"""Fuzzing SpaceNet's building GeoJSON (geojson_buildings/*.geojson) through SpaceNetBuildings."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from hypothesis import example, given

from conftest import write_geotiff
from fixtures_fuzz import FUZZ, expect_clean, json_documents
from satlearn.datasets.spacenet import SpaceNetBuildings

pytestmark = pytest.mark.timeout(120)

TILE = "SN6_Train_AOI_11_Rotterdam_{}_20190804111224_20190804111453_tile_8679"
IMAGE = TILE.format("PS-RGB") + ".tif"
LABELS = TILE.format("Buildings") + ".geojson"
X0, Y0, STEP = -115.3, 36.2, 1e-5


def _square(x: float, y: float, side: float) -> list[list[list[float]]]:
    ring = [[x, y], [x + side, y], [x + side, y - side], [x, y - side], [x, y]]
    return [[[round(a, 7), round(b, 7)] for a, b in ring]]


SAMPLE = {
    "type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    "features": [
        {
            "type": "Feature",
            "properties": {"building": "yes", "id": 1},
            "geometry": {"type": "Polygon", "coordinates": _square(X0 + 2e-5, Y0 - 2e-5, 5e-5)},
        },
        {
            "type": "Feature",
            "properties": {"building": "yes", "id": 2},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [_square(X0 + 1e-4, Y0 - 1e-4, 6e-5)],
            },
        },
    ],
}
NAMES = [LABELS, IMAGE]


@pytest.fixture(scope="module")
def tile_root(tmp_path_factory):
    # The tile is written once; each example rewrites its labels.
    root = tmp_path_factory.mktemp("spacenet")
    (root / "PS-RGB").mkdir()
    (root / "geojson_buildings").mkdir()
    transform = Affine(STEP, 0.0, X0, 0.0, -STEP, Y0)
    pixels = np.ones((3, 20, 20), np.uint8)
    write_geotiff(root / "PS-RGB" / IMAGE, pixels, crs="EPSG:4326", transform=transform)
    (root / "geojson_buildings" / LABELS).write_text("{}")
    return root


@FUZZ
@given(labels=json_documents(SAMPLE))
@example(labels=b'{"type": "FeatureCollection", "features": [{"\xff": 1}]}')  # not UTF-8
@example(labels=("[" * 100_000 + "]" * 100_000).encode())  # RecursionError in json
def test_building_geojson_parses_or_names_the_file(labels, tile_root):
    (tile_root / "geojson_buildings" / LABELS).write_bytes(labels)
    ds = SpaceNetBuildings(tile_root)  # finds the pair by name, reads no labels yet
    sample = expect_clean(lambda: ds[0], NAMES)
    if sample is None:
        return
    n = len(sample["boxes"])
    assert sample["mask"].shape == sample["instances"].shape == (20, 20)
    assert sample["instances"].max() <= n
    assert np.isfinite(sample["boxes"]).all()
    assert (sample["boxes"] >= 0).all() and (sample["boxes"][:, 2:] <= 20).all()
