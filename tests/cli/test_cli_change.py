"""``satlearn change``: mask and magnitude COGs, polygons GeoJSON, one-line summary and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_the_same_file_twice_is_no_change(tmp_path):
    first, _ = pair(tmp_path)
    out = tmp_path / "same.tif"
    result = RUNNER.invoke(app, ["change", str(first), str(first), str(out)])  # pca-kmeans
    assert result.exit_code == 0, result.output
    assert "0 changed pixels (0.00% of" in result.output.strip().splitlines()[-1]
    with rasterio.open(out) as ds:
        assert not (ds.read(1) == 1).any()


@pytest.mark.parametrize("method", ["pca-kmeans", "cva", "difference", "irmad"])
def test_one_dn_of_noise_is_not_change(tmp_path, method):
    first, _ = pair(tmp_path)
    with rasterio.open(first) as ds:
        data = ds.read()
    noisy = data.astype(np.int32) + np.random.default_rng(1).integers(-1, 2, data.shape)
    names = ["blue", "green", "red", "nir"]
    second = write_geotiff(
        tmp_path / "noisy.tif", noisy.clip(1, None).astype(np.uint16), nodata=0, descriptions=names
    )
    out = tmp_path / "noise.tif"
    result = RUNNER.invoke(app, ["change", str(first), str(second), str(out), "--method", method])
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        assert (ds.read(1) == 1).mean() <= 0.005


@pytest.mark.parametrize("method", ["pca-kmeans", "cva"])
def test_an_unknown_threshold_is_a_one_line_error(tmp_path, method):
    first, second = pair(tmp_path)
    out = tmp_path / "t.tif"
    args = ["change", str(first), str(second), str(out), "--method", method]
    result = RUNNER.invoke(app, [*args, "--threshold", "banana"])
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: unknown threshold method 'banana'")
    assert not out.exists()


def test_the_cli_prints_one_line_and_no_warning_for_identical_dates(tmp_path):
    # In a separate process, as a user runs it: scikit-learn's warnings
    # (ConvergenceWarning when every sample is alike) would reach stderr.
    first, _ = pair(tmp_path)
    out = tmp_path / "same.tif"
    cli = Path(sys.executable).with_name("satlearn")
    done = subprocess.run(
        [str(cli), "change", str(first), str(first), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "warn" not in done.stderr.lower(), done.stderr
    [line] = done.stdout.strip().splitlines()
    assert "0 changed pixels (0.00% of" in line
