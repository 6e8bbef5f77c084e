"""ops.composite: cloud-free median composites of a (time, band, y, x) cube."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

from conftest import CRS, TRANSFORM
from satlearn.errors import (
    InvalidInputError,
    NoValidDataError,
    UnknownBandError,
)
from satlearn.ops.composite import SCL_MASKED, median_composite

# odc-geo (under odc-stac) still multiplies Affine by tuples with `*` (affine >= 3
# prefers `@`) and calls shapely.ops.transform (deprecated in shapely 2.1);
# pyproject.toml ignores the first for rasterio and rioxarray already.
ODC_WARNINGS = [
    pytest.mark.filterwarnings(
        "ignore:Use `@` matmul instead of `\\*` mul operator:PendingDeprecationWarning:odc.*"
    ),
    pytest.mark.filterwarnings(
        "ignore:The 'shapely.ops.transform\\(\\)' function is deprecated:DeprecationWarning"
    ),
]
pytestmark = ODC_WARNINGS

DAY = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)


def _cube(values: np.ndarray, *, nodata: float | None = None) -> xr.DataArray:
    t, b, h, w = values.shape
    da = xr.DataArray(
        values,
        dims=("time", "band", "y", "x"),
        coords={
            "time": np.arange(t).astype("datetime64[D]"),
            "band": [f"b{i}" for i in range(b)] if b != 2 else ["red", "nir"],
            "y": TRANSFORM.f - 10 * (np.arange(h) + 0.5),
            "x": TRANSFORM.c + 10 * (np.arange(w) + 0.5),
        },
    ).rio.write_crs(CRS)
    return da.rio.write_nodata(nodata) if nodata is not None else da


def test_median_composite_leaves_out_clouds_and_nodata() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(1, 1000, size=(5, 2, 12, 10)).astype(np.uint16)
    values[1, :, 0, 0] = 0  # nodata
    clouds = rng.random((5, 12, 10)) < 0.3
    clouds[:, 5, 5] = True  # never clear
    cube = _cube(values, nodata=0)
    mask = xr.DataArray(clouds, dims=("time", "y", "x"))
    result = median_composite(cube.chunk({"y": 4, "x": 5}), cloud_mask=mask)
    assert result.dims == ("band", "y", "x") and result.chunks is not None
    assert result.dtype == np.float32
    expected = np.where(clouds[:, None] | (values == 0), np.nan, values.astype(np.float64))
    computed = result.values
    with np.errstate(all="ignore"):
        assert np.isnan(computed[:, 5, 5]).all()
    finite = ~np.isnan(expected).all(axis=0)
    np.testing.assert_allclose(
        computed[finite], np.nanmedian(np.where(finite, expected, 0), axis=0)[finite]
    )
    assert result.rio.crs == cube.rio.crs and result.rio.transform() == cube.rio.transform()
    assert np.isnan(result.rio.nodata)
    # Without a mask the composite is the plain median of valid values.
    plain = median_composite(cube).values
    np.testing.assert_allclose(plain[:, 3, 3], np.median(values[:, :, 3, 3], axis=0))


def test_median_composite_with_scl_and_a_function() -> None:
    rng = np.random.default_rng(4)
    refl = rng.integers(100, 200, size=(4, 1, 6, 6)).astype(np.uint16)
    scl = np.full((4, 1, 6, 6), 4, np.uint16)  # vegetation
    scl[0] = SCL_MASKED[3]  # cloud on the first date
    refl[0] = 9000
    cube = _cube(np.concatenate([refl, scl], axis=1))
    cube = cube.assign_coords(band=["red", "scl"])
    out = median_composite(cube, cloud_mask="scl")
    assert list(out["band"].values) == ["red"]
    np.testing.assert_allclose(out.values[0], np.median(refl[1:, 0], axis=0))
    by_function = median_composite(
        cube.sel(band=["red"]), cloud_mask=lambda d: d.sel(band="red") > 5000
    )
    np.testing.assert_allclose(by_function.values, out.values)


def test_median_composite_with_a_cloud_detector_matches_masking_by_hand() -> None:
    from satlearn.ops.clouds import cloud_mask
    from satlearn.synth import make_scene

    scene = make_scene(96, seed=1, n_dates=3, misregistration=(0, 0), ships=False)
    cube = scene.image
    auto = median_composite(cube, cloud_mask="rules")
    masks = xr.concat([cloud_mask(cube.isel(time=t), method="rules") for t in range(3)], dim="time")
    by_hand = median_composite(cube, cloud_mask=masks)
    np.testing.assert_array_equal(auto.values, by_hand.values)
    # Where the truth has cloud on a date, masking brings the blue band down
    # towards the surface (clouds are bright).
    cloudy = scene.cloud_mask.values.any(axis=0)
    blue_plain = median_composite(cube).sel(band="blue").values[cloudy]
    blue_masked = auto.sel(band="blue").values[cloudy]
    assert np.nanmean(blue_masked) < np.nanmean(blue_plain)


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (xr.DataArray(np.zeros((2, 3, 3), bool), dims=("time", "y", "x")), "shape"),
        (xr.DataArray(np.zeros((3, 3, 3), np.uint8), dims=("time", "y", "x")), "boolean"),
        (xr.DataArray(np.zeros((3, 3), bool), dims=("y", "x")), "must be a boolean"),
    ],
)
def test_median_composite_bad_masks(mask, match) -> None:
    cube = _cube(np.ones((3, 2, 3, 3), np.float32))
    with pytest.raises(InvalidInputError, match=match):
        median_composite(cube, cloud_mask=mask)


def test_median_composite_bad_cubes() -> None:
    with pytest.raises(InvalidInputError, match=r"\(time, band, y, x\)"):
        median_composite(xr.DataArray(np.ones((2, 3, 3)), dims=("band", "y", "x")))
    with pytest.raises(NoValidDataError, match="no time steps"):
        median_composite(_cube(np.ones((0, 2, 3, 3), np.float32)))
    with pytest.raises(UnknownBandError, match=r"needs an 'scl' band.*red, nir"):
        median_composite(_cube(np.ones((2, 2, 3, 3), np.float32)), cloud_mask="scl")


def test_the_old_cube_names_still_work_with_a_deprecation_warning() -> None:
    import satlearn.cube

    with pytest.warns(DeprecationWarning, match=r"satlearn\.ops\.composite\.median_composite"):
        assert satlearn.cube.median_composite is median_composite
    with pytest.warns(DeprecationWarning, match=r"satlearn\.ops\.composite\.SCL_MASKED"):
        assert satlearn.cube.SCL_MASKED == SCL_MASKED
