"""cube.save_cube: a cube into a Zarr store or one COG, atomically; flatten_time."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr

from conftest import CRS, TRANSFORM
from satlearn.cube import flatten_time, save_cube
from satlearn.errors import InvalidInputError


def _cube() -> xr.DataArray:
    values = np.arange(2 * 2 * 4 * 5, dtype=np.float32).reshape(2, 2, 4, 5)
    da = xr.DataArray(
        values,
        dims=("time", "band", "y", "x"),
        coords={
            "time": np.array(["2024-04-01", "2024-05-01"], "datetime64[ns]"),
            "band": ["red", "nir"],
            "y": TRANSFORM.f - 10 * (np.arange(4) + 0.5),
            "x": TRANSFORM.c + 10 * (np.arange(5) + 0.5),
            "scale": ("band", [1e-4, 2e-4]),
        },
    )
    return da.rio.write_crs(CRS)


def test_flatten_time_names_every_layer_by_date_and_band() -> None:
    flat = flatten_time(_cube())
    assert flat.dims == ("band", "y", "x")
    assert flat.band.values.tolist() == [
        "2024-04-01_red", "2024-04-01_nir", "2024-05-01_red", "2024-05-01_nir",
    ]  # fmt: skip
    np.testing.assert_array_equal(flat.values[3], _cube().values[1, 1])
    assert flat.coords["scale"].values.tolist() == [1e-4, 2e-4, 1e-4, 2e-4]
    assert flat.rio.crs == _cube().rio.crs


def test_a_tif_holds_one_band_per_date_and_band(tmp_path) -> None:
    out = save_cube(_cube(), tmp_path / "cube.tif")
    with rasterio.open(out) as src:
        assert src.count == 4
        assert src.descriptions[2] == "2024-05-01_red"
        np.testing.assert_array_equal(src.read(4), _cube().values[1, 1])


def test_a_zarr_store_round_trips_and_leaves_no_temporary(tmp_path) -> None:
    out = save_cube(_cube(), tmp_path / "cube.zarr")
    stored = xr.open_zarr(out)["reflectance"]
    assert stored.dims == ("time", "band", "y", "x")
    np.testing.assert_array_equal(stored.values, _cube().values)
    assert [p.name for p in tmp_path.iterdir()] == ["cube.zarr"]


def test_an_existing_store_is_never_replaced(tmp_path) -> None:
    (tmp_path / "cube.zarr").mkdir()
    with pytest.raises(InvalidInputError, match="already exists"):
        save_cube(_cube(), tmp_path / "cube.zarr")


def test_other_suffixes_are_refused(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match=r"must end in \.tif or \.zarr"):
        save_cube(_cube(), tmp_path / "cube.nc")


def test_a_failed_zarr_write_leaves_nothing(tmp_path, monkeypatch) -> None:
    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(OSError, match="disk full"):
        save_cube(_cube(), tmp_path / "cube.zarr")
    assert list(tmp_path.iterdir()) == []
