"""Fuzzing prep.labels' vector readers: read_vector_labels on GeoJSON (read as JSON) and on
GeoPackage / shapefile bytes (read by GDAL through pyogrio), reprojected and checked."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from hypothesis import example, given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, expect_clean, json_documents, mutated_bytes
from satlearn.errors import DatasetError
from satlearn.prep.labels import read_vector_labels

pytestmark = pytest.mark.timeout(120)

X0, Y0 = 400000.0, 5000000.0
POLYGONS = [shapely.box(X0, Y0, X0 + 50, Y0 + 30), shapely.box(X0 + 100, Y0, X0 + 120, Y0 + 80)]
GEOJSON = {
    "type": "FeatureCollection",
    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
    "features": [
        {"type": "Feature", "properties": {"class": c}, "geometry": shapely.geometry.mapping(p)}
        for c, p in zip([1, 2], POLYGONS, strict=True)
    ],
}
GEOJSON = json.loads(json.dumps(GEOJSON))  # mapping() gives tuples: the document as read back


def _check(path: Path) -> None:
    features = expect_clean(
        lambda: read_vector_labels(path, attribute="class", crs="EPSG:4326"), [path.name]
    )
    if features is None:
        return
    for feature in features:
        assert feature["properties"]["class"] is not None
        geometry = feature["geometry"]
        if geometry is not None:
            coords = shapely.get_coordinates(shapely.geometry.shape(geometry))
            assert np.isfinite(coords).all()


@FUZZ
@given(document=json_documents(GEOJSON))
@example(document=b'{"type": "FeatureCollection", "crs": {"properties": []}, "features": []}')
@example(document=b'{"type": "FeatureCollection", "features": 5}')
@example(document=b'{"type": "Feature", "geometry": [1], "properties": {"class": 1}}')
@example(document=b'{"type": "Feature", "properties": [], "geometry": null}')
@example(
    document=b'{"type": "Feature", "properties": {"class": 1}, '
    b'"geometry": {"type": "Polygon", "coordinates": [[1]]}}'
)
@example(
    document=b'{"type": "Feature", "properties": {"class": 1}, '
    b'"geometry": {"type": "Point", "coordinates": [NaN, 1e999]}}'
)
@example(document=b'{"type": "Feature", "properties": {"class": 1}, "geometry": {"type": "Nope"}}')
@example(document=b'{"type": "FeatureCollection", "features": [{"type": []}]}')  # unhashable
@example(
    document=b'{"type": "Feature", "properties": {"class": 1}, '
    b'"geometry": {"type": "Point", "coordinates": [1' + b"0" * 400 + b", 1]}}"
)  # int too large for a float (OverflowError)
@example(
    document=b'{"type": "Feature", "properties": {"class": 1}, '
    b'"geometry": {"type": "Point", "coordinates": ["1", "2"]}}'
)  # shapely takes the strings, rasterio's transform_geom does not (TypeError)
def test_geojson_labels_parse_or_name_the_file(document):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.geojson"
        path.write_bytes(document)
        _check(path)


def _written(tmp_path_factory, name: str, driver: str) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp(driver)
    pyogrio.raw.write(
        folder / name,
        geometry=shapely.to_wkb(np.array(POLYGONS, dtype=object)),
        field_data=[np.array([1, 2], dtype=np.int32)],
        fields=["class"],
        geometry_type="Polygon",
        crs="EPSG:32633",
        driver=driver,
    )
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory):
    return _written(tmp_path_factory, "labels.gpkg", "GPKG")["labels.gpkg"]


@pytest.fixture(scope="module")
def shapefile(tmp_path_factory):
    return _written(tmp_path_factory, "labels.shp", "ESRI Shapefile")


@FUZZ
@given(data=st.data())
def test_geopackage_labels_parse_or_name_the_file(data, gpkg):
    # The sample is drawn in the test: the GeoPackage is written by a fixture.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.gpkg"
        path.write_bytes(data.draw(mutated_bytes(gpkg)))
        _check(path)


@FUZZ
@given(data=st.data())
def test_shapefile_labels_parse_or_name_the_file(data, shapefile):
    part = data.draw(st.sampled_from([".shp", ".dbf", ".shx", ".prj"]))
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in shapefile.items():
            if name.endswith(part):
                content = data.draw(mutated_bytes(content))
            (Path(tmp) / name).write_bytes(content)
        _check(Path(tmp) / "labels.shp")


def test_an_unclosed_ring_in_a_shapefile_names_the_file(tmp_path, shapefile):
    # Found by the fuzzer: GDAL hands the ring over unclosed and GEOS refused it
    # (GEOSException) after GDAL's warning raised inside its error handler.
    for name, content in shapefile.items():
        (tmp_path / name).write_bytes(content)
    shp = bytearray(shapefile["labels.shp"])
    # The first record's first point: 100-byte header, 8-byte record header, type, box,
    # part and point counts, one part offset.
    first = 100 + 8 + 4 + 32 + 4 + 4 + 4
    x = np.frombuffer(bytes(shp[first : first + 8]), "<f8")[0]
    shp[first : first + 8] = np.array([x - 7.0], "<f8").tobytes()
    (tmp_path / "labels.shp").write_bytes(bytes(shp))
    with pytest.raises(DatasetError, match=r"labels\.shp: feature 0 has an invalid geometry"):
        read_vector_labels(tmp_path / "labels.shp", attribute="class", crs="EPSG:4326")


def test_a_prj_that_is_not_utf8_names_the_file(tmp_path, shapefile):
    # Found by the 300-example run: pyogrio's UnboundLocalError after a UnicodeDecodeError.
    for name, content in shapefile.items():
        (tmp_path / name).write_bytes(content)
    prj = shapefile["labels.prj"]
    (tmp_path / "labels.prj").write_bytes(prj[:30] + b"\xff" + prj[30:])
    with pytest.raises(DatasetError, match=r"labels\.shp: a CRS \(\.prj\) that is not UTF-8"):
        read_vector_labels(tmp_path / "labels.shp", attribute="class")
