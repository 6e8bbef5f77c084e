"""Feature helpers: time interpolation onto a date grid, series layers, extra layers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.pixelml.features import (
    FeatureSpec,
    extra_names,
    interpolate_time,
    pixel_features,
    series_layers,
)

DATES = np.array(["2024-01-01", "2024-01-05", "2024-01-13", "2024-01-21"], "datetime64[ns]")


def linear_series(shape=(3, 4)) -> xr.DataArray:
    """A (time, y, x) series that is exactly linear in time: value = a + b * day."""
    days = (DATES - DATES[0]) / np.timedelta64(1, "D")
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    b = 0.1 * (1 + a)
    values = a[None] + b[None] * days[:, None, None]
    return xr.DataArray(values, dims=("time", "y", "x"), coords={"time": DATES})


def test_linear_series_is_reproduced_exactly_on_the_grid():
    series = linear_series()
    out = interpolate_time(series, step_days=2)
    assert out.dims == ("time", "y", "x") and out.dtype == np.float64
    grid = np.arange(0, 21, 2)
    np.testing.assert_array_equal(out.time.values, DATES[0] + grid * np.timedelta64(1, "D"))
    a = series.values[0]
    b = 0.1 * (1 + a)
    expected = a[None] + b[None] * grid[:, None, None]
    np.testing.assert_allclose(out.values, expected, rtol=0, atol=1e-12)


def test_masked_observations_are_ignored():
    series = linear_series()
    bent = series.copy()
    bent[1] = 99.0  # a cloud: far off the line, and masked
    bent[2, 0, 0] = np.nan  # NaN counts as invalid too
    valid = np.ones(series.shape, bool)
    valid[1] = False
    out = interpolate_time(bent, valid, step_days=4)
    np.testing.assert_allclose(out.values, interpolate_time(series, step_days=4).values)


def test_edges_take_the_nearest_valid_value_or_nan():
    values = np.array([5.0, 1.0, 3.0, 7.0]).reshape(4, 1, 1)
    valid = np.array([False, True, True, False]).reshape(4, 1, 1)
    out = interpolate_time(values, valid, dates=DATES, step_days=4)  # days 0, 4, ..., 20
    # valid only on day 4 (1.0) and day 12 (3.0): flat outside, linear inside
    assert out.values.ravel().tolist() == [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]
    nan = interpolate_time(values, valid, dates=DATES, step_days=4, extrapolate="nan")
    np.testing.assert_array_equal(nan.values.ravel(), [np.nan, 1.0, 2.0, 3.0, np.nan, np.nan])


def test_pixel_without_valid_observation_is_nan_and_others_are_kept():
    series = linear_series()
    valid = np.ones(series.shape, bool)
    valid[:, 1, 2] = False
    out = interpolate_time(series, valid, step_days=5)
    assert np.isnan(out.values[:, 1, 2]).all()
    assert np.isfinite(np.delete(out.values.reshape(out.sizes["time"], -1), 6, axis=1)).all()


def test_unsorted_dates_bands_grid_and_float32():
    rng = np.random.default_rng(0)
    values = rng.random((4, 2, 3, 3)).astype(np.float32)  # (time, band, y, x)
    valid = rng.random((4, 3, 3)) > 0.3  # one mask per date, for both bands
    valid[0] = True
    order = [2, 0, 3, 1]
    da = xr.DataArray(values, dims=("time", "band", "y", "x"), coords={"band": ["red", "nir"]})
    a = interpolate_time(da, valid, dates=DATES, grid=["2024-01-03", "2024-01-17"])
    b = interpolate_time(values[order], valid[order], dates=DATES[order],
                         grid=["2024-01-17", "2024-01-03"])  # fmt: skip
    assert a.dtype == np.float32 and a.dims == ("time", "band", "y", "x")
    assert a.band.values.tolist() == ["red", "nir"]
    np.testing.assert_allclose(a.values, b.values)
    # reference: numpy.interp per pixel (a test may loop; the library does not)
    days = (DATES - DATES[0]) / np.timedelta64(1, "D")
    for band in range(2):
        for i in range(3):
            for j in range(3):
                ok = valid[:, i, j]
                want = np.interp([2, 16], days[ok], values[ok, band, i, j])
                np.testing.assert_allclose(a.values[:, band, i, j], want, rtol=1e-6)


def test_repeated_date_takes_the_mean_and_same_day_times_stay_distinct():
    dates = ["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-05"]
    values = np.array([0.0, 2.0, 4.0, 6.0]).reshape(4, 1, 1)
    out = interpolate_time(values, dates=dates, step_days=2)
    assert out.values.ravel().tolist() == [0.0, 3.0, 6.0]
    timed = ["2024-01-01T00:00", "2024-01-03T00:00", "2024-01-03T12:00", "2024-01-05T12:00"]
    out = interpolate_time(values, dates=timed, step_days=2)
    assert out.values.ravel().tolist() == [0.0, 2.0, 5.5]  # day 4: 4 + 1.5 / 2 * (6 - 4)


def test_dask_series_is_lazy_and_equal():
    series = linear_series((6, 4))
    valid = xr.DataArray(np.random.default_rng(1).random(series.shape) > 0.4, dims=series.dims)
    valid[0] = True
    lazy = interpolate_time(series.chunk({"y": 2}), valid.chunk({"y": 2}), step_days=3)
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.values, interpolate_time(series, valid, step_days=3).values)


def test_valid_dataarray_is_matched_by_dim_names():
    series = linear_series().expand_dims(band=["ndvi"], axis=1)  # (time, band, y, x)
    valid = xr.DataArray(np.ones((3, 4, 4), bool), dims=("y", "x", "time")).copy()
    valid[0, 0, 1] = False
    out = interpolate_time(series, valid, step_days=4)
    assert out.dims == ("time", "band", "y", "x")
    plain = interpolate_time(linear_series(), valid.transpose("time", "y", "x").values, step_days=4)
    np.testing.assert_allclose(out.values[:, 0], plain.values)


def test_bad_inputs():
    series = linear_series()
    with pytest.raises(InvalidInputError, match="no 'time' dimension"):
        interpolate_time(series.isel(time=0))
    with pytest.raises(InvalidInputError, match="needs dates="):
        interpolate_time(series.values)
    with pytest.raises(InvalidInputError, match=r"\(time, y, x\) or \(time, band, y, x\)"):
        interpolate_time(np.zeros((4, 5)), dates=DATES)
    with pytest.raises(InvalidInputError, match="valid has shape"):
        interpolate_time(series, np.ones((4, 3, 3), bool))
    with pytest.raises(InvalidInputError, match="valid has dims"):
        interpolate_time(series, xr.DataArray(np.ones((3, 4), bool), dims=("y", "x")))
    with pytest.raises(InvalidInputError, match="3 date"):
        interpolate_time(series, dates=DATES[:3])
    with pytest.raises(InvalidInputError, match="not dates"):
        interpolate_time(series.values, dates=["soon", "later", "never", "x"])
    with pytest.raises(InvalidInputError, match="no 'time' coordinate"):
        interpolate_time(series.drop_vars("time"))
    with pytest.raises(InvalidInputError, match="not dates"):
        interpolate_time(series.assign_coords(time=[0.5, 1.5, 2.5, 3.5]))
    with pytest.raises(InvalidInputError, match="step_days"):
        interpolate_time(series, step_days=0)
    with pytest.raises(InvalidInputError, match="extrapolate"):
        interpolate_time(series, extrapolate="linear")
    with pytest.raises(InvalidInputError, match="no date"):
        interpolate_time(series, start="2025-01-01")
    with pytest.raises(InvalidInputError, match=r"DataArray or numpy\.ndarray"):
        interpolate_time([[1.0]])
    with pytest.raises(NoValidDataError, match="no valid observation"):
        interpolate_time(series, np.zeros(series.shape, bool))
    with pytest.raises(NoValidDataError):
        interpolate_time(xr.full_like(series, np.nan))


def test_series_layers_names_and_order():
    out = interpolate_time(linear_series(), step_days=10)
    layers = series_layers(out, "NDVI")
    assert layers.dims == ("feature", "y", "x")
    assert layers.feature.values.tolist() == ["NDVI@2024-01-01", "NDVI@2024-01-11",
                                              "NDVI@2024-01-21"]  # fmt: skip
    np.testing.assert_array_equal(layers.values[1], out.values[1])
    both = out.expand_dims(band=["red", "nir"], axis=1).copy()
    both[:, 1] += 1
    names = series_layers(both).feature.values.tolist()
    assert names[:3] == ["red@2024-01-01", "nir@2024-01-01", "red@2024-01-11"]
    np.testing.assert_array_equal(series_layers(both).values[1], both.values[0, 1])
    with pytest.raises(InvalidInputError, match="'time' dimension"):
        series_layers(out.isel(time=0))
    with pytest.raises(InvalidInputError, match="datetime64"):
        series_layers(out.drop_vars("time"))


def test_extra_layers_join_the_stack_by_name():
    image = xr.DataArray(
        np.random.default_rng(2).random((2, 5, 6)).astype(np.float32),
        dims=("band", "y", "x"), coords={"band": ["red", "nir"]},
    )  # fmt: skip
    extra = xr.DataArray(
        np.stack([np.full((5, 6), 7.0), np.arange(30.0).reshape(5, 6)]),
        dims=("feature", "y", "x"), coords={"feature": ["dem", "slope"]},
    )  # fmt: skip
    spec = FeatureSpec.from_image(image, indices=("ndvi",), extra=["slope"])
    assert spec.names() == ["red", "nir", "NDVI", "slope"]
    assert FeatureSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    stack = pixel_features(image, spec, extra)
    np.testing.assert_array_equal(stack.values[-1], extra.values[1])
    assert extra_names(extra) == ("dem", "slope") and extra_names(None) == ()
    with pytest.raises(InvalidInputError, match="need extra layer"):
        pixel_features(image, spec)
    with pytest.raises(InvalidInputError, match="lacks layer"):
        pixel_features(image, spec, extra.sel(feature=["dem"]))
    with pytest.raises(InvalidInputError, match="grid"):
        pixel_features(image, spec, extra.isel(y=slice(0, 4)))
    with pytest.raises(InvalidInputError, match="use none"):
        pixel_features(image, FeatureSpec.from_image(image), extra)
    with pytest.raises(InvalidInputError, match="dims"):
        extra_names(extra.isel(feature=0))
    with pytest.raises(InvalidInputError, match="repeat"):
        FeatureSpec.from_image(image, extra=["a", "a"])
    shifted = extra.assign_coords(y=np.arange(5.0) + 1, x=np.arange(6.0))
    with pytest.raises(InvalidInputError, match="coordinates differ"):
        pixel_features(image.assign_coords(y=np.arange(5.0), x=np.arange(6.0)), spec, shifted)


def test_real_eolearn_ndvi_series(shared_data):
    folder = shared_data / "eolearn-testeopatch" / "TestEOPatch"
    ndvi = np.load(folder / "data/NDVI.npy", allow_pickle=False)[..., 0]
    valid = np.load(folder / "mask/IS_VALID.npy", allow_pickle=False)[..., 0]
    dates = json.loads((folder / "timestamps.json").read_text())
    out = interpolate_time(ndvi, valid, dates=dates, step_days=16)
    assert out.shape == (56, 101, 100) and out.dtype == np.float32
    assert np.isfinite(out.values).all()  # every pixel has 37-44 clear dates
    # clouds pull NDVI down: the interpolated series is greener than the raw one
    assert float(out.mean()) > float(ndvi.mean()) + 0.05
    # where a grid date falls on a clear acquisition, the value is that acquisition's
    first = out.values[0]
    np.testing.assert_allclose(first[valid[0]], ndvi[0][valid[0]], rtol=1e-6)
