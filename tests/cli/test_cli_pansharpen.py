"""``satlearn pansharpen``: a COG on the pan grid, one-line errors, swapped inputs, spellings."""

from __future__ import annotations

import numpy as np
import xarray as xr
from affine import Affine
from scipy import ndimage
from typer.testing import CliRunner

from conftest import make_dataarray, write_geotiff
from satlearn.cli.app import app
from satlearn.ops.pansharpen import pansharpen
from satlearn.raster import open_raster

RNG = np.random.default_rng(7)
RUNNER = CliRunner()
MS_TRANSFORM = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3408645.0)
# Landsat 8's layout: the 15 m pan grid starts half a pan pixel before the MS grid.
PAN_TRANSFORM = Affine(15.0, 0.0, 452467.5, 0.0, -15.0, 3408652.5)
CRS = "EPSG:32616"


def scene_pair(height: int, width: int, bands: int) -> tuple[xr.DataArray, xr.DataArray]:
    """A smooth MS with its pan made of the same surface, on Landsat-like offset grids."""
    fine = ndimage.gaussian_filter(RNG.random((bands, 2 * height + 2, 2 * width + 2)), 3.0)
    fine = 0.1 + (fine - fine.min()) / np.ptp(fine)
    ms = fine[:, 1::2, 1::2][:, :height, :width].astype("float32") * 1000
    pan = (fine.mean(axis=0)[: 2 * height, : 2 * width] * 1000).astype("float32")
    names = ["blue", "green", "red", "nir"][:bands]
    ms_da = make_dataarray(ms, names=names, crs=CRS, transform=MS_TRANSFORM)
    pan_da = make_dataarray(pan[None], names=["pan"], crs=CRS, transform=PAN_TRANSFORM)
    return ms_da, pan_da


def write_pair(tmp_path, ms: xr.DataArray, pan: xr.DataArray):
    ms_path = write_geotiff(tmp_path / "ms.tif", ms.values, crs=CRS, transform=ms.rio.transform())
    pan_path = write_geotiff(
        tmp_path / "pan.tif", pan.values, crs=CRS, transform=pan.rio.transform()
    )
    return ms_path, pan_path


def test_cli_pansharpens_into_a_cog(tmp_path):
    ms, pan = scene_pair(32, 32, 3)
    ms_path, pan_path = write_pair(tmp_path, ms, pan)
    out = tmp_path / "sharp.tif"
    result = RUNNER.invoke(
        app,
        [
            "pansharpen",
            str(ms_path),
            str(pan_path),
            str(out),
            "--method",
            "gram-schmidt",
            "--weights",
            "auto",
            "--bands",
            "1,2",
            "--chunk-size",
            "32",
        ],
    )
    assert result.exit_code == 0, result.output
    sharp = open_raster(out)
    assert sharp.shape == (2, 64, 64)
    assert sharp.rio.transform() == PAN_TRANSFORM
    expected = pansharpen(ms.isel(band=[0, 1]), pan, method="gram-schmidt", weights="auto")
    np.testing.assert_allclose(sharp.values, expected.values, rtol=1e-3, atol=0.5)


def test_cli_reports_bad_weights_on_one_line(tmp_path):
    ms, pan = scene_pair(16, 16, 3)
    ms_path, pan_path = write_pair(tmp_path, ms, pan)
    runner = RUNNER
    bad = runner.invoke(
        app,
        ["pansharpen", str(ms_path), str(pan_path), str(tmp_path / "o.tif"), "--weights", "a,b"],
    )
    assert bad.exit_code == 1
    assert "--weights must be" in bad.output
    wrong = runner.invoke(
        app,
        ["pansharpen", str(ms_path), str(pan_path), str(tmp_path / "o.tif"), "--weights", "1,2"],
    )
    assert wrong.exit_code == 1
    assert "error: weights needs 3 values" in wrong.output
    explicit = runner.invoke(
        app,
        ["pansharpen", str(ms_path), str(pan_path), str(tmp_path / "o.tif"), "--weights", "1,1,1"],
    )
    assert explicit.exit_code == 0, explicit.output


def test_cli_refuses_swapped_ms_and_pan_on_one_line(tmp_path):
    ms, pan = scene_pair(16, 16, 3)
    ms_path, pan_path = write_pair(tmp_path, ms, pan)
    out = tmp_path / "o.tif"
    result = RUNNER.invoke(app, ["pansharpen", str(pan_path), str(ms_path), str(out)])
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: PAN (the second argument")
    assert "has 3 bands" in line and "MS PAN OUT" in line
    assert not out.exists()


def test_cli_refuses_a_one_band_ms_coarser_pan_pair_given_in_the_wrong_order(tmp_path):
    ms, pan = scene_pair(16, 16, 1)
    ms_path, pan_path = write_pair(tmp_path, ms, pan)
    out = tmp_path / "o.tif"
    result = RUNNER.invoke(app, ["pansharpen", str(pan_path), str(ms_path), str(out)])
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert "coarser than the MS" in line and "swapped" in line
    assert not out.exists()


def test_cli_takes_the_underscore_spelling_with_a_one_line_warning(tmp_path):
    ms, pan = scene_pair(16, 16, 3)
    ms_path, pan_path = write_pair(tmp_path, ms, pan)
    outputs = {}
    for spelling in ("gram-schmidt", "gram_schmidt"):
        out = tmp_path / f"{spelling}.tif"
        result = RUNNER.invoke(
            app, ["pansharpen", str(ms_path), str(pan_path), str(out), "--method", spelling]
        )
        assert result.exit_code == 0, result.output
        warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
        outputs[spelling] = (warnings, open_raster(out).values)
    assert outputs["gram-schmidt"][0] == []
    [warning] = outputs["gram_schmidt"][0]
    assert "'gram_schmidt' is spelt 'gram-schmidt'" in warning
    np.testing.assert_array_equal(outputs["gram_schmidt"][1], outputs["gram-schmidt"][1])


def test_cli_names_an_unknown_method_on_one_line_before_reading_anything(tmp_path):
    out = tmp_path / "o.tif"
    result = RUNNER.invoke(
        app, ["pansharpen", "missing-ms.tif", "missing-pan.tif", str(out), "--method", "wavelets"]
    )
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: unknown pansharpening method 'wavelets'")
    assert "gram-schmidt" in line
    assert not out.exists()
