"""Fixtures of tests/view: a small 4-band COG in a tiny STAC catalogue, a tiny model folder.

Shared by the tile-server tests and the page's tests:

* ``view_cog``: a 512 x 512 uint16 COG (bands blue, green, red, nir; one
  overview level; band descriptions set) on a UTM 33N grid near 45 N, 15 E;
* ``view_catalog``: the folder of a self-contained STAC catalogue holding
  collection ``scenes`` with item ``scene-1``, whose assets are ``image``
  (the COG, with ``eo:bands`` names and ``raster:bands`` statistics) and
  ``plain`` (the same COG with no band metadata in the item: the reader falls
  back on the file's band descriptions and overview statistics);
* ``view_index``: a :class:`~satlearn.catalog.CatalogIndex` over it;
* ``view_models``: a folder ``NAME/VERSION`` of one semantic-segmentation
  bundle ``seg`` (a 3x3 convolution over red, green, nir; two classes),
  built with onnx.helper (no torch, so it is quick);
* ``view_model_lookup``: ``name -> bundle folder`` (KeyError when unknown),
  as :func:`satlearn.view._tiles.create_tiles_router` takes it;
* ``tiles_client``: a FastAPI TestClient of an app with the tile router at
  ``/tiles``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

VIEW_BANDS = ["blue", "green", "red", "nir"]
VIEW_CRS = "EPSG:32633"
VIEW_TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0)
VIEW_SIZE = 512
MODEL_BANDS = ["red", "green", "nir"]


def view_pixels(size: int = VIEW_SIZE, seed: int = 0) -> np.ndarray:
    """Smooth fields plus noise, per band, uint16 in 200..4000 (reflectance x 10000)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    bands = []
    for k in range(4):
        field = np.sin(2 * np.pi * (xx * (k + 1) + yy * 0.5)) + np.cos(2 * np.pi * yy * (k + 2))
        value = 2000 + 800 * field + rng.normal(0, 50, field.shape)
        bands.append(np.clip(value, 200, 4000))
    return np.stack(bands).astype(np.uint16)


def write_view_cog(path: Path, data: np.ndarray, *, blocksize: int = 256) -> Path:
    """Write ``data`` as a COG with GDAL's COG driver (overviews down to one block)."""
    count, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=width,
        height=height,
        count=count,
        dtype=data.dtype,
        crs=VIEW_CRS,
        transform=VIEW_TRANSFORM,
        nodata=0,
        blocksize=blocksize,
        compress="deflate",
        overview_resampling="average",
    ) as dst:
        dst.write(data)
        for i, name in enumerate(VIEW_BANDS, start=1):
            dst.set_band_description(i, name)
    return path


@pytest.fixture(scope="session")
def view_cog(tmp_path_factory) -> Path:
    """A 512 x 512 4-band uint16 COG with one overview level."""
    folder = tmp_path_factory.mktemp("view-data")
    return write_view_cog(folder / "scene-1.tif", view_pixels())


@pytest.fixture(scope="session")
def view_catalog(view_cog: Path) -> Path:
    """A self-contained STAC catalogue (collection ``scenes``, item ``scene-1``)."""
    import pystac
    from pystac.extensions.eo import Band, EOExtension
    from pystac.extensions.raster import RasterBand, RasterExtension, Statistics
    from rasterio.warp import transform_bounds

    with rasterio.open(view_cog) as src:
        bbox = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
        data = src.read()
    lon0, lat0, lon1, lat1 = bbox
    geometry = {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }
    root = view_cog.parent / "catalog"
    collection = pystac.Collection(
        id="scenes",
        description="A tiny collection for the viewer's tests",
        extent=pystac.Extent(
            pystac.SpatialExtent([bbox]),
            pystac.TemporalExtent([[dt.datetime(2024, 6, 1, tzinfo=dt.UTC), None]]),
        ),
        license="other",
    )
    item = pystac.Item(
        id="scene-1",
        geometry=geometry,
        bbox=bbox,
        datetime=dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.UTC),
        properties={},
    )
    image = pystac.Asset(
        href=str(view_cog),
        media_type=pystac.MediaType.COG,
        roles=["data"],
        title="4-band image",
    )
    item.add_asset("image", image)
    item.add_asset(
        "plain",
        pystac.Asset(href=str(view_cog), media_type=pystac.MediaType.COG, roles=["data"]),
    )
    EOExtension.add_to(item)
    RasterExtension.add_to(item)
    EOExtension.ext(image).bands = [Band.create(name=n, common_name=n) for n in VIEW_BANDS]
    RasterExtension.ext(image).bands = [
        RasterBand.create(
            nodata=0,
            data_type="uint16",
            statistics=Statistics.create(
                minimum=float(b.min()),
                maximum=float(b.max()),
                mean=float(b.mean()),
                stddev=float(b.std()),
            ),
        )
        for b in data
    ]
    collection.add_item(item)
    catalog = pystac.Catalog(id="view-test", description="The viewer's test catalogue")
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(root))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root


@pytest.fixture(scope="session")
def view_index(view_catalog: Path):
    """A CatalogIndex over :func:`view_catalog`."""
    from satlearn.catalog import CatalogIndex

    return CatalogIndex.from_catalog(view_catalog)


def tiny_seg_onnx(bias: float = 0.0) -> bytes:
    """A (N, 3, H, W) -> (N, 2, H, W) logits graph: one 3x3 convolution (a 1 px margin)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # Class 1 where nir > red, else class 0 (normalised inputs), blurred by the 3x3 kernel.
    w = np.zeros((2, 3, 3, 3), np.float32)
    w[1, 2] = 1.0 / 9
    w[1, 0] = -1.0 / 9
    w[0] = -w[1]
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.full(2, bias, np.float32), "b"),
    ]
    node = helper.make_node("Conv", ["image", "w", "b"], ["logits"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "tiny-seg",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 3, None, None])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2, None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="session")
def view_models(tmp_path_factory) -> Path:
    """A models folder ``seg/1`` holding a tiny segmentation bundle."""
    from satlearn.bundle import write_bundle

    root = tmp_path_factory.mktemp("view-models")
    write_bundle(
        root / "seg" / "1",
        model_onnx=tiny_seg_onnx(),
        metadata={
            "task": "semantic-segmentation",
            "bands": MODEL_BANDS,
            "classes": [{"id": 0, "name": "dry"}, {"id": 1, "name": "green"}],
            "normalisation": {"mean": [2000.0] * 3, "std": [800.0] * 3},
            "tile_size": 64,
        },
    )
    return root


@pytest.fixture(scope="session")
def view_model_lookup(view_models: Path) -> Callable[[str], Path]:
    """``name -> newest version folder`` under :func:`view_models`; KeyError when unknown."""

    def lookup(name: str) -> Path:
        folder = view_models / name
        if not name or "/" in name or name.startswith(".") or not folder.is_dir():
            raise KeyError(name)
        return sorted(p for p in folder.iterdir() if p.is_dir())[-1]

    return lookup


@pytest.fixture(scope="session")
def tiles_app(view_index, view_model_lookup):
    """A FastAPI app with the tile router mounted at ``/tiles``."""
    from fastapi import FastAPI

    from satlearn.view._tiles import create_tiles_router

    app = FastAPI()
    app.include_router(create_tiles_router(view_index, models=view_model_lookup), prefix="/tiles")
    return app


@pytest.fixture
def tiles_client(tiles_app):
    """A TestClient of :func:`tiles_app` (raise_server_exceptions off: a 500 is a response)."""
    from fastapi.testclient import TestClient

    with TestClient(tiles_app, raise_server_exceptions=False) as client:
        yield client
