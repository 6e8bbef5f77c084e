"""The viewer's page in a real browser: Debian's Chromium driven by Playwright.

One ``satlearn view`` subprocess (a bare folder of outputs: two dates of the
4-band COG and a GeoJSON of ships, ``--models`` with the tiny segmentation
bundle) and one module-scoped browser serve every test here; each test opens
a fresh page. Every request the page makes must go to the page's own origin
(anything else is aborted and fails the test), and the console must stay free
of errors. A screenshot of each view is saved under test-artifacts/view/.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import rasterio

from fixtures_view import VIEW_BANDS, view_pixels, write_view_cog
from satlearn.testing.process import free_port, running_server

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "view"
VENDOR = REPO / "src" / "satlearn" / "view" / "static" / "vendor" / "leaflet" / "leaflet.js"
# How long the page may take for one step (2 busy cores render the first tiles).
STEP_MS = 60_000

pytestmark = pytest.mark.skipif(
    not VENDOR.is_file(),
    reason="the viewer's Leaflet is not built: run `make frontend` (npm ci in frontend/)",
)


@contextlib.contextmanager
def running(args: list[str], ready_path: str, log: Path) -> Iterator[str]:
    """Start ``python -m satlearn ARGS --port P``; yield its URL once ``ready_path`` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "satlearn", *args, "--port", str(port)]
    with running_server(command, ready_url=url + ready_path, log=log, timeout_s=90):
        yield url


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, view_cog: Path) -> Path:
    """A bare folder of outputs: scenes/ at two dates and ships.geojson over them."""
    import geopandas as gpd
    import shapely
    from rasterio.warp import transform_bounds

    root = tmp_path_factory.mktemp("view-outputs")
    (root / "scenes").mkdir()
    shutil.copy(view_cog, root / "scenes" / "scene_2024-06-01.tif")
    write_view_cog(root / "scenes" / "scene_2024-07-01.tif", view_pixels(seed=7)[::-1].copy())
    with rasterio.open(view_cog) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    dx, dy = (east - west) / 5, (north - south) / 5
    ships = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"], "length_m": [120.0, 80.5, 42.0]},
        geometry=[
            shapely.Point(west + dx, south + dy),
            shapely.Point(west + 2 * dx, south + 3 * dy),
            shapely.box(west + 3 * dx, south + dy, west + 4 * dx, south + 2 * dy),
        ],
        crs="EPSG:4326",
    )
    ships.to_file(root / "ships.geojson", driver="GeoJSON")
    return root


@pytest.fixture(scope="module")
def view_url(outputs: Path, view_models: Path) -> Iterator[str]:
    """``satlearn view OUTPUTS --models MODELS`` on a free 127.0.0.1 port."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    args = ["view", str(outputs), "--models", str(view_models)]
    with running(args, "/api/config", ARTIFACTS / "view-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(playwright_browser):
    if playwright_browser is None:
        pytest.skip("Playwright cannot drive Debian's Chromium here (see the printed reason)")
    return playwright_browser


class Watched:
    """A page with its console errors, page errors, foreign requests and tile responses."""

    def __init__(self, browser, url: str) -> None:
        self.origin = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.tiles: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if r.request.url.startswith(self.origin + "/") or r.request.url.startswith("data:"):
                r.continue_()
            else:  # the page must work with no network: nothing but its own origin
                self.foreign.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)

        def response(resp) -> None:
            if "/tiles/" in resp.url and resp.url.split("?")[0].endswith(".png"):
                self.tiles.append(resp.url)

        self.page.on("response", response)

    def open(self) -> None:
        self.page.goto(self.origin + "/")
        self.page.wait_for_selector("body[data-ready=true]", timeout=STEP_MS)

    def check_clean(self) -> None:
        assert self.foreign == [], f"requests left the page's origin: {self.foreign}"
        assert self.errors == [], f"console errors: {self.errors}"

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser, view_url) -> Iterator[Watched]:
    w = Watched(browser, view_url)
    try:
        yield w
    finally:
        w.close()


def png_rgba(data: bytes) -> np.ndarray:
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def fetch(url: str) -> bytes:
    import httpx

    r = httpx.get(url, timeout=60)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return r.content


def rio_tiler_tile(cog: Path, url: str) -> tuple[np.ndarray, np.ndarray]:
    """rio-tiler's own (RGB uint8, mask) of the band tile ``url`` asks for."""
    from rio_tiler.io import Reader

    parts = urlsplit(url)
    z, x, y = (int(v) for v in parts.path.removesuffix(".png").split("/")[-3:])
    query = parse_qs(parts.query)
    indexes = [VIEW_BANDS.index(b) + 1 for b in query["bands"][0].split(",")]
    values = [float(v) for chunk in query["rescale"][0].split(";") for v in chunk.split(",")]
    ranges = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    with Reader(str(cog)) as reader:
        image = reader.tile(x, y, z, indexes=indexes)
    image.rescale(in_range=ranges)
    return np.moveaxis(np.asarray(image.data), 0, -1), np.asarray(image.mask)


