"""Vector labels <-> masks: burn order, all-touched, instances, CRS, round trips."""

from __future__ import annotations

import json

import numpy as np
import pyogrio.raw
import pytest
import rasterio.warp
import shapely
from affine import Affine

from conftest import CRS, TRANSFORM, make_dataarray
from satlearn.errors import DatasetError, InvalidInputError
from satlearn.metrics import binary_scores
from satlearn.prep.labels import (
    features_bounds,
    rasterize_features,
    read_vector_labels,
    vectorize_mask,
)
from satlearn.vector import write_geojson

X0, Y0 = TRANSFORM.c, TRANSFORM.f  # north-west corner, 10 m pixels


def box(col0, row0, col1, row1, **props):
    """A Feature covering pixels [row0, row1) x [col0, col1) of the test grid."""
    geometry = shapely.box(X0 + 10 * col0, Y0 - 10 * row1, X0 + 10 * col1, Y0 - 10 * row0)
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geometry), "properties": props}


def grid(height=20, width=30):
    return make_dataarray(np.zeros((1, height, width), dtype=np.uint8))


def test_rasterize_burns_attribute_values_on_the_pixels_whose_centres_are_inside():
    features = [box(2, 3, 6, 5, cls=2), box(10, 0, 12, 20, cls=7)]
    out = rasterize_features(features, like=grid(), attribute="cls")
    expected = np.zeros((20, 30), dtype=np.uint8)
    expected[3:5, 2:6] = 2
    expected[0:20, 10:12] = 7
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_area_desc_keeps_a_small_object_on_a_large_one_visible_whatever_the_order():
    small, large = box(4, 4, 6, 6, cls=2), box(0, 0, 10, 10, cls=1)
    for features in ([small, large], [large, small]):
        out = rasterize_features(features, like=grid(), attribute="cls")
        assert (out[4:6, 4:6] == 2).all()
        assert (out == 1).sum() == 100 - 4
    # As given: the last feature wins, so the large one hides the small one.
    hidden = rasterize_features([small, large], like=grid(), attribute="cls", order="as-is")
    assert (hidden[:10, :10] == 1).all()


def test_instances_are_numbered_in_feature_order_not_burn_order():
    features = [box(0, 0, 10, 10), box(4, 4, 6, 6), box(20, 0, 22, 2)]
    out = rasterize_features(features, like=grid(), instances=True)
    assert out[0, 0] == 1 and out[5, 5] == 2 and out[1, 21] == 3
    assert np.bincount(out.ravel()).tolist()[1:] == [96, 4, 4]


def test_all_touched_burns_a_thin_line_and_every_pixel_a_polygon_touches():
    # A polygon 1 m wide running along pixel centres' gaps: no centre inside.
    thin = shapely.box(X0 + 10 * 3 + 1, Y0 - 10 * 8, X0 + 10 * 3 + 2, Y0 - 10 * 2)
    default = rasterize_features([thin], like=grid())
    touched = rasterize_features([thin], like=grid(), all_touched=True)
    assert default.sum() == 0
    assert touched.sum() == 6 and (touched[2:8, 3] == 1).all()


def test_class_map_names_to_ids_and_dtype_follows_the_values():
    features = [box(0, 0, 2, 2, kind="road"), box(5, 5, 7, 7, kind="building")]
    out = rasterize_features(
        features, like=grid(), attribute="kind", class_map={"road": 3, "building": 300}
    )
    assert out.dtype == np.uint16 and out[0, 0] == 3 and out[6, 6] == 300
    floats = rasterize_features([box(0, 0, 2, 2, h=2.5)], like=grid(), attribute="h")
    assert floats.dtype == np.float32 and floats[1, 1] == 2.5
    forced = rasterize_features([box(0, 0, 2, 2)], like=grid(), dtype="int32", fill=-1)
    assert forced.dtype == np.int32 and forced[5, 5] == -1 and forced[0, 0] == 1


def test_features_in_another_crs_are_reprojected_before_burning():
    feature = box(3, 4, 9, 8, cls=1)
    lonlat = rasterio.warp.transform_geom(CRS, "EPSG:4326", feature["geometry"])
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [{"type": "Feature", "geometry": lonlat, "properties": {"cls": 1}}],
    }
    direct = rasterize_features([feature], like=grid())
    via_collection = rasterize_features(collection, like=grid())
    via_argument = rasterize_features(
        [{"type": "Feature", "geometry": lonlat, "properties": {}}],
        like=grid(),
        features_crs="EPSG:4326",
    )
    assert direct.sum() == 24
    np.testing.assert_array_equal(via_collection, direct)
    np.testing.assert_array_equal(via_argument, direct)


