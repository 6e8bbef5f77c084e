"""Stereo DEM: synthetic accuracy, left-right check, sub-pixel, filling, strips, errors."""

from __future__ import annotations

import subprocess
import sys
import warnings

import dask.array
import numpy as np
import pytest
import xarray as xr
from affine import Affine

from conftest import make_dataarray
from satlearn.errors import (
    CRSMismatchError,
    DimensionError,
    GridMismatchError,
    InvalidInputError,
    NoValidDataError,
)
from satlearn.metrics import dem_accuracy
from satlearn.ops.stereo import (
    StereoResult,
    compute_disparity,
    disparity_range,
    disparity_to_height,
    estimate_disparity_range,
    stereo_dem,
    stereo_dem_details,
    stretch_pair,
)
from satlearn.ops.stereo import _range as stereo_range
from satlearn.ops.stereo._disparity import rows_per_strip, strips
from satlearn.ops.stereo._sgm import fill_rows
from satlearn.synth import make_scene

RANGE = {"min_disparity": -4, "num_disparities": 32}


@pytest.fixture(scope="module")
def scene():
    return make_scene(192, seed=4, n_dates=1, clouds=False, ships=False)


@pytest.fixture(scope="module")
def pair(scene):
    return scene.stereo_left.values, scene.stereo_right.values, scene.disparity.values


def nmad(errors: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(errors - np.median(errors))))


# --------------------------------------------------------------------------- accuracy


def test_disparity_matches_the_synthetic_truth(pair):
    left, right, truth = pair
    result = compute_disparity(left, right, **RANGE)
    errors = (result.disparity - truth)[result.valid]
    assert result.valid_fraction > 0.9
    assert nmad(errors) < 0.3  # px
    assert abs(float(np.median(errors))) < 0.05
    assert np.mean(np.abs(errors) > 2) < 0.01  # few blunders survive the LR check
    assert np.isfinite(result.disparity).all()  # holes are filled by default


def test_heights_follow_the_sign_convention_of_the_synthetic_pair(scene):
    dem = stereo_dem(
        scene.stereo_left,
        scene.stereo_right,
        base_to_height=scene.base_to_height,
        reference_height=float(scene.dem.min()),
        height_range=(float(scene.dem.min()), float(scene.dem.max())),
    )
    assert dem.dims == ("band", "y", "x")
    assert dem.dtype == np.float32
    assert dem.rio.crs == scene.stereo_left.rio.crs
    assert dem.rio.transform() == scene.stereo_left.rio.transform()
    assert np.isnan(dem.rio.nodata)
    score = dem_accuracy(dem, scene.dem)
    pixel_height = scene.pixel_size_m / scene.base_to_height  # metres per pixel of disparity
    assert score.nmad < 0.3 * pixel_height
    assert abs(score.median) < 0.1 * pixel_height
    assert np.corrcoef(dem.values.ravel(), scene.dem.values.ravel())[0, 1] > 0.98
    assert 0.9 < dem.attrs["valid_fraction"] <= 1.0


def test_swapped_images_give_no_consistent_terrain(scene, pair):
    left, right, truth = pair
    swapped = compute_disparity(right, left, **RANGE, fill=None)
    right_way = compute_disparity(left, right, **RANGE, fill=None)
    assert swapped.valid_fraction < right_way.valid_fraction
    good = swapped.valid & (truth > 2)
    assert np.median(np.abs(swapped.disparity[good] - truth[good])) > 1.0


def test_integer_and_float_inputs_share_the_stretch(pair):
    left, right, _ = pair
    # uint16 DN of the same reflectance (Sentinel-2 style scale 1e-4)
    left16 = np.rint(left * 10000).astype(np.uint16)
    right16 = np.rint(right * 10000).astype(np.uint16)
    low, high = stretch_pair(left, right)
    low16, high16 = stretch_pair(left16, right16)
    assert low16 == pytest.approx(low * 10000, abs=1)
    assert high16 == pytest.approx(high * 10000, abs=1)
    a = compute_disparity(left, right, **RANGE)
    b = compute_disparity(left16, right16, **RANGE)
    assert np.mean(np.abs(a.disparity - b.disparity) < 0.1) > 0.97


