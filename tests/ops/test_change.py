"""Change detection: kernels, methods on planted changes, validity, errors, dask, polygons."""

from __future__ import annotations

import dask
import dask.array
import numpy as np
import pytest
import xarray as xr
from dask.callbacks import Callback

from conftest import make_dataarray
from satlearn.errors import CRSMismatchError, InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.metrics import binary_scores
from satlearn.ops.change import (
    METHODS,
    ChangeResult,
    change_mask,
    cva,
    detect_change,
    difference_magnitude,
    fit_irmad,
    fit_pca_kmeans,
    irmad_chi2,
    log_ratio_magnitude,
    pca_kmeans_labels,
    ratio_magnitude,
)
from satlearn.ops.change._blockwise import stride
from satlearn.ops.threshold import auto_threshold
from satlearn.synth import make_scene

BANDS = ["blue", "green", "red", "nir"]


def planted_pair(size=64, seed=0, gain=1.0, offset=0.0):
    """Two dates of a textured 4-band scene; a square (rows/cols 20:36) changes.

    The after date is ``gain * before + offset`` plus a little noise outside
    the square, where vegetation turns to bare soil (red up, nir down).
    """
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.4, (4, size, size)).astype(np.float32)
    after = base + rng.normal(0, 0.005, base.shape).astype(np.float32)
    after[:, 20:36, 20:36] += np.array([0.10, 0.10, 0.20, -0.15], np.float32)[:, None, None]
    after = gain * after + offset
    truth = np.zeros((size, size), bool)
    truth[20:36, 20:36] = True
    return (
        make_dataarray(base, names=BANDS),
        make_dataarray(after.astype(np.float32), names=BANDS),
        truth,
    )


# --------------------------------------------------------------------------- kernels


def test_difference_magnitude_is_the_rms_of_band_differences_and_propagates_nan():
    before = np.array([[[1.0, 2.0, np.nan]], [[0.0, 0.0, 1.0]]])
    after = np.array([[[4.0, 2.0, 1.0]], [[4.0, 0.0, 1.0]]])
    out = difference_magnitude(before, after)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, :2], [np.sqrt((9 + 16) / 2), 0.0], rtol=1e-6)
    assert np.isnan(out[0, 2])


def test_ratio_magnitudes_are_symmetric_scale_free_and_refuse_non_positive_values():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 1.0, (2, 5, 5))
    b = rng.uniform(0.1, 1.0, (2, 5, 5))
    for kernel in (ratio_magnitude, log_ratio_magnitude):
        np.testing.assert_allclose(kernel(a, b), kernel(b, a), rtol=1e-5)
        np.testing.assert_allclose(kernel(a, b), kernel(7.0 * a, 7.0 * b), rtol=1e-4, atol=1e-6)
    single = np.array([[[2.0, 1.0, 0.0, -1.0]]]), np.array([[[1.0, 4.0, 1.0, 1.0]]])
    np.testing.assert_allclose(ratio_magnitude(*single)[0, :2], [0.5, 0.75])
    np.testing.assert_allclose(log_ratio_magnitude(*single)[0, :2], [np.log(2), np.log(4)], 1e-6)
    assert np.isnan(ratio_magnitude(*single)[0, 2:]).all()
    assert np.isnan(log_ratio_magnitude(*single)[0, 2:]).all()


def test_cva_magnitude_is_the_vector_length_and_direction_the_angle_to_the_diagonal():
    before = np.zeros((3, 1, 4))
    after = np.array([[[1.0, -1.0, 1.0, 0.0]], [[1.0, -1.0, -1.0, 0.0]], [[1.0, -1.0, 0.0, 0.0]]])
    magnitude, direction = cva(before, after)
    np.testing.assert_allclose(magnitude[0], [np.sqrt(3), np.sqrt(3), np.sqrt(2), 0.0], 1e-6)
    # all brighter -> 0, all darker -> pi, a change of shape -> pi/2, no change -> undefined
    np.testing.assert_allclose(direction[0, :3], [0.0, np.pi, np.pi / 2], atol=1e-3)
    assert np.isnan(direction[0, 3])


