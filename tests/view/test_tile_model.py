"""Tiles from models: the served bundle on the tile's window, with a margin, so tiles meet."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from PIL import Image
from rio_tiler.io import Reader

from satlearn.bundle import read_bundle
from satlearn.predict import cached_runner
from satlearn.view._model_tiles import CLASS_COLOURS, model_margin, run_model_tile

TMS = morecantile.tms.get("WebMercatorQuad")
ASSET = "/tiles/scenes/scene-1/image"


def classes_of(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    rgba = np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))
    match = (rgba[..., None, :3] == CLASS_COLOURS[None, None]).all(axis=-1)
    return match.argmax(axis=-1), rgba[..., 3] > 0


@pytest.fixture
def info(tiles_client) -> dict:
    return tiles_client.get(f"{ASSET}/info.json").json()


def test_neighbouring_model_tiles_are_one_run_over_the_region(
    tiles_client, info, view_cog, view_model_lookup
):
    west, south, _, north = info["bounds"]
    z = info["native_zoom"]  # the asset spans two tiles and more across
    left = TMS.tile(west + 0.001, (south + north) / 2, z)
    bundle = read_bundle(view_model_lookup("seg"))
    margin = model_margin(bundle)
    assert margin >= 16
    # One run of the model over a mosaic of plain tiles (x-1 .. x+2, y-1 .. y+1).
    rows = []
    with Reader(str(view_cog)) as reader:
        for ty in (left.y - 1, left.y, left.y + 1):
            row = []
            for tx in range(left.x - 1, left.x + 3):
                try:
                    row.append(np.asarray(reader.tile(tx, ty, z, indexes=(3, 2, 4)).data))
                except Exception:  # outside the asset: nodata there
                    row.append(np.zeros((3, 256, 256), np.uint16))
            rows.append(np.concatenate(row, axis=2))
    mosaic = np.concatenate(rows, axis=1)
    whole = cached_runner(bundle)(mosaic[None])[0]
    for k in (0, 1):  # the tile and its right-hand neighbour: they meet at a seam
        tile = run_model_tile(view_model_lookup("seg"), str(view_cog), tuple(
            b["name"] for b in info["bands"]), left.x + k, left.y, z)  # fmt: skip
        expected = whole[:, 256:512, 256 * (k + 1) : 256 * (k + 2)]
        valid = tile.valid
        assert valid.mean() > 0.2
        np.testing.assert_allclose(tile.probabilities[:, valid], expected[:, valid], atol=1e-5)
        response = tiles_client.get(f"{ASSET}/{z}/{left.x + k}/{left.y}.png",
                                    params={"model": "seg"})  # fmt: skip
        assert response.status_code == 200, response.text
        got, opaque = classes_of(response.content)
        np.testing.assert_array_equal(opaque, valid)
        np.testing.assert_array_equal(got[valid], tile.classes[valid])
        assert set(np.unique(got[valid])) == {0, 1}  # the map is not one class


def test_probability_tiles_and_the_model_etag(tiles_client, info):
    west, south, east, north = info["bounds"]
    tile = TMS.tile((west + east) / 2, (south + north) / 2, info["native_zoom"])
    path = f"{ASSET}/{tile.z}/{tile.x}/{tile.y}.png"
    classes = tiles_client.get(path, params={"model": "seg"})
    proba = tiles_client.get(path, params={"model": "seg", "layer": "probability",
                                           "class_id": "1"})  # fmt: skip
    assert proba.status_code == 200
    assert proba.headers["etag"] != classes.headers["etag"]
    rgba = np.asarray(Image.open(io.BytesIO(proba.content)).convert("RGBA"))
    opaque = rgba[..., 3] > 0
    assert len(np.unique(rgba[opaque][:, :3], axis=0)) > 10  # a ramp, not two colours