def test_stretch_pair_is_shared_and_robust():
    rng = np.random.default_rng(0)
    dark = rng.uniform(0, 1, (50, 50))
    bright = dark + 1.0
    bright[0, 0] = 1e6  # an outlier the percentiles ignore
    low, high = stretch_pair(dark, bright)
    assert low < 0.1 and 1.8 < high < 2.0
    assert stretch_pair(np.ones((20, 20)), np.ones((20, 20))) == (1.0, 2.0)
    with pytest.raises(InvalidInputError, match="percentiles"):
        stretch_pair(dark, dark, percentiles=(99, 1))


# --------------------------------------------------------------------------- left-right check


def test_left_right_check_rejects_pixels_without_a_true_match(pair):
    left, right, truth = pair
    right = right.copy()
    # a patch of the right image that shows something else (an occluded, changed area)
    rng = np.random.default_rng(1)
    rows, cols = slice(80, 120), slice(90, 140)
    right[rows, cols] = rng.permutation(right[rows, cols].ravel()).reshape(40, 50)
    match_cols = np.arange(192)[None, :] - np.rint(truth).astype(int)
    hidden = (match_cols >= 90) & (match_cols < 140)
    hidden[:80] = hidden[120:] = False
    hidden[80:120] &= True
    checked = compute_disparity(left, right, **RANGE, fill=None)
    unchecked = compute_disparity(left, right, **RANGE, fill=None, lr_tolerance=None)
    assert checked.valid[hidden].mean() < unchecked.valid[hidden].mean()
    # the check drops the wrong matches, not the right ones; outside the patch it costs little
    kept = checked.valid & hidden
    dropped = unchecked.valid & ~checked.valid & hidden
    kept_error = np.median(np.abs(checked.disparity[kept] - truth[kept]))
    assert np.median(np.abs(unchecked.disparity[dropped] - truth[dropped])) > kept_error
    assert checked.valid[~hidden].mean() > 0.9
    assert np.isnan(checked.disparity[~checked.valid]).all()


def test_pixels_whose_match_leaves_the_right_image_are_holes(pair):
    left, right, truth = pair
    result = compute_disparity(left, right, **RANGE, fill=None)
    leaves = (np.arange(192)[None, :] - truth) < -1.5
    assert leaves.any()
    assert not result.valid[leaves].any()
    # but the padding lets SGBM answer right up to the left edge where a match exists
    stays = (np.arange(192)[None, :] - truth > 3) & (np.arange(192)[None, :] < 32)
    assert result.valid[stays].mean() > 0.8


# --------------------------------------------------------------------------- sub-pixel


def test_lucas_kanade_step_removes_sgbm_pixel_locking():
    scene = make_scene(256, seed=1, n_dates=1, clouds=False, ships=False)
    left, right = scene.stereo_left.values, scene.stereo_right.values
    truth = scene.disparity.values
    fraction = truth - np.floor(truth)

    def locking(result) -> float:
        # spread of the mean error over bins of the true fractional disparity
        errors = result.disparity - truth
        means = [
            errors[result.valid & (fraction >= a) & (fraction < a + 0.125)].mean()
            for a in np.arange(0, 1, 0.125)
        ]
        return float(np.ptp(means))

    sgbm = compute_disparity(left, right, **RANGE, subpixel="sgbm", fill=None)
    lk = compute_disparity(left, right, **RANGE, subpixel="lk", fill=None)
    assert locking(lk) < 0.6 * locking(sgbm)
    assert nmad((lk.disparity - truth)[lk.valid]) <= 1.1 * nmad(
        (sgbm.disparity - truth)[sgbm.valid]
    )


# --------------------------------------------------------------------------- filling