def test_irmad_is_blind_to_a_linear_radiometric_difference_but_sees_planted_change():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 60, 60))
    y = x + rng.normal(scale=0.1, size=x.shape)
    y[:, :10, :10] += rng.normal(scale=2.0, size=(3, 1, 1)) + 2.0
    fit = fit_irmad(x.reshape(3, -1), y.reshape(3, -1))
    assert fit.converged and fit.iterations >= 2
    # The same pair with the after date re-gained and shifted per band.
    y2 = y * np.array([3.0, 0.5, 2.0])[:, None, None] + np.array([10.0, -1.0, 0.3])[:, None, None]
    fit2 = fit_irmad(x.reshape(3, -1), y2.reshape(3, -1))
    chi, chi2 = irmad_chi2(x, y, fit), irmad_chi2(x, y2, fit2)
    # equal up to the stopping tolerance and the tiny ridge
    np.testing.assert_allclose(chi, chi2, rtol=1e-2, atol=0.05)
    np.testing.assert_allclose(np.sort(fit.rho), fit.rho)  # ascending, Nielsen's order
    assert chi[:10, :10].min() > np.percentile(chi[10:, 10:], 99.9)


def test_pca_kmeans_finds_the_square_of_high_difference():
    rng = np.random.default_rng(0)
    diff = rng.random((80, 80)).astype(np.float32)
    diff[30:50, 10:40] += 3.0
    diff[0, 0] = np.nan
    fit = fit_pca_kmeans(diff, block_size=4, variance=0.9)
    assert fit.components.shape[1] == 16
    labels = pca_kmeans_labels(diff, fit)
    truth = np.zeros_like(labels)
    truth[30:50, 10:40] = True
    assert binary_scores(labels, truth).f1 > 0.95
    assert not labels[0, 0]  # missing pixel


def test_pca_kmeans_without_complete_blocks_says_so():
    diff = np.full((20, 20), np.nan, np.float32)
    diff[::2] = 1.0  # every block has a missing row
    with pytest.raises(NoValidDataError, match="block"):
        fit_pca_kmeans(diff, block_size=3)


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["difference", "cva", "pca-kmeans", "irmad"])
def test_every_method_recovers_a_planted_change(method):
    before, after, truth = planted_pair()
    result = detect_change(before, after, method=method)
    assert isinstance(result, ChangeResult)
    assert result.method == method
    assert result.mask.dtype == bool and result.mask.dims == ("y", "x")
    assert result.magnitude.dtype == np.float32
    assert result.mask.rio.crs == before.rio.crs
    assert result.mask.rio.transform() == before.rio.transform()
    np.testing.assert_array_equal(result.mask.x, before.x)
    scores = binary_scores(result.mask, truth)
    assert scores.f1 > 0.9, scores
    if method != "pca-kmeans":
        np.testing.assert_array_equal(result.mask, result.magnitude > result.threshold)
    else:
        assert result.threshold is None


@pytest.mark.parametrize("method", ["ratio", "log-ratio"])
def test_ratio_methods_recover_a_multiplicative_change_under_speckle(method):
    # SAR-like intensities: gamma speckle multiplies the signal; the square halves.
    rng = np.random.default_rng(1)
    signal = rng.uniform(0.05, 1.0, (1, 64, 64)).astype(np.float32)
    after_signal = signal.copy()
    after_signal[:, 20:36, 20:36] *= 4.0
    looks = 16  # a multi-looked product
    speckle = rng.gamma(looks, 1 / looks, (2, 1, 64, 64)).astype(np.float32)
    before = make_dataarray(signal * speckle[0], names=["vv"])
    after = make_dataarray(after_signal * speckle[1], names=["vv"])
    truth = np.zeros((64, 64), bool)
    truth[20:36, 20:36] = True
    result = detect_change(before, after, method=method, threshold="ki", smooth_px=3)
    assert binary_scores(result.mask, truth).f1 > 0.9
    # Above the threshold, and not explained by the speckle (tested pixel by pixel).
    above = (result.magnitude > result.threshold).values
    assert not (result.mask.values & ~above).any()
    assert result.mask.values[truth].mean() > 0.9
    # a plain difference mistakes bright unchanged pixels for change
    assert binary_scores(detect_change(before, after, method="difference").mask, truth).f1 < 0.9


