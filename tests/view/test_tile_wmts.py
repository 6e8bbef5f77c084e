"""GDAL's WMTS driver reads the tile server's GetCapabilities and tiles over real HTTP."""

from __future__ import annotations

import io
import threading
import time
import xml.etree.ElementTree as ET

import morecantile
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.windows import from_bounds

from satlearn.testing.process import free_port

TMS = morecantile.tms.get("WebMercatorQuad")
ASSET = "/tiles/scenes/scene-1/image"


@pytest.fixture(scope="module")
def served(tiles_app):
    """The tile app under uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(tiles_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_capabilities_are_wmts_1_0_0(served):
    import httpx

    response = httpx.get(f"{served}{ASSET}/WMTSCapabilities.xml", params={"bands": "nir"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    assert root.get("version") == "1.0.0"
    (url,) = root.findall(".//w:Layer/w:ResourceURL", ns)
    assert url.get("resourceType") == "tile"
    assert url.get("template").endswith("{TileMatrix}/{TileCol}/{TileRow}.png?bands=nir")
    matrices = root.findall(".//w:TileMatrixSet/w:TileMatrix", ns)
    assert matrices and matrices[-1].find("ows:Identifier", ns).text == "13"


def test_gdal_reads_the_layer_as_the_tiles_are(served):
    import httpx

    env = rasterio.Env(GDAL_HTTP_TIMEOUT="20", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")
    with env, rasterio.open(f"WMTS:{served}{ASSET}/WMTSCapabilities.xml") as src:
        assert src.crs.to_epsg() == 3857
        assert src.count == 4  # RGBA
        info = httpx.get(f"{served}{ASSET}/info.json").json()
        west, south, east, north = info["bounds"]
        tile = TMS.tile((west + east) / 2, (south + north) / 2, info["native_zoom"])
        bounds = TMS.xy_bounds(tile)
        window = from_bounds(*bounds, transform=src.transform)
        assert abs(window.width - 256) < 1e-6 and abs(window.height - 256) < 1e-6
        window = window.round_offsets().round_lengths()
        read = src.read(window=window, boundless=True)
    png = httpx.get(f"{served}{ASSET}/{tile.z}/{tile.x}/{tile.y}.png").content
    expected = np.moveaxis(np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")), -1, 0)
    assert (expected[3] > 0).any()
    np.testing.assert_array_equal(read, expected)