def test_fill_rows_takes_the_lower_neighbour():
    disparity = np.array([[1.0, np.nan, np.nan, 5.0, np.nan], [np.nan, 2.0, np.nan, 0.5, 7.0]])
    valid = np.isfinite(disparity)
    filled = fill_rows(disparity.astype(np.float32), valid)
    np.testing.assert_array_equal(filled, [[1, 1, 1, 5, 5], [2, 2, 0.5, 0.5, 7]])


def test_fill_methods_fill_holes_but_not_input_nodata(pair):
    left, right, truth = pair
    left = left.copy()
    left[10:20, 100:120] = np.nan  # no data in the left image
    for fill in ("inpaint", "rows"):
        result = compute_disparity(left, right, **RANGE, fill=fill)
        assert np.isnan(result.disparity[10:20, 100:120]).all()
        assert not result.valid[10:20, 100:120].any()
        others = np.ones_like(result.valid)
        others[10:20, 100:120] = False
        assert np.isfinite(result.disparity[others]).all()
        holes = others & ~result.valid
        assert holes.any()
        assert np.median(np.abs(result.disparity[holes] - truth[holes])) < 2.0
    unfilled = compute_disparity(left, right, **RANGE, fill=None)
    assert np.isnan(unfilled.disparity[~unfilled.valid]).all()


# --------------------------------------------------------------------------- strips


def test_strips_match_the_whole_image_away_from_strip_edges(pair):
    left, right, _ = pair
    whole = compute_disparity(left, right, **RANGE, strip_rows=10_000)
    strips = compute_disparity(left, right, **RANGE, strip_rows=48, halo=32)
    diff = np.abs(whole.disparity - strips.disparity)
    assert np.mean(diff < 0.05) > 0.98
    assert np.median(diff) < 1e-3
    assert np.mean(whole.valid == strips.valid) > 0.99


def test_strip_height_follows_the_memory_bound():
    rows = rows_per_strip(10_000, 64, 5, memory_mb=256)
    padded = 10_000 + 2 * (64 + 5)
    assert 4 * padded * 64 * rows <= 256 * 2**20
    assert rows > 64
    assert rows_per_strip(10_000, 64, 5, memory_mb=0.001) == 16
    spans = list(strips(100, 40, 8))
    assert spans == [(0, 48, 0, 40), (32, 88, 40, 80), (72, 100, 80, 100)]


def test_dask_inputs_give_the_numpy_result(pair):
    left, right, _ = pair
    eager = compute_disparity(left, right, **RANGE, strip_rows=64, halo=32)
    lazy = compute_disparity(
        dask.array.from_array(left, chunks=50),
        dask.array.from_array(right, chunks=50),
        **RANGE,
        strip_rows=64,
        halo=32,
    )
    np.testing.assert_array_equal(eager.disparity, lazy.disparity)


# --------------------------------------------------------------------------- range


def test_disparity_range_from_heights_and_base_to_height():
    d_min, n_d = disparity_range(
        (150.0, 400.0), pixel_size_m=5.0, base_to_height=0.5, reference_height=100.0
    )
    # heights 50..250 m above the reference -> 5..25 px, widened by 2 px
    assert d_min == 3
    assert n_d % 16 == 0 and d_min + n_d >= 27
    with pytest.raises(InvalidInputError, match="low <= high"):
        disparity_range((400.0, 150.0), pixel_size_m=5.0, base_to_height=0.5)
    with pytest.raises(InvalidInputError, match="base_to_height"):
        disparity_range((0.0, 1.0), pixel_size_m=5.0, base_to_height=0.0)
    with pytest.raises(InvalidInputError, match="pixel_size"):
        disparity_range((0.0, 1.0), pixel_size_m=-1.0, base_to_height=0.5)


def test_sift_range_covers_the_true_disparities(pair):
    left, right, truth = pair
    low, high = stretch_pair(left, right)
    to8 = [
        np.rint(np.clip((a - low) / (high - low) * 255, 0, 255)).astype(np.uint8)
        for a in (left, right)
    ]
    d_min, n_d = estimate_disparity_range(*to8)
    assert d_min <= np.percentile(truth, 1) and d_min + n_d >= np.percentile(truth, 99)
    assert n_d <= 64  # and stays tight
    auto = compute_disparity(left, right)
    assert auto.min_disparity == d_min
    assert nmad((auto.disparity - truth)[auto.valid]) < 0.3


