"""open_raster and info read the real GeoTIFFs in ../shared/data exactly as rasterio does."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from satlearn import open_raster
from satlearn.raster import info

REAL_GEOTIFFS = [
    "landsat8-l1t-crop/l8_B4.tif",
    "landsat8-l1t-crop/l8_B8.tif",
    "landsat8-l1t-crop/l8_BQA.tif",
    "rasterio-testdata/RGB.byte.tif",
    "rasterio-testdata/cogeo.tif",
    "rasterio-testdata/goes.tif",
    "rasterio-testdata/shade.tif",
    "spacenet-buildings-solaris/sample_geotiff.tif",
    "spacenet6-pan-ms-solaris/ms1.tif",
    "spacenet6-pan-ms-solaris/pan1.tif",
    "oscd-bercy/Onera Satellite Change Detection dataset - Train Labels/bercy/cm/bercy-cm.tif",
]


@pytest.mark.parametrize("relative", REAL_GEOTIFFS)
def test_real_geotiff_matches_rasterio(shared_data, relative):
    path = shared_data / relative
    da = open_raster(path)
    with warnings.catch_warnings():
        # The OSCD change map is a plain picture without georeferencing.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds = rasterio.open(path)
    with ds:
        expected = ds.read()
        assert da.shape == (ds.count, ds.height, ds.width)
        assert da.dtype == np.dtype(ds.dtypes[0])
        assert da.rio.crs == ds.crs
        assert da.rio.transform() == ds.transform
        assert da.rio.nodata == ds.nodata or (np.isnan(da.rio.nodata) and np.isnan(ds.nodata))
        window = rasterio.windows.Window(ds.width // 3, ds.height // 4, 37, 29)
        expected_window = ds.read(window=window)
        x_centre, y_centre = ds.xy(window.row_off, window.col_off)
    np.testing.assert_array_equal(da.values, expected)
    part = open_raster(
        path, window=((window.row_off, window.row_off + 29), (window.col_off, window.col_off + 37))
    )
    np.testing.assert_array_equal(part.values, expected_window)
    assert part.x.values[0] == pytest.approx(x_centre)
    assert part.y.values[0] == pytest.approx(y_centre)
    report = info(path)
    assert report["width"] == da.sizes["x"] and report["count"] == da.sizes["band"]


def test_rgb_byte_bands_are_named_from_colour_interpretation(shared_data):
    da = open_raster(shared_data / "rasterio-testdata/RGB.byte.tif")
    assert list(da.band.values) == ["red", "green", "blue"]
    assert da.rio.nodata == 0


def test_cogeo_sample_is_reported_as_a_cog(shared_data):
    assert info(shared_data / "rasterio-testdata/cogeo.tif")["is_cog"] is True
    assert info(shared_data / "landsat8-l1t-crop/l8_B4.tif")["crs"].startswith("EPSG:")


def test_sentinel2_band_file_named_by_sensor(shared_data):
    folder = (
        shared_data / "oscd-bercy/Onera Satellite Change Detection dataset - Images/bercy/imgs_1"
    )
    b08 = next(folder.glob("*_B08.tif"))
    da = open_raster(b08)
    assert da.sizes["band"] == 1
    with rasterio.open(b08) as ds:
        np.testing.assert_array_equal(da.values, ds.read())