def test_rasterize_accepts_geometries_and_skips_empty_ones():
    geometries = [
        shapely.box(X0, Y0 - 20, X0 + 20, Y0),
        None,
        shapely.Polygon(),
        {"type": "Polygon", "coordinates": [[(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 - 10)]]},
    ]
    features = [g if isinstance(g, dict) else {"geometry": g} for g in geometries[1:3]]
    out = rasterize_features([geometries[0], *features, geometries[3]], like=grid())
    assert out.sum() == 4
    one = rasterize_features(
        {"type": "Feature", "geometry": geometries[3]}, transform=TRANSFORM, shape=(2, 2)
    )
    bare = rasterize_features(shapely.geometry.mapping(geometries[0]), like=grid())
    assert one.shape == (2, 2) and bare.sum() == 4
    assert rasterize_features([], like=grid()).sum() == 0


def test_rasterize_bad_input_names_the_problem():
    with pytest.raises(InvalidInputError, match="needs like= or both"):
        rasterize_features([box(0, 0, 1, 1)], transform=TRANSFORM)
    with pytest.raises(InvalidInputError, match="shape must be"):
        rasterize_features([box(0, 0, 1, 1)], transform=TRANSFORM, shape=(0, 3))
    with pytest.raises(InvalidInputError, match="order must be"):
        rasterize_features([box(0, 0, 1, 1)], like=grid(), order="random")
    with pytest.raises(InvalidInputError, match="georeferenced DataArray"):
        rasterize_features([box(0, 0, 1, 1)], like=np.zeros((3, 3)))
    with pytest.raises(InvalidInputError, match="feature 1 is not a GeoJSON Feature"):
        rasterize_features([box(0, 0, 1, 1), 42], like=grid())
    with pytest.raises(DatasetError, match="feature 1 has no attribute 'cls'"):
        rasterize_features([box(0, 0, 1, 1, cls=1), box(0, 0, 1, 1)], like=grid(), attribute="cls")
    with pytest.raises(DatasetError, match="'lake' is not in class_map"):
        rasterize_features(
            [box(0, 0, 1, 1, kind="lake")], like=grid(), attribute="kind", class_map={"road": 1}
        )
    with pytest.raises(DatasetError, match="not a number; give class_map"):
        rasterize_features([box(0, 0, 1, 1, kind="lake")], like=grid(), attribute="kind")
    with pytest.raises(DatasetError, match="not a finite number"):
        rasterize_features([box(0, 0, 1, 1, h=float("inf"))], like=grid(), attribute="h")
    with pytest.raises(InvalidInputError, match="class_map= needs attribute="):
        rasterize_features([box(0, 0, 1, 1)], like=grid(), class_map={"a": 1})
    with pytest.raises(InvalidInputError, match="not a CRS"):
        rasterize_features([box(0, 0, 1, 1)], like=grid(), features_crs="EPSG:nope")


# ----------------------------------------------------------------------------- reading


def write_gpkg(path, features, crs=CRS, driver="GPKG"):
    geometries = np.array(
        [shapely.to_wkb(shapely.geometry.shape(f["geometry"])) for f in features], dtype=object
    )
    names = sorted(features[0]["properties"])
    fields = [np.array([f["properties"][n] for f in features]) for n in names]
    pyogrio.raw.write(
        path, geometries, fields, fields=names, geometry_type="Polygon", crs=crs, driver=driver
    )
    return path


def test_read_geopackage_and_shapefile_with_their_attributes(tmp_path):
    features = [box(2, 3, 6, 5, cls=2, name="a"), box(10, 0, 12, 20, cls=7, name="b")]
    for path, driver in ((tmp_path / "l.gpkg", "GPKG"), (tmp_path / "l.shp", "ESRI Shapefile")):
        read = read_vector_labels(write_gpkg(path, features, driver=driver), attribute="cls")
        assert [f["properties"]["cls"] for f in read] == [2, 7]
        assert [f["properties"]["name"] for f in read] == ["a", "b"]
        burned = rasterize_features(read, like=grid(), attribute="cls")
        np.testing.assert_array_equal(
            burned, rasterize_features(features, like=grid(), attribute="cls")
        )