def test_sift_range_downsamples_large_images(monkeypatch, pair):
    left, right, truth = pair
    monkeypatch.setattr(stereo_range, "SIFT_MAX_SIDE", 96)
    result = compute_disparity(left, right, fill=None)
    assert result.min_disparity <= np.percentile(truth, 1)
    assert result.min_disparity + result.num_disparities >= np.percentile(truth, 99)


def test_textureless_pair_needs_explicit_heights():
    flat = np.full((64, 64), 0.2, dtype=np.float32)
    with pytest.raises(InvalidInputError, match="give the expected heights"):
        compute_disparity(flat, flat)


# --------------------------------------------------------------------------- bad inputs


def test_bad_kernel_inputs_are_named(pair):
    left, right, _ = pair
    with pytest.raises(InvalidInputError, match=r"left has shape \(192, 192\) but right has"):
        compute_disparity(left, right[:, :100], **RANGE)
    with pytest.raises(InvalidInputError, match="2-D"):
        compute_disparity(left[None], right[None], **RANGE)
    with pytest.raises(InvalidInputError, match="numeric"):
        compute_disparity(left.astype(str), right.astype(str), **RANGE)
    with pytest.raises(InvalidInputError, match="too small"):
        compute_disparity(left[:8, :8], right[:8, :8], **RANGE)
    with pytest.raises(NoValidDataError):
        compute_disparity(np.full_like(left, np.nan), np.full_like(right, np.nan), **RANGE)
    with pytest.raises(InvalidInputError, match="does not fit"):
        compute_disparity(left, right, min_disparity=0, num_disparities=200)
    with pytest.raises(InvalidInputError, match="does not fit"):
        compute_disparity(left, right, min_disparity=-200, num_disparities=16)
    with pytest.raises(InvalidInputError, match="both min_disparity and num_disparities"):
        compute_disparity(left, right, min_disparity=0)
    with pytest.raises(InvalidInputError, match="positive"):
        compute_disparity(left, right, min_disparity=0, num_disparities=0)
    for option, value, message in [
        ("block_size", 4, "block_size"),
        ("subpixel", "cubic", "subpixel"),
        ("fill", "zeros", "fill"),
        ("refine_window", 2, "refine_window"),
        ("lr_tolerance", -1.0, "lr_tolerance"),
        ("halo", -1, "halo"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            compute_disparity(left, right, **RANGE, **{option: value})


def dataarrays(scene, **kwargs):
    left = make_dataarray(scene.stereo_left.values[None], names=["pan"], **kwargs)
    right = make_dataarray(scene.stereo_right.values[None], names=["pan"], **kwargs)
    return left, right


def test_stereo_dem_checks_the_grid(scene):
    left, right = dataarrays(scene)
    with pytest.raises(InvalidInputError, match=r"left \(a.tif\) has shape .* but right \(b.tif\)"):
        stereo_dem(
            left.assign_attrs(source="a.tif"),
            right.isel(x=slice(0, 100)).assign_attrs(source="b.tif"),
            base_to_height=0.6,
        )
    moved = right.assign_coords(x=right.x + 30.0)
    with pytest.raises(InvalidInputError, match="different grids"):
        stereo_dem(left, moved, base_to_height=0.6)
    with pytest.raises(CRSMismatchError, match="EPSG:32633"):
        stereo_dem(left, right.rio.write_crs("EPSG:32632"), base_to_height=0.6)
    with pytest.raises(InvalidInputError, match="nodata"):
        stereo_dem(left.rio.write_nodata(0), right.rio.write_nodata(-1), base_to_height=0.6)
    with pytest.raises(InvalidInputError, match="dims"):
        stereo_dem(left.expand_dims(time=1), right, base_to_height=0.6)
    with pytest.raises(InvalidInputError, match="DataArray"):
        stereo_dem(left.values, right, base_to_height=0.6)
    with pytest.raises(InvalidInputError, match="geographic"):
        stereo_dem(left.rio.write_crs("EPSG:4326"), right.rio.write_crs("EPSG:4326"),
                   base_to_height=0.6)  # fmt: skip
    wide = right.rio.write_transform(Affine(10.0, 0, 0, 0, -5.0, 0))
    with pytest.raises(InvalidInputError, match="not square"):
        stereo_dem(wide, wide, base_to_height=0.6)
    with pytest.raises(InvalidInputError, match="base_to_height"):
        stereo_dem(left, right, base_to_height=-0.6)


def test_multiband_inputs_are_refused_unless_a_band_is_chosen(scene):
    left, right = dataarrays(scene)
    noise = np.random.default_rng(0).uniform(size=left.shape).astype(np.float32)
    left3 = xr.concat([left.assign_coords(band=["noise"]).copy(data=noise), left], dim="band")
    right3 = xr.concat([right.assign_coords(band=["noise"]).copy(data=noise), right], dim="band")
    with pytest.raises(InvalidInputError, match=r"left has 2 bands \(noise, pan\).*band="):
        stereo_dem(left3, right3, base_to_height=scene.base_to_height)
    kwargs = {"base_to_height": scene.base_to_height, "height_range": (0.0, 300.0)}
    by_name = stereo_dem(left3, right3, band="pan", **kwargs)
    by_index = stereo_dem(left3, right3, band=2, **kwargs)
    single = stereo_dem(left, right, **kwargs)
    np.testing.assert_array_equal(by_name.values, single.values)
    np.testing.assert_array_equal(by_index.values, single.values)
    with pytest.raises(InvalidInputError, match="no band named 'red'"):
        stereo_dem(left3, right3, band="red", **kwargs)
    with pytest.raises(InvalidInputError, match=r"out of range 1\.\.2"):
        stereo_dem(left3, right3, band=3, **kwargs)


def test_stereo_dem_honours_nodata_and_pixel_size(scene):
    left, right = dataarrays(scene)
    left16 = (left * 10000).round().astype(np.uint16).rio.write_nodata(0)
    right16 = (right * 10000).round().astype(np.uint16).rio.write_nodata(0)
    left16.values[0, :20, :20] = 0
    dem = stereo_dem(left16, right16, base_to_height=scene.base_to_height,
                     height_range=(0.0, 300.0))  # fmt: skip
    assert np.isnan(dem.values[0, :20, :20]).all()
    assert np.isfinite(dem.values[0, 20:, 20:]).all()
    # heights scale with the pixel size given
    doubled = stereo_dem(left16, right16, base_to_height=scene.base_to_height,
                         height_range=(0.0, 600.0), pixel_size_m=20.0)  # fmt: skip
    ratio = np.nanmedian(doubled.values[0, 20:, 20:] / dem.values[0, 20:, 20:].clip(1))
    assert ratio == pytest.approx(2.0, rel=0.05)
    empty = left16.copy(data=np.zeros_like(left16.values))
    with pytest.raises(NoValidDataError):
        stereo_dem(empty, empty, base_to_height=0.6)


def test_stereo_dem_accepts_two_dimensional_dask_inputs(scene):
    left = scene.stereo_left.chunk({"y": 64})
    right = scene.stereo_right.chunk({"y": 64})
    dem = stereo_dem(left, right, base_to_height=scene.base_to_height, height_range=(0, 300))
    eager = stereo_dem(scene.stereo_left, scene.stereo_right,
                       base_to_height=scene.base_to_height, height_range=(0, 300))  # fmt: skip
    np.testing.assert_array_equal(dem.values, eager.values)


# --------------------------------------------------------------------------- heights


def test_disparity_to_height():
    heights = disparity_to_height(
        np.array([-1.0, 0.0, 3.0]), pixel_size_m=0.5, base_to_height=0.25, reference_height=100.0
    )
    np.testing.assert_allclose(heights, [98.0, 100.0, 106.0])
    assert heights.dtype == np.float32


# --------------------------------------------------------------------------- convention


def test_the_detailed_form_gives_the_dem_its_disparity_matches_and_scores(scene):
    kwargs = {"base_to_height": scene.base_to_height, "reference_height": float(scene.dem.min())}
    details = stereo_dem_details(scene.stereo_left, scene.stereo_right, **kwargs)
    assert isinstance(details, StereoResult)
    xr.testing.assert_identical(
        details.dem, stereo_dem(scene.stereo_left, scene.stereo_right, **kwargs)
    )
    assert details.disparity.dims == details.mask.dims == ("y", "x")
    assert details.mask.dtype == bool
    assert details.valid_fraction == pytest.approx(details.dem.attrs["valid_fraction"])
    assert details.scores(scene.dem) == dem_accuracy(details.dem, scene.dem)
    matched = details.scores(scene.dem, matched_only=True)
    assert matched.n == int(details.mask.sum())


def test_pixel_size_is_spelt_with_its_unit_and_the_old_keyword_warns(scene):
    kwargs = {"base_to_height": 0.5, "reference_height": 100.0}
    with pytest.warns(DeprecationWarning, match=r"pixel_size=\.\.\.\) is spelt pixel_size_m"):
        old = disparity_range((150.0, 400.0), pixel_size=5.0, **kwargs)
    assert old == disparity_range((150.0, 400.0), pixel_size_m=5.0, **kwargs)
    with pytest.warns(DeprecationWarning, match="pixel_size_m"):
        heights = disparity_to_height([3.0], pixel_size=0.5, base_to_height=0.25)
    np.testing.assert_array_equal(heights, [6.0])
    pair = {"base_to_height": scene.base_to_height, "height_range": (0.0, 600.0)}
    # Recorded by hand: pytest.warns would re-raise rioxarray's own Affine `*` warning,
    # which the suite's filters ignore.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dem = stereo_dem(scene.stereo_left, scene.stereo_right, pixel_size=20.0, **pair)
    assert [
        w for w in caught if w.category is DeprecationWarning and "pixel_size_m" in str(w.message)
    ]
    assert dem.attrs["pixel_size_m"] == 20.0


def test_dem_accuracy_moved_to_metrics_and_the_old_path_warns():
    import satlearn.metrics
    import satlearn.ops.stereo

    with pytest.warns(
        DeprecationWarning, match=r"ops\.stereo\.dem_accuracy moved to satlearn\.metrics"
    ):
        assert satlearn.ops.stereo.dem_accuracy is satlearn.metrics.dem_accuracy
    with pytest.warns(DeprecationWarning, match="DemAccuracy"):
        from satlearn.ops.stereo import DemAccuracy
    assert DemAccuracy is satlearn.metrics.DemAccuracy
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        satlearn.ops.stereo.nope  # noqa: B018


def test_fill_and_subpixel_names_share_one_wording(pair):
    left, right, _ = pair
    with pytest.raises(
        InvalidInputError, match="unknown fill method 'zeros'; known: inpaint, rows"
    ):
        compute_disparity(left, right, **RANGE, fill="zeros")
    with pytest.raises(InvalidInputError, match="unknown subpixel method 'cubic'; known: lk, sgbm"):
        compute_disparity(left, right, **RANGE, subpixel="cubic")


def test_stereo_inputs_go_through_the_common_raster_check(scene):
    left, right = dataarrays(scene)
    with pytest.raises(DimensionError, match=r"right must have dims \(band, y, x\) or \(y, x\)"):
        stereo_dem(left, right.transpose("x", "y", "band"), base_to_height=0.6)
    with pytest.raises(GridMismatchError, match="different grids"):
        stereo_dem(left, right.assign_coords(y=right.y - 10.0), base_to_height=0.6)
    with pytest.raises(CRSMismatchError, match="None"):
        stereo_dem(left, right.drop_vars("spatial_ref"), base_to_height=0.6)


def test_importing_the_package_loads_numpy_only():
    code = (
        "import sys\n"
        "import satlearn.ops.stereo\n"
        "heavy = ('cv2', 'scipy', 'xarray', 'rioxarray', 'dask')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
