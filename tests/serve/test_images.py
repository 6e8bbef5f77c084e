"""The image endpoints (:classify, :segment, :detect) of the real server, over HTTP.

The server runs in a subprocess (uvicorn over ``satlearn.serve.create_app``)
on a free 127.0.0.1 port; the bundles are exported here (a UNet, a ResNet classifier and a
known-answer centernet detector) into ``DIR/NAME/1``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from PIL import Image
from torch import nn

from satlearn.bundle import read_bundle
from satlearn.predict import predict
from satlearn.testing.process import free_port, running_server

pytestmark = pytest.mark.timeout(300)

BANDS = ["red", "green", "nir"]
NORM = {"mean": [100.0] * 3, "std": [30.0] * 3}
SIDE = 7  # the detector's square objects
# x0, y0 (odd: a square centre on the stride-2 grid), band (0: ship, 2: plane)
SQUARES = [(21, 31, 0), (91, 61, 2), (51, 111, 0)]


class Squares(nn.Module):
    """A centernet-layout detector (N, 2 + 4, H/2, W/2): bright 7 px squares in red or nir."""

    task = "object-detection"

    def __init__(self) -> None:
        super().__init__()
        self.config = {"name": "squares", "in_channels": 3, "num_classes": 2}
        self.box = nn.Conv2d(2, 2, SIDE, stride=2, padding=SIDE // 2, groups=2, bias=False)
        with torch.no_grad():
            self.box.weight.fill_(1.0 / SIDE**2)

    @property
    def output(self) -> dict:
        return {"kind": "heatmap+wh+offset", "classes": 2, "stride": 2}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heat = torch.sigmoid(40 * (self.box(x[:, [0, 2]].clamp(0, 1)) - 0.9))
        ones = torch.ones_like(heat)
        return torch.cat([heat, ones * SIDE, ones * 0.25], dim=1)


def export_models(root: Path) -> None:
    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(0)
    unet = build_model("unet", in_channels=3, num_classes=3, width=8, depth=2)
    last = [m for m in unet.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():  # an untrained net predicts one class everywhere; spread it
        last.weight *= 30
        last.bias.zero_()
    common = {"bands": BANDS, "exporter": "legacy"}
    export_bundle(
        unet,
        root / "seg" / "1",
        task="semantic-segmentation",
        tile_size=64,
        classes=["water", "forest", "urban"],
        normalisation=NORM,
        **common,
    )
    clf = build_model("resnet-classifier", in_channels=3, num_classes=4, width=4, depth=1)
    export_bundle(
        clf,
        root / "clf" / "1",
        task="classification",
        tile_size=32,
        classes=["sea", "field", "town", "wood"],
        normalisation=NORM,
        **common,
    )
    export_bundle(
        Squares(),
        root / "det" / "1",
        task="object-detection",
        tile_size=64,
        classes=["ship", "plane"],
        normalisation={"mean": [0.0] * 3, "std": [200.0] * 3},
        **common,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    export_models(root)
    return root


LAUNCH = """
import sys
import uvicorn
from satlearn.serve import ServeSettings, create_app
settings = ServeSettings(models=sys.argv[1], host="127.0.0.1", port=int(sys.argv[2]))
uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
"""


@contextlib.contextmanager
def run_server(models: Path, log_path: Path) -> Iterator[str]:
    """The base URL of the server (uvicorn in a subprocess) over ``models``, on a free port."""
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-c", LAUNCH, str(models), str(port)]
    url = f"http://127.0.0.1:{port}"
    with running_server(command, ready_url=f"{url}/v2/health/ready", log=log_path, env=env):
        yield url


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    with run_server(models, tmp_path_factory.mktemp("serve") / "server.log") as url:
        yield url


def _scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A (3, H, W) float32 scene of 10 px patches plus noise (values around 100)."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(100, 30, (3, height // 10 + 1, width // 10 + 1))
    data = np.kron(coarse, np.ones((1, 10, 10)))[:, :height, :width]
    return (data + rng.normal(0, 3, data.shape)).astype(np.float32)


TRANSFORM = Affine(10, 0, 500000, 0, -10, 4000000)
CRS = rasterio.crs.CRS.from_epsg(32633)


def _geotiff(data: np.ndarray, *, crs=CRS, transform=TRANSFORM) -> bytes:
    count, height, width = data.shape
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            height=height,
            width=width,
            count=count,
            dtype=data.dtype,
            crs=crs,
            transform=transform,
        ) as dst:
            dst.write(data)
        return bytes(memfile.read())


def _png(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.moveaxis(data, 0, -1)).save(buffer, format="PNG")
    return buffer.getvalue()


def _dataarray(data: np.ndarray, *, crs=CRS, transform=TRANSFORM):
    import xarray as xr

    from satlearn.raster import georeference, pixel_centres

    ys, xs = pixel_centres(transform, data.shape[1], data.shape[2])
    da = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": BANDS, "y": ys, "x": xs})
    return georeference(da, crs, transform, None)


def _post(url: str, file: tuple[str, bytes, str], **kwargs) -> httpx.Response:
    return httpx.post(url, files={"file": file}, timeout=120, **kwargs)


def test_a_geotiff_upload_gives_the_georeferenced_mask_predict_gives(server, models):
    data = _scene(150, 130)  # larger than the 64 px tile: the sliding window
    response = _post(f"{server}/v1/models/seg:segment", ("scene.tif", _geotiff(data), "image/tiff"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/tiff"
    with rasterio.MemoryFile(response.content) as memfile, memfile.open() as src:
        assert src.crs == CRS and src.transform == TRANSFORM
        assert src.nodata == 255 and src.dtypes == ("uint8",)
        mask = src.read(1)
    expected = predict(models / "seg" / "1", _dataarray(data), out=None).values
    np.testing.assert_array_equal(mask, expected)
    assert len(np.unique(mask)) > 1  # the model's classes vary across the scene


def test_the_versioned_path_serves_that_version(server):
    data = _scene(64, 64, seed=1)
    response = _post(
        f"{server}/v1/models/seg/versions/1:segment", ("scene.tif", _geotiff(data), "image/tiff")
    )
    assert response.status_code == 200, response.text
    missing = _post(
        f"{server}/v1/models/seg/versions/7:segment", ("scene.tif", _geotiff(data), "image/tiff")
    )
    assert missing.status_code == 404 and "error" in missing.json()


def test_a_png_upload_answers_a_png_mask_when_asked(server, models):
    data = np.clip(_scene(100, 90, seed=2), 0, 255).astype(np.uint8)
    response = _post(
        f"{server}/v1/models/seg:segment",
        ("scene.png", _png(data), "image/png"),
        headers={"Accept": "image/png"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    mask = np.asarray(Image.open(io.BytesIO(response.content)))
    pixel_grid = _dataarray(data.astype(np.float32), crs=None, transform=Affine.identity())
    np.testing.assert_array_equal(mask, predict(models / "seg" / "1", pixel_grid, out=None).values)
    # The same upload asking for a GeoTIFF gets one, without a CRS.
    tiff = _post(
        f"{server}/v1/models/seg:segment",
        ("scene.png", _png(data), "image/png"),
        headers={"Accept": "image/tiff"},
    )
    with rasterio.MemoryFile(tiff.content) as memfile, memfile.open() as src:
        assert src.crs is None
        np.testing.assert_array_equal(src.read(1), mask)


def test_an_accept_header_naming_no_image_type_is_refused(server):
    data = np.clip(_scene(64, 64), 0, 255).astype(np.uint8)
    response = _post(
        f"{server}/v1/models/seg:segment",
        ("scene.png", _png(data), "image/png"),
        headers={"Accept": "application/pdf"},
    )
    assert response.status_code == 406
    assert "image/png" in response.json()["error"]


def test_classify_probabilities_sum_to_one_and_equal_onnx_runtime(server, models):
    data = _scene(32, 32, seed=4)
    response = _post(f"{server}/v1/models/clf:classify", ("chip.tif", _geotiff(data), "image/tiff"))
    assert response.status_code == 200, response.text
    answer = response.json()
    probabilities = np.array([c["probability"] for c in answer["classes"]])
    assert [c["name"] for c in answer["classes"]] == ["sea", "field", "town", "wood"]
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    bundle = read_bundle(models / "clf" / "1")
    x = ((data - 100.0) / 30.0).astype(np.float32)[None]
    (logits,) = bundle.session().run(None, {"input": x})
    expected = np.exp(logits[0] - logits[0].max())
    expected /= expected.sum()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5, rtol=0)
    assert answer["top"]["id"] == int(np.argmax(expected))


def test_detect_answers_geojson_boxes_in_wgs84_for_a_geotiff_and_pixels_for_a_png(server, models):
    rng = np.random.default_rng(3)
    data = rng.normal(20, 5, (3, 140, 150)).astype(np.float32)  # squares 400: 2 -> 1
    for x0, y0, band in SQUARES:
        data[band, y0 : y0 + SIDE, x0 : x0 + SIDE] = 400.0
    expected = predict(models / "det" / "1", _dataarray(data), out=None)
    assert len(expected) == len(SQUARES)

    geo = _post(f"{server}/v1/models/det:detect", ("scene.tif", _geotiff(data), "image/tiff"))
    assert geo.status_code == 200, geo.text
    assert geo.headers["content-type"].startswith("application/geo+json")
    collection = geo.json()
    assert collection["type"] == "FeatureCollection"
    frame = expected.to_geodataframe().to_crs("EPSG:4326")
    assert len(collection["features"]) == len(frame)
    for feature, polygon, name in zip(
        collection["features"], frame.geometry, frame.class_name, strict=True
    ):
        ring = np.array(feature["geometry"]["coordinates"][0])
        np.testing.assert_allclose(ring, np.array(polygon.exterior.coords), atol=1e-9)
        assert feature["properties"]["class_name"] == name

    # The same scene as a plain (8-bit) picture: boxes in pixel coordinates.
    picture = np.clip(data, 0, 255).astype(np.uint8)
    pixels = _post(f"{server}/v1/models/det:detect", ("scene.png", _png(picture), "image/png"))
    assert pixels.status_code == 200, pixels.text
    answer = pixels.json()
    assert answer["properties"]["coordinates"] == "pixel"
    grid = _dataarray(picture.astype(np.float32), crs=None, transform=Affine.identity())
    boxes = predict(models / "det" / "1", grid, out=None).boxes
    got = np.array([f["properties"]["bbox_px"] for f in answer["features"]])
    np.testing.assert_allclose(got, boxes, atol=1e-4)
    truth = sorted((x0, y0) for x0, y0, _ in SQUARES)
    assert sorted((round(b[0]), round(b[1])) for b in got) == truth


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


def test_a_non_image_upload_is_a_400_that_names_the_formats(server):
    message = _error(
        _post(
            f"{server}/v1/models/seg:segment", ("notes.txt", b"not an image at all", "text/plain")
        )
    )
    assert "PNG, JPEG or GeoTIFF" in message


def test_a_truncated_tiff_is_a_400(server):
    whole = _geotiff(_scene(200, 200))
    message = _error(
        _post(
            f"{server}/v1/models/seg:segment", ("cut.tif", whole[: len(whole) // 2], "image/tiff")
        )
    )
    assert "truncated" in message


def test_a_truncated_png_is_a_400(server):
    whole = _png(np.clip(_scene(120, 120), 0, 255).astype(np.uint8))
    message = _error(
        _post(
            f"{server}/v1/models/clf:classify", ("cut.png", whole[: len(whole) // 2], "image/png")
        )
    )
    assert "truncated" in message


def test_a_wrong_band_count_is_a_400_naming_the_bands(server):
    four = np.concatenate([_scene(64, 64), _scene(64, 64)[:1]])
    message = _error(
        _post(f"{server}/v1/models/seg:segment", ("four.tif", _geotiff(four), "image/tiff"))
    )
    assert "4 band(s)" in message and "red, green, nir" in message


def test_a_task_the_model_does_not_do_is_a_400(server):
    message = _error(
        _post(
            f"{server}/v1/models/seg:classify",
            ("scene.tif", _geotiff(_scene(32, 32)), "image/tiff"),
        )
    )
    assert "semantic-segmentation" in message and "classification" in message


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(server):
    # A 1-bit-per-pixel-sized file that declares 20000 x 20000 pixels.
    with rasterio.MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            height=20000,
            width=20000,
            count=3,
            dtype="uint8",
            compress="deflate",
            tiled=True,
            sparse_ok=True,
        ) as dst:
            dst.write(np.zeros((3, 16, 16), np.uint8), window=((0, 16), (0, 16)))
        bomb = bytes(memfile.read())
    assert len(bomb) < 5 * 2**20
    message = _error(_post(f"{server}/v1/models/seg:segment", ("big.tif", bomb, "image/tiff")))
    assert "at most" in message


def test_a_missing_file_field_is_a_4xx_json_error(server):
    response = httpx.post(f"{server}/v1/models/seg:segment", data={"other": "x"}, timeout=30)
    assert 400 <= response.status_code < 500
    assert json.loads(response.content)
