"""Bad tile requests get a 4xx with a JSON error, never a 500; expressions are never run."""

from __future__ import annotations

import morecantile
import pytest

TMS = morecantile.tms.get("WebMercatorQuad")
ASSET = "/tiles/scenes/scene-1/image"


@pytest.fixture(scope="module")
def good_tile(tiles_app) -> tuple[int, int, int]:
    from fastapi.testclient import TestClient

    with TestClient(tiles_app) as client:
        info = client.get(f"{ASSET}/info.json").json()
    west, south, east, north = info["bounds"]
    tile = TMS.tile((west + east) / 2, (south + north) / 2, info["native_zoom"])
    return tile.z, tile.x, tile.y


BAD = [
    # (path after the asset or a whole path, query, status)
    ("{z}/{x}/{y}.png", {"bands": "9"}, 400),
    ("{z}/{x}/{y}.png", {"bands": "swir"}, 400),
    ("{z}/{x}/{y}.png", {"bands": "1,2"}, 400),
    ("{z}/{x}/{y}.png", {"bands": "1", "expression": "b1"}, 400),
    ("{z}/{x}/{y}.png", {"rescale": "1"}, 400),
    ("{z}/{x}/{y}.png", {"rescale": "5,1"}, 400),
    ("{z}/{x}/{y}.png", {"rescale": "a,b"}, 400),
    ("{z}/{x}/{y}.png", {"rescale": "1,2,3,4"}, 400),
    ("{z}/{x}/{y}.png", {"rescale": "nan,inf"}, 400),
    ("{z}/{x}/{y}.png", {"colormap": "nope"}, 400),
    ("{z}/{x}/{y}.png", {"colormap": "viridis"}, 400),  # three bands cannot take one
    ("{z}/{x}/{y}.png", {"expression": "__import__('os').system('touch PWNED')"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "nir.__class__"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "nir[0]"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "(lambda: 1)()"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "open('/etc/passwd')"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "sqrt(nir, red)"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "abs(x=nir)"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "[nir for nir in red]"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "'red'"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "nir if red else blue"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "swir/nir"}, 400),
    ("{z}/{x}/{y}.png", {"expression": "NDMI"}, 400),  # needs swir16, not in the asset
    ("{z}/{x}/{y}.png", {"expression": "(" * 300 + "nir" + ")" * 300}, 400),
    ("{z}/{x}/{y}.png", {"expression": ""}, 400),
    ("{z}/{x}/{y}.png", {"expression": "nir +"}, 400),
    ("{z}/{x}/{y}.png", {"model": "unknown"}, 404),
    ("{z}/{x}/{y}.png", {"model": "../seg"}, 400),
    ("{z}/{x}/{y}.png", {"model": "seg", "layer": "logits"}, 400),
    ("{z}/{x}/{y}.png", {"model": "seg", "layer": "probability", "class_id": "7"}, 400),
    ("{z}/{x}/{y}.png", {"model": "seg", "class_id": "one"}, 400),
    ("30/0/0.png", {}, 404),  # zoom beyond the asset's zooms
    ("0/0/0.png", {}, 404),  # zoom far above the asset's
    ("{z}/0/0.png", {}, 404),  # a tile outside the asset
    ("{z}/-1/0.png", {}, 404),
    ("{z}/{big}/0.png", {}, 404),  # not a tile of the zoom at all
    ("{z}/{x}/{y}.jpg", {}, 404),
    ("{z}/x/{y}.png", {}, 422),
    ("tilejson.json", {"colormap": "nope"}, 400),
    ("tilejson.json", {"tile_format": "gif"}, 400),
    ("WMTSCapabilities.xml", {"bands": "0"}, 400),
    ("/tiles/scenes/scene-1/nope/info.json", {}, 404),
    ("/tiles/scenes/nope/image/info.json", {}, 404),
    ("/tiles/nope/scene-1/image/info.json", {}, 404),
    ("/tiles/scenes/scene-1/image/1/2/3/info.json", {}, 404),
    ("/tiles/scenes/../image/info.json", {}, 404),
    ("/tiles/scenes/scene-1/..%2F..%2Fetc/info.json", {}, 404),
    ("/tiles/scenes/scene-1/%2e%2e/info.json", {}, 400),
    ("/tiles/scenes/scene-1/a%00b/info.json", {}, 400),
    ("/tiles/scenes/scene-1/a%20b/10/1/1.png", {}, 400),
    ("/tiles/colormaps/nope.png", {}, 400),
]


