"""Change detection on real pairs: Landsat 7 Taizhou (goal kappa >= 0.93) and OSCD Bercy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from PIL import Image
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from satlearn.metrics import binary_scores
from satlearn.ops.change import detect_change
from satlearn.raster import gdal_env, open_raster

OSCD_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
              "B11", "B12"]  # fmt: skip


def load_taizhou(root):
    """(before, after, reference, labelled) of the Taizhou pair."""
    folder = root / "landsat-change-taizhou"
    # The ENVI rasters keep their header in a sibling .HDR that GDAL finds by
    # listing the folder, which satlearn's cloud default (EMPTY_DIR) turns off.
    with gdal_env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"):
        before = open_raster(folder / "2000TM")
        after = open_raster(folder / "2003TM")
    changed = np.asarray(Image.open(folder / "change.bmp")) > 0
    unchanged = np.asarray(Image.open(folder / "unchanged.bmp")) > 0
    return before, after, changed, changed | unchanged


def load_bercy(root):
    """(before, after, reference) of OSCD Bercy: 13 bands on the 10 m grid."""
    folder = root / "oscd-bercy"
    images = folder / "Onera Satellite Change Detection dataset - Images" / "bercy"
    label = (
        folder / "Onera Satellite Change Detection dataset - Train Labels" / "bercy" / "cm"
        / "bercy-cm.tif"
    )  # fmt: skip

    def stack(date_folder):
        with rasterio.open(next((images / date_folder).glob("*_B02.tif"))) as ds:
            crs, transform, shape = ds.crs, ds.transform, ds.shape
        out = np.empty((len(OSCD_BANDS), *shape), np.float32)
        for i, band in enumerate(OSCD_BANDS):
            [path] = (images / date_folder).glob(f"*_{band}.tif")
            with rasterio.open(path) as ds:  # 20 m and 60 m bands onto the 10 m grid
                out[i] = ds.read(1, out_shape=shape, resampling=Resampling.bilinear)
        xs = transform.c + transform.a * (np.arange(shape[1]) + 0.5)
        ys = transform.f + transform.e * (np.arange(shape[0]) + 0.5)
        coords = {"band": OSCD_BANDS, "y": ys, "x": xs}
        da = xr.DataArray(out, dims=("band", "y", "x"), coords=coords)
        return da.rio.write_crs(crs).rio.write_transform(transform)

    # The label is a bare image on the 10 m grid (no georeferencing).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(label) as ds:
            reference = ds.read(1) == 2  # 1 = no change, 2 = change (see SOURCE.md)
    return stack("imgs_1"), stack("imgs_2"), reference


@pytest.fixture(scope="module")
def taizhou(shared_data):
    return load_taizhou(shared_data)


def test_irmad_reaches_kappa_093_on_taizhou(taizhou):
    before, after, reference, labelled = taizhou
    result = detect_change(before, after, method="irmad", match_bands="position")
    scores = result.scores(reference, valid=labelled)
    assert scores.kappa >= 0.93, scores
    smoothed = detect_change(before, after, method="irmad", match_bands="position", smooth_px=3)
    assert smoothed.scores(reference, valid=labelled).kappa > scores.kappa


@pytest.mark.parametrize(("method", "floor"), [("cva", 0.88), ("pca-kmeans", 0.88)])
def test_standardised_methods_on_taizhou(taizhou, method, floor):
    before, after, reference, labelled = taizhou
    result = detect_change(before, after, method=method, match_bands="position")
    assert result.scores(reference, valid=labelled).kappa > floor


def test_bercy_changes_are_enriched_in_what_cva_flags(shared_data):
    before, after, reference = load_bercy(shared_data)
    rate = reference.mean()
    result = detect_change(before, after, method="cva", threshold="ki")
    scores = binary_scores(result.mask, reference)
    # No goal here (urban change at 10 m is hard for unsupervised methods);
    # what is flagged must still be far richer in change than the scene.
    assert scores.precision > 10 * rate
    assert scores.kappa > 0.1
