"""Water masks: agreement with the synthetic truth, thresholds, morphology, bad input, dask."""

from __future__ import annotations

import dask.array
import numpy as np
import pytest
import xarray as xr
from affine import Affine

from conftest import TRANSFORM, make_dataarray
from satlearn.bands import reflectance
from satlearn.checks import pixel_area_m2
from satlearn.errors import CRSMismatchError, InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.ops import water as water_module
from satlearn.ops.threshold import otsu_threshold
from satlearn.ops.water import (
    clean_water_mask,
    edge_otsu_threshold,
    water_index,
    water_mask,
    water_mask_details,
)
from satlearn.synth import make_scene

LAND = {"green": 0.08, "nir": 0.30, "swir16": 0.20, "cirrus": 0.005}
LAKE = {"green": 0.06, "nir": 0.02, "swir16": 0.01, "cirrus": 0.004}


def lake_scene(shape=(120, 160), lake=(slice(30, 90), slice(40, 130)), seed=0, **kwargs):
    """Land with one rectangular lake and a little noise: bands green, nir, swir16, cirrus."""
    rng = np.random.default_rng(seed)
    names = list(LAND)
    data = np.empty((len(names), *shape), np.float32)
    for i, name in enumerate(names):
        data[i] = LAND[name]
        if lake is not None:
            data[i][lake] = LAKE[name]
        data[i] += rng.normal(0, 0.002, shape).astype(np.float32)
    return make_dataarray(data, names=names, **kwargs)


@pytest.fixture(scope="module")
def synthetic():
    scene = make_scene(256, seed=3, n_dates=1)
    return scene, scene.image.isel(time=0)


def iou(mask, truth, valid):
    return (mask & truth & valid).sum() / ((mask | truth) & valid).sum()


# --------------------------------------------------------------------------- agreement


def test_water_mask_matches_the_synthetic_water_and_beats_a_whole_scene_otsu(synthetic):
    scene, image = synthetic
    result = water_mask_details(image)
    truth = scene.landcover.values == 0
    seen = ~(scene.cloud_mask.values[0] & truth)  # water hidden under thick cloud cannot be seen
    assert result.mask.dtype == bool
    assert result.mask.dims == ("y", "x")
    assert result.mask.rio.crs == image.rio.crs
    assert iou(result.mask.values, truth, seen) > 0.8
    # water is ~8 % of the scene: the plain histogram splits land instead
    whole = result.index.values > otsu_threshold(result.index.values)
    assert iou(whole, truth, seen) < 0.6
    assert result.threshold > otsu_threshold(result.index.values)
    assert result.mask.attrs["water_index"] == "MNDWI"
    assert result.mask.attrs["threshold_method"] == "edge-otsu"


def test_ships_lie_inside_the_water_mask(synthetic):
    scene, image = synthetic
    mask = water_mask(image).values
    ships = scene.ship_mask.values[0]
    assert ships.any()
    # ships are bright (not water), their holes are filled
    assert mask[ships].mean() > 0.9


def test_clouds_are_not_water(synthetic):
    scene, image = synthetic
    clouds = scene.cloud_mask.values[0]
    # MNDWI of a cloud is weakly positive; the dark-NIR test rejects it
    assert water_mask(image).values[clouds].mean() < 0.01
    assert water_mask(image, max_nir=None, threshold=0.1).values[clouds].mean() > 0.5


def test_lake_scene_is_recovered_exactly():
    da = lake_scene()
    mask = water_mask(da).values
    expected = np.zeros(mask.shape, bool)
    expected[30:90, 40:130] = True
    expected[[30, 30, 89, 89], [40, 129, 40, 129]] = False  # the disc opening rounds corners
    np.testing.assert_array_equal(mask, expected)


# --------------------------------------------------------------------------- index and threshold


def test_auto_index_falls_back_to_ndwi_without_swir16():
    da = lake_scene()
    assert water_index(da).name == "MNDWI"
    no_swir = da.sel(band=["green", "nir"])
    assert water_index(no_swir).name == "NDWI"
    assert water_mask(no_swir).attrs["water_index"] == "NDWI"
    assert water_mask(no_swir).values[60, 80]
    with pytest.raises(InvalidInputError, match="unknown water index 'awei'"):
        water_index(da, "awei")