def show_first_scene(w: Watched) -> None:
    """Click the 2024-06-01 scene in the list, then Show its data asset."""
    w.page.click("#items li[data-key='scenes/scene_2024-06-01']", timeout=STEP_MS)
    w.page.wait_for_selector("#assets tr.asset", timeout=STEP_MS)
    w.page.click("#assets button.show-asset")
    w.page.wait_for_selector(".main-layer img.leaflet-tile-loaded", timeout=STEP_MS)
    w.page.wait_for_load_state("networkidle")


def loaded_tile_pixels(w: Watched, selector: str) -> tuple[str, np.ndarray]:
    """The src of the first loaded tile under ``selector`` and its pixels as the page drew them."""
    src, pixels = w.page.evaluate(
        """(selector) => {
            const img = document.querySelector(selector + ' img.leaflet-tile-loaded');
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0);
            return [img.src, Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data)];
        }""",
        selector,
    )
    return src, np.asarray(pixels, dtype=np.uint8).reshape(256, 256, 4)


# ----------------------------------------------------------------------------- tests


def test_no_url_of_another_origin_in_the_page_or_its_files(view_url):
    # XML namespaces name no resource; Leaflet's attribution link is switched off by the
    # page (attributionControl: false) and its CSS comments cite two browser bugs.
    not_fetched = (
        "http://www.w3.org/2000/svg",
        "https://leafletjs.com",
        "https://bugs.chromium.org/",
        "https://bugzilla.mozilla.org/",
    )
    import re

    pattern = re.compile(r"https?://[^\s\"'<>)]+")
    static = REPO / "src" / "satlearn" / "view" / "static"
    found = []
    for path in sorted(static.rglob("*")):
        if path.suffix in (".html", ".js", ".css"):
            for url in pattern.findall(path.read_text()):
                if not url.startswith(not_fetched) or "vendor" not in path.parts:
                    found.append(f"{path.relative_to(static)}: {url}")
    page = fetch(view_url + "/").decode()
    found += [f"/: {u}" for u in pattern.findall(page) if not u.startswith(view_url)]
    assert found == []


def test_the_catalogue_lists_items_and_clicking_one_shows_its_assets(watched):
    w = watched
    w.open()
    keys = w.page.eval_on_selector_all("#items li", "els => els.map(e => e.dataset.key)")
    assert set(keys) == {"scenes/scene_2024-06-01", "scenes/scene_2024-07-01", "overlays/ships"}
    w.page.click("#items li[data-key='scenes/scene_2024-06-01']")
    w.page.wait_for_selector("#assets tr.asset")
    assets = w.page.eval_on_selector_all(
        "#assets tr.asset td:first-child", "e => e.map(x => x.textContent)"
    )
    assert any(a.startswith("data") for a in assets)
    meta = w.page.inner_text("#metadata")
    assert "datetime" in meta and "2024-06-01" in meta
    # The thumbnails are rendered tiles: every one a PNG.
    w.page.wait_for_function(
        "() => [...document.querySelectorAll('#items .thumb img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=STEP_MS,
    )
    w.shot("catalog")
    # A date range that holds only the July scene.
    w.page.fill("#date-from", "2024-06-15")
    w.page.fill("#date-to", "2024-07-15")
    w.page.click("#search")
    # (The ships overlay spans the rasters' period, June 1 to July 1, so it stays.)
    w.page.wait_for_function(
        "() => [...document.querySelectorAll('#items li')].map(e => e.dataset.key).sort().join() "
        "=== 'overlays/ships,scenes/scene_2024-07-01'",
        timeout=STEP_MS,
    )
    w.check_clean()


