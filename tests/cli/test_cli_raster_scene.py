"""``satlearn info``, ``cog`` and ``synth``: the foundation's command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn import open_raster
from satlearn.cli import app
from satlearn.errors import RasterNotFoundError
from satlearn.raster import validate_cog

RUNNER = CliRunner()


@pytest.fixture
def plain_tif(tmp_path):
    data = np.arange(3 * 300 * 200, dtype="uint16").reshape(3, 300, 200)
    return write_geotiff(
        tmp_path / "plain.tif", data, nodata=0, descriptions=["red", "green", "blue"]
    )


def test_info_json_describes_the_raster(plain_tif):
    result = RUNNER.invoke(app, ["info", str(plain_tif), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["width"], report["height"], report["count"]) == (200, 300, 3)
    assert report["crs"] == "EPSG:32633"
    assert report["dtype"] == "uint16"
    assert report["nodata"] == 0
    assert report["is_cog"] is False
    assert [b["name"] for b in report["bands"]] == ["red", "green", "blue"]


def test_info_text_names_bands_and_cog_status(plain_tif):
    result = RUNNER.invoke(app, ["info", str(plain_tif)])
    assert result.exit_code == 0, result.output
    assert "200 x 300" in result.stdout
    assert "valid COG: no" in result.stdout
    assert "green" in result.stdout


def test_cog_converts_to_a_valid_cog_with_the_same_pixels(plain_tif, tmp_path):
    out = tmp_path / "out" / "cog.tif"
    result = RUNNER.invoke(
        app, ["cog", str(plain_tif), str(out), "--blocksize", "128", "--compress", "zstd"]
    )
    assert result.exit_code == 0, result.output
    assert validate_cog(out)[0]
    np.testing.assert_array_equal(open_raster(out).values, open_raster(plain_tif).values)
    with rasterio.open(out) as ds:
        assert ds.block_shapes[0] == (128, 128)
        assert ds.descriptions == ("red", "green", "blue")
    info = json.loads(RUNNER.invoke(app, ["info", str(out), "--json"]).stdout)
    assert info["is_cog"] is True
    text = RUNNER.invoke(app, ["info", str(out)]).stdout
    assert "valid COG: yes" in text


@pytest.mark.parametrize(("overviews", "expected"), [("none", []), ("1", [2])])
def test_cog_overview_option(plain_tif, tmp_path, overviews, expected):
    out = tmp_path / "o.tif"
    result = RUNNER.invoke(
        app, ["cog", str(plain_tif), str(out), "--blocksize", "64", "--overviews", overviews]
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == expected


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    missing = tmp_path / "missing.tif"
    result = RUNNER.invoke(app, ["info", str(missing)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {missing}: no such file"
    assert "Traceback" not in result.output

    bad = RUNNER.invoke(app, ["cog", str(missing), str(tmp_path / "x.tif"), "--compress", "gzip"])
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1


def test_debug_shows_the_exception(tmp_path):
    result = RUNNER.invoke(app, ["--debug", "info", str(tmp_path / "missing.tif")])
    assert result.exit_code == 1
    assert isinstance(result.exception, RasterNotFoundError)


def test_version():
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("satlearn ")


def test_synth_same_seed_gives_identical_rasters(tmp_path):
    for name in ("a", "b", "c"):
        seed = "5" if name != "c" else "6"
        result = RUNNER.invoke(app, ["synth", str(tmp_path / name), "--seed", seed, "--size", "96"])
        assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "a" / "scene.json").read_text())
    assert manifest["seed"] == 5
    tifs = sorted(p.name for p in (tmp_path / "a").glob("*.tif"))
    assert tifs == sorted(p.name for p in (tmp_path / "b").glob("*.tif"))
    assert any(t.startswith("image_") for t in tifs) and "landcover.tif" in tifs
    for name in tifs:
        a = open_raster(tmp_path / "a" / name)
        assert validate_cog(tmp_path / "a" / name)[0], name
        np.testing.assert_array_equal(a.values, open_raster(tmp_path / "b" / name).values)
    image = tifs[[t.startswith("image_") for t in tifs].index(True)]
    assert not np.array_equal(
        open_raster(tmp_path / "a" / image).values, open_raster(tmp_path / "c" / image).values
    )
    geojson = json.loads((tmp_path / "a" / "ships.geojson").read_text())
    assert geojson["type"] == "FeatureCollection"


def test_synth_refuses_to_mix_two_scenes_in_one_folder(tmp_path):
    assert (
        RUNNER.invoke(app, ["synth", str(tmp_path), "--seed", "1", "--size", "64"]).exit_code == 0
    )
    clash = RUNNER.invoke(app, ["synth", str(tmp_path), "--seed", "2", "--size", "64"])
    assert clash.exit_code == 1
    assert "different synthetic scene" in clash.stderr
    assert (
        RUNNER.invoke(
            app, ["synth", str(tmp_path), "--seed", "2", "--size", "64", "--overwrite"]
        ).exit_code
        == 0
    )
    assert json.loads((tmp_path / "scene.json").read_text())["seed"] == 2
