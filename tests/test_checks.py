"""satlearn.checks: the one input check of every operation, and the grid measures."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine

from satlearn.checks import (
    check_raster,
    check_same_grid,
    check_valid_mask,
    metres_per_unit,
    pixel_area_m2,
    pixel_size_m,
)
from satlearn.errors import (
    CRSMismatchError,
    DimensionError,
    GridMismatchError,
    InvalidInputError,
    UnknownBandError,
)


def _image(shape=(2, 4, 5), bands=("red", "nir"), crs="EPSG:32633", res=(10.0, 10.0)):
    da = xr.DataArray(np.ones(shape, np.float32), dims=("band", "y", "x"))
    da = da.assign_coords(band=list(bands))
    da = da.rio.write_crs(crs).rio.write_transform(Affine(res[0], 0, 500_000, 0, -res[1], 0))
    return da


class TestCheckRaster:
    def test_returns_an_accepted_raster_unchanged(self):
        image = _image()
        assert check_raster(image) is image

    def test_dims_errors_are_dimension_errors_and_value_errors(self):
        assert issubclass(DimensionError, InvalidInputError)
        assert issubclass(DimensionError, ValueError)

    def test_refuses_what_is_not_a_dataarray_naming_the_argument(self):
        with pytest.raises(
            DimensionError, match=r"^before must be an xarray\.DataArray, got ndarray"
        ):
            check_raster(np.zeros((2, 3, 3)), what="before")

    def test_a_time_dimension_asks_for_one_date(self):
        stack = xr.concat([_image(), _image()], dim="time")
        with pytest.raises(DimensionError, match=r"time dimension \(2 dates\).*isel\(time=0\)"):
            check_raster(stack)

    def test_a_time_dimension_is_accepted_where_the_op_takes_one(self):
        stack = xr.concat([_image(), _image()], dim="time")
        out = check_raster(stack, dims=[("band", "y", "x"), ("time", "band", "y", "x")])
        assert out.dims == ("time", "band", "y", "x")

    def test_other_dims_are_listed(self):
        odd = xr.DataArray(np.zeros((2, 3)), dims=("a", "b"))
        with pytest.raises(
            DimensionError, match=r"must have dims \(band, y, x\), got \('a', 'b'\)"
        ):
            check_raster(odd)

    def test_a_yx_array_gets_a_band_dim_where_the_op_allows_it(self):
        plane = xr.DataArray(np.zeros((3, 4)), dims=("y", "x"), name="ndvi")
        out = check_raster(plane, expand_yx=True)
        assert out.dims == ("band", "y", "x")
        assert out.coords["band"].values.tolist() == ["ndvi"]
        with pytest.raises(
            DimensionError, match=r"must have dims \(band, y, x\), got \('y', 'x'\)"
        ):
            check_raster(plane)

    def test_a_transposed_raster_is_refused_not_silently_transposed(self):
        image = _image().transpose("y", "x", "band")
        with pytest.raises(DimensionError, match=r"got \('y', 'x', 'band'\)"):
            check_raster(image)

    def test_yx_only_where_the_op_takes_planes(self):
        with pytest.raises(DimensionError, match=r"\(y, x\)"):
            check_raster(_image(), dims=("y", "x"))

    def test_refuses_non_numeric_dtypes(self):
        image = _image().astype(np.complex64)
        message = r"ms must hold numbers \(numeric bands\), got dtype complex64"
        with pytest.raises(DimensionError, match=message):
            check_raster(image, what="ms")

    def test_refuses_empty_rasters(self):
        with pytest.raises(DimensionError, match=r"image is empty \(shape \(2, 0, 5\)\)"):
            check_raster(_image(shape=(2, 0, 5)))

    def test_missing_bands_are_named_with_the_bands_present(self):
        with pytest.raises(UnknownBandError, match=r"no 'swir16' band; its bands are red, nir"):
            check_raster(_image(), bands=("red", "swir16"))

    def test_sensor_ids_count_as_band_names(self):
        image = _image(bands=("B04", "B08"))
        image.attrs["sensor"] = "sentinel2_l1c"
        assert check_raster(image, bands=("red", "nir")) is image

    def test_dask_input_stays_lazy(self):
        image = _image().chunk({"y": 2})
        out = check_raster(image)
        assert isinstance(out.data, dsa.Array)


class TestCheckSameGrid:
    def test_returns_the_data_of_a_layer_on_the_grid(self):
        image = _image()
        mask = image.isel(band=0, drop=True) > 0
        assert check_same_grid(mask, image, what="valid").shape == (4, 5)

    def test_a_single_band_layer_is_accepted(self):
        image = _image()
        assert check_same_grid(image.isel(band=[0]), image, what="valid").shape == (4, 5)

    def test_another_shape_is_a_grid_mismatch(self):
        with pytest.raises(
            GridMismatchError, match=r"valid has shape \(3, 3\), the scene's grid is \(4, 5\)"
        ):
            check_same_grid(np.zeros((3, 3)), _image(), what="valid")

    def test_another_transform_is_a_grid_mismatch(self):
        image = _image()
        shifted = _image(res=(20.0, 20.0)).isel(band=0, drop=True)
        with pytest.raises(GridMismatchError, match="not on the scene's grid"):
            check_same_grid(shifted, image, what="valid")

    def test_another_crs_is_a_crs_mismatch(self):
        other = _image(crs="EPSG:32634").isel(band=0, drop=True)
        with pytest.raises(CRSMismatchError, match="valid is in EPSG:32634"):
            check_same_grid(other, _image(), what="valid")

    def test_three_dimensional_layers_are_refused(self):
        with pytest.raises(DimensionError, match="must be 2-D"):
            check_same_grid(_image(), _image(), what="valid")


class TestGridMeasures:
    def test_projected_metres(self):
        image = _image()
        assert metres_per_unit(image) == 1.0
        assert pixel_area_m2(image) == pytest.approx(100.0)
        assert pixel_size_m(image) == pytest.approx(10.0)

    def test_feet_are_converted(self):
        image = _image(crs="EPSG:2264")  # NAD83 / North Carolina (ftUS)
        assert metres_per_unit(image) == pytest.approx(0.3048006, rel=1e-6)

    def test_degrees_count_about_111_km(self):
        assert metres_per_unit(_image(crs="EPSG:4326")) == pytest.approx(111_320.0)

    def test_no_crs_counts_one_unit_a_metre(self):
        image = xr.DataArray(np.zeros((1, 2, 2)), dims=("band", "y", "x"))
        assert metres_per_unit(image) == 1.0

    def test_nearly_square_pixels_of_real_products_count_as_square(self):
        image = _image(res=(300.0379, 300.0418))
        assert pixel_size_m(image) == pytest.approx(300.03985)

    def test_pixels_not_square_are_refused(self):
        with pytest.raises(GridMismatchError, match=r"pixels are not square \(10.0 x 20.0\)"):
            pixel_size_m(_image(res=(10.0, 20.0)))


class TestCheckValidMask:
    def test_a_dataarray_or_array_becomes_a_boolean_mask(self):
        mask = xr.DataArray(np.array([[1, 0], [0, 2]]), dims=("y", "x"))
        out = check_valid_mask(mask, (2, 2))
        assert out.dtype == bool
        assert out.tolist() == [[True, False], [False, True]]

    def test_another_shape_is_refused_naming_both(self):
        with pytest.raises(
            InvalidInputError, match=r"valid mask has shape \(3, 3\), the image grid is \(2, 2\)"
        ):
            check_valid_mask(np.ones((3, 3), bool), (2, 2))


def test_a_layer_without_coordinates_is_checked_for_its_shape_only():
    image = _image((1, 6, 7), bands=("red",))
    bare = xr.DataArray(np.ones((6, 7), bool), dims=("y", "x"))
    assert check_same_grid(bare, image, what="valid").shape == (6, 7)
    with pytest.raises(GridMismatchError, match="valid"):
        check_same_grid(xr.DataArray(np.ones((5, 7), bool), dims=("y", "x")), image, what="valid")
    # A layer that does carry a grid is still compared.
    moved = bare.rio.write_transform(Affine(10.0, 0, 600_000, 0, -10.0, 0))
    with pytest.raises(GridMismatchError, match="not on the scene's grid"):
        check_same_grid(moved, image, what="valid")
