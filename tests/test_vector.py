"""Masks to GeoJSON features: one per region, exact pixel edges, areas, WGS 84, atomic files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio.warp
from affine import Affine
from shapely.geometry import shape

from conftest import CRS, TRANSFORM, make_dataarray
from satlearn.errors import InvalidInputError
from satlearn.vector import mask_to_features, write_geojson


def two_blobs() -> np.ndarray:
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:6, 3:9] = True  # 24 px
    mask[10:12, 20:21] = True  # 2 px
    return mask


def test_one_feature_per_region_with_pixels_and_area():
    features = mask_to_features(two_blobs(), transform=TRANSFORM, crs=CRS, to_wgs84=False)
    assert [f["properties"]["pixels"] for f in features] == [24, 2]
    assert [f["properties"]["id"] for f in features] == [1, 2]
    assert features[0]["properties"]["area_m2"] == 2400.0
    # The polygon follows the pixel edges exactly.
    polygon = shape(features[0]["geometry"])
    assert polygon.area == pytest.approx(2400.0)
    x0, y0 = TRANSFORM @ (3, 2)
    assert polygon.bounds == pytest.approx((x0, y0 - 40.0, x0 + 60.0, y0))


# pytest.warns re-emits the other warnings it saw without their module, which the
# config's rioxarray-only ignore of affine's `*` notice needs.
@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
def test_dataarray_brings_its_grid_and_wgs84_is_the_default():
    da = make_dataarray(two_blobs()[None].astype(np.uint8)).isel(band=0)
    with pytest.warns(FutureWarning, match="to_wgs84 defaults to False .* from satlearn 0.3.0"):
        features = mask_to_features(da, properties={"kind": "change"})
    assert all(f["properties"]["kind"] == "change" for f in features)
    lon, lat = shape(features[0]["geometry"]).centroid.coords[0]
    x, y = TRANSFORM @ (6, 4)  # the first blob's centre in UTM
    (lon_ref,), (lat_ref,) = rasterio.warp.transform(CRS, "EPSG:4326", [x], [y])
    assert lon == pytest.approx(lon_ref, abs=1e-5)
    assert lat == pytest.approx(lat_ref, abs=1e-5)


def test_min_pixels_and_connectivity():
    mask = np.zeros((5, 5), dtype=bool)
    mask[0, 0] = mask[1, 1] = True  # touching at a corner only
    mask[4, 4] = True
    eight = mask_to_features(mask, to_wgs84=False)
    four = mask_to_features(mask, connectivity=4, to_wgs84=False)
    assert [f["properties"]["pixels"] for f in eight] == [2, 1]
    assert [f["properties"]["pixels"] for f in four] == [1, 1, 1]
    assert mask_to_features(mask, min_pixels=2, to_wgs84=False)[0]["properties"]["pixels"] == 2
    # Without a projected CRS there is no area in square metres.
    assert eight[0]["properties"]["area_m2"] is None


def test_empty_mask_gives_no_features_and_nan_counts_as_outside():
    assert mask_to_features(np.zeros((4, 4)), to_wgs84=False) == []
    floats = np.full((3, 3), np.nan)
    floats[1, 1] = 1.0
    assert len(mask_to_features(floats, to_wgs84=False)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mask": np.zeros((2, 2, 2))}, "2-D"),
        ({"mask": np.array([["a"]])}, "dtype"),
        ({"mask": np.zeros((2, 2)), "connectivity": 6}, "connectivity"),
        ({"mask": np.zeros((2, 2))}, "needs the mask's CRS"),
    ],
)
def test_bad_masks_are_refused(kwargs, message):
    mask = kwargs.pop("mask")
    with pytest.raises(InvalidInputError, match=message):
        mask_to_features(mask, **kwargs)


def test_an_explicit_to_wgs84_or_a_mask_already_in_wgs84_gets_no_future_warning():
    # pytest turns warnings into errors: these calls must stay silent.
    lonlat = mask_to_features(two_blobs(), transform=TRANSFORM, crs=CRS, to_wgs84=True)
    native = mask_to_features(two_blobs(), transform=TRANSFORM, crs=CRS, to_wgs84=False)
    assert shape(lonlat[0]["geometry"]).bounds[0] < 180 < shape(native[0]["geometry"]).bounds[0]
    degrees = Affine(0.001, 0, 12.0, 0, -0.001, 45.0)
    unset = mask_to_features(two_blobs(), transform=degrees, crs="EPSG:4326")
    given = mask_to_features(two_blobs(), transform=degrees, crs="EPSG:4326", to_wgs84=False)
    assert unset == given


def test_write_geojson_is_valid_json_with_plain_values(tmp_path):
    features = mask_to_features(two_blobs(), transform=TRANSFORM, crs=CRS, to_wgs84=True)
    features[0]["properties"].update(score=np.float32(0.5), box=np.arange(4), bad=float("nan"))
    path = write_geojson(iter(features), tmp_path / "out" / "blobs.geojson")
    collection = json.loads(path.read_text())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    props = collection["features"][0]["properties"]
    assert props["score"] == 0.5 and props["box"] == [0, 1, 2, 3] and props["bad"] is None
    assert [p.name for p in path.parent.iterdir()] == ["blobs.geojson"]  # no temporary left


def test_write_geojson_records_a_projected_crs(tmp_path):
    features = mask_to_features(two_blobs(), transform=TRANSFORM, crs=CRS, to_wgs84=False)
    collection = json.loads(write_geojson(features, tmp_path / "utm.geojson", crs=CRS).read_text())
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32633"
    wgs = json.loads(write_geojson([], tmp_path / "wgs.geojson", crs="EPSG:4326").read_text())
    assert "crs" not in wgs and wgs["features"] == []


def test_write_geojson_refuses_what_is_not_a_feature(tmp_path):
    with pytest.raises(InvalidInputError, match="feature 0 is not a GeoJSON Feature"):
        write_geojson([{"type": "Point"}], tmp_path / "x.geojson")
    assert not (tmp_path / "x.geojson").exists()
