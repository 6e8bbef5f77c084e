"""NetCDF/HDF5 products: CF grid mappings read as rasters, swaths gridded by hand's rules."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS

from satlearn import open_raster
from satlearn.errors import DatasetError, InvalidInputError, RasterNotFoundError, SatlearnError
from satlearn.netcdf import grid_swath, open_netcdf


def write_utm(path, *, wkt=True):
    """A CF-1.8 file: reflectance on a 10 m UTM 33N grid with a transverse_mercator mapping."""
    x = 399960.0 + 5.0 + 10.0 * np.arange(6)
    y = 5000040.0 - 5.0 - 10.0 * np.arange(4)
    data = np.arange(24, dtype=np.float32).reshape(4, 6)
    data[0, 0] = -999.0
    cf = ProjCRS.from_epsg(32633).to_cf()
    if not wkt:
        cf.pop("crs_wkt", None)
        cf.pop("spatial_ref", None)
    ds = xr.Dataset(
        {
            "reflectance": (("y", "x"), data, {"grid_mapping": "transverse_mercator",
                                               "units": "1", "long_name": "red reflectance"}),
            "transverse_mercator": ((), np.int32(0), cf),
        },
        coords={
            "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m", "axis": "X"}),
            "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m", "axis": "Y"}),
        },
        attrs={"Conventions": "CF-1.8"},
    )  # fmt: skip
    ds.to_netcdf(path, engine="h5netcdf", encoding={"reflectance": {"_FillValue": -999.0}})
    return data


def test_cf_grid_mapping_gives_crs_transform_and_values(tmp_path):
    for wkt in (True, False):  # crs_wkt attribute, or the CF parameters through PROJ
        path = tmp_path / f"utm_{wkt}.nc"
        data = write_utm(path, wkt=wkt)
        da = open_netcdf(path)
        assert da.dims == ("band", "y", "x") and list(da["band"].values) == ["reflectance"]
        assert da.rio.crs == CRS.from_epsg(32633)
        assert da.rio.transform() == Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 5000040.0)
        assert np.isnan(da.values[0, 0, 0])  # _FillValue -> NaN, the nodata
        np.testing.assert_array_equal(da.values[0].ravel()[1:], data.ravel()[1:])
        assert da.attrs["long_name"] == "red reflectance"
    # open_raster dispatches .nc here; bands name variables, window subsets.
    via = open_raster(path, bands="reflectance", window=((1, 3), (2, 5)))
    assert via.shape == (1, 2, 3) and via.rio.transform().c == 399960.0 + 20.0
    np.testing.assert_array_equal(via.values[0], data[1:3, 2:5])
    lazy = open_raster(path, chunks={"x": 3})
    assert lazy.chunks is not None and float(lazy.sum()) == pytest.approx(np.nansum(da.values))


def test_lon_lat_grid_south_up_with_time_and_scale_is_north_up(tmp_path):
    lat = np.array([40.125, 40.375, 40.625])  # ascending, as NetCDF usually stores it
    lon = np.array([10.125, 10.375, 10.625, 10.875])
    kelvin = 270.0 + 0.5 * np.arange(24.0).reshape(2, 3, 4)  # stored as int16, scale 0.5
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), kelvin, {"units": "K"})},
        coords={"time": np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[ns]"),
                "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
                "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"})},
    )  # fmt: skip
    path = tmp_path / "sst.nc4"
    ds.to_netcdf(
        path,
        engine="h5netcdf",
        encoding={
            "sst": {"dtype": "int16", "scale_factor": 0.5, "add_offset": 270.0, "_FillValue": -1}
        },
    )
    da = open_netcdf(path, "sst")
    assert da.rio.crs == CRS.from_epsg(4326)
    assert da.rio.transform() == Affine(0.25, 0.0, 10.0, 0.0, -0.25, 40.75)
    assert list(da["y"].values) == [40.625, 40.375, 40.125]
    assert da.sizes["band"] == 2 and "time" in da.coords
    assert xr.open_dataset(path, engine="h5netcdf", decode_cf=False)["sst"].dtype == np.int16
    np.testing.assert_allclose(da.values, kelvin[:, ::-1, :])


def write_s5p(path):
    """A Sentinel-5P-like L2 swath: PRODUCT group, (time, scanline, ground_pixel)."""
    scan, ground = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    lat = 50.1 + 0.3 * scan + 0.05 * ground
    lon = 10.2 + 0.45 * ground
    no2 = (1.0 + scan * 10 + ground).astype(np.float32)
    qa = np.full((4, 5), 1.0)
    qa[1, 2] = 0.3
    qa[3, 0] = 0.4
    dims = ("time", "scanline", "ground_pixel")
    ds = xr.Dataset(
        {
            "nitrogendioxide_tropospheric_column": (dims, no2[None], {"units": "mol m-2"}),
            "latitude": (dims, lat[None].astype(np.float32)),
            "longitude": (dims, lon[None].astype(np.float32)),
            "qa_value": (dims, qa[None]),
        }
    )
    ds.to_netcdf(path, engine="h5netcdf", group="PRODUCT", encoding={
        "qa_value": {"dtype": "uint8", "scale_factor": 0.01, "_FillValue": 255}})  # fmt: skip
    lat32, lon32 = lat.astype(np.float32), lon.astype(np.float32)
    return no2, lat32.astype(float), lon32.astype(float), qa


def test_swath_bin_average_matches_a_hand_computation(tmp_path):
    path = tmp_path / "S5P_L2__NO2.nc"
    no2, lat, lon, qa = write_s5p(path)
    res = 0.5
    grid = grid_swath(path, "nitrogendioxide_tropospheric_column", resolution_deg=res, qa_min=0.5)
    west, north = np.floor(lon.min() / res) * res, np.floor(lat.max() / res) * res + res
    assert grid.rio.crs == CRS.from_epsg(4326)
    assert grid.rio.transform() == Affine(res, 0.0, west, 0.0, -res, north)
    sums: dict[tuple[int, int], list[float]] = {}
    for (i, j), value in np.ndenumerate(no2):  # the hand computation: pixel by pixel
        if qa[i, j] >= 0.5:
            cell = (int((north - lat[i, j]) // res), int((lon[i, j] - west) // res))
            sums.setdefault(cell, []).append(float(value))
    expected = np.full(grid.shape[1:], np.nan)
    for (r, c), values in sums.items():
        expected[r, c] = np.mean(values)
    np.testing.assert_allclose(grid.values[0], expected, rtol=1e-6)
    assert grid.attrs["pixels_used"] == 18 and grid.attrs["gridding"] == "mean"
    assert np.isnan(grid.values).any()  # cells no valid centre falls in stay empty

    # qa masking: with every pixel kept, the masked pixels' values come back.
    everything = grid_swath(path, "nitrogendioxide_tropospheric_column", resolution_deg=res,
                            qa_min=None)  # fmt: skip
    assert everything.attrs["pixels_used"] == 20


def test_swath_nearest_takes_the_nearest_valid_centre(tmp_path):
    path = tmp_path / "S5P_L2__NO2.nc"
    no2, lat, lon, _ = write_s5p(path)
    res = 0.1
    grid = grid_swath(path, "nitrogendioxide_tropospheric_column", resolution_deg=res,
                      method="nearest", max_distance_deg=0.12, qa_min=0.5)  # fmt: skip
    t = grid.rio.transform()

    def cell(i, j):
        return int((t.f - lat[i, j]) // res), int((lon[i, j] - t.c) // res)

    # The cell holding a pixel's centre takes its value (the next centre is >= 0.3 deg
    # away); the cell of the masked pixel (qa 0.3) finds no valid centre within 0.12 deg.
    assert grid.values[0][cell(0, 0)] == no2[0, 0]
    assert grid.values[0][cell(2, 4)] == no2[2, 4]
    assert np.isnan(grid.values[0][cell(1, 2)])
    assert np.isnan(grid.values).any()  # beyond 0.12 degrees of every centre


def test_bad_inputs_are_clear_errors(tmp_path):
    path = tmp_path / "utm.nc"
    write_utm(path)
    with pytest.raises(DatasetError, match=r"no variable 'ndvi' \(variables: reflectance"):
        open_netcdf(path, "ndvi")
    no_coords = tmp_path / "bare.nc"
    xr.Dataset({"b": (("row", "col"), np.zeros((3, 3)))}).to_netcdf(no_coords, engine="h5netcdf")
    with pytest.raises(DatasetError, match="no 1-D x/y or lon/lat coordinates"):
        open_netcdf(no_coords)
    with pytest.raises(DatasetError, match="no latitude/longitude arrays"):
        grid_swath(no_coords, "b", resolution_deg=1.0, qa_min=None)
    no_qa = tmp_path / "no_qa.nc"
    lat2d = (("row", "col"), np.array([[50.0, 50.0], [51.0, 51.0]]))
    lon2d = (("row", "col"), np.array([[10.0, 11.0], [10.0, 11.0]]))
    xr.Dataset(
        {"b": (("row", "col"), np.ones((2, 2))), "latitude": lat2d, "longitude": lon2d}
    ).to_netcdf(no_qa, engine="h5netcdf")
    with pytest.raises(DatasetError, match="no qa_value"):
        grid_swath(no_qa, "b", resolution_deg=1.0)
    assert grid_swath(no_qa, "b", resolution_deg=1.0, qa_min=None).attrs["pixels_used"] == 4
    swath = tmp_path / "S5P.nc"
    write_s5p(swath)
    with pytest.raises(DatasetError, match="no valid pixel"):
        grid_swath(swath, "nitrogendioxide_tropospheric_column", resolution_deg=1.0, qa_min=1.5)
    with pytest.raises(InvalidInputError, match="method must be"):
        grid_swath(swath, "nitrogendioxide_tropospheric_column", resolution_deg=1.0, method="idw")
    with pytest.raises(RasterNotFoundError):
        open_netcdf(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_bytes(b"not a netcdf file at all")
    with pytest.raises(SatlearnError, match="not a NetCDF/HDF5 file"):
        open_raster(tmp_path / "junk.nc")
