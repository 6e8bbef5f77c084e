"""Land cover: accuracy of k-means and supervised maps; block-wise k-means vs sklearn KMeans.

Figures printed:

1. eo-learn TestEOPatch (real Sentinel-2 L1C, 5 dates x 13 bands, 101 x 100 px,
   LULC reference): train on the left 60 columns, test on the right 40.
   Supervised: a random forest on date-0 bands, on all five dates' bands, and
   ``classify_landcover`` (five dates + NDVI/NDWI/NBR/NDBI per date + temporal
   statistics + texture, balanced class weights). Unsupervised:
   ``kmeans_landcover`` on the five dates, clusters named by Hungarian
   matching on the left block, scored on the right block. Time-series
   features: the real 68-date NDVI series of the same EOPatch, cloud-masked
   with ``IS_VALID`` and linearly interpolated in time onto a 16-day grid
   (``satlearn.pixelml.features.interpolate_time``, as eo-learn's LULC pipeline
   does), alone and as ``extra=`` layers of ``classify_landcover``.
   With ``--cv``, every configuration tried is first scored by 3-fold
   spatial cross-validation inside the training block (folds = row bands of
   columns 0-59); the one with the best CV macro-F1 is named before the
   test block is scored.
2. Synthetic scene (``make_scene(256)``), same left/right split.
3. Time and peak traced memory (tracemalloc: numpy buffers) of
   ``kmeans_landcover`` on a dask-backed synthetic scene vs plain
   ``sklearn.cluster.KMeans`` fitted on the whole feature array in memory
   (the peer), with the ratios.

Run: ``.venv/bin/python benchmarks/bench_landcover.py [--size 1024] [--cv] [--real-only]``.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from satlearn.bands import get_sensor
from satlearn.metrics import class_scores
from satlearn.ops.landcover import classify_landcover, kmeans_landcover, score_clusters
from satlearn.pixelml import train_pixel_classifier
from satlearn.pixelml.features import FeatureSpec, interpolate_time, pixel_features, series_layers
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


def load_eopatch() -> dict:
    """The 5-date reference scenes, LULC, the 68-date NDVI series with its masks, the DEM."""
    folder = DATA / "TestEOPatch"
    scenes = np.load(DATA / "REFERENCE_SCENES.npy", allow_pickle=False)
    names = [b.name for b in get_sensor("sentinel2_l1c").bands]
    coords = {"y": -10.0 * np.arange(101), "x": 10.0 * np.arange(100)}
    image = xr.DataArray(
        scenes.transpose(0, 3, 1, 2), dims=("time", "band", "y", "x"),
        coords={"band": names, **coords},
    )  # fmt: skip
    ndvi = np.load(folder / "data/NDVI.npy", allow_pickle=False)[..., 0]
    series = xr.DataArray(
        ndvi, dims=("time", "y", "x"), name="NDVI",
        coords={"time": np.array(json.loads((folder / "timestamps.json").read_text()),
                                 dtype="datetime64[ns]"), **coords},
    )  # fmt: skip
    dem = np.load(folder / "data_timeless/DEM.npy", allow_pickle=False)[..., 0]
    lulc = np.load(folder / "mask_timeless/LULC.npy", allow_pickle=False)[..., 0]
    return {
        "image": image,
        "series": series,
        "valid": np.load(folder / "mask/IS_VALID.npy", allow_pickle=False)[..., 0],
        "dem": xr.DataArray(
            dem[None], dims=("feature", "y", "x"), coords={"feature": ["DEM"], **coords}
        ),
        "lulc": lulc.astype(np.int16),
    }


def ndvi_layers(data: dict, step_days: float = 16, masked: bool = True) -> xr.DataArray:
    """The NDVI series interpolated onto a ``step_days`` grid, as (feature, y, x) layers."""
    valid = data["valid"] if masked else None
    return series_layers(interpolate_time(data["series"], valid, step_days=step_days), "NDVI")


def ndvi_image(data: dict, step_days: float = 16) -> xr.DataArray:
    """The interpolated NDVI series as a (time, band, y, x) image with one band, ``NDVI``."""
    ndvi = interpolate_time(data["series"], data["valid"], step_days=step_days)
    return ndvi.expand_dims(band=["NDVI"], axis=1)


RF = {"n_estimators": 100, "n_jobs": 2, "seed": 0}


def configurations(data: dict) -> dict:
    """name -> (labels -> predicted (y, x) map): every configuration tried, in CV order."""
    image = data["image"]
    ts16, ts8, ts32 = (ndvi_layers(data, s) for s in (16, 8, 32))
    unmasked = ndvi_layers(data, 16, masked=False)
    with_dem = xr.concat([ts16, data["dem"]], dim="feature")

    def classify(extra=None, **kw):
        return lambda labels: (
            classify_landcover(image, labels, extra=extra, **{**RF, **kw}).classes.values
        )

    def series_only(step, texture=False):
        ndvi = ndvi_image(data, step)
        return lambda labels: (
            classify_landcover(ndvi, labels, indices=(), texture=texture, **RF).classes.values
        )

    return {
        "classify_landcover default (5 dates x 13 bands + indices + temporal + texture)":
            classify(),
        "NDVI series alone, 16-day grid (+ temporal statistics)": series_only(16),
        "NDVI series alone, 16-day grid + texture": series_only(16, texture=True),
        "default + NDVI series 16-day (extra=)": classify(ts16),
        "default + NDVI series 8-day": classify(ts8),
        "default + NDVI series 32-day": classify(ts32),
        "default + NDVI series 16-day, NOT cloud-masked": classify(unmasked),
        "default + NDVI series 16-day + DEM": classify(with_dem),
        "default + NDVI series 16-day, leaf 1": classify(ts16, min_samples_leaf=1),
        "default + NDVI series 16-day, leaf 5": classify(ts16, min_samples_leaf=5),
    }  # fmt: skip


def spatial_cv(predict, train: np.ndarray, folds: int = 3):
    """Out-of-fold scores inside the training block; folds are row bands."""
    rows = np.arange(train.shape[0])[:, None].repeat(train.shape[1], axis=1)
    band = rows * folds // train.shape[0]
    out = np.zeros_like(train)
    for k in range(folds):
        fit = np.where(band == k, 0, train).astype(np.int16)
        out[band == k] = predict(fit)[band == k]
    return class_scores(out, train, valid=train > 0)


def cross_validation(data: dict) -> None:
    train, test = split(data["lulc"], 60)
    print("eo-learn TestEOPatch: 3-fold spatial CV inside the training block (row bands),")
    print("then the test block once per configuration (for information; chosen by CV only)")
    results = []
    for name, predict in configurations(data).items():
        t = time.perf_counter()
        cv = spatial_cv(predict, train)
        seconds = time.perf_counter() - t
        results.append((name, predict, cv))
        print(f"  CV  {name:76s} acc {cv.accuracy:.3f}  macro-F1 {cv.macro_f1:.3f}"
              f"  ({seconds:.0f} s)", flush=True)  # fmt: skip
    best = max(results, key=lambda r: r[2].macro_f1)
    print(f"  chosen by CV macro-F1: {best[0]}")
    for name, predict, _ in results:
        s = class_scores(predict(train), test, valid=test > 0)
        mark = "*" if name == best[0] else " "
        print(f"  test{mark}{name:76s} acc {s.accuracy:.3f}  macro-F1 {s.macro_f1:.3f}",
              flush=True)  # fmt: skip
        if name == best[0]:
            print("        per-class F1 (test): " + ", ".join(
                f"{c}: {s.f1[c]:.2f}" for c in np.unique(test[test > 0])))  # fmt: skip


def real_data(cv: bool = False) -> None:
    if not DATA.is_dir():
        print(f"eo-learn sample not found at {DATA}; skipped")
        return
    data = load_eopatch()
    image = data["image"]
    train, test = split(data["lulc"], 60)
    print("eo-learn TestEOPatch, train columns 0-59, test columns 60-99 (LULC, 0 = no data)")
    supervised_line("random forest, date-0 bands", image.isel(time=0), train, test)
    supervised_line("random forest, 5 dates x 13 bands", image, train, test, temporal=False)
    supervised_line(
        "classify_landcover (5 dates + indices + temporal + texture)", image, train, test,
        classify=True,
    )  # fmt: skip
    supervised_line(
        "classify_landcover, NDVI 68 dates masked+interpolated 16 d", ndvi_image(data), train,
        test, classify=True, indices=(), texture=False,
    )  # fmt: skip
    supervised_line(
        "classify_landcover, 5 dates + NDVI 16-day series (extra=)", image, train, test,
        classify=True, extra=ndvi_layers(data),
    )  # fmt: skip
    kmeans_line("k-means k=12, date 0, NDVI/NDWI (Hungarian on train)", image.isel(time=0), 12,
                train, test, indices=("ndvi", "ndwi"))  # fmt: skip
    kmeans_line("k-means k=12, 5 dates, NDVI/NDWI (Hungarian on train)", image, 12, train,
                test, indices=("ndvi", "ndwi"))  # fmt: skip
    if cv:
        cross_validation(data)


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
    parser.add_argument("--cv", action="store_true", help="the spatial-CV table (eo-learn)")
    parser.add_argument("--real-only", action="store_true", help="only the eo-learn figures")
    args = parser.parse_args()
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    real_data(cv=args.cv)
    if not args.real_only:
        synthetic()
        scaling(args.size)


if __name__ == "__main__":
    main()
