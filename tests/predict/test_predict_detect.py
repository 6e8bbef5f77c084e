"""satlearn.predict with object-detection bundles: each object once, wherever the tiles cut.

The bundle's model is a hand-set centernet (stride 2): class c's heatmap is
near 1 at the centre cell of every 7 x 7 square bright in band c (red for
ships, nir for planes) and small elsewhere, so the right answer is known. A
tile that sees a square only in part scores it below the threshold; a square
inside the overlap of several tiles is found by each of them.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from affine import Affine
from torch import nn
from typer.testing import CliRunner

from satlearn.errors import InvalidInputError
from satlearn.metrics import box_iou
from satlearn.predict import Detections, predict
from satlearn.raster import save_cog

SIDE = 7
# (x0, y0, bands bright), at odd corners, which the stride-2 model centres
# exactly. Tiles of 64 with an overlap of 32 start at -16 + 32 k: their edges
# fall on 16 + 32 k, and a square between two edges is seen whole by two tiles
# along that axis. (45, 45) and (175, 143) straddle edges on both axes (one
# tile sees them whole, its neighbours cut them); (21, 101), (85, 21) and
# (117, 53) lie inside overlaps on both axes (four tiles see them whole);
# (3, 151) and (251, 191) touch the scene's edges (mirrored in the padding).
SQUARES = [
    (45, 45, [0]),
    (21, 101, [2]),
    (85, 21, [0]),
    (117, 53, [0, 2]),  # a ship and a plane at one place: NMS is per class
    (175, 143, [2]),
    (157, 181, [0]),
    (3, 151, [0]),
    (251, 191, [2]),
    (205, 17, [0]),
]
CLASS_OF_BAND = {0: 0, 2: 1}


class BrightSquares(nn.Module):
    """A centernet-layout detector (N, 2 + 4, ceil(H/2), ceil(W/2)) with known answers."""

    task = "object-detection"

    def __init__(self) -> None:
        super().__init__()
        self.config = {"name": "bright-squares", "in_channels": 3, "num_classes": 2}
        # The mean of a 7 x 7 window on the stride-2 grid: 1 only on a square's centre.
        self.box = nn.Conv2d(2, 2, SIDE, stride=2, padding=SIDE // 2, groups=2, bias=False)
        with torch.no_grad():
            self.box.weight.fill_(1.0 / SIDE**2)

    @property
    def output(self) -> dict:
        return {"kind": "heatmap+wh+offset", "classes": 2, "stride": 2}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = x[:, [0, 2]].clamp(0, 1)  # normalised: background <= 0, squares 2
        heat = torch.sigmoid(40 * (self.box(bright) - 0.9))
        ones = torch.ones_like(heat)
        # Width and height 7 px; the centre of cell c is at 2c + 0.5 = (c + 0.25) * 2.
        return torch.cat([heat, ones * SIDE, ones * 0.25], dim=1)


@pytest.fixture(scope="module")
def det_bundle(tmp_path_factory):
    from satlearn.models.export import export_bundle

    return export_bundle(
        BrightSquares(),
        tmp_path_factory.mktemp("bundles") / "squares" / "1",
        task="object-detection",
        classes=["ship", "plane"],
        bands=["red", "green", "nir"],
        normalisation={"mean": [200.0] * 3, "std": [100.0] * 3},
        tile_size=64,
        exporter="legacy",
    )


@pytest.fixture
def squares_scene(scene_factory):
    scene = scene_factory(200, 260, seed=3)
    rng = np.random.default_rng(3)
    scene.values[:] = rng.normal(100, 5, scene.shape).astype(np.float32)
    for x0, y0, bands in SQUARES:
        for b in bands:
            scene.values[b, y0 : y0 + SIDE, x0 : x0 + SIDE] = 400.0
    return scene


def _truth():
    boxes, classes = [], []
    for x0, y0, bands in SQUARES:
        for b in bands:
            boxes.append([x0, y0, x0 + SIDE, y0 + SIDE])
            classes.append(CLASS_OF_BAND[b])
    return np.array(boxes, np.float32), np.array(classes)


def _each_found_once(det: Detections) -> None:
    truth, classes = _truth()
    iou = box_iou(truth, det.boxes)
    same = classes[:, None] == det.class_ids[None, :]
    matches = (iou > 0.5) & same
    assert matches.sum(axis=1).tolist() == [1] * len(truth)  # every object, once
    assert matches.sum(axis=0).tolist() == [1] * len(det)  # nothing else
    assert (iou[matches] > 0.99).all()  # at the right place


def test_every_object_once_though_tiles_overlap_and_cut(det_bundle, squares_scene):
    det = predict(det_bundle, squares_scene, tile_size=64, overlap=32)
    assert isinstance(det, Detections) and len(det) == 10
    assert det.boxes.dtype == np.float32 and det.boxes.shape == (10, 4)
    assert det.class_ids.dtype == np.int64 and (det.scores > 0.9).all()
    assert np.all(np.diff(det.scores) <= 0)  # best first
    _each_found_once(det)
    assert det.classes == {0: "ship", 1: "plane"}


def test_tiled_and_one_piece_detections_agree(det_bundle, squares_scene):
    tiled = predict(det_bundle, squares_scene, tile_size=64, overlap=32)
    whole = predict(det_bundle, squares_scene, tile_size=512, overlap=64)
    _each_found_once(whole)

    def ordered(d):
        return d.boxes[np.lexsort((d.boxes[:, 1], d.boxes[:, 0], d.class_ids))]

    assert np.allclose(ordered(tiled), ordered(whole), atol=1e-4)
    assert np.allclose(np.sort(tiled.scores), np.sort(whole.scores), atol=1e-4)


def test_without_suppression_overlapping_tiles_report_duplicates(
    det_bundle, squares_scene, monkeypatch
):
    from satlearn.predict import _detect

    monkeypatch.setattr(_detect, "NMS_IOU", None)
    raw = predict(det_bundle, squares_scene, tile_size=64, overlap=32)
    # Each square inside an overlap is found by every tile that holds it whole.
    assert len(raw) > 2 * 10
    truth, _ = _truth()
    assert (box_iou(truth, raw.boxes).max(axis=0) > 0.99).all()  # duplicates, no mirrors


def test_the_boxes_as_a_geodataframe_in_the_scene_crs(det_bundle, squares_scene):
    det = predict(det_bundle, squares_scene, tile_size=64, overlap=32)
    frame = det.to_geodataframe()
    assert list(frame.columns) == ["class_id", "class_name", "score", "geometry"]
    assert frame.crs.to_epsg() == 32633 and len(frame) == 10
    assert np.allclose(frame.geometry.area, SIDE * SIDE * 100.0)  # 10 m pixels
    first = frame.geometry.iloc[0].bounds
    x0, y0, x1, y1 = det.boxes[0]
    t = Affine(10, 0, 500000, 0, -10, 4000000)
    assert first == pytest.approx((*(t @ (x0, y1)), *(t @ (x1, y0))))
    assert set(frame.class_name) == {"ship", "plane"}


def test_outputs_geoparquet_geojson_and_a_valid_item(det_bundle, squares_scene, tmp_path):
    from satlearn.catalog.schema_store import schema_available
    from satlearn.catalog.validation import errors_only, validate

    folder = predict(det_bundle, squares_scene, tile_size=64, overlap=32, out=tmp_path / "d")
    assert {p.name for p in folder.iterdir()} == {
        "detections.parquet",
        "detections.geojson",
        "item.json",
    }
    geo = json.loads(pq.read_metadata(folder / "detections.parquet").metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    frame = gpd.read_parquet(folder / "detections.parquet")
    assert frame.crs.to_epsg() == 32633 and len(frame) == 10
    assert {"class_id", "class_name", "score"} <= set(frame.columns)
    wgs84 = gpd.read_file(folder / "detections.geojson")
    assert wgs84.crs.to_epsg() == 4326 and len(wgs84) == 10
    document = json.loads((folder / "item.json").read_text())
    assert set(document["assets"]) == {"detections", "detections_geojson"}
    assert document["properties"]["satlearn:detections"] == 10
    assert document["properties"]["proj:code"] == "EPSG:32633"
    missing = [e for e in document["stac_extensions"] if not schema_available(e)]
    if missing:
        pytest.skip(f"offline STAC schemas missing: {missing} (../shared/stac-schemas)")
    assert errors_only(validate(document, href=str(folder / "item.json"))) == []


def test_a_file_scene_gives_the_same_boxes_and_resume_skips_finished_rows(
    det_bundle, squares_scene, tmp_path
):
    path = save_cog(squares_scene, tmp_path / "scene.tif", blocksize=128)
    fresh = predict(det_bundle, str(path), tile_size=64, overlap=32, out=tmp_path / "fresh")

    class Stop(Exception):
        pass

    def stop_after_three(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise Stop

    calls: list[int] = []
    out = tmp_path / "stopped"
    with pytest.raises(Stop):
        predict(det_bundle, str(path), tile_size=64, overlap=32, out=out,
                on_progress=stop_after_three)  # fmt: skip
    assert not (out / "detections.parquet").exists()
    journal = (out / ".satlearn-predict" / "detections.jsonl").read_text().splitlines()
    assert len(journal) == 3
    progress = []
    predict(det_bundle, str(path), tile_size=64, overlap=32, out=out, resume=True,
            on_progress=lambda done, total: progress.append((done, total)))  # fmt: skip
    assert len(progress) == 6 - 3  # six rows of tiles, one column group
    assert not (out / ".satlearn-predict").exists()
    a = gpd.read_parquet(out / "detections.parquet")
    b = gpd.read_parquet(fresh / "detections.parquet")
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert a.geometry.geom_equals(b.geometry).all()


def test_detection_refuses_tta_and_probabilities(det_bundle, squares_scene):
    with pytest.raises(InvalidInputError, match="tta"):
        predict(det_bundle, squares_scene, tile_size=64, tta=True)
    with pytest.raises(InvalidInputError, match="probabilities"):
        predict(det_bundle, squares_scene, tile_size=64, probabilities=True)


def test_detection_from_the_command_line(det_bundle, squares_scene, tmp_path):
    from satlearn.cli import app

    path = save_cog(squares_scene, tmp_path / "scene.tif", blocksize=128)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["predict", str(det_bundle), str(path), str(out),
                                      "--tile-size", "64", "--overlap", "32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("detections.parquet", "detections.geojson", "item.json"):
        assert f"wrote {out / name}" in result.output
    assert "10 objects" in result.output
    assert len(gpd.read_parquet(out / "detections.parquet")) == 10
