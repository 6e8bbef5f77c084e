"""``satlearn stereo``: a DEM COG from a pair of GeoTIFFs, summary line, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app
from satlearn.metrics import dem_accuracy
from satlearn.raster import validate_cog
from satlearn.synth import make_scene

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def scene():
    return make_scene(160, seed=2, n_dates=1, clouds=False, ships=False)


def write_pair(tmp_path, scene, *, bands: int = 1):
    paths = []
    for name, da in (("left", scene.stereo_left), ("right", scene.stereo_right)):
        data = np.rint(da.values * 10000).astype(np.uint16)[None].repeat(bands, axis=0)
        paths.append(
            write_geotiff(
                tmp_path / f"{name}.tif", data, transform=scene.transform, crs=scene.crs, nodata=0
            )
        )
    return paths


def test_stereo_writes_a_dem_cog_and_prints_a_summary(tmp_path, scene):
    left, right = write_pair(tmp_path, scene)
    out = tmp_path / "dem.tif"
    zmin = float(scene.dem.min())
    result = RUNNER.invoke(
        app,
        ["stereo", str(left), str(right), str(out), "--bh", str(scene.base_to_height),
         "--reference-height", str(zmin)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert validate_cog(out)[0]
    with rasterio.open(out) as ds:
        assert ds.count == 1 and ds.dtypes[0] == "float32"
        assert np.isnan(ds.nodata)
        assert ds.transform == scene.transform
        assert ds.crs.to_string() == scene.crs
        heights = ds.read(1)
    pixel_height = scene.pixel_size_m / scene.base_to_height
    assert dem_accuracy(heights, scene.dem.values).nmad < 0.3 * pixel_height
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"{out}: ")
    assert "% matched before filling" in line
    low, high = (float(v) for v in line.split("heights ")[1].removesuffix(" m").split(" .. "))
    assert low == pytest.approx(float(np.nanmin(heights)), abs=0.05)
    assert high == pytest.approx(float(np.nanmax(heights)), abs=0.05)


def test_stereo_options_height_range_band_and_fill(tmp_path, scene):
    left, right = write_pair(tmp_path, scene, bands=2)
    out = tmp_path / "dem.tif"
    base = ["stereo", str(left), str(right), str(out), "--bh", str(scene.base_to_height)]
    refused = RUNNER.invoke(app, base)
    assert refused.exit_code == 1
    assert "has 2 bands" in refused.output and "--band" in refused.output
    ok = RUNNER.invoke(
        app, [*base, "--band", "1", "--min-height", "0", "--max-height", "200", "--fill", "none"]
    )
    assert ok.exit_code == 0, ok.output
    with rasterio.open(out) as ds:
        assert np.isnan(ds.read(1)).any()  # holes stay holes without filling
    half = RUNNER.invoke(app, [*base, "--band", "1", "--min-height", "0"])
    assert half.exit_code == 1
    assert "both --min-height and --max-height" in half.output
    bad_fill = RUNNER.invoke(app, [*base, "--band", "1", "--fill", "zeros"])
    assert bad_fill.exit_code == 1
    assert "--fill must be" in bad_fill.output


def test_stereo_errors_are_one_line(tmp_path, scene):
    left, right = write_pair(tmp_path, scene)
    small = write_geotiff(
        tmp_path / "small.tif", np.ones((1, 100, 120), np.uint16), transform=scene.transform,
        crs=scene.crs,
    )  # fmt: skip
    out = tmp_path / "dem.tif"
    result = RUNNER.invoke(app, ["stereo", str(left), str(small), str(out), "--bh", "0.6"])
    assert result.exit_code == 1
    assert f"left ({left}) has shape (160, 160) but right ({small}) has shape" in result.output
    assert not out.exists()
    too_high = RUNNER.invoke(
        app,
        ["stereo", str(left), str(right), str(out), "--bh", "0.6",
         "--min-height", "0", "--max-height", "5000"],
    )  # fmt: skip
    assert too_high.exit_code == 1
    assert "does not fit" in too_high.output
    empty = write_geotiff(
        tmp_path / "empty.tif", np.zeros((1, 160, 160), np.uint16), transform=scene.transform,
        crs=scene.crs, nodata=0,
    )  # fmt: skip
    nothing = RUNNER.invoke(app, ["stereo", str(empty), str(empty), str(out), "--bh", "0.6"])
    assert nothing.exit_code == 1
    assert "no valid pixel" in nothing.output


def _pair_with_transform(tmp_path, scene, transform):
    paths = []
    for name, da in (("left", scene.stereo_left), ("right", scene.stereo_right)):
        data = np.rint(da.values * 10000).astype(np.uint16)[None]
        paths.append(
            write_geotiff(
                tmp_path / f"{name}.tif", data, transform=transform, crs=scene.crs, nodata=0
            )
        )
    return paths


def test_pixels_square_to_1e_5_are_square(tmp_path, scene):
    # Real GeoTIFFs carry sides such as 300.0379 x 300.0418 m (a 1.3e-5 relative difference).
    t = scene.transform
    nearly = Affine(t.a * 1.0000065, 0, t.c, 0, t.e * 0.9999935, t.f)
    left, right = _pair_with_transform(tmp_path, scene, nearly)
    out = tmp_path / "dem.tif"
    result = RUNNER.invoke(
        app, ["stereo", str(left), str(right), str(out), "--bh", str(scene.base_to_height)]
    )
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_pixels_far_from_square_need_pixel_size(tmp_path, scene):
    t = scene.transform
    oblong = Affine(t.a * 1.5, 0, t.c, 0, t.e, t.f)
    left, right = _pair_with_transform(tmp_path, scene, oblong)
    out = tmp_path / "dem.tif"
    base = ["stereo", str(left), str(right), str(out), "--bh", str(scene.base_to_height)]
    refused = RUNNER.invoke(app, base)
    assert refused.exit_code == 1
    assert "pixels are not square" in refused.output and "--pixel-size" in refused.output
    given = RUNNER.invoke(app, [*base, "--pixel-size", str(scene.pixel_size_m)])
    assert given.exit_code == 0, given.output
    with rasterio.open(out) as ds:
        heights = ds.read(1)
    pixel_height = scene.pixel_size_m / scene.base_to_height
    assert dem_accuracy(heights, scene.dem.values - float(scene.dem.min())).nmad < pixel_height


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--memory-mb", "0", "--memory-mb must be > 0"),
        ("--memory-mb", "-5", "--memory-mb must be > 0"),
        ("--pixel-size", "0", "--pixel-size must be > 0"),
    ],
)
def test_out_of_range_values_are_refused(tmp_path, scene, option, value, message):
    left, right = write_pair(tmp_path, scene)
    out = tmp_path / "dem.tif"
    result = RUNNER.invoke(
        app,
        [
            "stereo",
            str(left),
            str(right),
            str(out),
            "--bh",
            str(scene.base_to_height),
            option,
            value,
        ],
    )
    assert result.exit_code == 1
    assert f"error: {message}" in result.output and result.output.count("\n") == 1
    assert not out.exists()


def test_the_library_refuses_a_memory_bound_of_zero(scene):
    from satlearn.errors import InvalidInputError
    from satlearn.ops.stereo import stereo_dem

    with pytest.raises(InvalidInputError, match="memory_mb must be a positive number"):
        stereo_dem(scene.stereo_left, scene.stereo_right, base_to_height=0.6, memory_mb=0)
