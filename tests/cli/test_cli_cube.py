"""``satlearn cube`` and ``satlearn composite`` over a catalogue built by satlearn."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import make_dataarray
from satlearn.catalog import build_catalog
from satlearn.cli import app
from satlearn.raster import save_cog, validate_cog

RUNNER = CliRunner()
DATES = ["2024-05-01", "2024-05-11", "2024-05-21"]

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Use `@` matmul instead of `\\*` mul operator:PendingDeprecationWarning:odc.*"
    ),
    pytest.mark.filterwarnings(
        "ignore:The 'shapely.ops.transform\\(\\)' function is deprecated:DeprecationWarning"
    ),
]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    root = tmp_path_factory.mktemp("cli_cube")
    rng = np.random.default_rng(5)
    data = rng.integers(100, 1000, size=(3, 2, 40, 30)).astype(np.uint16)
    data[1, :, :10, :10] = 9000  # a bright cloud-like patch on the middle date
    for t, day in enumerate(DATES):
        da = make_dataarray(data[t], names=["red", "nir"], nodata=0)
        save_cog(da, root / "rasters" / f"scene_{day}.tif")
    build_catalog(root / "rasters", root / "catalog", thumbnails=False)
    return root / "catalog" / "catalog.json", data


def test_cube_to_tif_holds_one_band_per_date_and_band(tmp_path, catalogue) -> None:
    catalog, data = catalogue
    out = tmp_path / "cube.tif"
    result = RUNNER.invoke(app, ["cube", str(catalog), str(out), "--bands", "nir,red"])
    assert result.exit_code == 0, result.output
    assert "3 date(s) x 2 band(s), 30 x 40 px, EPSG:32633 (10)" in result.output
    assert validate_cog(out)[0]
    with rasterio.open(out) as ds:
        assert ds.descriptions == tuple(f"{d}_{b}" for d in DATES for b in ("nir", "red"))
        stack = ds.read()
    np.testing.assert_array_equal(stack, data[:, ::-1].reshape(6, 40, 30))


def test_cube_with_datetime_and_resolution(tmp_path, catalogue) -> None:
    catalog, data = catalogue
    out = tmp_path / "late.tif"
    args = ["cube", str(catalog), str(out), "--bands", "red", "--resolution", "20",
            "--resampling", "average", "--datetime", "2024-05-10/2024-05-31"]  # fmt: skip
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        assert ds.count == 2 and ds.res == (20.0, 20.0)
        first = ds.read(1)
    expected = data[1, 0].reshape(20, 2, 15, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(first, expected, atol=1)


def test_cube_with_a_lonlat_bbox(tmp_path, catalogue) -> None:
    import json

    catalog, data = catalogue
    item = json.loads(next(catalog.parent.rglob("scene_2024-05-01.json")).read_text())
    west, south, east, north = item["bbox"]
    box = f"{west},{(south + north) / 2},{east},{north}"  # the northern half
    out = tmp_path / "north.tif"
    result = RUNNER.invoke(app, ["cube", str(catalog), str(out), "--bands", "red", "--bbox", box])
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        transform, got = ds.transform, ds.read(1)
    # The lon/lat box of a UTM footprint reaches a pixel beyond it: locate the
    # raster's corner (399960, 5000040) in the output grid.
    col0, row0 = round((399960 - transform.c) / 10), round((transform.f - 5000040) / 10)
    rows = got.shape[0] - row0
    assert 18 <= rows <= 22  # about half of the 40 rows
    np.testing.assert_array_equal(got[row0:, col0 : col0 + 30], data[0, 0, :rows])


def test_composite_median_of_the_dates(tmp_path, catalogue) -> None:
    catalog, data = catalogue
    out = tmp_path / "median.tif"
    result = RUNNER.invoke(app, ["composite", str(catalog), str(out), "--bands", "red,nir"])
    assert result.exit_code == 0, result.output
    assert "median of 3 date(s)" in result.output
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        np.testing.assert_allclose(ds.read(), np.median(data, axis=0))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bands", "swir16"], "no item has band 'swir16'"),
        (["--bands", "red", "--bbox", "1,2,3"], "--bbox '1,2,3': expected WEST,SOUTH,EAST,NORTH"),
        (["--bands", "red", "--bbox", "a,b,c,d"], "expected WEST,SOUTH,EAST,NORTH"),
        (["--bands", " , "], "give band names"),
        (["--bands", "red", "--datetime", "1999-01-01/1999-12-31"], "no item matches"),
        (["--bands", "red", "--groupby", "week"], "groupby"),
    ],
)
def test_cube_errors_are_one_line(tmp_path, catalogue, args, message) -> None:
    catalog, _ = catalogue
    out = tmp_path / "x.tif"
    result = RUNNER.invoke(app, ["cube", str(catalog), str(out), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_output_kind_and_cloud_mask_errors(tmp_path, catalogue) -> None:
    catalog, _ = catalogue
    bad = RUNNER.invoke(app, ["cube", str(catalog), str(tmp_path / "x.nc"), "--bands", "red"])
    assert bad.exit_code == 1 and "must end in .tif or .zarr" in bad.output
    args = ["composite", str(catalog), str(tmp_path / "c.tif"), "--bands", "red"]
    mask = RUNNER.invoke(app, [*args, "--cloud-mask", "fog"])
    assert mask.exit_code == 1 and "--cloud-mask 'fog'" in mask.output
    scl = RUNNER.invoke(app, [*args, "--cloud-mask", "scl"])
    assert scl.exit_code == 1 and "has band 'scl'" in scl.output


@pytest.mark.skipif(importlib.util.find_spec("zarr") is None, reason="zarr is not installed")
def test_zarr_round_trip(tmp_path, catalogue) -> None:
    import xarray as xr

    catalog, data = catalogue
    out = tmp_path / "cube.zarr"
    result = RUNNER.invoke(app, ["cube", str(catalog), str(out), "--bands", "red,nir"])
    assert result.exit_code == 0, result.output
    stored = xr.open_zarr(out)["reflectance"]
    np.testing.assert_array_equal(stored.values, data)
