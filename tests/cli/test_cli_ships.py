"""``satlearn ships`` / ``satlearn water``: GeoJSON and COG outputs, summaries, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app
from satlearn.metrics import score_ships
from satlearn.ops.ships import detect_ships
from satlearn.ops.water import water_mask
from satlearn.raster import open_raster, save_cog, validate_cog
from satlearn.synth import make_scene

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    scene = make_scene(256, seed=3, n_dates=1)
    path = tmp_path_factory.mktemp("ships") / "scene.tif"
    save_cog(scene.image.isel(time=0), path)
    return scene, path


def test_ships_writes_geojson_and_prints_a_summary(scene_file, tmp_path):
    scene, path = scene_file
    out = tmp_path / "ships.geojson"
    water_out = tmp_path / "water.tif"
    result = RUNNER.invoke(app, ["ships", str(path), str(out), "--water-out", str(water_out)])
    assert result.exit_code == 0, result.output
    found = detect_ships(open_raster(path))
    expected = f"{len(found)} ships found, water {100 * found.water_fraction:.1f}% of valid pixels"
    assert result.output.strip().startswith(expected)
    collection = json.loads(out.read_text())
    assert len(collection["features"]) == len(found) == len(scene.ships)
    ships = [f["properties"] for f in collection["features"]]
    assert score_ships(ships, scene.ships).recall == 1.0
    assert validate_cog(water_out)[0]
    with rasterio.open(water_out) as ds:
        assert ds.dtypes[0] == "uint8"
        np.testing.assert_array_equal(ds.read(1).astype(bool), found.water.values)


def test_ships_in_the_native_crs_and_with_felzenszwalb(scene_file, tmp_path):
    _, path = scene_file
    out = tmp_path / "native.geojson"
    result = RUNNER.invoke(
        app, ["ships", str(path), str(out), "--native-crs", "--method", "felzenszwalb"]
    )
    assert result.exit_code == 0, result.output
    collection = json.loads(out.read_text())
    assert "32633" in collection["crs"]["properties"]["name"]
    x = collection["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 399960 < x < 399960 + 2560


def test_ships_without_water_writes_an_empty_collection(tmp_path):
    land = np.empty((3, 64, 64), np.float32)
    land[0], land[1], land[2] = 0.08, 0.30, 0.20
    path = write_geotiff(tmp_path / "land.tif", land, descriptions=["green", "nir", "swir16"])
    out = tmp_path / "none.geojson"
    result = RUNNER.invoke(app, ["ships", str(path), str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 ships found, water 0.0%")
    assert json.loads(out.read_text()) == {"type": "FeatureCollection", "features": []}


def test_ships_errors_are_one_line(scene_file, tmp_path):
    _, path = scene_file
    bad_band = RUNNER.invoke(app, ["ships", str(path), str(tmp_path / "a.geojson"), "--band", "x"])
    assert bad_band.exit_code == 1
    assert "error: the scene has no 'x' band" in bad_band.output
    assert not (tmp_path / "a.geojson").exists()
    small = write_geotiff(tmp_path / "mask.tif", np.zeros((1, 10, 10), np.uint8))
    grid = RUNNER.invoke(
        app, ["ships", str(path), str(tmp_path / "b.geojson"), "--mask", str(small)]
    )
    assert grid.exit_code == 1
    assert "error: valid mask has shape (10, 10)" in grid.output
    two = write_geotiff(tmp_path / "two.tif", np.zeros((2, 256, 256), np.uint8))
    bands = RUNNER.invoke(
        app, ["ships", str(path), str(tmp_path / "c.geojson"), "--mask", str(two)]
    )
    assert bands.exit_code == 1 and "has 2 bands" in bands.output
    nodata = write_geotiff(
        tmp_path / "nodata.tif", np.zeros((3, 32, 32), np.uint16), nodata=0,
        descriptions=["green", "nir", "swir16"],
    )  # fmt: skip
    empty = RUNNER.invoke(app, ["ships", str(nodata), str(tmp_path / "d.geojson")])
    assert empty.exit_code == 1 and "all nodata" in empty.output


def test_water_writes_the_mask_cog(scene_file, tmp_path):
    _, path = scene_file
    out = tmp_path / "water.tif"
    clouds = np.zeros((1, 256, 256), np.uint8)
    clouds[0, :, :128] = 1
    with rasterio.open(path) as ds:
        mask_path = write_geotiff(tmp_path / "clouds.tif", clouds, transform=ds.transform)
    result = RUNNER.invoke(app, ["water", str(path), str(out), "--mask", str(mask_path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("MNDWI > ")
    with rasterio.open(out) as ds:
        written = ds.read(1).astype(bool)
    expected = water_mask(open_raster(path), valid=clouds[0] == 0).values
    np.testing.assert_array_equal(written, expected)
    assert not written[:, :128].any() and written.any()
    fixed = RUNNER.invoke(app, ["water", str(path), str(out), "--threshold", "0.5"])
    assert fixed.exit_code == 0 and fixed.output.startswith("MNDWI > 0.500")