def test_a_box_drawn_on_the_map_searches_inside_it(watched):
    w = watched
    w.open()
    box = w.page.locator("#map").bounding_box()
    # A box in a far corner of the world view: nothing there.
    w.page.keyboard.down("Shift")
    w.page.mouse.move(box["x"] + 20, box["y"] + 20)
    w.page.mouse.down()
    w.page.mouse.move(box["x"] + 60, box["y"] + 60, steps=4)
    w.page.mouse.up()
    w.page.keyboard.up("Shift")
    w.page.wait_for_function("() => document.querySelectorAll('#items li').length === 0")
    assert "box:" in w.page.inner_text("#bbox-text")
    w.page.click("#clear-search")
    w.page.wait_for_function("() => document.querySelectorAll('#items li').length === 3")
    w.check_clean()


def test_pages_follow_the_stac_apis_next_links(watched):
    w = watched
    w.page.goto(w.origin + "/?page_size=2")
    w.page.wait_for_selector("body[data-ready=true]", timeout=STEP_MS)
    count = "() => document.querySelectorAll('#items li').length"
    assert w.page.evaluate(count) == 2
    assert "page 1 of 2" in w.page.inner_text("#page-info")
    w.page.click("#next-page")
    w.page.wait_for_function(
        f"() => ({count})() === 1 && !document.querySelector('#prev-page').disabled"
    )
    assert w.page.locator("#next-page").is_disabled()
    w.page.click("#prev-page")
    w.page.wait_for_function(f"() => ({count})() === 2")
    w.check_clean()


def test_map_tiles_are_rio_tilers_pixels_and_an_index_layer_differs(watched, outputs):
    w = watched
    w.open()
    show_first_scene(w)
    w.shot("map-rgb")
    cog = outputs / "scenes" / "scene_2024-06-01.tif"
    band_tiles = [u for u in w.tiles if "bands=" in u and "scene_2024-06-01" in u]
    assert band_tiles, w.tiles
    for url in band_tiles[:4]:
        rgba = png_rgba(fetch(url))
        assert rgba.shape == (256, 256, 4) and rgba[..., 3].any(), url
        want, mask = rio_tiler_tile(cog, url)
        np.testing.assert_array_equal(rgba[..., 3] > 0, mask > 0)
        valid = mask > 0
        np.testing.assert_array_equal(rgba[..., :3][valid], want[valid])
    src, drawn = loaded_tile_pixels(w, ".main-layer")
    np.testing.assert_array_equal(drawn, png_rgba(fetch(src)))  # the page drew what it got
    rgb_src = src

    # The spectral index: NDVI from the catalogue, on this asset's band names.
    w.page.select_option("#mode", "index")
    w.page.wait_for_selector(
        ".main-layer img.leaflet-tile-loaded[src*='expression=']", timeout=STEP_MS
    )
    w.page.wait_for_load_state("networkidle")
    assert "(nir-red)/(nir+red)" in w.page.inner_text("#index-formula")
    assert not w.page.locator("#legend").is_hidden()
    src, drawn = loaded_tile_pixels(w, ".main-layer")
    assert "expression=" in src and "colormap=rdylgn" in src
    served = png_rgba(fetch(src))
    np.testing.assert_array_equal(drawn, served)
    # The same tile as an index and as bands: different pictures.
    index_here = png_rgba(fetch(rgb_src.split("?")[0] + "?" + src.split("?")[1]))
    assert not np.array_equal(index_here[..., :3], png_rgba(fetch(rgb_src))[..., :3])
    w.shot("map-index")

    # Opacity and the swipe against the July scene.
    w.page.fill("#opacity", "0.6")
    w.page.dispatch_event("#opacity", "input")
    assert w.page.evaluate("() => document.querySelector('.main-layer').style.opacity") == "0.6"
    w.page.select_option("#compare", "scenes/scene_2024-07-01/data")
    w.page.wait_for_selector(".compare-layer img.leaflet-tile-loaded", timeout=STEP_MS)
    clip = w.page.evaluate("() => document.querySelector('.compare-layer').style.clip")
    assert clip.startswith("rect(")
    w.page.wait_for_function(
        "() => !window.satlearnView.state.compare.isLoading()", timeout=STEP_MS
    )
    loaded = ".compare-layer img.leaflet-tile-loaded"
    assert w.page.locator(loaded).count() == w.page.locator(".compare-layer img").count() > 1
    w.page.wait_for_timeout(500)  # Leaflet fades new tiles in over 200 ms
    w.shot("map-swipe")
    w.check_clean()