def test_fixed_threshold_and_whole_scene_otsu():
    da = lake_scene()
    fixed = water_mask(da, threshold=0.5)
    assert fixed.attrs["threshold"] == 0.5
    assert fixed.attrs["threshold_method"] == "fixed"
    # a threshold above the lake's MNDWI (~0.71) finds nothing
    assert not water_mask(da, threshold=0.9).values.any()
    otsu = water_mask(da, method="otsu")
    assert otsu.attrs["threshold_method"] == "otsu"
    assert otsu.values[60, 80] and not otsu.values[5, 5]
    with pytest.raises(InvalidInputError, match="unknown threshold method 'mean'"):
        water_mask(da, method="mean")
    with pytest.raises(InvalidInputError, match="finite"):
        water_mask(da, threshold=float("nan"))


def test_edge_otsu_splits_between_the_classes_and_falls_back_without_edges():
    index = np.full((64, 64), -0.4, np.float32)
    index[:, 50:] = 0.6
    assert -0.4 < edge_otsu_threshold(index) < 0.6
    flat = np.full((64, 64), -0.4, np.float32)
    flat[0, 0] = 0.6  # no edge long enough for Canny's hysteresis: whole histogram
    assert edge_otsu_threshold(flat) == pytest.approx(otsu_threshold(flat))
    with pytest.raises(InvalidInputError, match="2-D"):
        edge_otsu_threshold(np.zeros(5))


def test_no_water_gives_an_empty_mask_not_half_the_land():
    rng = np.random.default_rng(1)
    da = lake_scene(lake=None)
    # two kinds of land with an edge between them: Otsu alone would call one of them water
    da.values[:, :, 80:] *= np.array([0.5, 1.5, 1.0, 1.0], np.float32)[:, None, None]
    da.values[...] += rng.normal(0, 0.001, da.shape).astype(np.float32)
    result = water_mask_details(da)
    assert result.threshold == 0.0  # the floor: open water has a positive index
    assert not result.mask.values.any()


# --------------------------------------------------------------------------- morphology


def test_clean_water_mask_removes_specks_fills_holes_and_keeps_edges():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 0:30] = True  # a lake touching the left edge of the array
    mask[15, 15] = False  # a one-pixel hole (a ship)
    mask[14:17, 20:23] = False  # a 9-pixel island
    mask[38, 38] = True  # a speck
    out = clean_water_mask(mask, min_object_px=4, max_hole_px=4)
    assert out[15, 15]  # small hole filled
    assert not out[15, 21]  # 9-pixel island kept
    assert not out[38, 38]  # speck removed
    assert out[5:35, 0].all()  # water along the array's edge is not eroded
    assert not out[4, 10] and not out[35, 10]
    assert clean_water_mask(mask, opening_px=0, closing_px=0).sum() == mask.sum()


def test_area_limits_are_in_square_metres():
    da = lake_scene(lake=(slice(30, 36), slice(40, 46)))  # 36 px = 3600 m2 at 10 m
    assert water_mask(da, min_area_m2=3000).values.sum() > 0
    assert water_mask(da, min_area_m2=5000).values.sum() == 0


# --------------------------------------------------------------------------- nodata and bad input


def test_nodata_is_never_water_and_scaled_integers_work():
    da = lake_scene()
    ints = np.round(da.values * 10000).astype(np.uint16)
    ints[:, 50:60, 60:70] = 0
    scaled = make_dataarray(ints, names=list(LAND), nodata=0)
    scaled = scaled.assign_coords(scale=("band", [1e-4] * 4), offset=("band", [0.0] * 4))
    nir = reflectance(scaled, ["nir"]).isel(band=0)
    assert np.isnan(nir.values[55, 65])
    assert nir.values[5, 5] == pytest.approx(0.30, abs=0.01)
    mask = water_mask(scaled).values
    assert not mask[50:60, 60:70].any()
    assert mask[40, 50]


def test_all_nodata_raises_no_valid_data():
    da = lake_scene()
    da.values[...] = np.nan
    with pytest.raises(NoValidDataError, match="no valid pixel for MNDWI"):
        water_mask(da)
    lazy = lake_scene().chunk({"y": 60, "x": 80})
    with pytest.raises(NoValidDataError, match="all nodata"):
        water_mask(lazy, valid=np.zeros((120, 160), bool))


def test_missing_bands_are_named():
    da = lake_scene().sel(band=["nir", "swir16"])
    with pytest.raises(UnknownBandError, match=r"G \(green\)"):
        water_mask(da)
    with pytest.raises(UnknownBandError, match="no 'nir' band; its bands are green, swir16"):
        water_mask(lake_scene().sel(band=["green", "swir16"]))


