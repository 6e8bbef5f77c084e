"""The viewer's app without a browser: folder_catalog, the /api endpoints, the CLI verb."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from fixtures_view import VIEW_BANDS, view_pixels, write_view_cog
from satlearn.errors import InvalidInputError
from satlearn.view import create_view_app, folder_catalog

STATIC = Path(__file__).resolve().parents[2] / "src" / "satlearn" / "view" / "static"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, view_cog: Path) -> Path:
    """scenes/ (a dated COG, an undated one), ships.geojson, change/polygons.parquet."""
    import geopandas as gpd
    import shapely

    root = tmp_path_factory.mktemp("view-app-outputs")
    (root / "scenes").mkdir()
    (root / "change").mkdir()
    shutil.copy(view_cog, root / "scenes" / "scene_2024-06-01.tif")
    write_view_cog(root / "scenes" / "truth.tif", view_pixels(64, seed=3))
    frame = gpd.GeoDataFrame(
        {"name": ["a", "b"], "score": [0.5, float("nan")]},
        geometry=[shapely.Point(15.0, 45.1), shapely.box(15.0, 45.0, 15.01, 45.01)],
        crs="EPSG:4326",
    )
    frame.to_file(root / "ships.geojson", driver="GeoJSON")
    frame.to_crs("EPSG:32633").to_parquet(root / "change" / "polygons.parquet")
    frame.to_parquet(root / "ships.parquet")  # the same stem as ships.geojson
    return root


@pytest.fixture(scope="module")
def client(outputs: Path, view_models: Path):
    from fastapi.testclient import TestClient

    with TestClient(
        create_view_app(outputs, models_dir=view_models), raise_server_exceptions=False
    ) as c:
        yield c


def test_folder_catalog_describes_rasters_as_stac_build_and_vectors_as_overlays(outputs):
    before = sorted(os.listdir(outputs)), sorted(os.listdir(outputs / "scenes"))
    catalog = folder_catalog(outputs)
    assert (sorted(os.listdir(outputs)), sorted(os.listdir(outputs / "scenes"))) == before
    items = {(i.collection_id, i.id): i for i in catalog.get_items(recursive=True)}
    assert set(items) == {
        ("scenes", "scene_2024-06-01"),
        ("scenes", "truth"),
        ("overlays", "ships-geojson"),
        ("overlays", "ships-parquet"),
        ("overlays", "change-polygons"),
    }
    dated = items["scenes", "scene_2024-06-01"]
    assert dated.datetime.date().isoformat() == "2024-06-01"  # from its name, as stac build
    assert Path(dated.assets["data"].href).is_absolute()
    assert [b["name"] for b in dated.assets["data"].extra_fields["eo:bands"]] == VIEW_BANDS
    ships = items["overlays", "ships-geojson"]
    assert ships.assets["overlay"].roles == ["overlay"]
    assert ships.properties["satlearn:features"] == 2
    west, south, east, north = items["overlays", "change-polygons"].bbox
    assert 14.99 < west < east < 15.02 and 44.99 < south < north < 45.2  # reprojected to WGS 84


def test_folder_catalog_names_the_folder_when_it_cannot(tmp_path):
    with pytest.raises(InvalidInputError, match="not a folder"):
        folder_catalog(tmp_path / "none")
    with pytest.raises(InvalidInputError, match=f"{tmp_path}: no rasters"):
        folder_catalog(tmp_path)


def test_indices_are_rewritten_on_the_assets_band_names_and_render(client):
    answer = client.get("/api/indices", params={"bands": "blue,green,red,nir"}).json()
    by_name = {i["name"]: i for i in answer["indices"]}
    assert by_name["NDVI"]["expression"] == "(nir-red)/(nir+red)"
    assert "NDWI" in by_name and "SAVI" in by_name  # SAVI's L substituted by its default
    assert "L" not in by_name["SAVI"]["expression"]
    assert all("swir" not in i["expression"] for i in answer["indices"])
    # Listed expressions are ones the tile router renders (a sample, to stay quick).
    import math

    info = client.get("/tiles/scenes/scene_2024-06-01/data/info.json").json()
    z = info["native_zoom"]
    lon, lat = (
        (info["bounds"][0] + info["bounds"][2]) / 2,
        (info["bounds"][1] + info["bounds"][3]) / 2,
    )
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    base = f"/tiles/scenes/scene_2024-06-01/data/{z}/{x}/{y}.png"
    for name in ("NDVI", "SAVI", "EVI"):
        r = client.get(base, params={"expression": by_name[name]["expression"]})
        assert r.status_code == 200, (name, r.text)
    r = client.get("/api/indices")
    assert r.status_code == 400 and "bands" in r.json()["error"]


def test_overlays_are_served_as_geojson(client):
    r = client.get("/api/overlays/overlays/ships-geojson/overlay.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert [f["properties"] for f in doc["features"]] == [
        {"name": "a", "score": 0.5},
        {"name": "b", "score": None},  # NaN is not JSON
    ]
    parquet = client.get("/api/overlays/overlays/change-polygons/overlay.geojson").json()
    lon, lat = parquet["features"][0]["geometry"]["coordinates"]
    assert abs(lon - 15.0) < 1e-6 and abs(lat - 45.1) < 1e-6
    assert client.get("/api/overlays/overlays/nope/overlay.geojson").status_code == 404
    assert client.get("/api/overlays/overlays/ships-geojson/nope.geojson").status_code == 404
    r = client.get("/api/overlays/scenes/scene_2024-06-01/data.geojson")
    assert r.status_code == 400 and "not a local GeoJSON" in r.json()["error"]


def test_models_and_predictions_of_the_playground(client, view_models):
    from PIL import Image

    models = client.get("/api/models").json()["models"]
    assert models == [
        {
            "name": "seg",
            "task": "semantic-segmentation",
            "bands": ["red", "green", "nir"],
            "classes": [{"id": 0, "name": "dry"}, {"id": 1, "name": "green"}],
            "segment_url": "/api/predict/seg",
        }
    ]
    pixels = view_pixels(40)[[2, 1, 3]]  # red, green, nir as a PNG's three channels
    png = io.BytesIO()
    Image.fromarray(np.moveaxis((pixels // 16).astype(np.uint8), 0, -1)).save(png, format="PNG")
    r = client.post("/api/predict/seg", files={"file": ("x.png", png.getvalue(), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    mask = np.asarray(Image.open(io.BytesIO(r.content)))
    assert mask.shape == (40, 40) and set(np.unique(mask)) <= {0, 1}
    info = client.post("/api/image-info", files={"file": ("x.png", png.getvalue())}).json()
    assert info["bounds"] is None and info["preview"].startswith("data:image/png;base64,")
    r = client.post("/api/predict/nope", files={"file": ("x.png", png.getvalue())})
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = client.post("/api/predict/seg", files={"file": ("x.txt", b"not an image")})
    assert r.status_code == 400 and r.json()["error"].startswith("file: not a GeoTIFF, PNG or JPEG")


def test_image_info_of_a_geotiff_is_its_wgs84_bounds(client, view_cog):
    data = Path(view_cog).read_bytes()
    info = client.post("/api/image-info", files={"file": ("x.tif", data)}).json()
    with rasterio.open(view_cog) as src:
        from rasterio.warp import transform_bounds

        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    np.testing.assert_allclose(info["bounds"], [[south, west], [north, east]])


def test_the_page_and_its_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and "/static/app.js" in r.text
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/api/config").json()["served"] is False
    assert client.get("/stac/collections").status_code == 200


def test_the_cli_verb(tmp_path):
    from satlearn.cli import app

    result = CliRunner().invoke(app, ["view", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for text in ("--port", "--host", "--models", "127.0.0.1", "8080"):
        assert text in result.output
    result = CliRunner().invoke(app, ["view", str(tmp_path / "none")])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "does not exist" in result.output
    result = CliRunner().invoke(app, ["view", str(tmp_path)])
    assert result.exit_code == 1 and "no rasters" in result.output
