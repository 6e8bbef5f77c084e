"""satlearn.predict: tiled prediction equals one-piece prediction, in bounded memory, to disk."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio

from satlearn.bundle import read_bundle
from satlearn.errors import BundleError, InvalidInputError, UnknownBandError
from satlearn.predict import predict
from satlearn.raster import save_cog, validate_cog


def _probabilities(folder):
    with rasterio.open(folder / "probabilities.tif") as src:
        return src.read().astype(np.float32) / 254.0, src.scales, src.nodata


def _classes(folder):
    with rasterio.open(folder / "classes.tif") as src:
        return src.read(1)


def test_tiles_blend_into_the_one_piece_prediction(seg_bundle, scene, tmp_path):
    # One tile bigger than the scene is the model run on the scene in one piece
    # (its 32 px margin gives the same reflect-padded context at the scene's edges).
    whole_dir = predict(seg_bundle, scene, tile_size=512, overlap=64, out=tmp_path / "whole",
                        probabilities=True, vectors=False)  # fmt: skip
    tiled_dir = predict(seg_bundle, scene, tile_size=64, overlap=32, out=tmp_path / "tiled",
                        probabilities=True, vectors=False)  # fmt: skip
    whole, _, _ = _probabilities(whole_dir)
    tiled, scales, nodata = _probabilities(tiled_dir)
    assert whole.shape == tiled.shape == (3, 300, 410)
    assert np.allclose(scales, 1 / 254) and nodata == 255
    agree = _classes(whole_dir) == _classes(tiled_dir)
    assert agree.mean() >= 0.995
    assert np.abs(whole - tiled).mean() <= 0.01
    # Disagreement is not concentrated on the tile edges (rows/cols at stride 32 - 16).
    edge = np.zeros(agree.shape, bool)
    for k in range(-16, 420, 32):
        edge[:, max(k - 2, 0) : max(k + 3, 0)] = True
        edge[max(k - 2, 0) : max(k + 3, 0), :] = True
    assert (~agree[edge]).mean() <= max(3 * (~agree[~edge]).mean(), 0.005)
    # The model does not predict one class everywhere (the test would be empty).
    assert len(np.unique(_classes(tiled_dir))) == 3


def test_without_overlap_tiles_show_seams_that_blending_removes(seg_bundle, scene):
    whole = predict(seg_bundle, scene, tile_size=512, overlap=64).values
    plain = predict(seg_bundle, scene, tile_size=64, overlap=0).values
    blended = predict(seg_bundle, scene, tile_size=64, overlap=32).values
    assert (blended == whole).mean() > (plain == whole).mean()


def test_in_memory_result_is_the_class_cog(seg_bundle, scene, tmp_path):
    da = predict(seg_bundle, scene, tile_size=64, overlap=16)
    assert da.dims == ("y", "x") and da.dtype == np.uint8 and da.name == "class"
    assert da.rio.crs.to_epsg() == 32633 and da.rio.transform() == scene.rio.transform()
    assert da.attrs["classes"] == {0: "water", 1: "forest", 2: "urban"}
    folder = predict(seg_bundle, scene, tile_size=64, overlap=16, out=tmp_path / "p")
    with rasterio.open(folder / "classes.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.crs.to_epsg() == 32633 and src.transform == scene.rio.transform()
        assert np.array_equal(src.read(1), da.values)
    assert validate_cog(folder / "classes.tif")[0]


def test_file_dask_and_item_inputs_give_the_same_map(seg_bundle, scene, tmp_path):
    path = save_cog(scene, tmp_path / "scene.tif", blocksize=128)
    in_memory = predict(seg_bundle, scene, tile_size=64).values
    assert np.array_equal(predict(seg_bundle, str(path), tile_size=64).values, in_memory)
    lazy = predict(seg_bundle, scene.chunk({"y": 70, "x": 90}), tile_size=64)
    assert lazy.chunks is not None  # nothing computed yet
    assert lazy.rio.transform() == scene.rio.transform()
    assert np.array_equal(lazy.values, in_memory)  # chunk-invariant
    other = predict(seg_bundle, scene.chunk({"y": 128, "x": 300}), tile_size=64, overlap=32)
    assert np.array_equal(other.values, predict(seg_bundle, scene, tile_size=64, overlap=32).values)
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "scene",
        "assets": {
            "image": {
                "href": "scene.tif",
                "roles": ["data"],
                "eo:bands": [{"name": b, "common_name": b} for b in ("red", "green", "nir")],
            }
        },
    }
    (tmp_path / "item.json").write_text(json.dumps(item))
    assert np.array_equal(predict(seg_bundle, tmp_path / "item.json", tile_size=64).values,
                          in_memory)  # fmt: skip


def test_nodata_in_is_nodata_out_and_edges_are_predicted(seg_bundle, scene_factory):
    scene = scene_factory(200, 200, nodata=0.0)
    scene.values[:, 50:80, 60:120] = 0.0
    da = predict(seg_bundle, scene, tile_size=64, overlap=16)
    assert (da.values[50:80, 60:120] == 255).all()
    assert (da.values[:50] != 255).all() and (da.values[80:] != 255).all()
    # Reflect padding: the scene's outer rows and columns are ordinary predictions.
    for edge in (da.values[0], da.values[-1], da.values[:, 0], da.values[:, -1]):
        assert (edge != 255).all()


def test_outputs_polygons_item_and_thumbnail(seg_bundle, scene, tmp_path):
    folder = predict(seg_bundle, scene, tile_size=64, overlap=16, out=tmp_path / "p")
    names = {p.name for p in folder.iterdir()}
    assert names == {"classes.tif", "polygons.parquet", "polygons.geojson", "item.json",
                     "thumbnail.png"}  # fmt: skip
    geo = json.loads(pq.read_metadata(folder / "polygons.parquet").metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    frame = gpd.read_parquet(folder / "polygons.parquet")
    assert frame.crs.to_epsg() == 32633 and frame.geometry.is_valid.all()
    with rasterio.open(folder / "classes.tif") as src:
        classes = src.read(1)
    # Polygon areas per class add up to the class's pixel area (100 m2 per pixel).
    for cls in range(3):
        area = frame.loc[frame.class_id == cls].geometry.area.sum()
        assert area == pytest.approx((classes == cls).sum() * 100.0)
    assert set(frame.class_name) <= {"water", "forest", "urban"}
    wgs84 = gpd.read_file(folder / "polygons.geojson")
    assert len(wgs84) == len(frame) and wgs84.crs.to_epsg() == 4326
    item = json.loads((folder / "item.json").read_text())
    assert set(item["assets"]) == {"classes", "polygons", "polygons_geojson", "thumbnail"}
    assert item["properties"]["proj:code"] == "EPSG:32633"
    assert [c["value"] for c in item["assets"]["classes"]["classification:classes"]] == [0, 1, 2]


def test_item_validates_against_the_stac_schemas(seg_bundle, scene, tmp_path):
    from satlearn.catalog.schema_store import schema_available
    from satlearn.catalog.validation import errors_only, validate

    folder = predict(seg_bundle, scene, tile_size=64, out=tmp_path / "p")
    document = json.loads((folder / "item.json").read_text())
    # The classification extension's schema is not in the offline store; its
    # fields are checked by hand, every other schema by the validator.
    classification = "https://stac-extensions.github.io/classification/v2.0.0/schema.json"
    document["stac_extensions"].remove(classification)
    classes = document["assets"]["classes"].pop("classification:classes")
    assert all(set(c) == {"value", "name", "description"} for c in classes)
    assert all(c["name"].replace("_", "").isalnum() for c in classes)
    missing = [e for e in document["stac_extensions"] if not schema_available(e)]
    if missing:
        pytest.skip(f"offline STAC schemas missing: {missing} (../shared/stac-schemas)")
    assert errors_only(validate(document, href=str(folder / "item.json"))) == []


def test_tta_averages_the_dihedral_transforms(seg_bundle, scene):
    plain = predict(seg_bundle, scene, tile_size=64).values
    averaged = predict(seg_bundle, scene, tile_size=64, tta=True).values
    assert averaged.shape == plain.shape
    # The eight views agree mostly, not everywhere: an average, not a copy.
    assert 0.5 < (averaged == plain).mean() < 1.0


def test_bad_inputs_are_refused_with_the_reason(seg_bundle, scene, tmp_path):
    with pytest.raises(UnknownBandError, match="'nir'"):
        predict(seg_bundle, scene.sel(band=["red", "green"]))
    with pytest.raises(InvalidInputError, match="overlap"):
        predict(seg_bundle, scene, tile_size=64, overlap=64)
    with pytest.raises(InvalidInputError, match="tile_size"):
        predict(seg_bundle, scene, tile_size=8)
    with pytest.raises(InvalidInputError, match="batch_size"):
        predict(seg_bundle, scene, batch_size=0)
    with pytest.raises(InvalidInputError, match="DataArray"):
        predict(seg_bundle, 42)
    meta = json.loads((seg_bundle / "bundle.json").read_text())
    meta["task"] = "classification"
    other = tmp_path / "cls"
    other.mkdir()
    for name in ("model.onnx", "weights.safetensors"):
        (other / name).write_bytes((seg_bundle / name).read_bytes())
    (other / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="semantic-segmentation"):
        predict(read_bundle(other), scene)


def test_class_ids_beyond_uint8_are_refused(seg_bundle, scene, tmp_path):
    meta = json.loads((seg_bundle / "bundle.json").read_text())
    meta["classes"] = [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}, {"id": 300, "name": "c"}]
    meta.pop("sha256", None)
    other = tmp_path / "wide"
    other.mkdir()
    (other / "model.onnx").write_bytes((seg_bundle / "model.onnx").read_bytes())
    (other / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="ids 0-254"):
        predict(read_bundle(other), scene)
