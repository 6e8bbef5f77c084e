"""Land cover: block-wise mini-batch k-means, Hungarian scoring, supervised mapping."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from satlearn.bands import get_sensor
from satlearn.errors import InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.metrics import class_scores
from satlearn.ops.landcover import classify_landcover, kmeans_landcover, score_clusters
from satlearn.synth import make_scene


@pytest.fixture(scope="module")
def scene():
    return make_scene(128, seed=3, clouds=False, ships=False)


@pytest.fixture(scope="module")
def image(scene):
    return scene.image.isel(time=0)


def test_kmeans_finds_land_cover(image, scene):
    result = kmeans_landcover(image, k=7, indices=("ndvi", "ndwi"))
    clusters = result.clusters
    assert clusters.dims == ("y", "x") and clusters.dtype == np.int16
    assert set(np.unique(clusters.values)) == set(range(7))
    assert clusters.rio.crs == image.rio.crs
    assert result.centres.shape == (7, 15)
    assert result.feature_names[-2:] == ["NDVI", "NDWI"]
    mapping, scores = score_clusters(clusters, scene.landcover, ignore=None)
    assert mapping.shape == (7,)
    assert scores.accuracy > 0.55  # seven classes; the majority class covers ~30 %
    # centres are in feature units: the water cluster has the highest NDWI
    water = int(np.flatnonzero(mapping == 0)[0])
    assert result.centres[water, -1] == result.centres[:, -1].max()


def test_kmeans_on_dask_blocks_is_lazy_and_close_to_numpy(image, scene):
    result = kmeans_landcover(image.chunk({"y": 48, "x": 64}), k=7, indices=("ndvi", "ndwi"))
    assert result.clusters.chunks == ((48, 48, 32), (64, 64))
    _, scores = score_clusters(result.clusters.compute(), scene.landcover, ignore=None)
    assert scores.accuracy > 0.5


def test_kmeans_is_seeded(image):
    a = kmeans_landcover(image, k=4, bands=["red", "nir"], seed=1).clusters.values
    b = kmeans_landcover(image, k=4, bands=["red", "nir"], seed=1).clusters.values
    np.testing.assert_array_equal(a, b)


def test_kmeans_valid_mask_and_nan(image):
    valid = np.ones((128, 128), bool)
    valid[:, :10] = False
    holed = image.copy()
    holed[:, 50, 50] = np.nan
    clusters = kmeans_landcover(holed, k=3, bands=["red", "nir"], valid=valid).clusters.values
    assert (clusters[:, :10] == -1).all()
    assert clusters[50, 50] == -1
    assert (clusters == -1).sum() == 128 * 10 + 1
    lazy = kmeans_landcover(holed.chunk({"y": 64}), k=3, bands=["red", "nir"], valid=valid)
    assert (lazy.clusters.values[:, :10] == -1).all()


def test_kmeans_errors(image):
    with pytest.raises(InvalidInputError, match="k must be an int >= 2"):
        kmeans_landcover(image, k=1)
    with pytest.raises(InvalidInputError, match="passes must be an int"):
        kmeans_landcover(image, passes=0)
    with pytest.raises(InvalidInputError, match="valid mask has shape"):
        kmeans_landcover(image, valid=np.ones((2, 2), bool))
    with pytest.raises(NoValidDataError, match="only 0 valid pixel"):
        kmeans_landcover(xr.full_like(image, np.nan), k=3)
    with pytest.raises(UnknownBandError, match="pan"):
        kmeans_landcover(image, bands=["pan"])


def test_kmeans_needs_k_valid_pixels_in_the_whole_image_not_in_a_block(image):
    valid = np.zeros((128, 128), bool)
    valid[0, :4] = True  # four pixels in all: enough for k=3
    assert (kmeans_landcover(image, k=3, bands=["red"], valid=valid).clusters >= 0).sum() == 4
    small = image.chunk({"y": 1})
    valid = np.zeros((128, 128), bool)
    valid[0, 0] = valid[1, 0] = valid[2, 0] = True  # three pixels, each alone in its block
    clusters = kmeans_landcover(small, k=3, bands=["red"], valid=valid).clusters.values
    assert sorted(clusters[valid].tolist()) == [0, 1, 2]  # the fit sees all three
    valid[2, 0] = False
    with pytest.raises(NoValidDataError, match="only 2 valid pixel"):
        kmeans_landcover(small, k=3, bands=["red"], valid=valid)


def test_kmeans_sample_is_capped_and_chunking_free(image):
    whole = kmeans_landcover(image, k=4, bands=["red", "nir"], sample_pixels=500)
    chunked = kmeans_landcover(
        image.chunk({"y": 37, "x": 50}), k=4, bands=["red", "nir"], sample_pixels=500
    )
    np.testing.assert_array_equal(whole.centres, chunked.centres)
    np.testing.assert_array_equal(whole.clusters.values, chunked.clusters.values)
    with pytest.raises(InvalidInputError, match="sample_pixels must be an int >= 4"):
        kmeans_landcover(image, k=4, sample_pixels=3)


def test_score_clusters_matches_hungarian(scene):
    reference = scene.landcover.values.astype(np.int64)
    permuted = (reference + 2) % 7  # cluster ids are the classes, relabelled
    mapping, scores = score_clusters(permuted, reference, ignore=None)
    np.testing.assert_array_equal(mapping[permuted], reference)
    assert scores.accuracy == 1.0
    with pytest.raises(InvalidInputError, match="clusters have shape"):
        score_clusters(permuted[:5], reference)
    with pytest.raises(NoValidDataError):
        score_clusters(np.full_like(permuted, -1), reference)
    partial = np.zeros(reference.shape, bool)
    partial[:10] = True
    _, part = score_clusters(permuted, reference, valid=partial, ignore=None)
    assert part.confusion.sum() == 10 * 128


def test_classify_landcover_from_a_label_raster(image, scene):
    labels = (scene.landcover + 1).astype(np.int16)
    train = labels.where(labels.x < labels.x[76], 0).astype(np.int16)
    result = classify_landcover(image, train, n_estimators=20, max_samples=4000)
    held_out = (labels.x >= labels.x[76]).values[None, :].repeat(128, axis=0)
    scores = class_scores(result.classes, labels, valid=held_out)
    assert scores.accuracy > 0.8
    names = result.classifier.feature_names
    assert {"NDVI", "NDWI", "NBR", "NDBI", "NDVI:std5"} <= set(names)
    assert result.classifier.estimator.class_weight == "balanced_subsample"


def test_classify_landcover_picks_indices_the_bands_allow(image, scene):
    rgbn = image.sel(band=["blue", "green", "red", "nir"])
    labels = (scene.landcover + 1).astype(np.int16)
    result = classify_landcover(rgbn, labels, model="naive-bayes", texture=False, max_samples=2000)
    assert result.classifier.feature_names == ["blue", "green", "red", "nir", "NDVI", "NDWI"]


def test_classify_landcover_with_extra_layers(image, scene):
    labels = (scene.landcover + 1).astype(np.int16)
    train = labels.where(labels.x < labels.x[76], 0).astype(np.int16)
    hint = (labels.values + np.random.default_rng(1).normal(0, 0.1, labels.shape))[None]
    extra = xr.DataArray(hint, dims=("feature", "y", "x"), coords={"feature": ["hint"]})
    red = image.sel(band=["red"])
    result = classify_landcover(red, train, texture=False, extra=extra, n_estimators=20)
    assert result.classifier.feature_names == ["red", "hint"]
    held_out = (labels.x >= labels.x[76]).values[None, :].repeat(128, axis=0)
    assert class_scores(result.classes, labels, valid=held_out).accuracy > 0.9
    np.testing.assert_array_equal(result.classifier.predict(red, extra).values, result.classes)
    with pytest.raises(InvalidInputError, match="need extra layer"):
        result.classifier.predict(red)


def test_real_eolearn_patch_supervised_and_kmeans(shared_data):
    folder = shared_data / "eolearn-testeopatch"
    scenes = np.load(folder / "REFERENCE_SCENES.npy", allow_pickle=False)
    lulc = np.load(folder / "TestEOPatch/mask_timeless/LULC.npy", allow_pickle=False)[..., 0]
    names = [b.name for b in get_sensor("sentinel2_l1c").bands]
    image = xr.DataArray(
        scenes.transpose(0, 3, 1, 2), dims=("time", "band", "y", "x"),
        coords={"band": names, "y": -10.0 * np.arange(101), "x": 10.0 * np.arange(100)},
    )  # fmt: skip
    lulc = lulc.astype(np.int16)
    train, test = lulc.copy(), lulc.copy()
    train[:, 60:] = 0
    test[:, :60] = 0
    result = classify_landcover(image, train, n_estimators=40, seed=0)
    scores = class_scores(result.classes, test, valid=test > 0)
    assert scores.accuracy > 0.85  # measured 0.88; a random forest on date-0 bands gives 0.70
    clusters = kmeans_landcover(image, k=12, indices=("ndvi", "ndwi")).clusters
    mapping, _ = score_clusters(clusters, train, ignore=0)  # clusters named on the left block
    kscores = class_scores(mapping[clusters.values], test, valid=test > 0)
    assert kscores.accuracy > 0.6  # measured 0.83 with all five dates


def test_score_clusters_ignores_absent_class_ids():
    reference = np.repeat(np.array([1, 2, 8]), 4)  # sparse ids, as LULC codes
    clusters = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    mapping, scores = score_clusters(clusters, reference)
    assert mapping.tolist() == [1, 2, 8]
    assert scores.accuracy == 1.0


def test_real_eolearn_patch_with_the_interpolated_ndvi_series(shared_data):
    import json

    from satlearn.pixelml.features import interpolate_time, series_layers

    folder = shared_data / "eolearn-testeopatch"
    scenes = np.load(folder / "REFERENCE_SCENES.npy", allow_pickle=False)
    patch = folder / "TestEOPatch"
    lulc = np.load(patch / "mask_timeless/LULC.npy", allow_pickle=False)[..., 0].astype(np.int16)
    ndvi = np.load(patch / "data/NDVI.npy", allow_pickle=False)[..., 0]
    clear = np.load(patch / "mask/IS_VALID.npy", allow_pickle=False)[..., 0]
    dates = json.loads((patch / "timestamps.json").read_text())
    names = [b.name for b in get_sensor("sentinel2_l1c").bands]
    image = xr.DataArray(scenes.transpose(0, 3, 1, 2), dims=("time", "band", "y", "x"),
                         coords={"band": names})  # fmt: skip
    extra = series_layers(interpolate_time(ndvi, clear, dates=dates, step_days=16), "NDVI")
    assert extra.sizes["feature"] == 56
    train, test = lulc.copy(), lulc.copy()
    train[:, 60:] = 0
    test[:, :60] = 0
    result = classify_landcover(image, train, extra=extra, n_estimators=40, seed=0)
    scores = class_scores(result.classes, test, valid=test > 0)
    # measured 0.894 / 0.453 with 40 trees (the 5 dates alone: 0.88 / 0.42); the
    # issue-4 goal of macro-F1 >= 0.50 is not reached (docs/benchmarks.md)
    assert scores.accuracy > 0.87
    assert scores.macro_f1 > 0.43
