"""``satlearn change``: mask and magnitude COGs, polygons GeoJSON, one-line summary and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app
from satlearn.raster import validate_cog

RUNNER = CliRunner()


def pair(tmp_path, *, crs="EPSG:32633"):
    """Two uint16 4-band GeoTIFFs; a 16 x 16 square changes; one nodata pixel."""
    rng = np.random.default_rng(0)
    base = rng.uniform(2000, 4000, (4, 64, 64))
    after = base + rng.normal(0, 50, base.shape)
    after[:, 20:36, 20:36] += np.array([1000, 1000, 2000, -1500])[:, None, None]
    before_data = base.astype(np.uint16)
    after_data = after.astype(np.uint16)
    after_data[:, 0, 0] = 0
    names = ["blue", "green", "red", "nir"]
    first = write_geotiff(tmp_path / "t0.tif", before_data, nodata=0, descriptions=names)
    second = write_geotiff(tmp_path / "t1.tif", after_data, nodata=0, descriptions=names, crs=crs)
    return first, second


@pytest.mark.parametrize("method", ["pca-kmeans", "irmad"])
def test_change_writes_mask_magnitude_and_polygons(tmp_path, method):
    first, second = pair(tmp_path)
    out = tmp_path / "out" / "change.tif"
    args = ["change", str(first), str(second), str(out), "--method", method, "--chunk", "32"]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    magnitude_path = tmp_path / "out" / "change_magnitude.tif"
    geojson_path = tmp_path / "out" / "change.geojson"
    for path in (out, magnitude_path):
        assert validate_cog(path)[0]
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "uint8" and ds.nodata == 255
        mask = ds.read(1)
    assert mask[0, 0] == 255  # nodata in the after date
    assert (mask[21:35, 21:35] == 1).all()  # pca-kmeans may round the square's corners
    assert (mask[40:, 40:] == 0).all()
    with rasterio.open(magnitude_path) as ds:
        assert ds.dtypes[0] == "float32"
        magnitude = ds.read(1)
    assert np.isnan(magnitude[0, 0])
    assert magnitude[25, 25] > np.nanmax(magnitude[40:, 40:])
    collection = json.loads(geojson_path.read_text())
    [feature] = [f for f in collection["features"] if f["properties"]["pixels"] > 10]
    assert feature["properties"]["pixels"] == int((mask[18:38, 18:38] == 1).sum())
    assert 240 <= feature["properties"]["pixels"] <= 260
    assert feature["properties"]["method"] == method
    summary = result.output.strip().splitlines()[-1]
    assert summary.startswith(f"{out}: ")
    changed = int((mask == 1).sum())
    assert f"{changed} changed pixels" in summary
    assert f"of {64 * 64 - 1} valid" in summary
    assert method in summary


def test_change_threshold_index_and_errors(tmp_path):
    first, second = pair(tmp_path)
    out = tmp_path / "ndvi.tif"
    ok = RUNNER.invoke(
        app,
        ["change", str(first), str(second), str(out), "--method", "difference",
         "--index", "ndvi", "--threshold", "0.1"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "threshold 0.1" in ok.output
    with rasterio.open(out) as ds:
        assert (ds.read(1)[20:36, 20:36] == 1).all()
    bad_method = RUNNER.invoke(app, ["change", str(first), str(second), str(out), "--method", "x"])
    assert bad_method.exit_code == 1
    assert "unknown change method 'x'" in bad_method.output
    not_tif = RUNNER.invoke(app, ["change", str(first), str(second), str(tmp_path / "a.png")])
    assert not_tif.exit_code == 1 and "OUT must be a .tif" in not_tif.output


def test_change_refuses_rasters_in_different_crs(tmp_path):
    first, second = pair(tmp_path, crs="EPSG:32634")
    out = tmp_path / "x.tif"
    result = RUNNER.invoke(app, ["change", str(first), str(second), str(out)])
    assert result.exit_code == 1
    assert result.output.startswith("error: before and after must share one CRS")
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