def test_labels_in_another_crs_are_reprojected_to_the_raster_crs(tmp_path):
    features = [box(3, 4, 9, 8, cls=1), box(20, 10, 25, 15, cls=2)]
    moved = [
        {**f, "geometry": rasterio.warp.transform_geom(CRS, "EPSG:3857", f["geometry"])}
        for f in features
    ]
    path = write_gpkg(tmp_path / "mercator.gpkg", moved, crs="EPSG:3857")
    read = read_vector_labels(path, attribute="cls", like=grid())
    np.testing.assert_array_equal(
        rasterize_features(read, like=grid(), attribute="cls"),
        rasterize_features(features, like=grid(), attribute="cls"),
    )
    # GeoJSON without a crs member is WGS 84 (RFC 7946), and is reprojected too.
    lonlat = [
        {**f, "geometry": rasterio.warp.transform_geom(CRS, "EPSG:4326", f["geometry"])}
        for f in features
    ]
    geojson = write_geojson(lonlat, tmp_path / "labels.geojson")
    again = read_vector_labels(geojson, attribute="cls", crs=CRS)
    np.testing.assert_array_equal(
        rasterize_features(again, like=grid(), attribute="cls"),
        rasterize_features(features, like=grid(), attribute="cls"),
    )
    # A GeoJSON written in the raster's CRS keeps it (legacy crs member).
    native = read_vector_labels(write_geojson(features, tmp_path / "n.geojson", crs=CRS))
    assert features_bounds(native) == features_bounds(features)


def test_read_errors_name_the_file_the_attribute_and_the_row(tmp_path):
    features = [box(2, 3, 6, 5, cls=2), box(10, 0, 12, 20, cls=7)]
    gpkg = write_gpkg(tmp_path / "l.gpkg", features)
    with pytest.raises(DatasetError, match=r"l\.gpkg: no attribute 'class' \(fields: cls\)"):
        read_vector_labels(gpkg, attribute="class")
    geojson = tmp_path / "l.geojson"
    geojson.write_text(
        json.dumps({"type": "FeatureCollection", "features": [features[0], box(0, 0, 1, 1)]})
    )
    with pytest.raises(DatasetError, match=r"l\.geojson: feature 1 lacks attribute 'cls'"):
        read_vector_labels(geojson, attribute="cls")
    nulls = tmp_path / "null.geojson"
    nulls.write_text(
        json.dumps(
            {
                "type": "Feature",
                **{k: v for k, v in box(0, 0, 1, 1, cls=None).items() if k != "type"},
            }
        )
    )
    with pytest.raises(DatasetError, match="feature 0 has a null attribute 'cls'"):
        read_vector_labels(nulls, attribute="cls")
    with pytest.raises(DatasetError, match="not found"):
        read_vector_labels(tmp_path / "missing.gpkg")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(DatasetError, match=r"broken\.geojson: not valid JSON"):
        read_vector_labels(broken)
    other = tmp_path / "other.json"
    other.write_text('{"type": "Topology"}')
    with pytest.raises(DatasetError, match="not a GeoJSON Feature or FeatureCollection"):
        read_vector_labels(other)
    bad_member = tmp_path / "bad.geojson"
    bad_member.write_text('{"type": "FeatureCollection", "features": [3]}')
    with pytest.raises(DatasetError, match=r"bad\.geojson: feature 0 is not a GeoJSON Feature"):
        read_vector_labels(bad_member)
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(DatasetError, match=r"junk\.gpkg: not a vector file GDAL can read"):
        read_vector_labels(junk)


def test_labels_outside_the_raster_are_an_error_naming_both(tmp_path):
    far = [box(1000, 1000, 1010, 1010, cls=1)]
    path = write_geojson(far, tmp_path / "far.geojson", crs=CRS)
    scene = grid()
    scene.attrs["source"] = "scene.tif"
    with pytest.raises(
        DatasetError, match=r"far\.geojson: labels \(1 features.*outside scene\.tif"
    ):
        read_vector_labels(path, like=scene)
    empty = write_geojson([], tmp_path / "empty.geojson", crs=CRS)
    with pytest.raises(DatasetError, match="no geometry"):
        read_vector_labels(empty, like=scene)
    assert features_bounds([]) is None


# ----------------------------------------------------------------------------- vectorize