def test_change_mask_is_the_mask_of_detect_change_with_differencing():
    # change_mask defaulted to differencing before 0.2; the method is explicit now.
    before, after, truth = planted_pair()
    mask = change_mask(before, after, method="difference")
    np.testing.assert_array_equal(mask, detect_change(before, after, method="difference").mask)
    assert mask.dtype == bool
    assert binary_scores(mask, truth).f1 > 0.9


@pytest.mark.parametrize("method", ["cva", "irmad", "pca-kmeans"])
def test_standardising_methods_ignore_a_global_gain_and_offset(method):
    before, after, truth = planted_pair()
    _, brighter, _ = planted_pair(gain=1.8, offset=0.05)
    result = detect_change(before, brighter, method=method)
    np.testing.assert_array_equal(result.mask, detect_change(before, after, method=method).mask)
    assert binary_scores(result.mask, truth).f1 > 0.9


def test_cva_gives_a_direction_other_methods_do_not():
    before, after, _ = planted_pair()
    result = detect_change(before, after, method="cva")
    assert result.direction is not None and result.direction.dims == ("y", "x")
    assert float(result.direction.min()) >= 0 and float(result.direction.max()) <= np.pi
    assert detect_change(before, after, method="difference").direction is None


def test_index_differencing_uses_the_named_index():
    before, after, truth = planted_pair()
    result = detect_change(before, after, method="difference", index="ndvi")

    def ndvi(da):
        nir, red = da.sel(band="nir").values, da.sel(band="red").values
        return (nir - red) / (nir + red)

    expected = np.abs(ndvi(after) - ndvi(before))
    np.testing.assert_allclose(result.magnitude, expected, rtol=1e-4, atol=1e-6)
    assert binary_scores(result.mask, truth).f1 > 0.9
    with pytest.raises(UnknownBandError, match="swir"):
        detect_change(before, after, method="difference", index="nbr")


def test_thresholds_by_name_and_by_value():
    before, after, _ = planted_pair()
    otsu = detect_change(before, after, method="cva", threshold="otsu")
    ki = detect_change(before, after, method="cva", threshold="ki")
    fixed = detect_change(before, after, method="cva", threshold=2.5)
    assert fixed.threshold == 2.5
    np.testing.assert_array_equal(fixed.mask, otsu.magnitude > 2.5)
    # An automatic threshold is the histogram's, raised to the noise floor if below it.
    floor = ki.details["noise"].floor
    assert ki.threshold == max(auto_threshold(ki.magnitude, "kittler-illingworth"), floor)
    assert otsu.threshold == max(auto_threshold(otsu.magnitude, "otsu"), floor)
    assert "noise" not in fixed.details  # a number is used as given
    assert detect_change(before, after, method="irmad").threshold == pytest.approx(
        detect_change(before, after, method="irmad", threshold="kittler-illingworth").threshold
    )
    with pytest.raises(InvalidInputError, match="unknown threshold method"):
        detect_change(before, after, method="cva", threshold="mean")
    with pytest.raises(InvalidInputError, match="threshold must be"):
        detect_change(before, after, method="cva", threshold=[1.0])


def test_smoothing_removes_isolated_noise_but_keeps_areas():
    before, after, truth = planted_pair()
    noisy = after.copy()
    noisy.values[:, 5, 50] += 0.4  # one speckle pixel
    plain = detect_change(before, noisy, method="cva")
    smooth = detect_change(before, noisy, method="cva", smooth_px=3)
    assert plain.mask[5, 50] and not smooth.mask[5, 50]
    assert binary_scores(smooth.mask, truth).f1 > 0.9


# --------------------------------------------------------------------------- validity


def test_nodata_and_the_valid_mask_are_never_change():
    before, after, truth = planted_pair()
    raw_before = (before * 10000).astype(np.uint16).rio.write_nodata(0)
    raw_after = (after * 10000).astype(np.uint16).rio.write_nodata(0)
    raw_after.values[:, 25, 25] = 0  # a nodata pixel inside the change
    allowed = np.ones(truth.shape, bool)
    allowed[30:, :] = False  # e.g. clouds in one of the dates
    result = detect_change(raw_before, raw_after, method="cva", valid=allowed)
    assert not result.mask[25, 25] and np.isnan(result.magnitude[25, 25])
    assert not result.mask.values[30:].any()
    assert np.isnan(result.magnitude.values[30:]).all()
    assert not result.valid[25, 25] and result.valid[10, 10]
    scores = result.scores(truth)
    assert scores.tp + scores.fp + scores.fn + scores.tn == int(result.valid.sum())
    assert scores.f1 > 0.9