def test_valid_mask_must_share_the_grid():
    da = lake_scene()
    valid = np.ones((120, 160), bool)
    valid[:, :80] = False
    assert not water_mask(da, valid=valid).values[:, :80].any()
    with pytest.raises(InvalidInputError, match=r"valid mask has shape \(10, 10\)"):
        water_mask(da, valid=np.ones((10, 10), bool))
    other_crs = make_dataarray(valid[None].astype(np.uint8), crs="EPSG:32632")
    with pytest.raises(CRSMismatchError, match="valid mask is in EPSG:32632"):
        water_mask(da, valid=other_crs)
    shifted = make_dataarray(
        valid[None].astype(np.uint8), transform=TRANSFORM @ Affine.translation(3, 0)
    )
    with pytest.raises(InvalidInputError, match="not on the scene's grid"):
        water_mask(da, valid=shifted)
    as_dataarray = make_dataarray(valid[None].astype(np.uint8))
    np.testing.assert_array_equal(water_mask(da, valid=as_dataarray), water_mask(da, valid=valid))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opening_px": -1}, "opening_px must be an int >= 0"),
        ({"closing_px": 1.5}, "closing_px must be an int >= 0"),
        ({"min_area_m2": -5}, "min_area_m2 must be a number >= 0"),
        ({"max_hole_m2": float("inf")}, "max_hole_m2 must be a number >= 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        water_mask(lake_scene(), **kwargs)


def test_bad_scenes():
    with pytest.raises(InvalidInputError, match=r"xarray\.DataArray"):
        water_mask(np.zeros((3, 4, 4)))
    timed = lake_scene().expand_dims(time=2)
    with pytest.raises(InvalidInputError, match=r"time dimension \(2 dates\).*isel\(time=0\)"):
        water_mask(timed)
    with pytest.raises(InvalidInputError, match=r"dims \(band, y, x\)"):
        water_mask(lake_scene().transpose("y", "x", "band"))
    with pytest.raises(InvalidInputError, match="empty"):
        water_mask(lake_scene().isel(x=slice(0, 0)))


def test_ship_names_and_band_reflectance_are_deprecated_here():
    from satlearn.metrics import score_ships
    from satlearn.ops import ships

    with pytest.warns(DeprecationWarning, match=r"satlearn\.ops\.ships"):
        assert water_module.detect_ships is ships.detect_ships
    with pytest.warns(DeprecationWarning, match=r"satlearn\.ops\.ships"):
        assert water_module.score_ships is score_ships
    with pytest.warns(DeprecationWarning, match=r"satlearn\.bands\.reflectance"):
        nir = water_module.band_reflectance(lake_scene(), "nir")
    assert nir.dims == ("y", "x")
    with pytest.raises(AttributeError):
        _ = water_module.no_such_name


def test_water_results_score_and_vectorise_like_every_result():
    da = lake_scene()
    result = water_mask_details(da)
    scores = result.scores(result.mask.values)
    assert scores.f1 == pytest.approx(1.0)
    features = result.to_features(to_wgs84=False)
    assert len(features) >= 1 and features[0]["geometry"]["type"] == "Polygon"


# --------------------------------------------------------------------------- dask


def test_dask_mask_is_lazy_and_identical_to_the_numpy_mask(synthetic):
    _, image = synthetic
    eager = water_mask_details(image)
    lazy = water_mask_details(image.chunk({"band": -1, "y": 64, "x": 96}))
    assert isinstance(lazy.mask.data, dask.array.Array)
    assert lazy.threshold == pytest.approx(eager.threshold)
    # the halo covers every small object and hole: no seam differs
    np.testing.assert_array_equal(lazy.mask.values, eager.mask.values)
    np.testing.assert_array_equal(lazy.raw.values, eager.raw.values)


def test_dask_without_the_nir_test():
    da = lake_scene()
    lazy = water_mask(da.chunk({"y": 50, "x": 50}), max_nir=None)
    assert isinstance(lazy.data, dask.array.Array)
    np.testing.assert_array_equal(lazy.values, water_mask(da, max_nir=None).values)


def test_geographic_crs_areas():
    da = lake_scene(crs="EPSG:4326", transform=Affine(1e-4, 0, 15.0, 0, -1e-4, 45.0))
    assert pixel_area_m2(da) == pytest.approx(11.132**2, rel=1e-3)
    assert water_mask(da).values[60, 80]
    no_crs = xr.DataArray(da.values, dims=da.dims, coords={"band": da.band})
    assert pixel_area_m2(no_crs) == 1.0