def class_mask(seed=0, size=48):
    """Blocky classes 0..3 with holes, islands and corner-touching regions."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, (size // 4, size // 4))
    mask = np.kron(coarse, np.ones((4, 4), dtype=np.int64)).astype(np.uint8)
    mask[rng.random((size, size)) < 0.03] = 2  # single-pixel specks
    return mask


@pytest.mark.parametrize("connectivity", [4, 8])
def test_vectorize_then_rasterize_is_the_identity(connectivity):
    mask = class_mask()
    da = make_dataarray(mask[None])[0]
    features = vectorize_mask(da, connectivity=connectivity)
    assert {f["properties"]["class"] for f in features} == {1, 2, 3}
    assert [f["properties"]["id"] for f in features] == list(range(1, len(features) + 1))
    assert sum(f["properties"]["pixels"] for f in features) == int((mask > 0).sum())
    back = rasterize_features(features, like=da, attribute="class")
    np.testing.assert_array_equal(back, mask)


def test_vectorized_polygons_are_georeferenced_and_named():
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[2:4, 5:8] = 1
    [feature] = vectorize_mask(mask, transform=TRANSFORM, crs=CRS, class_names=["bg", "water"])
    assert feature["properties"]["class_name"] == "water"
    assert feature["properties"]["area_m2"] == 600.0
    bounds = shapely.geometry.shape(feature["geometry"]).bounds
    assert bounds == (X0 + 50, Y0 - 40, X0 + 80, Y0 - 20)
    [lonlat] = vectorize_mask(mask, transform=TRANSFORM, crs=CRS, to_wgs84=True)
    lon, lat = shapely.geometry.shape(lonlat["geometry"]).centroid.coords[0]
    assert 13.5 < lon < 14.0 and 45.0 < lat < 45.2  # UTM 33N near (400 km E, 5000 km N)


def test_simplified_polygons_stay_close_and_keep_shared_edges():
    # A disc of class 1 inside a ring of class 2: staircase edges simplify to smooth ones.
    yy, xx = np.mgrid[:64, :64]
    radius = np.hypot(yy - 32, xx - 32)
    mask = np.where(radius < 12, 1, np.where(radius < 24, 2, 0)).astype(np.uint8)
    da = make_dataarray(mask[None])[0]
    exact = vectorize_mask(da)
    simple = vectorize_mask(da, simplify=10.0)  # one pixel
    vertices = sum(
        shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])) for f in exact
    )
    fewer = sum(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])) for f in simple)
    assert fewer < vertices / 2
    back = rasterize_features(simple, like=da, attribute="class")
    for value in (1, 2):
        assert binary_scores(back == value, mask == value).iou > 0.9
    # Coverage simplification: the disc and the ring still do not overlap.
    disc, ring = (shapely.geometry.shape(f["geometry"]) for f in simple)
    assert disc.intersection(ring).area < 1e-6


def test_vectorize_edge_cases():
    assert vectorize_mask(np.zeros((4, 4), dtype=np.uint8)) == []
    bools = np.eye(4, dtype=bool)
    assert len(vectorize_mask(bools, connectivity=4)) == 4
    assert len(vectorize_mask(bools, connectivity=8)) == 1
    with_ignore = np.array([[1, 255], [0, 1]], dtype=np.uint8)
    assert {f["properties"]["class"] for f in vectorize_mask(with_ignore, ignore=[255])} == {1}
    everything = vectorize_mask(with_ignore, background=None, connectivity=4)
    assert sorted(f["properties"]["class"] for f in everything) == [0, 1, 1, 255]
    negative = np.array([[-1, 0], [0, 2]], dtype=np.int16)
    assert sorted(f["properties"]["class"] for f in vectorize_mask(negative)) == [-1, 2]
    tiny = np.zeros((6, 6), dtype=np.uint8)
    tiny[0, 0] = 1
    tiny[2:5, 2:5] = 1
    assert [f["properties"]["pixels"] for f in vectorize_mask(tiny, min_pixels=2)] == [9]
    with pytest.raises(InvalidInputError, match="integer class ids"):
        vectorize_mask(np.zeros((3, 3), dtype=np.float32))
    with pytest.raises(InvalidInputError, match="2-D"):
        vectorize_mask(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="simplify must be"):
        vectorize_mask(tiny, simplify=-1)
    with pytest.raises(InvalidInputError, match="to_wgs84=True needs"):
        vectorize_mask(tiny, to_wgs84=True)
    single_band = make_dataarray(tiny[None])
    assert len(vectorize_mask(single_band)) == 2


def test_round_trip_keeps_a_geographic_crs_grid():
    mask = class_mask(seed=3, size=24)
    transform = Affine(0.001, 0, 13.0, 0, -0.001, 45.0)
    features = vectorize_mask(mask, transform=transform, crs="EPSG:4326", to_wgs84=True)
    back = rasterize_features(
        features, transform=transform, shape=mask.shape, crs="EPSG:4326", attribute="class"
    )
    np.testing.assert_array_equal(back, mask)
    assert all(f["properties"]["area_m2"] is None for f in features)


def test_labels_whose_coordinates_cannot_be_in_their_crs_are_named(tmp_path):
    # Metres in a GeoJSON without a crs member: RFC 7946 reads them as lon/lat.
    path = tmp_path / "utm.geojson"
    square = [[[500000, 4e6], [500100, 4e6], [500100, 4.0001e6], [500000, 4e6]]]
    feature = {
        "type": "Feature",
        "properties": {"class": 1},
        "geometry": {"type": "Polygon", "coordinates": square},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(DatasetError, match=r"utm.geojson: labels in .*cannot be reprojected"):
        read_vector_labels(path, crs="EPSG:32633")
