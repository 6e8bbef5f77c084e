"""Automatic thresholds: Otsu against scikit-image, Kittler-Illingworth on skewed classes."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from skimage.filters import threshold_otsu

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.ops.threshold import (
    auto_threshold,
    kittler_illingworth_threshold,
    otsu_threshold,
)


def bimodal(n_low=9000, n_high=1000, seed=0, spread_high=1.0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, n_low), rng.normal(8, spread_high, n_high)])


def test_otsu_agrees_with_scikit_image_within_a_bin():
    values = bimodal()
    bin_width = np.ptp(values) / 256
    assert otsu_threshold(values) == pytest.approx(threshold_otsu(values), abs=bin_width)


def test_every_value_of_the_lower_bin_stays_below_the_threshold():
    values = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.2])
    t = otsu_threshold(values)
    assert (values <= t).sum() == 3


def test_kittler_illingworth_finds_a_small_wide_class_otsu_misplaces():
    # A large narrow class and a small wide one: the minimum-error split sits
    # close to the narrow class, Otsu's drifts towards the middle.
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 0.5, 20000), rng.normal(6, 2.0, 1000)])
    truth = np.r_[np.zeros(20000, bool), np.ones(1000, bool)]
    errors = {}
    for method in ("otsu", "kittler-illingworth"):
        t = auto_threshold(values, method)
        errors[method] = np.count_nonzero((values > t) != truth)
    assert errors["kittler-illingworth"] < errors["otsu"]
    assert 1.0 < kittler_illingworth_threshold(values) < 3.0


def test_nan_and_invalid_pixels_are_ignored():
    values = bimodal()
    noisy = np.concatenate([values, np.full(500, np.nan), np.full(500, 1e6)])
    valid = np.r_[np.ones(values.size, bool), np.ones(500, bool), np.zeros(500, bool)]
    assert otsu_threshold(noisy, valid=valid) == pytest.approx(otsu_threshold(values))


def test_dask_backed_input_gives_the_same_threshold():
    values = bimodal().reshape(100, 100)
    lazy = xr.DataArray(da.from_array(values, chunks=30), dims=("y", "x"))
    valid = da.from_array(values < 9, chunks=30)
    for method in ("otsu", "ki"):
        assert auto_threshold(lazy, method) == pytest.approx(auto_threshold(values, method))
        assert auto_threshold(lazy, method, valid=valid) == pytest.approx(
            auto_threshold(values, method, valid=values < 9)
        )


def test_constant_input_returns_the_constant_and_degenerate_ki_falls_back_to_otsu():
    assert otsu_threshold(np.full(10, 3.0)) == 3.0
    assert kittler_illingworth_threshold(np.full(10, 3.0)) == 3.0
    two_spikes = np.r_[np.zeros(50), np.ones(50)]
    assert 0.0 <= kittler_illingworth_threshold(two_spikes) < 1.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: otsu_threshold(np.full(4, np.nan)), NoValidDataError, "no valid value"),
        (lambda: otsu_threshold(da.full(4, np.nan, chunks=2)), NoValidDataError, "no valid"),
        (lambda: otsu_threshold(np.ones(3), valid=np.ones(2)), InvalidInputError, "valid mask"),
        (lambda: otsu_threshold(np.array(["a"])), InvalidInputError, "numeric"),
        (lambda: otsu_threshold(np.ones(3), bins=1), InvalidInputError, "bins"),
        (lambda: auto_threshold(np.ones(3), "median"), InvalidInputError, "otsu"),
    ],
)
def test_bad_inputs_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()
