"""Fixtures of tests/predict: a small segmentation bundle, a change bundle and scenes."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from satlearn.raster import georeference, pixel_centres

BANDS = ["red", "green", "nir"]


@pytest.fixture(scope="session")
def seg_bundle(tmp_path_factory):
    """A 3-class UNet whose logits vary across the scene (scaled random weights)."""
    import torch

    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(0)
    model = build_model("unet", in_channels=3, num_classes=3, width=8, depth=2)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():  # an untrained net predicts one class everywhere; spread it
        last.weight *= 30
        last.bias.zero_()
    return export_bundle(
        model,
        tmp_path_factory.mktemp("bundles") / "seg" / "1",
        task="semantic-segmentation",
        classes=["water", "forest", "urban"],
        bands=BANDS,
        normalisation={"mean": [100.0] * 3, "std": [30.0] * 3},
        tile_size=64,
        exporter="legacy",
    )


def make_scene(height: int, width: int, *, seed: int = 0, nodata: float | None = None):
    """A (band, y, x) float32 scene of 10 px patches plus noise, on a UTM grid."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(100, 30, (3, height // 10 + 1, width // 10 + 1))
    data = np.kron(coarse, np.ones((1, 10, 10)))[:, :height, :width]
    data = (data + rng.normal(0, 3, data.shape)).astype(np.float32)
    transform = Affine(10, 0, 500000, 0, -10, 4000000)
    ys, xs = pixel_centres(transform, height, width)
    da = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": BANDS, "y": ys, "x": xs})
    return georeference(da, rasterio.crs.CRS.from_epsg(32633), transform, nodata)


@pytest.fixture
def scene_factory():
    """:func:`make_scene`, for tests that need other sizes or nodata."""
    return make_scene


@pytest.fixture
def scene():
    return make_scene(300, 410)


@pytest.fixture(scope="session")
def change_bundle(tmp_path_factory):
    """A two-date early-fusion UNet (random weights, spread as for seg_bundle)."""
    import torch

    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(1)
    model = build_model("early-fusion-unet", in_channels=6, num_classes=2, width=8, depth=2)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight *= 30
        last.bias.zero_()
    return export_bundle(
        model,
        tmp_path_factory.mktemp("bundles") / "change" / "1",
        task="change-detection",
        classes=["same", "changed"],
        bands=BANDS,
        normalisation={"mean": [100.0] * 3, "std": [30.0] * 3},
        tile_size=64,
        exporter="legacy",
    )


def read_outputs(folder):
    """The classes and probabilities a ``satlearn predict`` run wrote into ``folder``."""
    with (
        rasterio.open(folder / "classes.tif") as a,
        rasterio.open(folder / "probabilities.tif") as b,
    ):
        return a.read(), b.read()
