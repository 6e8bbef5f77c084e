"""``satlearn clouds``: classes and masks of a GeoTIFF into uint8 COGs, one-line summary, errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app
from satlearn.ops.clouds import CLASSES, NODATA_CLASS, classify_clouds, cloud_mask
from satlearn.raster import validate_cog
from satlearn.synth import make_scene

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def scene():
    return make_scene(96, seed=1, n_dates=1)


def write_scene(tmp_path, scene, *, nodata_rows=0):
    image = scene.image.isel(time=0)
    data = np.round(image.values / 1e-4).astype(np.uint16)
    data[:, :nodata_rows] = 0
    path = tmp_path / "scene.tif"
    write_geotiff(path, data, nodata=0, descriptions=list(image.band.values))
    with rasterio.open(path, "r+") as ds:
        ds.scales = [1e-4] * ds.count
    return path, image.copy(data=data * np.float32(1e-4))


def test_clouds_writes_the_classes_and_prints_the_cloud_fraction(tmp_path, scene):
    path, image = write_scene(tmp_path, scene, nodata_rows=3)
    out = tmp_path / "classes.tif"
    args = ["clouds", str(path), str(out), "--sun-azimuth", str(scene.sun_azimuth)]
    result = RUNNER.invoke(app, [*args, "--sun-zenith", str(scene.sun_zenith)])
    assert result.exit_code == 0, result.output
    assert validate_cog(out)[0]
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "uint8" and ds.nodata == NODATA_CLASS
        written = ds.read(1)
    assert (written[:3] == NODATA_CLASS).all()
    expected = classify_clouds(
        image.isel(y=slice(3, None)), sun_azimuth=scene.sun_azimuth, sun_zenith=scene.sun_zenith
    ).values
    # The search sees 3 fewer rows; the cloud/cirrus/snow/water tests are per pixel.
    np.testing.assert_array_equal(np.isin(written[3:], [1, 2]), np.isin(expected, [1, 2]))
    fraction = np.isin(written[3:], [1, 2]).mean()
    shadow = (written[3:] == CLASSES["shadow"]).mean()
    line = result.output.strip()
    assert len(line.splitlines()) == 1
    assert f"cloud {100 * fraction:.1f} %" in line
    assert f"shadow {100 * shadow:.1f} %" in line


def test_clouds_mask_with_another_method(tmp_path, scene):
    path, image = write_scene(tmp_path, scene)
    out = tmp_path / "mask.tif"
    result = RUNNER.invoke(app, ["clouds", str(path), str(out), "--method", "hollstein", "--mask"])
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        written = ds.read(1)
    expected = cloud_mask(image, method="hollstein").values.astype(np.uint8)
    np.testing.assert_array_equal(written, expected)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "magic"], "unknown cloud detector"),
        (["--sun-azimuth", "120"], "give both --sun-azimuth and --sun-zenith"),
        (["--method", "model:/nonexistent/bundle"], "bundle"),
    ],
)
def test_clouds_errors_are_one_line(tmp_path, scene, extra, message):
    path, _ = write_scene(tmp_path, scene)
    out = tmp_path / "x.tif"
    result = RUNNER.invoke(app, ["clouds", str(path), str(out), *extra])
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_clouds_names_missing_bands(tmp_path):
    data = np.full((3, 20, 20), 1000, dtype=np.uint16)
    path = write_geotiff(tmp_path / "rgb.tif", data, descriptions=["red", "green", "blue"])
    with rasterio.open(path, "r+") as ds:
        ds.scales = [1e-4] * 3
    result = RUNNER.invoke(app, ["clouds", str(path), str(tmp_path / "x.tif")])
    assert result.exit_code == 1
    assert "needs band(s) nir, swir16, swir22, cirrus" in result.output
