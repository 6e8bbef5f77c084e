"""Change detection: every satlearn.ops.change method against the "ten lines" peer.

What is compared, in the same run:

* The peer a user would write first: standardise each band of each date,
  take the length of the difference vector (CVA) and split it with
  ``skimage.filters.threshold_otsu`` -- ten lines of numpy.
* satlearn's methods (``difference``, ``ratio``, ``log-ratio``, ``cva``,
  ``pca-kmeans``, ``irmad``, plus ``difference`` on NDVI and ``irmad`` with
  ``smooth_px=3``) with their default thresholds.

On three pairs:

* synthetic: ``satlearn.synth.make_scene(256, seed=0)``, date 0 against the
  last date, F1 (and kappa) against ``change_mask`` on pixels clear of thick
  cloud, cirrus and shadow in both dates (clouds are not change);
* Taizhou (Landsat 7, ../shared/data/landsat-change-taizhou): Cohen's kappa on
  the labelled pixels (changed or unchanged in the partial reference);
* OSCD Bercy (Sentinel-2, 13 bands on the 10 m grid, bilinear): F1 and kappa
  against the full change map.

Times are the best of ``--repeat`` calls (masks computed). Ratios: score of
satlearn / score of the peer, and time of satlearn / time of the peer.
With ``--scale``, also times CVA and IR-MAD on a 2048 x 2048 6-band array,
numpy against dask (512-pixel chunks), to show how the lazy path scales.

Run: ``python benchmarks/bench_change.py [--repeat N] [--scale]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from PIL import Image
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from skimage.filters import threshold_otsu

from satlearn.bands import get_sensor
from satlearn.metrics import binary_scores
from satlearn.ops.change import detect_change
from satlearn.raster import gdal_env, open_raster
from satlearn.synth import make_scene

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OSCD_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10",
              "B11", "B12"]  # fmt: skip

RUNS = {
    "difference": {"method": "difference"},
    "difference ndvi": {"method": "difference", "index": "ndvi"},
    "ratio": {"method": "ratio"},
    "log-ratio": {"method": "log-ratio"},
    "cva": {"method": "cva"},
    "cva ki": {"method": "cva", "threshold": "ki"},
    "pca-kmeans": {"method": "pca-kmeans"},
    "pca-kmeans h=3": {"method": "pca-kmeans", "block_px": 3},
    "irmad": {"method": "irmad"},
    "irmad smooth=3": {"method": "irmad", "smooth_px": 3},
}


def ten_lines_cva_otsu(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The peer: standardised CVA + Otsu in plain numpy / scikit-image."""

    def z(image):
        pixels = image[:, valid]
        mean = pixels.mean(axis=1)[:, None, None]
        std = pixels.std(axis=1)[:, None, None]
        return (image - mean) / np.where(std > 0, std, 1)

    magnitude = np.sqrt(((z(after) - z(before)) ** 2).sum(axis=0))
    return (magnitude > threshold_otsu(magnitude[valid])) & valid


def best_time(func, repeat: int) -> tuple[float, object]:
    result = func()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def synthetic():
    scene = make_scene(256, seed=0)
    clear = ~(scene.cloud_mask | scene.shadow_mask | scene.cirrus_mask).any("time")
    before, after = scene.image.isel(time=0), scene.image.isel(time=-1)
    return before, after, scene.change_mask.values, clear.values, clear.values


def taizhou():
    folder = SHARED / "landsat-change-taizhou"
    # ENVI headers sit in sibling .HDR files, found only when GDAL lists the folder.
    with gdal_env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"):
        before = open_raster(folder / "2000TM")
        after = open_raster(folder / "2003TM")
    names = ["blue", "green", "red", "nir", "swir16", "swir22"]  # ETM+ 1, 2, 3, 4, 5, 7
    before = before.assign_coords(band=names)
    after = after.assign_coords(band=names)
    changed = np.asarray(Image.open(folder / "change.bmp")) > 0
    unchanged = np.asarray(Image.open(folder / "unchanged.bmp")) > 0
    everywhere = np.ones(changed.shape, bool)  # detect everywhere, score the labelled pixels
    return before, after, changed, everywhere, changed | unchanged


