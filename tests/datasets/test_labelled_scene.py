"""LabelledScene: any raster plus GeoJSON / GeoPackage / shapefile labels with a class attribute.

The fixture raster is 40 x 60 pixels of 10 m in EPSG:32633 with its top-left
corner at (399960, 5000040) (conftest's TRANSFORM). Labels are drawn on pixel
edges so the expected masks can be written down by hand:

field  x 400060..400260, y 4999990..4999890 -> columns 10..29, rows 5..14  ("forest")
pond   x 400160..400210, y 4999940..4999920 -> columns 20..24, rows 10..11 ("water", on top)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio.warp
import shapely
from affine import Affine

from conftest import CRS, TRANSFORM, write_geotiff
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.labelled_scene import LabelledScene

FIELD = shapely.box(400060, 4999890, 400260, 4999990)
POND = shapely.box(400160, 4999920, 400210, 4999940)


def _expected() -> np.ndarray:
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[5:15, 10:30] = 1  # forest (id 1: sorted class names)
    mask[10:12, 20:25] = 2  # water
    return mask


def _lonlat(geometry: shapely.Geometry) -> dict:
    return rasterio.warp.transform_geom(CRS, "EPSG:4326", shapely.geometry.mapping(geometry))


def _geojson(path: Path, features: list[tuple[dict, dict]], crs: str | None = None) -> Path:
    collection: dict = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": p, "geometry": g} for g, p in features],
    }
    if crs is not None:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection))
    return path


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    data = np.arange(3 * 40 * 60, dtype=np.uint16).reshape(3, 40, 60)
    return write_geotiff(tmp_path / "scene.tif", data, descriptions=["red", "green", "blue"])


@pytest.fixture
def lonlat_labels(tmp_path: Path) -> Path:
    # RFC 7946 GeoJSON: lon/lat, no crs member. The pond comes first in the file,
    # so only the area-descending burn order keeps it visible on the field.
    return _geojson(
        tmp_path / "labels.geojson",
        [(_lonlat(POND), {"class": "water"}), (_lonlat(FIELD), {"class": "forest"})],
    )


def test_lonlat_geojson_reprojected_to_the_raster(raster: Path, lonlat_labels: Path) -> None:
    ds = LabelledScene(raster, lonlat_labels)
    assert len(ds) == 1
    assert ds.classes == ("background", "forest", "water")
    assert ds.bands == ("red", "green", "blue")
    sample = ds[0]
    assert sample["image"].shape == (3, 40, 60) and sample["image"].dtype == np.uint16
    np.testing.assert_array_equal(sample["mask"], _expected())
    assert sample["mask"].dtype == np.uint8
    assert sample["meta"]["window"] == (0, 0, 40, 60)
    assert sample["meta"]["transform"] == tuple(TRANSFORM)[:6]


def test_geopackage_and_shapefile_in_the_raster_crs(raster: Path, tmp_path: Path) -> None:
    for name, driver in (("labels.gpkg", "GPKG"), ("labels.shp", "ESRI Shapefile")):
        path = tmp_path / name
        pyogrio.raw.write(
            path,
            geometry=shapely.to_wkb([FIELD, POND]),
            field_data=[np.array(["forest", "water"], dtype=object)],
            fields=["landcover"],
            geometry_type="Polygon",
            crs=CRS,
            driver=driver,
        )
        ds = LabelledScene(raster, path, attribute="landcover")
        np.testing.assert_array_equal(ds[0]["mask"], _expected())


def test_classes_given_in_order_or_as_mapping(raster: Path, lonlat_labels: Path) -> None:
    ds = LabelledScene(raster, lonlat_labels, classes=["water", "forest", "urban"])
    assert ds.classes == ("background", "water", "forest", "urban")
    expected = _expected()
    np.testing.assert_array_equal(ds[0]["mask"], np.choose(expected, [0, 2, 1]))
    ds = LabelledScene(raster, lonlat_labels, classes={"forest": 3, "water": 7})
    assert ds.classes == ("background", "", "", "forest", "", "", "", "water")
    np.testing.assert_array_equal(ds[0]["mask"], np.choose(expected, [0, 3, 7]))
    with pytest.raises(DatasetError, match="class ids must be >= 1"):
        LabelledScene(raster, lonlat_labels, classes={"forest": 0, "water": 1})


def test_unlisted_class_value_is_an_error(raster: Path, lonlat_labels: Path) -> None:
    with pytest.raises(DatasetError, match=r"feature 0 has class='water', not one of the classes"):
        LabelledScene(raster, lonlat_labels, classes=["forest"])


def test_no_attribute_means_one_class(raster: Path, lonlat_labels: Path) -> None:
    ds = LabelledScene(raster, lonlat_labels, attribute=None)
    assert ds.classes == ("background", "object")
    np.testing.assert_array_equal(ds[0]["mask"], (_expected() > 0).astype(np.uint8))


def test_missing_attribute_names_the_feature(raster: Path, tmp_path: Path) -> None:
    path = _geojson(tmp_path / "l.geojson", [(_lonlat(FIELD), {"kind": "forest"})])
    with pytest.raises(DatasetError, match="feature 0 lacks attribute 'class'"):
        LabelledScene(raster, path)


def test_chips_cover_the_scene_with_full_size_chips(raster: Path, lonlat_labels: Path) -> None:
    ds = LabelledScene(raster, lonlat_labels, chip_size=25)
    # rows start at 0 and 15 (pulled back to end on row 40), columns at 0, 25 and 35
    windows = [s["meta"]["window"] for s in ds]
    assert windows == [(r, c, 25, 25) for r in (0, 15) for c in (0, 25, 35)]
    full = _expected()
    image = np.arange(3 * 40 * 60, dtype=np.uint16).reshape(3, 40, 60)
    for sample in ds:
        r, c, h, w = sample["meta"]["window"]
        np.testing.assert_array_equal(sample["mask"], full[r : r + h, c : c + w])
        np.testing.assert_array_equal(sample["image"], image[:, r : r + h, c : c + w])
        assert sample["meta"]["transform"] == (
            10.0,
            0.0,
            TRANSFORM.c + 10 * c,
            0.0,
            -10.0,
            TRANSFORM.f - 10 * r,
        )
    assert ds.describe()["samples"] == 6 and ds.describe()["features"] == 2


def test_bad_chip_sizes(raster: Path, lonlat_labels: Path) -> None:
    with pytest.raises(DatasetError, match="larger than the 40x60 scene"):
        LabelledScene(raster, lonlat_labels, chip_size=41)
    with pytest.raises(DatasetError, match="positive"):
        LabelledScene(raster, lonlat_labels, chip_size=0)


def test_utm_coordinates_without_a_crs_member_are_not_silently_misplaced(
    raster: Path, tmp_path: Path
) -> None:
    # The classic mistake: projected coordinates in a GeoJSON with no crs member,
    # which RFC 7946 reads as lon/lat.
    path = _geojson(
        tmp_path / "utm.geojson", [(shapely.geometry.mapping(FIELD), {"class": "forest"})]
    )
    with pytest.raises(DatasetError) as info:
        LabelledScene(raster, path)
    message = str(info.value)
    assert "utm.geojson (CRS EPSG:4326)" in message
    assert "scene.tif (CRS EPSG:32633)" in message


def test_labels_elsewhere_name_both_files_and_crss(raster: Path, tmp_path: Path) -> None:
    far = shapely.affinity.translate(FIELD, 50_000, 0)
    path = _geojson(
        tmp_path / "far.geojson",
        [(shapely.geometry.mapping(far), {"class": "forest"})],
        crs="urn:ogc:def:crs:EPSG::32633",
    )
    with pytest.raises(DatasetError) as info:
        LabelledScene(raster, path)
    message = str(info.value)
    assert "far.geojson (CRS EPSG:32633)" in message
    assert "scene.tif (CRS EPSG:32633)" in message


def test_empty_labels_give_background(raster: Path, tmp_path: Path) -> None:
    path = _geojson(tmp_path / "none.geojson", [])
    ds = LabelledScene(raster, path)
    assert ds.classes == ("background",)
    assert not ds[0]["mask"].any()


def test_raster_problems(tmp_path: Path, lonlat_labels: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        LabelledScene(tmp_path / "nope.tif", lonlat_labels)
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    with pytest.raises(DatasetError, match="not a raster GDAL can read"):
        LabelledScene(tmp_path / "bad.tif", lonlat_labels)
    nocrs = write_geotiff(tmp_path / "nocrs.tif", np.zeros((1, 4, 4), np.uint8), crs=None)
    with pytest.raises(DatasetError, match="has no CRS"):
        LabelledScene(nocrs, lonlat_labels)


def test_registered() -> None:
    assert get_dataset("labelled-scene") is LabelledScene


def test_rotated_raster_is_refused(tmp_path: Path, lonlat_labels: Path) -> None:
    rotated = TRANSFORM @ Affine.rotation(10)
    path = write_geotiff(tmp_path / "rot.tif", np.zeros((1, 4, 4), np.uint8), transform=rotated)
    with pytest.raises(DatasetError, match="rotated rasters are not supported"):
        LabelledScene(path, lonlat_labels)
