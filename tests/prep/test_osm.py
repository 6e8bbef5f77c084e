"""OSM extracts of a synthetic scene's truths rasterised back onto its grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import skeletonize

from satlearn.errors import DatasetError, InvalidInputError, SatlearnError
from satlearn.prep.osm import (
    IGNORE,
    is_area,
    label_noise,
    labelled_fraction,
    load_classes,
    osm_labels,
    osm_targets,
    read_osm,
)


def truths(scene):
    return {
        "water": scene.landcover.values == 0,
        "building": scene.buildings_mask.values[0],
        "road": scene.landcover.values == 6,
    }


def road_within_one_pixel(road_label, road_truth):
    """Every labelled road pixel lies within one pixel of the truth's centreline, and back."""
    centreline = skeletonize(road_truth)
    to_truth = ndimage.distance_transform_cdt(~centreline, metric="chessboard")
    to_label = ndimage.distance_transform_cdt(~road_label, metric="chessboard")
    return int(to_truth[road_label].max()), int(to_label[centreline].max())


@pytest.mark.parametrize("fmt", ["xml", "pbf", "overpass"])
def test_targets_match_the_scene_truths(osm_case, fmt):
    extract = getattr(osm_case, fmt)
    targets = osm_targets(extract, osm_case.scene.image[0], classes=osm_case.classes)
    assert targets.classes == ["background", "water", "road", "building"]
    assert targets.mask.dtype == np.uint8 and targets.mask.rio.nodata == IGNORE
    assert targets.mask.rio.crs == osm_case.scene.image.rio.crs
    assert targets.mask.rio.transform() == osm_case.scene.transform
    noise = targets.scores(truths(osm_case.scene))
    assert noise["building"].iou >= 0.95
    assert noise["water"].iou >= 0.95
    road = targets.mask.values == 2
    assert max(road_within_one_pixel(road, truths(osm_case.scene)["road"])) <= 1
    # The road truth is 1-2 px wide, the OSM centreline buffered by 12 m about one:
    # OSM misses part of the road's width (omission), it adds none (commission).
    assert noise["road"].commission == 0.0 and 0.2 < noise["road"].omission < 0.6


def test_instances_number_the_buildings_and_edges_can_be_ignored(osm_case):
    scene = osm_case.scene
    targets = osm_targets(osm_case.pbf, osm_case.scene_path, classes=osm_case.classes)
    buildings = scene.buildings_mask.values[0]
    _, regions = ndimage.label(buildings, structure=np.ones((3, 3)))
    ids = targets.instances.values
    assert ids.dtype == np.uint32 and int(ids.max()) == regions == targets.counts["building"]
    assert np.array_equal(ids > 0, buildings)
    ignored = osm_targets(
        osm_case.pbf, osm_case.scene_path, classes=osm_case.classes, edge_ignore_px=1
    ).mask.values
    # A pixel is ignored iff a pixel of another class lies within one pixel of it.
    mask = targets.mask.values
    near = ndimage.maximum_filter(mask, 3) != ndimage.minimum_filter(mask, 3)
    near |= ndimage.maximum_filter(ids, 3) != ndimage.minimum_filter(ids, 3)
    assert np.array_equal(ignored == IGNORE, near)
    assert np.array_equal(ignored[~near], mask[~near])
    fractions = labelled_fraction(ignored, targets.classes)
    assert fractions["ignored"] == pytest.approx(near.mean())
    assert sum(fractions.values()) == pytest.approx(1.0)


def test_report_and_features(osm_case):
    targets = osm_targets(osm_case.xml, osm_case.scene.image[0], classes=osm_case.classes)
    report = targets.report(truths(osm_case.scene))
    assert "building" in report and "IoU 1.000" in report and "ignored" in report
    features = targets.to_features()
    assert {f["properties"]["class"] for f in features} == {"water", "road", "building"}
    short = osm_labels(osm_case.xml, osm_case.scene.image[0], classes=osm_case.classes)
    assert np.array_equal(short.values, targets.mask.values)


def test_reader_keeps_tags_ids_and_the_area_convention(osm_case, tmp_path):
    extract = read_osm(osm_case.pbf, keys=["building"])
    assert extract.features and all("building" in f["properties"] for f in extract.features)
    assert all(f["id"].startswith(("way/", "relation/")) for f in extract.features)
    assert {f["geometry"]["type"] for f in extract.features} == {"MultiPolygon"}
    assert is_area({"highway": "primary"}, True) is False
    assert is_area({"highway": "pedestrian", "area": "yes"}, True) is True
    assert is_area({"waterway": "riverbank"}, True) is True
    assert is_area({"building": "yes"}, False) is False