def bercy():
    folder = SHARED / "oscd-bercy"
    images = folder / "Onera Satellite Change Detection dataset - Images" / "bercy"
    label = (
        folder / "Onera Satellite Change Detection dataset - Train Labels" / "bercy" / "cm"
        / "bercy-cm.tif"
    )  # fmt: skip
    s2 = get_sensor("sentinel2_l1c")
    names = [s2.band(b).name for b in OSCD_BANDS]

    def stack(date_folder):
        with rasterio.open(next((images / date_folder).glob("*_B02.tif"))) as ds:
            crs, transform, shape = ds.crs, ds.transform, ds.shape
        out = np.empty((len(OSCD_BANDS), *shape), np.float32)
        for i, band in enumerate(OSCD_BANDS):
            [path] = (images / date_folder).glob(f"*_{band}.tif")
            with rasterio.open(path) as ds:
                out[i] = ds.read(1, out_shape=shape, resampling=Resampling.bilinear)
        xs = transform.c + transform.a * (np.arange(shape[1]) + 0.5)
        ys = transform.f + transform.e * (np.arange(shape[0]) + 0.5)
        coords = {"band": names, "y": ys, "x": xs}
        da = xr.DataArray(out, dims=("band", "y", "x"), coords=coords)
        return da.rio.write_crs(crs).rio.write_transform(transform)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(label) as ds:
            reference = ds.read(1) == 2  # 1 = no change, 2 = change
    everywhere = np.ones(reference.shape, bool)
    return stack("imgs_1"), stack("imgs_2"), reference, everywhere, everywhere


def evaluate(name, loader, metric, repeat):
    before, after, reference, usable, counted = loader()
    rows = []
    valid = xr.DataArray(usable, dims=("y", "x"))
    b, a = before.values.astype(np.float64), after.values.astype(np.float64)
    peer_time, peer_mask = best_time(lambda: ten_lines_cva_otsu(b, a, usable), repeat)
    peer = binary_scores(peer_mask, reference, valid=counted)
    print(f"\n== {name}: {before.sizes['band']} bands, {before.sizes['y']} x {before.sizes['x']} "
          f"px, scored on {int(counted.sum())} px, {metric} ==")  # fmt: skip
    print(f"{'method':<18}{'F1':>8}{'kappa':>8}{'prec':>8}{'recall':>8}{'time s':>9}"
          f"{metric + ' / peer':>14}{'time / peer':>13}")  # fmt: skip
    print(f"{'peer cva+otsu':<18}{peer.f1:8.3f}{peer.kappa:8.3f}{peer.precision:8.3f}"
          f"{peer.recall:8.3f}{peer_time:9.3f}{1.0:14.2f}{1.0:13.2f}")  # fmt: skip
    for label, kwargs in RUNS.items():
        try:
            seconds, result = best_time(
                lambda kwargs=kwargs: (
                    detect_change(before, after, valid=valid, **kwargs).mask.values
                ),
                repeat,
            )
        except Exception as err:  # an index the bands lack, for instance
            print(f"{label:<18}  skipped: {err}")
            continue
        scores = binary_scores(result, reference, valid=counted)
        mine, theirs = getattr(scores, metric), getattr(peer, metric)
        rows.append((label, scores))
        print(f"{label:<18}{scores.f1:8.3f}{scores.kappa:8.3f}{scores.precision:8.3f}"
              f"{scores.recall:8.3f}{seconds:9.3f}{mine / theirs:14.2f}"
              f"{seconds / peer_time:13.2f}")  # fmt: skip
    return rows


def scaling(repeat):
    folder = SHARED / "landsat-change-taizhou"
    if not folder.is_dir():
        return
    before, after, *_ = taizhou()
    tiles = (1, 6, 6)
    big_b = xr.DataArray(np.tile(before.values, tiles)[:, :2048, :2048], dims=("band", "y", "x"))
    big_a = xr.DataArray(np.tile(after.values, tiles)[:, :2048, :2048], dims=("band", "y", "x"))
    print("\n== scaling: 6 bands, 2048 x 2048 (Taizhou tiled), numpy vs dask (512 chunks) ==")
    for method in ("cva", "irmad"):
        t_np, m_np = best_time(
            lambda m=method: detect_change(big_b, big_a, method=m).mask.values, repeat
        )
        chunked = [da.chunk({"y": 512, "x": 512}) for da in (big_b, big_a)]
        t_dk, m_dk = best_time(
            lambda m=method, c=chunked: detect_change(*c, method=m).mask.values, repeat
        )
        agree = float((m_np == m_dk).mean())
        print(f"{method:<8} numpy {t_np:7.2f} s   dask {t_dk:7.2f} s   masks agree {agree:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--scale", action="store_true")
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))}")
    evaluate("synthetic make_scene(256, seed=0)", synthetic, "f1", args.repeat)
    if (SHARED / "landsat-change-taizhou").is_dir():
        evaluate("Taizhou (Landsat 7)", taizhou, "kappa", args.repeat)
    else:
        print("\nTaizhou skipped: ../shared/data/landsat-change-taizhou is absent")
    if (SHARED / "oscd-bercy").is_dir():
        evaluate("OSCD Bercy (Sentinel-2)", bercy, "f1", args.repeat)
    else:
        print("\nBercy skipped: ../shared/data/oscd-bercy is absent")
    if args.scale:
        scaling(1)


if __name__ == "__main__":
    main()
