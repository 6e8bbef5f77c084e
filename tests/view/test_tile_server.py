"""The tile router: pixels equal rio-tiler's, TileJSON, info.json, ETag/304, cache, formats."""

from __future__ import annotations

import io

import morecantile
import numpy as np
import pytest
from PIL import Image
from rio_tiler.io import Reader

BASE = "/tiles/scenes/scene-1/image"
TMS = morecantile.tms.get("WebMercatorQuad")


def centre_tile(info: dict, z: int) -> morecantile.Tile:
    west, south, east, north = info["bounds"]
    return TMS.tile((west + east) / 2, (south + north) / 2, z)


def pixels(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGBA"))


@pytest.fixture
def info(tiles_client) -> dict:
    response = tiles_client.get(f"{BASE}/info.json")
    assert response.status_code == 200
    return response.json()


def test_info_names_bands_statistics_and_zooms(info):
    assert [b["name"] for b in info["bands"]] == ["blue", "green", "red", "nir"]
    assert info["dtype"] == "uint16"
    assert info["default_bands"] == [3, 2, 1]
    # raster:bands statistics of the item give the default rescale
    assert info["bands"][0]["rescale"][0] == info["bands"][0]["statistics"]["min"]
    assert info["minzoom"] < info["native_zoom"] < info["maxzoom"]
    west, south, east, north = info["bounds"]
    assert 14.9 < west < east < 15.1 and 45.0 < south < north < 45.2


def test_plain_asset_falls_back_on_descriptions_and_overview_statistics(tiles_client):
    body = tiles_client.get("/tiles/scenes/scene-1/plain/info.json").json()
    assert [b["name"] for b in body["bands"]] == ["blue", "green", "red", "nir"]
    band = body["bands"][3]
    assert band["rescale"] == [band["statistics"]["p2"], band["statistics"]["p98"]]


@pytest.mark.parametrize("zoom_offset", [0, -2])  # full resolution, then an overview
def test_band_tiles_hold_rio_tilers_pixels(tiles_client, info, view_cog, zoom_offset):
    tile = centre_tile(info, info["native_zoom"] + zoom_offset)
    response = tiles_client.get(
        f"{BASE}/{tile.z}/{tile.x}/{tile.y}.png", params={"bands": "nir,red,green",
                                                          "rescale": "500,3500"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    with Reader(str(view_cog)) as reader:
        image = reader.tile(tile.x, tile.y, tile.z, indexes=(4, 3, 2))
    image.rescale(in_range=[(500, 3500)] * 3)
    expected = pixels(image.render(img_format="PNG"))
    got = pixels(response.content)
    assert (got[..., 3] > 0).any()
    np.testing.assert_array_equal(got, expected)


def test_default_bands_and_ranges_are_the_items_statistics(tiles_client, info, view_cog):
    tile = centre_tile(info, info["native_zoom"])
    got = pixels(tiles_client.get(f"{BASE}/{tile.z}/{tile.x}/{tile.y}.png").content)
    ranges = [tuple(info["bands"][i - 1]["rescale"]) for i in (3, 2, 1)]
    with Reader(str(view_cog)) as reader:
        image = reader.tile(tile.x, tile.y, tile.z, indexes=(3, 2, 1))
    image.rescale(in_range=ranges)
    np.testing.assert_array_equal(got, pixels(image.render(img_format="PNG")))


def test_expression_and_index_tiles_are_the_formula_on_the_tile(tiles_client, info, view_cog):
    tile = centre_tile(info, info["native_zoom"])
    path = f"{BASE}/{tile.z}/{tile.x}/{tile.y}.png"
    by_names = tiles_client.get(path, params={"expression": "(nir-red)/(nir+red)",
                                              "rescale": "-1,1"})  # fmt: skip
    by_index = tiles_client.get(path, params={"expression": "NDVI", "rescale": "-1,1"})
    by_numbers = tiles_client.get(path, params={"expression": "(b4-b3)/(b4+b3)",
                                                "rescale": "-1,1"})  # fmt: skip
    assert by_names.status_code == by_index.status_code == by_numbers.status_code == 200
    grey = pixels(by_names.content)
    np.testing.assert_array_equal(grey, pixels(by_index.content))
    np.testing.assert_array_equal(grey, pixels(by_numbers.content))
    with Reader(str(view_cog)) as reader:
        image = reader.tile(tile.x, tile.y, tile.z, indexes=(3, 4))
    red, nir = np.asarray(image.data, np.float64)
    with np.errstate(invalid="ignore"):  # 0/0 outside the asset (masked)
        ndvi = (nir - red) / (nir + red)
    expected = np.clip(np.rint((ndvi + 1) / 2 * 255), 0, 255)
    valid = np.asarray(image.mask) > 0
    assert np.abs(grey[..., 0][valid].astype(int) - expected[valid]).max() <= 1
    coloured = tiles_client.get(path, params={"expression": "NDVI", "colormap": "RdYlGn"})
    assert coloured.status_code == 200
    rgba = pixels(coloured.content)
    assert not np.array_equal(rgba[..., 0], rgba[..., 1])  # coloured, not grey


def test_functions_of_the_whitelist_work(tiles_client, info):
    tile = centre_tile(info, info["native_zoom"])
    response = tiles_client.get(
        f"{BASE}/{tile.z}/{tile.x}/{tile.y}.webp",
        params={"expression": "sqrt(abs(nir - red)) + max(blue, 0) * 0", "colormap": "viridis"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(response.content)).format == "WEBP"


def test_etag_304_and_the_cache(tiles_app):
    from fastapi.testclient import TestClient

    with TestClient(tiles_app) as client:
        info = client.get(f"{BASE}/info.json").json()
        tile = centre_tile(info, info["native_zoom"] - 1)
        path = f"{BASE}/{tile.z}/{tile.x}/{tile.y}.png?bands=4&colormap=magma"
        before = client.get("/tiles/cache").json()
        first = client.get(path)
        second = client.get(path)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        etag = first.headers["etag"]
        assert etag.startswith('"') and etag == second.headers["etag"]
        assert "public" in first.headers["cache-control"]
        assert "max-age=" in first.headers["cache-control"]
        after = client.get("/tiles/cache").json()
        assert after["misses"] == before["misses"] + 1
        assert after["hits"] == before["hits"] + 1
        assert after["bytes"] <= after["max_bytes"]
        not_modified = client.get(path, headers={"If-None-Match": etag})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        other = client.get(path.replace("magma", "viridis"))
        assert other.headers["etag"] != etag


def test_tilejson_keeps_the_query_and_matches_the_cog(tiles_client, info):
    doc = tiles_client.get(
        f"{BASE}/tilejson.json", params={"expression": "NDVI", "colormap": "rdylgn"}
    ).json()
    assert doc["tilejson"] == "3.0.0"
    (template,) = doc["tiles"]
    assert template.startswith("http://testserver/tiles/scenes/scene-1/image/{z}/{x}/{y}.png?")
    assert "expression=NDVI" in template and "colormap=rdylgn" in template
    assert doc["bounds"] == info["bounds"]
    assert (doc["minzoom"], doc["maxzoom"]) == (info["minzoom"], info["maxzoom"])
    tile = centre_tile(info, info["native_zoom"])
    url = template.replace("{z}", str(tile.z)).replace("{x}", str(tile.x))
    assert tiles_client.get(url.replace("{y}", str(tile.y))).status_code == 200
    webp = tiles_client.get(f"{BASE}/tilejson.json", params={"tile_format": "webp"}).json()
    assert webp["tiles"][0].endswith("{y}.webp")


def test_legend_and_colormap_list(tiles_client):
    names = tiles_client.get("/tiles/colormaps").json()["colormaps"]
    assert {"viridis", "rdylgn"} <= set(names)
    legend = tiles_client.get("/tiles/colormaps/viridis.png")
    assert legend.status_code == 200
    ramp = pixels(legend.content)
    assert ramp.shape == (16, 256, 4)
    assert tuple(ramp[0, 0, :3]) != tuple(ramp[0, -1, :3])