def test_overpass_out_geom_multipolygon_and_geojson_exports(osm_case, tmp_path):
    scene = osm_case.scene
    left, bottom, right, top = scene.image.rio.bounds()
    import rasterio.warp

    w, s, e, n = rasterio.warp.transform_bounds(
        scene.image.rio.crs, "EPSG:4326", left, bottom, right, top
    )
    dx, dy = (e - w) / 4, (n - s) / 4

    def ring(x0, y0, x1, y1):
        return [{"lon": x, "lat": y} for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]

    outer = ring(w + dx, s + dy, e - dx, n - dy)
    inner = ring(w + 1.5 * dx, s + 1.5 * dy, e - 1.5 * dx, n - 1.5 * dy)
    lake = {
        "type": "relation", "id": 5, "tags": {"type": "multipolygon", "natural": "water"},
        "members": [
            {"type": "way", "ref": 1, "role": "outer", "geometry": outer},
            {"type": "way", "ref": 2, "role": "inner", "geometry": inner},
        ],
    }  # fmt: skip
    path = tmp_path / "lake.json"
    path.write_text(json.dumps({"elements": [lake]}))
    mask = osm_labels(path, scene.image[0], classes=osm_case.classes).values
    h, wd = mask.shape
    assert mask[h // 2, wd // 2] == 0 and mask[h // 4 + 4, wd // 2] == 1  # the island stays land
    assert 0.15 < (mask == 1).mean() < 0.3

    geojson = tmp_path / "export.geojson"
    square = [
        [w + dx, s + dy],
        [e - dx, s + dy],
        [e - dx, n - dy],
        [w + dx, n - dy],
        [w + dx, s + dy],
    ]
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "way/9", "properties": {"tags": {"building": "yes"}},
         "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]}))  # fmt: skip
    targets = osm_targets(geojson, scene.image[0], classes=osm_case.classes)
    assert 0.2 < (targets.mask.values == 3).mean() < 0.3
    assert targets.features[0]["properties"]["osm_id"] == "way/9"


def test_bad_inputs_are_clear_errors(osm_case, tmp_path):
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("classes:\n  - name: shops\n    tags: {amenity: shop}\n")
    with pytest.raises(InvalidInputError, match="unknown tag key 'amenity'"):
        load_classes(bad_key)
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text("classes:\n  - name: road\n    tags: {highway: '*'}\n    widht_m: 5\n")
    with pytest.raises(InvalidInputError, match="unknown key 'widht_m'"):
        load_classes(misspelt)
    with pytest.raises(InvalidInputError, match="width_m values must be > 0"):
        load_classes({"classes": [{"name": "r", "tags": {"highway": "*"}, "width_m": -1}]})

    far = tmp_path / "far.json"
    corners = [(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01)]
    elements = [
        {"type": "node", "id": i, "lon": 100 + x, "lat": 10 + y}
        for i, (x, y) in enumerate(corners, 1)
    ]
    elements.append({"type": "way", "id": 1, "nodes": [1, 2, 3, 4, 1], "tags": {"building": "yes"}})
    far.write_text(json.dumps({"elements": elements}))
    with pytest.raises(DatasetError, match="overlaps the scene") as err:
        osm_targets(far, osm_case.scene.image[0], classes=osm_case.classes)
    assert "far.json" in str(err.value) and "100.0" in str(err.value)

    corrupt = tmp_path / "corrupt.osm.pbf"
    corrupt.write_bytes(osm_case.pbf.read_bytes()[:40] + b"\x00garbage" * 64)
    with pytest.raises(DatasetError, match=r"corrupt\.osm\.pbf: not an OSM extract"):
        read_osm(corrupt)
    with pytest.raises(SatlearnError, match="not found"):
        read_osm(tmp_path / "missing.osm.pbf")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="unknown OSM extract format"):
        read_osm(tmp_path / "x.txt")
    with pytest.raises(InvalidInputError, match="edge_ignore_px"):
        osm_targets(osm_case.pbf, osm_case.scene.image[0], edge_ignore_px=-1)
    with pytest.raises(InvalidInputError, match="not a class"):
        label_noise(np.zeros((2, 2)), {"forest": np.zeros((2, 2))}, ["background", "road"])
