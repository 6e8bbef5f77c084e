"""``satlearn chips``, ``tiles``, ``rasterize``, ``vectorize``: files in and out, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import rasterio
import shapely
from typer.testing import CliRunner

from conftest import CRS, TRANSFORM, write_geotiff
from satlearn.cli import app
from satlearn.vector import write_geojson

RUNNER = CliRunner()
X0, Y0 = TRANSFORM.c, TRANSFORM.f


def inputs(tmp_path):
    image = np.random.default_rng(0).integers(1, 1000, (3, 64, 80)).astype(np.uint16)
    scene = write_geotiff(
        tmp_path / "scene.tif", image, nodata=0, descriptions=["red", "green", "blue"]
    )
    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(
                shapely.box(X0 + 100, Y0 - 300, X0 + 400, Y0 - 100)
            ),
            "properties": {"kind": "field"},
        },
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(
                shapely.box(X0 + 200, Y0 - 250, X0 + 260, Y0 - 150)
            ),
            "properties": {"kind": "house"},
        },
    ]
    labels = write_geojson(features, tmp_path / "labels.geojson", crs=CRS)
    return scene, labels


def test_rasterize_then_vectorize_round_trip(tmp_path):
    scene, labels = inputs(tmp_path)
    mask_path = tmp_path / "mask.tif"
    result = RUNNER.invoke(
        app, ["rasterize", str(labels), str(scene), str(mask_path), "--attribute", "kind"]
    )
    assert result.exit_code == 0, result.output
    assert "2 features" in result.output and "'house': 2" in result.output
    with rasterio.open(mask_path) as ds:
        mask = ds.read(1)
        assert ds.transform == TRANSFORM and ds.crs.to_epsg() == 32633
    assert (mask[10:30, 10:40] > 0).all() and (mask == 2).sum() == 6 * 10  # house on top
    out = tmp_path / "polygons.geojson"
    result = RUNNER.invoke(app, ["vectorize", str(mask_path), str(out), "--native-crs"])
    assert result.exit_code == 0, result.output
    assert "classes [1, 2]" in result.output
    collection = json.loads(out.read_text())
    assert collection["crs"]["properties"]["name"].endswith("32633")
    back = tmp_path / "back.tif"
    again = RUNNER.invoke(
        app, ["rasterize", str(out), str(scene), str(back), "--attribute", "class"]
    )
    assert again.exit_code == 0, again.output
    with rasterio.open(back) as ds:
        np.testing.assert_array_equal(ds.read(1), mask)
    wgs = tmp_path / "wgs.geojson"
    assert (
        RUNNER.invoke(app, ["vectorize", str(mask_path), str(wgs), "--simplify", "5"]).exit_code
        == 0
    )
    assert "crs" not in json.loads(wgs.read_text())
    instances = tmp_path / "instances.tif"
    ok = RUNNER.invoke(
        app, ["rasterize", str(labels), str(scene), str(instances), "--instances", "--all-touched"]
    )
    assert ok.exit_code == 0, ok.output
    with rasterio.open(instances) as ds:
        assert set(np.unique(ds.read(1))) == {0, 1, 2}


def test_chips_and_tiles_write_their_trees(tmp_path):
    scene, labels = inputs(tmp_path)
    out = tmp_path / "chips"
    result = RUNNER.invoke(
        app,
        [
            "chips",
            str(scene),
            str(labels),
            str(out),
            "--size",
            "32",
            "--overlap",
            "8",
            "--attribute",
            "kind",
            "--block",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    with (out / "index.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert f"{len(rows)} chips" in result.output and len(rows) == 9
    tiles = RUNNER.invoke(app, ["tiles", str(scene), str(tmp_path / "tiles"), "--zoom", "15"])
    assert tiles.exit_code == 0, tiles.output
    written = list((tmp_path / "tiles" / "15").rglob("*.png"))
    assert f"{len(written)} tiles at zoom 15" in tiles.output and written


def test_bad_input_gives_one_line_errors(tmp_path):
    scene, labels = inputs(tmp_path)
    too_big = RUNNER.invoke(
        app, ["chips", str(scene), str(labels), str(tmp_path / "c"), "--size", "512"]
    )
    assert too_big.exit_code == 1 and "chip size 512 is larger than the scene" in too_big.output
    overlap = RUNNER.invoke(
        app,
        ["chips", str(scene), str(labels), str(tmp_path / "c"), "--size", "32", "--overlap", "32"],
    )
    assert overlap.exit_code == 1 and "overlap 32 must be smaller" in overlap.output
    split = RUNNER.invoke(
        app, ["chips", str(scene), str(labels), str(tmp_path / "c"), "--split", "a,b"]
    )
    assert split.exit_code == 1 and "--split 'a,b'" in split.output
    unknown = RUNNER.invoke(
        app,
        ["rasterize", str(labels), str(scene), str(tmp_path / "m.tif"), "--attribute", "height"],
    )
    assert unknown.exit_code == 1 and "lacks attribute 'height'" in unknown.output
    far = write_geojson(
        [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.box(0, 0, 1, 1)),
                "properties": {},
            }
        ],
        tmp_path / "far.geojson",
        crs=CRS,
    )
    outside = RUNNER.invoke(app, ["rasterize", str(far), str(scene), str(tmp_path / "m.tif")])
    assert (
        outside.exit_code == 1 and "far.geojson" in outside.output and "scene.tif" in outside.output
    )
    assert not (tmp_path / "m.tif").exists()
    zoom = RUNNER.invoke(app, ["tiles", str(scene), str(tmp_path / "t"), "--zoom", "40"])
    assert zoom.exit_code == 1 and "zoom must be" in zoom.output
