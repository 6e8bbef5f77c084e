"""SpaceNet building footprints: the SN2 / SN6 layouts, the solaris sample, and SpaceNet's F1."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
import shapely
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from conftest import write_geotiff
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.spacenet import SpaceNetBuildings, spacenet_f1
from satlearn.errors import InvalidInputError

# --- the score ---------------------------------------------------------------------------------


def test_f1_of_the_solaris_golden_pair(shared_data: Path) -> None:
    folder = shared_data / "spacenet-buildings-solaris"
    truth = json.loads((folder / "gt.geojson").read_text())
    pred = json.loads((folder / "pred.geojson").read_text())
    precision, recall, f1 = spacenet_f1(pred, truth, iou_threshold=0.5)
    # solaris' evaluator test: TP 8, FP 20, FN 20
    assert precision == pytest.approx(8 / 28)
    assert recall == pytest.approx(8 / 28)
    assert f1 == pytest.approx(0.2857142857142857)


def test_f1_matching_is_one_to_one_and_greedy_in_prediction_order() -> None:
    truth = [shapely.box(0, 0, 10, 10)]
    # Both predictions overlap the one building well; only the first may claim it.
    pred = [shapely.box(0, 0, 10, 9), shapely.box(0, 0, 10, 10)]
    assert spacenet_f1(pred, truth) == (0.5, 1.0, pytest.approx(2 / 3))
    # IoU of box(0,0,10,5) with the truth is exactly 0.5: not above the threshold
    assert spacenet_f1([shapely.box(0, 0, 10, 5)], truth) == (0.0, 0.0, 0.0)
    assert spacenet_f1([shapely.box(0, 0, 10, 5)], truth, iou_threshold=0.49)[2] == 1.0


def test_f1_picks_the_best_remaining_truth() -> None:
    truth = [shapely.box(0, 0, 10, 10), shapely.box(4, 0, 14, 10)]
    pred = [shapely.box(4, 0, 14, 10), shapely.box(0, 0, 10, 10)]
    assert spacenet_f1(pred, truth) == (1.0, 1.0, 1.0)


def test_f1_inputs_features_geometries_and_empties() -> None:
    square = {"type": "Polygon", "coordinates": [[(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]]}
    feature = {"type": "Feature", "properties": {}, "geometry": square}
    assert spacenet_f1([feature], [square]) == (1.0, 1.0, 1.0)
    assert spacenet_f1([], [square]) == (0.0, 0.0, 0.0)
    assert spacenet_f1([square], []) == (0.0, 0.0, 0.0)
    empty = {"type": "Feature", "properties": {}, "geometry": None}
    assert spacenet_f1([empty, feature], [square]) == (0.5, 1.0, pytest.approx(2 / 3))
    # a self-intersecting "bow tie" prediction is repaired, not a GEOS crash
    bowtie = shapely.Polygon([(0, 0), (4, 4), (4, 0), (0, 4), (0, 0)])
    assert spacenet_f1([bowtie], [square]) == (0.0, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="feature 0"):
        spacenet_f1([42], [square])
    with pytest.raises(InvalidInputError, match="iou_threshold"):
        spacenet_f1([square], [square], iou_threshold=1.0)


# --- the solaris sample --------------------------------------------------------------------------


def test_solaris_sample_matches_its_golden_mask(shared_data: Path) -> None:
    folder = shared_data / "spacenet-buildings-solaris"
    ds = SpaceNetBuildings(folder, pairs=[("sample_geotiff.tif", "geotiff_labels.geojson")])
    sample = ds[0]
    with warnings.catch_warnings():  # the golden mask carries no georeferencing
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(folder / "sample_fp_mask_from_geojson.tif") as src:
            golden = src.read(1)
    np.testing.assert_array_equal(sample["mask"], (golden > 0).astype(np.uint8))
    assert sample["image"].shape == (1, 900, 900)
    assert sample["instances"].max() == 43 and len(sample["boxes"]) == 43
    # every building's pixels lie inside its box
    ys, xs = np.nonzero(sample["instances"])
    ids = sample["instances"][ys, xs] - 1
    boxes = sample["boxes"][ids]
    assert ((xs >= np.floor(boxes[:, 0])) & (xs < np.ceil(boxes[:, 2]))).all()
    assert ((ys >= np.floor(boxes[:, 1])) & (ys < np.ceil(boxes[:, 3]))).all()
    assert 'EPSG","32616' in sample["meta"]["crs"]


# --- the published layouts ---------------------------------------------------------------------


def _feature_collection(geometries: list[dict]) -> str:
    features = [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries]
    return json.dumps({"type": "FeatureCollection", "features": features})


def test_spacenet2_layout_lonlat_raster_and_labels(tmp_path: Path) -> None:
    # SpaceNet 2 rasters are in lon/lat: 1e-5 degree pixels from (-115.3, 36.2).
    root = tmp_path / "AOI_2_Vegas_Train"
    (root / "RGB-PanSharpen").mkdir(parents=True)
    (root / "geojson" / "buildings").mkdir(parents=True)
    t = Affine(1e-5, 0, -115.3, 0, -1e-5, 36.2)
    for n in (1, 2, 3):
        write_geotiff(
            root / "RGB-PanSharpen" / f"RGB-PanSharpen_AOI_2_Vegas_img{n}.tif",
            np.full((3, 20, 30), n, dtype=np.uint16),
            crs="EPSG:4326",
            transform=t,
        )
    # img1: a building over columns 2..5, rows 3..4, and a small one on top of it at column 4,
    # row 4 (listed second; burned last because it is smaller).
    big = shapely.box(-115.3 + 2e-5, 36.2 - 5e-5, -115.3 + 6e-5, 36.2 - 3e-5)
    small = shapely.box(-115.3 + 4e-5, 36.2 - 5e-5, -115.3 + 5e-5, 36.2 - 4e-5)
    # and one far away that does not touch the tile: left out of the instances
    far = shapely.box(-115.0, 36.0, -114.99, 36.01)
    geometries = [shapely.geometry.mapping(g) for g in (big, small, far)]
    (root / "geojson" / "buildings" / "buildings_AOI_2_Vegas_img1.geojson").write_text(
        _feature_collection(geometries)
    )
    (root / "geojson" / "buildings" / "buildings_AOI_2_Vegas_img2.geojson").write_text(
        _feature_collection([])
    )  # SpaceNet ships tiles without buildings as empty collections
    ds = SpaceNetBuildings(root)
    assert ds.product == "RGB-PanSharpen" and ds.bands == ("red", "green", "blue")
    assert len(ds) == 2
    assert ds.skipped == [
        (
            str(root / "RGB-PanSharpen" / "RGB-PanSharpen_AOI_2_Vegas_img3.tif"),
            "no building labels for this tile",
        )
    ]
    sample = ds[0]
    expected = np.zeros((20, 30), dtype=np.int32)
    expected[3:5, 2:6] = 1
    expected[4, 4] = 2
    np.testing.assert_array_equal(sample["instances"], expected)
    np.testing.assert_array_equal(sample["mask"], (expected > 0).astype(np.uint8))
    np.testing.assert_allclose(sample["boxes"], [[2, 3, 6, 5], [4, 4, 5, 5]], atol=1e-3)
    assert sample["meta"]["labels"].endswith("buildings_AOI_2_Vegas_img1.geojson")
    empty = ds[1]
    assert not empty["mask"].any() and empty["boxes"].shape == (0, 4)
    assert ds.describe()["skipped"] == 1 and ds.describe()["product"] == "RGB-PanSharpen"


def test_spacenet6_layout_utm_raster_lonlat_labels(tmp_path: Path) -> None:
    root = tmp_path / "AOI_11_Rotterdam"
    (root / "PS-RGB").mkdir(parents=True)
    (root / "geojson_buildings").mkdir(parents=True)
    t = Affine(0.5, 0, 594000.0, 0, -0.5, 5750000.0)
    stamp = "20190822070610_20190822070846_tile_3721"
    write_geotiff(
        root / "PS-RGB" / f"SN6_Train_AOI_11_Rotterdam_PS-RGB_{stamp}.tif",
        np.zeros((3, 16, 16), dtype=np.uint8),
        crs="EPSG:32631",
        transform=t,
    )
    # columns 4..9, rows 2..5 in UTM, written as lon/lat the way SpaceNet 6 publishes labels
    utm = shapely.box(594002.0, 5749997.0, 594005.0, 5749999.0)
    lonlat = rasterio.warp.transform_geom("EPSG:32631", "EPSG:4326", shapely.geometry.mapping(utm))
    (
        root / "geojson_buildings" / f"SN6_Train_AOI_11_Rotterdam_Buildings_{stamp}.geojson"
    ).write_text(_feature_collection([lonlat]))
    sample = SpaceNetBuildings(root)[0]
    expected = np.zeros((16, 16), dtype=np.uint8)
    expected[2:6, 4:10] = 1
    np.testing.assert_array_equal(sample["mask"], expected)
    np.testing.assert_allclose(sample["boxes"], [[4, 2, 10, 6]], atol=1e-3)


def test_labels_that_miss_the_tile_are_an_error(tmp_path: Path) -> None:
    write_geotiff(tmp_path / "tile.tif", np.zeros((1, 8, 8), np.uint8))  # EPSG:32633
    # UTM coordinates in a GeoJSON without a crs member: read as lon/lat, land nowhere near
    far = shapely.box(10.0, 45.0, 10.001, 45.001)
    (tmp_path / "labels.geojson").write_text(_feature_collection([shapely.geometry.mapping(far)]))
    ds = SpaceNetBuildings(tmp_path, pairs=[("tile.tif", "labels.geojson")])
    assert ds.bands == ("b1",)
    with pytest.raises(DatasetError, match=r"labels\.geojson \(CRS EPSG:4326\) do not overlap"):
        ds[0]


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no imagery folder"):
        SpaceNetBuildings(tmp_path)
    (tmp_path / "PAN").mkdir()
    with pytest.raises(DatasetError, match=r"product folder .*PS-MS not found"):
        SpaceNetBuildings(tmp_path, product="PS-MS")
    with pytest.raises(DatasetError, match="no image with building labels"):
        SpaceNetBuildings(tmp_path)


def test_registered() -> None:
    assert get_dataset("spacenet-buildings") is SpaceNetBuildings
    assert "s3://spacenet-dataset" in SpaceNetBuildings.manual_download
