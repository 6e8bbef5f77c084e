"""``satlearn index``: indices of a GeoTIFF into a COG, listing, one-line errors."""

from __future__ import annotations

import numpy as np
import rasterio
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app
from satlearn.raster import validate_cog

RUNNER = CliRunner()


def scene(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(1, 10000, (3, 40, 50)).astype(np.uint16)
    data[:, 0, 0] = 0
    path = write_geotiff(
        tmp_path / "scene.tif", data, nodata=0, descriptions=["green", "red", "nir"]
    )
    return path, data.astype(np.float64)


def test_index_writes_a_float32_cog_with_one_band_per_index(tmp_path):
    path, data = scene(tmp_path)
    out = tmp_path / "out.tif"
    result = RUNNER.invoke(app, ["index", str(path), "ndvi,NDWI", str(out), "--chunk", "16"])
    assert result.exit_code == 0, result.output
    assert validate_cog(out)[0]
    with rasterio.open(out) as ds:
        assert ds.count == 2
        assert ds.dtypes[0] == "float32"
        assert ds.descriptions == ("NDVI", "NDWI")
        assert np.isnan(ds.nodata)
        ndvi = ds.read(1)
    _green, red, nir = data
    with np.errstate(all="ignore"):
        expected = (nir - red) / (nir + red)
    expected[0, 0] = np.nan
    np.testing.assert_allclose(ndvi, expected, rtol=1e-5)


def test_index_constants_list_and_errors(tmp_path):
    path, _ = scene(tmp_path)
    listed = RUNNER.invoke(app, ["index", str(path), "--list"])
    assert listed.exit_code == 0
    assert "NDVI" in listed.output.split()
    out = tmp_path / "savi.tif"
    ok = RUNNER.invoke(app, ["index", str(path), "savi", str(out), "-c", "L=0.25"])
    assert ok.exit_code == 0, ok.output
    bad = RUNNER.invoke(app, ["index", str(path), "nbr", str(tmp_path / "nbr.tif")])
    assert bad.exit_code == 1
    assert "NBR needs band(s) S2 (swir22)" in bad.output
    assert not (tmp_path / "nbr.tif").exists()
    wrong = RUNNER.invoke(app, ["index", str(path), "savi", str(out), "-c", "L"])
    assert wrong.exit_code == 1
    assert "expected NAME=NUMBER" in wrong.output
    missing = RUNNER.invoke(app, ["index", str(path), "ndvi"])
    assert missing.exit_code == 1
    assert "give index names and an output path" in missing.output