def test_scale_and_offset_coordinates_are_applied():
    before, after, _ = planted_pair()
    raw = [(da * 10000 + 1000).round().astype(np.uint16) for da in (before, after)]
    raw = [da.assign_coords(scale=("band", [1e-4] * 4), offset=("band", [-0.1] * 4)) for da in raw]
    scaled = detect_change(*raw, method="difference", threshold=0.05)
    plain = detect_change(before, after, method="difference", threshold=0.05)
    np.testing.assert_allclose(scaled.magnitude, plain.magnitude, atol=2e-4)


def test_all_nodata_raises_no_valid_data_naming_both_inputs():
    before, after, _ = planted_pair()
    empty = after.where(False)
    for method in METHODS:
        with pytest.raises(NoValidDataError, match="before and after share no valid pixel"):
            detect_change(before, empty, method=method)


def test_a_single_band_two_d_input_is_one_band():
    before, after, truth = planted_pair()
    red = [da.sel(band="red", drop=True) for da in (before, after)]
    mask = change_mask(*red, method="difference")
    assert binary_scores(mask, truth).f1 > 0.9


# --------------------------------------------------------------------------- errors


def test_mismatched_grids_crs_and_bands_are_refused_naming_both_inputs():
    before, after, _ = planted_pair()
    with pytest.raises(InvalidInputError, match="before is 64 x 64 pixels, after is 64 x 60"):
        detect_change(before, after.isel(x=slice(0, 60)))
    with pytest.raises(CRSMismatchError, match="before is in EPSG:32633, after in EPSG:4326"):
        detect_change(before, after.rio.write_crs("EPSG:4326"))
    shifted = after.assign_coords(x=after.x + 10.0)
    with pytest.raises(InvalidInputError, match="transforms differ"):
        detect_change(before, shifted)
    renamed = after.assign_coords(band=["b1", "b2", "b3", "b4"])
    with pytest.raises(InvalidInputError, match=r"different bands.*match_bands='position'"):
        detect_change(before, renamed)
    by_position = detect_change(before, renamed, method="cva", match_bands="position")
    np.testing.assert_array_equal(by_position.mask, detect_change(before, after, method="cva").mask)
    with pytest.raises(InvalidInputError, match="before has 4 bands, after has 3"):
        detect_change(before, renamed.isel(band=[0, 1, 2]), match_bands="position")


