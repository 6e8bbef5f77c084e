"""Land cover: accuracy of k-means and supervised maps; block-wise k-means vs sklearn KMeans.

Figures printed:

1. eo-learn TestEOPatch (real Sentinel-2 L1C, 5 dates x 13 bands, 101 x 100 px,
   LULC reference): train on the left 60 columns, test on the right 40.
   Supervised: a random forest on date-0 bands, on all five dates' bands, and
   ``classify_landcover`` (five dates + NDVI/NDWI/NBR/NDBI per date + temporal
   statistics + texture, balanced class weights). Unsupervised:
   ``kmeans_landcover`` on the five dates, clusters named by Hungarian
   matching on the left block, scored on the right block.
2. Synthetic scene (``make_scene(256)``), same left/right split.
3. Time and peak traced memory (tracemalloc: numpy buffers) of
   ``kmeans_landcover`` on a dask-backed synthetic scene vs plain
   ``sklearn.cluster.KMeans`` fitted on the whole feature array in memory
   (the peer), with the ratios.

Run: ``.venv/bin/python benchmarks/bench_landcover.py [--size 1024]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from satlearn.bands import get_sensor
from satlearn.metrics import class_scores
from satlearn.ml import train_pixel_classifier
from satlearn.ml.features import FeatureSpec, pixel_features
from satlearn.ops.landcover import classify_landcover, kmeans_landcover, score_clusters
from satlearn.synth import make_scene

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eolearn-testeopatch"


def split(labels: np.ndarray, column: int) -> tuple[np.ndarray, np.ndarray]:
    train, test = labels.copy(), labels.copy()
    train[:, column:] = 0
    test[:, :column] = 0
    return train, test


def line(name: str, predicted: np.ndarray, test: np.ndarray, seconds: float) -> None:
    s = class_scores(predicted, test, valid=test > 0)
    print(f"  {name:52s} accuracy {s.accuracy:.3f}  macro-F1 {s.macro_f1:.3f}  ({seconds:.1f} s)")


def kmeans_line(name: str, image: xr.DataArray, k: int, train, test, **kw) -> None:
    t = time.perf_counter()
    clusters = kmeans_landcover(image, k=k, **kw).clusters.values
    mapping, _ = score_clusters(clusters, train)  # clusters named on the training block
    named = np.where(clusters >= 0, mapping[np.maximum(clusters, 0)], 0)
    line(name, named, test, time.perf_counter() - t)


def supervised_line(name: str, image: xr.DataArray, train, test, classify=False, **kw) -> None:
    t = time.perf_counter()
    if classify:
        predicted = classify_landcover(image, train, **kw).classes.values
    else:
        predicted = train_pixel_classifier(image, train, **kw).predict(image).values
    line(name, predicted, test, time.perf_counter() - t)


def real_data() -> None:
    if not DATA.is_dir():
        print(f"eo-learn sample not found at {DATA}; skipped")
        return
    scenes = np.load(DATA / "REFERENCE_SCENES.npy", allow_pickle=False)
    lulc = np.load(DATA / "TestEOPatch/mask_timeless/LULC.npy", allow_pickle=False)[..., 0]
    names = [b.name for b in get_sensor("sentinel2_l1c").bands]
    image = xr.DataArray(
        scenes.transpose(0, 3, 1, 2),
        dims=("time", "band", "y", "x"),
        coords={"band": names, "y": -10.0 * np.arange(101), "x": 10.0 * np.arange(100)},
    )
    train, test = split(lulc.astype(np.int16), 60)
    print("eo-learn TestEOPatch, train columns 0-59, test columns 60-99 (LULC, 0 = no data)")
    supervised_line("random forest, date-0 bands", image.isel(time=0), train, test)
    supervised_line("random forest, 5 dates x 13 bands", image, train, test, temporal=False)
    supervised_line(
        "classify_landcover (5 dates + indices + temporal + texture)", image, train, test,
        classify=True,
    )  # fmt: skip
    kmeans_line("k-means k=12, date 0, NDVI/NDWI (Hungarian on train)", image.isel(time=0), 12,
                train, test, indices=("ndvi", "ndwi"))  # fmt: skip
    kmeans_line("k-means k=12, 5 dates, NDVI/NDWI (Hungarian on train)", image, 12, train,
                test, indices=("ndvi", "ndwi"))  # fmt: skip


def synthetic() -> None:
    scene = make_scene(256, seed=0, clouds=False, ships=False)
    image = scene.image.isel(time=0)
    labels = (scene.landcover.values + 1).astype(np.int16)  # 0 = unlabelled
    train, test = split(labels, int(256 * 0.6))
    print("synthetic make_scene(256, seed=0), 7 classes, train left 60 %, test right 40 %")
    supervised_line("random forest, bands", image, train, test)
    supervised_line("classify_landcover (bands + indices + texture)", image, train, test,
                    classify=True)  # fmt: skip
    kmeans_line("k-means k=7, bands + NDVI/NDWI (Hungarian on train)", image, 7, train, test,
                indices=("ndvi", "ndwi"))  # fmt: skip


def measure(func) -> tuple[float, float, object]:
    tracemalloc.start()
    t = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def scaling(size: int) -> None:
    from sklearn.cluster import KMeans

    scene = make_scene(size, seed=1, clouds=False, ships=False, n_dates=1)
    image = scene.image.isel(time=0).sel(band=["blue", "green", "red", "nir", "swir16"])
    lazy = image.chunk({"band": -1, "y": 256, "x": 256})
    k = 7

    def ours():
        return kmeans_landcover(lazy, k=k, indices=("ndvi",), seed=0).clusters.values

    def peer():
        spec = FeatureSpec.from_image(image, indices=("ndvi",))
        x = pixel_features(image, spec).values.reshape(len(spec.names()), -1).T
        x = (x - x.mean(0)) / x.std(0)
        return KMeans(n_clusters=k, n_init=1, random_state=0).fit_predict(x)

    t_ours, m_ours, c_ours = measure(ours)
    t_peer, m_peer, c_peer = measure(peer)
    truth = scene.landcover.values
    _, s_ours = score_clusters(c_ours, truth, ignore=None)
    _, s_peer = score_clusters(c_peer.reshape(truth.shape), truth, ignore=None)
    mpx = size * size / 1e6
    print(f"k-means on a {size} x {size} scene ({mpx:.1f} Mpx, 5 bands + NDVI, k={k})")
    print(f"  kmeans_landcover (dask 256^2 blocks, mini-batch): {t_ours:6.1f} s, "
          f"peak {m_ours:7.1f} MiB, accuracy {s_ours.accuracy:.3f}")  # fmt: skip
    print(f"  sklearn KMeans on the whole array (n_init=1):     {t_peer:6.1f} s, "
          f"peak {m_peer:7.1f} MiB, accuracy {s_peer.accuracy:.3f}")  # fmt: skip
    print(f"  ratio ours/peer: time {t_ours / t_peer:.2f}x, peak memory {m_ours / m_peer:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="side of the scaling scene")
    args = parser.parse_args()
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    real_data()
    synthetic()
    scaling(args.size)


if __name__ == "__main__":
    main()