def test_a_geojson_overlay_shows_its_features_with_popups(watched):
    w = watched
    w.open()
    w.page.click("#items li[data-key='overlays/ships']")
    w.page.click("#assets button.overlay-asset")
    w.page.wait_for_selector("#overlays li.overlay", state="attached", timeout=STEP_MS)
    assert "3 features" in w.page.inner_text("#overlays")
    paths = w.page.locator(".leaflet-overlay-pane path.overlay-feature")
    assert paths.count() == 3
    paths.first.click(force=True)
    w.page.wait_for_selector(".leaflet-popup-content", timeout=STEP_MS)
    assert "length_m" in w.page.inner_text(".leaflet-popup-content")
    w.page.click("#tab-map")
    w.shot("overlay")
    w.check_clean()


def test_the_playground_returns_a_prediction(watched, outputs, view_models, tmp_path):
    from satlearn.predict import predict
    from satlearn.raster import open_raster

    # A small georeferenced GeoTIFF holding the model's bands, named (so taken by name).
    image = tmp_path / "upload.tif"
    with rasterio.open(outputs / "scenes" / "scene_2024-06-01.tif") as src:
        window = rasterio.windows.Window(0, 0, 96, 96)
        profile = {
            "driver": "GTiff", "width": 96, "height": 96, "count": 4, "dtype": "uint16",
            "crs": src.crs, "transform": src.window_transform(window),
        }  # fmt: skip
        with rasterio.open(image, "w", **profile) as dst:
            dst.write(src.read(window=window))
            for i, name in enumerate(VIEW_BANDS, start=1):
                dst.set_band_description(i, name)
    w = watched
    w.open()
    w.page.click("#tab-playground")
    w.page.wait_for_function("() => document.querySelector('#model').value === 'seg'")
    w.page.set_input_files("#file", str(image))
    w.page.wait_for_selector("#prediction[data-done=file]", timeout=STEP_MS)
    text = w.page.inner_text("#prediction")
    assert text.startswith("prediction of seg")
    assert w.page.locator(".prediction-mask").count() == 1
    # The counts the page shows are satlearn.predict's on the same pixels.
    da = open_raster(image).sel(band=["red", "green", "nir"])
    classes = np.asarray(predict(view_models / "seg" / "1", da, out=None).values)
    for cid, name in ((0, "dry"), (1, "green")):
        n = int((classes == cid).sum())
        if n:
            assert f"{name}: {n} px" in text
    w.shot("playground")

    # And tiles rendered by the model over the map's image.
    w.page.click("#tab-catalog")
    show_first_scene(w)
    w.page.click("#tab-playground")
    w.page.click("#run-item")
    w.page.wait_for_selector("#prediction[data-done=tiles]", timeout=STEP_MS)
    model_tiles = [u for u in w.tiles if "model=seg" in u]
    assert model_tiles and all(png_rgba(fetch(u))[..., 3].any() for u in model_tiles[:2])
    w.page.wait_for_load_state("networkidle")
    w.shot("playground-tiles")
    w.check_clean()


def test_satlearn_serve_serves_the_page_and_tiles_beside_the_models(view_catalog, view_models):
    import httpx

    # No browser here: the page is the same file; what differs is the mounting.
    args = ["serve", "--catalog", str(view_catalog), "--models", str(view_models)]
    with running(args, "/v2/health/ready", ARTIFACTS / "serve-server.log") as url:
        page = httpx.get(url + "/", timeout=30)
        assert page.status_code == 200 and "/static/app.js" in page.text
        assert httpx.get(url + "/static/vendor/leaflet/leaflet.js", timeout=30).status_code == 200
        assert httpx.get(url + "/stac/collections", timeout=30).json()["collections"]
        info = httpx.get(url + "/tiles/scenes/scene-1/image/info.json", timeout=30).json()
        z = info["native_zoom"]
        lon = (info["bounds"][0] + info["bounds"][2]) / 2
        lat = (info["bounds"][1] + info["bounds"][3]) / 2
        x, y = lonlat_tile(lon, lat, z)
        tile = fetch(f"{url}/tiles/scenes/scene-1/image/{z}/{x}/{y}.png")
        assert png_rgba(tile)[..., 3].any()
        model_tile = fetch(f"{url}/tiles/scenes/scene-1/image/{z}/{x}/{y}.png?model=seg")
        assert png_rgba(model_tile)[..., 3].any()
        models = httpx.get(url + "/api/models", timeout=30).json()["models"]
        assert [m["segment_url"] for m in models] == ["/v1/models/seg:segment"]


def lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad tile (x, y) holding ``(lon, lat)`` at zoom ``z``."""
    import math

    n = 2**z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)