def test_bands_in_another_order_are_paired_by_name():
    before, after, _ = planted_pair()
    shuffled = after.isel(band=[3, 1, 0, 2])
    np.testing.assert_array_equal(
        detect_change(before, shuffled, method="cva").magnitude,
        detect_change(before, after, method="cva").magnitude,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "mad"}, "unknown change method 'mad'"),
        ({"smooth_px": 0}, "smooth_px must be an int >= 1"),
        ({"method": "pca-kmeans", "block_px": 1}, "block_px must be an int >= 2"),
        ({"method": "pca-kmeans", "variance": 1.5}, "variance must be in"),
        ({"match_bands": "order"}, "match_bands must be"),
        ({"valid": np.ones((3, 3), bool)}, "valid mask has shape"),
        ({"valid": np.ones((64, 64), np.float32)}, "valid mask must be boolean"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    before, after, _ = planted_pair()
    with pytest.raises(InvalidInputError, match=message):
        detect_change(before, after, **kwargs)


def test_inputs_that_are_not_band_y_x_numbers_are_refused():
    before, after, _ = planted_pair()
    with pytest.raises(InvalidInputError, match=r"before must be an xarray\.DataArray"):
        detect_change(before.values, after)
    with pytest.raises(InvalidInputError, match=r"after must have dims \(band, y, x\)"):
        detect_change(before, after.expand_dims(time=1))
    with pytest.raises(InvalidInputError, match="after must hold numbers"):
        detect_change(before, after.astype(str))
    with pytest.raises(InvalidInputError, match="before is empty"):
        detect_change(before.isel(band=[]), after)


# --------------------------------------------------------------------------- dask


class _Computes(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _start(self, dsk) -> None:
        self.count += 1


@pytest.mark.parametrize("method", METHODS)
def test_dask_inputs_give_the_numpy_result(method):
    before, after, _ = planted_pair(size=96)
    eager = detect_change(before, after, method=method, smooth_px=3)
    lazy = detect_change(
        before.chunk({"y": 40, "x": 40}),
        after.chunk({"y": 40, "x": 40}),
        method=method,
        smooth_px=3,
    )
    assert isinstance(lazy.magnitude.data, dask.array.Array)
    assert isinstance(lazy.mask.data, dask.array.Array)
    np.testing.assert_allclose(lazy.magnitude, eager.magnitude, rtol=1e-4, atol=1e-5)
    agreement = float((lazy.mask.values == eager.mask.values).mean())
    assert agreement > 0.999  # pca-kmeans: float rounding can flip a tie at the boundary


def test_per_pixel_differencing_with_a_fixed_threshold_never_computes():
    before, after, _ = planted_pair()
    chunked = [da.chunk({"y": 32, "x": 32}) for da in (before, after)]
    with _Computes() as counter:
        result = detect_change(*chunked, method="log-ratio", threshold=0.1)
        assert counter.count == 0
        result.mask.values  # noqa: B018
        assert counter.count == 1


def test_global_fits_use_a_bounded_sample():
    before, after, _ = planted_pair(size=96)
    full = detect_change(before, after, method="irmad")
    sampled = detect_change(before, after, method="irmad", max_samples=2000)
    assert sampled.details["irmad"].rho.shape == (4,)
    assert binary_scores(sampled.mask, full.mask).kappa > 0.95
    assert stride((96, 96), 2000) == 3


# --------------------------------------------------------------------------- outputs


def test_features_are_one_polygon_per_changed_area_with_its_size():
    before, after, _ = planted_pair()
    result = detect_change(before, after, method="cva")
    features = result.to_features(min_pixels=20)
    assert len(features) == 1
    props = features[0]["properties"]
    assert props["pixels"] == 256 and props["area_m2"] == 256 * 100.0
    assert props["method"] == "cva"
    inside = float(result.magnitude.values[20:36, 20:36].mean())
    assert props["mean_magnitude"] == pytest.approx(inside, rel=1e-4)
    lon, lat = features[0]["geometry"]["coordinates"][0][0]
    assert 10 < lon < 20 and 40 < lat < 50  # WGS 84 (the grid is UTM 33N)
    assert result.to_features(min_pixels=1000) == []


def test_scores_count_only_valid_and_labelled_pixels():
    before, after, truth = planted_pair()
    result = detect_change(before, after, method="cva")
    labelled = np.zeros_like(truth)
    labelled[15:40, 15:40] = True
    scores = result.scores(truth, valid=labelled)
    assert scores == binary_scores(result.mask, truth, valid=labelled)
    assert scores.tp + scores.fp + scores.fn + scores.tn == 625


def test_synthetic_scene_clouds_are_excluded_and_change_is_found_above_chance():
    scene = make_scene(128, seed=0)
    before, after = scene.image.isel(time=0), scene.image.isel(time=-1)
    clear = ~(scene.cloud_mask | scene.shadow_mask | scene.cirrus_mask).any("time")
    truth = scene.change_mask.values
    rate = truth[clear.values].mean()
    result = detect_change(before, after, method="cva", valid=clear)
    assert not result.mask.values[~clear.values].any()
    scores = result.scores(truth)
    # Precision well above the change rate: what is flagged is enriched in true change.
    assert scores.precision > 3 * rate
    assert scores.recall > 0.3
    assert isinstance(result.mask, xr.DataArray)


def test_dask_is_not_needed_to_import(monkeypatch):
    # the numpy path must not build dask graphs
    before, after, _ = planted_pair()
    with dask.config.set(scheduler="sync"):
        with _Computes() as counter:
            detect_change(before, after, method="irmad")
        assert counter.count == 0
