"""Shared fixtures: a writer of small GeoTIFFs, and the real samples in ../shared/data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor make_dataarray uses)
import xarray as xr
from affine import Affine

# Fixtures of one area live in a plugin module here rather than in a conftest.py of
# their folder: a second module named `conftest` would shadow this one for the
# tests that import its helpers (`from conftest import write_geotiff`).
pytest_plugins = [
    "fixtures_predict",
    "fixtures_demo",
    "fixtures_dask",
    "fixtures_view",
    "fixtures_fuzz",
    "fixtures_reliability",
    "fixtures_osm",
]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

CRS = "EPSG:32633"
TRANSFORM = Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 5000040.0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real satellite samples beside the repository; skip when they are absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real-data samples not found at {SHARED_DATA} (../shared/data is absent)")
    return SHARED_DATA


def make_dataarray(
    data: np.ndarray,
    *,
    names: list[str] | None = None,
    crs: str | None = CRS,
    transform: Affine = TRANSFORM,
    nodata: float | None = None,
) -> xr.DataArray:
    """A georeferenced (band, y, x) DataArray with pixel-centre coordinates."""
    count, height, width = data.shape
    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": names or [f"b{i + 1}" for i in range(count)], "y": ys, "x": xs},
    )
    if crs is not None:
        da = da.rio.write_crs(crs)
    da = da.rio.write_transform(transform)
    return da.rio.write_nodata(nodata)


def write_geotiff(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = CRS,
    transform: Affine = TRANSFORM,
    nodata: float | None = None,
    descriptions: list[str] | None = None,
    driver: str = "GTiff",
    **options: object,
) -> Path:
    """Write a plain (not cloud-optimized) raster with rasterio."""
    count, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=width,
        height=height,
        count=count,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **options,
    ) as dst:
        dst.write(data)
        for i, text in enumerate(descriptions or [], start=1):
            dst.set_band_description(i, text)
    return path


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run torch single-threaded in tests that use it.

    The test tensors are tiny: a second OpenMP thread buys nothing, and on a
    busy 2-core machine its spin-waiting barriers made training steps 50-100x
    slower. Tests that never import torch do not pay for importing it here.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