@pytest.mark.parametrize(("path", "query", "status"), BAD, ids=[f"{p}?{q}" for p, q, _ in BAD])
def test_bad_requests_are_4xx_json(tiles_client, good_tile, tmp_path, monkeypatch, path, query,
                                   status):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # where `touch PWNED` would land, were it ever run
    z, x, y = good_tile
    filled = path.format(z=z, x=x, y=y, big=2**z)
    url = filled if filled.startswith("/") else f"{ASSET}/{filled}"
    response = tiles_client.get(url, params=query)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body.get("description") or body.get("detail")
    assert not (tmp_path / "PWNED").exists()


def test_expressions_never_reach_eval(tiles_client, good_tile, monkeypatch):
    import builtins

    import numexpr

    seen = []
    real_eval, real_exec = builtins.eval, builtins.exec

    def spy(real):
        def run(source, *args, **kwargs):
            seen.append(str(source))
            return real(source, *args, **kwargs)

        return run

    # Libraries may eval their own code (dataclass and attrs generate methods); what
    # must never happen is an eval of the request's text, or numexpr's.
    monkeypatch.setattr(builtins, "eval", spy(real_eval))
    monkeypatch.setattr(builtins, "exec", spy(real_exec))
    monkeypatch.setattr(numexpr, "evaluate", spy(numexpr.evaluate))
    z, x, y = good_tile
    for expression in ("(nir-red)/(nir+red)", "NDVI", "sqrt(abs(nir-red))", "__import__('os')"):
        response = tiles_client.get(f"{ASSET}/{z}/{x}/{y}.png", params={"expression": expression})
        assert response.status_code in (200, 400)
    assert not [s for s in seen if "nir" in s or "__import__" in s or "(N-R)" in s]


def test_model_tiles_without_models_are_404(view_index):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from satlearn.view._tiles import create_tiles_router

    app = FastAPI()
    app.include_router(create_tiles_router(view_index, cache_mb=0), prefix="/tiles")
    with TestClient(app, raise_server_exceptions=False) as client:
        info = client.get(f"{ASSET}/info.json").json()
        west, south, east, north = info["bounds"]
        tile = TMS.tile((west + east) / 2, (south + north) / 2, info["native_zoom"])
        response = client.get(f"{ASSET}/{tile.z}/{tile.x}/{tile.y}.png", params={"model": "seg"})
        assert response.status_code == 404
        assert "serves no models" in response.json()["description"]
        assert client.get("/tiles/cache").json()["max_bytes"] == 0


def test_a_bad_cache_size_is_refused(view_index):
    from satlearn.errors import InvalidInputError
    from satlearn.view._tiles import create_tiles_router

    with pytest.raises(InvalidInputError, match="cache_mb"):
        create_tiles_router(view_index, cache_mb=-1)


def test_assets_that_are_not_rasters_or_are_gone_are_404(tmp_path, view_cog):
    import datetime as dt
    import shutil

    import pystac
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from satlearn.catalog import CatalogIndex
    from satlearn.view._tiles import create_tiles_router

    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    copy = tmp_path / "copy.tif"
    shutil.copy(view_cog, copy)
    item = pystac.Item("x", None, None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), {},
                       collection="c")  # fmt: skip
    item.add_asset("text", pystac.Asset(str(text)))
    item.add_asset("gone", pystac.Asset(str(tmp_path / "missing.tif")))
    item.add_asset("copy", pystac.Asset(str(copy)))
    app = FastAPI()
    app.include_router(create_tiles_router(CatalogIndex.from_items([item])), prefix="/tiles")
    with TestClient(app, raise_server_exceptions=False) as client:
        for asset in ("text", "gone"):
            for path in ("info.json", "tilejson.json", "13/4447/2949.png"):
                response = client.get(f"/tiles/c/x/{asset}/{path}")
                assert response.status_code == 404, (asset, path, response.text)
                assert response.json()["description"]
        info = client.get("/tiles/c/x/copy/info.json").json()
        west, south, east, north = info["bounds"]
        tile = TMS.tile((west + east) / 2, (south + north) / 2, info["native_zoom"])
        url = f"/tiles/c/x/copy/{tile.z}/{tile.x}/{tile.y}.png"
        assert client.get(url).status_code == 200
        copy.unlink()  # removed after its metadata was read
        response = client.get(url + "?bands=1")
        assert response.status_code == 404
        assert "cannot be read" in response.json()["description"]
