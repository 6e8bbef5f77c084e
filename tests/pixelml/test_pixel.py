"""The pixel classifier: training, prediction, bundles, labels, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from rasterio.warp import transform_geom

from satlearn.bundle import read_bundle, write_bundle
from satlearn.errors import (
    BundleError,
    CRSMismatchError,
    InvalidInputError,
    NoValidDataError,
    UnknownBandError,
)
from satlearn.metrics import class_scores
from satlearn.pixelml import MODELS, PixelClassifier, evaluate, train_pixel_classifier
from satlearn.pixelml.features import FeatureSpec, pixel_features
from satlearn.pixelml.pixel import labels_to_raster
from satlearn.synth import make_scene

FAST = {"n_estimators": 15, "max_samples": 3000}


@pytest.fixture(scope="module")
def scene():
    return make_scene(96, seed=4, clouds=False, ships=False, n_dates=2)


@pytest.fixture(scope="module")
def image(scene):
    return scene.image.isel(time=0)


@pytest.fixture(scope="module")
def labels(scene):
    # land cover ids 0..6 shifted to 1..7, so 0 can mean "unlabelled"
    return (scene.landcover + 1).astype(np.int16)


@pytest.fixture(scope="module")
def top_half(labels):
    # train on the top half only; score on the bottom half
    return labels.where(labels.y > labels.y[47], 0).astype(np.int16)


@pytest.fixture(scope="module")
def clf(image, top_half):
    return train_pixel_classifier(image, top_half, indices=("ndvi", "ndwi"), texture=True, **FAST)


def test_predicts_held_out_land_cover(clf, image, labels):
    predicted = clf.predict(image)
    assert predicted.dims == ("y", "x")
    assert predicted.dtype == np.int16
    assert predicted.rio.crs == image.rio.crs
    assert predicted.rio.nodata == -1
    np.testing.assert_array_equal(predicted.x, image.x)
    bottom = np.zeros(labels.shape, bool)
    bottom[48:] = True
    scores = class_scores(predicted, labels, valid=bottom)
    assert scores.accuracy > 0.8  # spatially held out; majority class is ~35 %


def test_feature_names_and_metadata(clf):
    assert clf.feature_names[:3] == ["coastal", "blue", "green"]
    assert clf.feature_names[13:15] == ["NDVI", "NDWI"]
    assert clf.feature_names[15:] == [
        "brightness:mean5", "brightness:std5", "NDVI:mean5", "NDVI:std5", "NDWI:mean5",
        "NDWI:std5",
    ]  # fmt: skip
    assert set(clf.classes) <= set(range(1, 8))
    assert clf.metadata["metrics"]["onnx_sklearn_agreement"] == 1.0
    assert clf.metadata["metrics"]["training_pixels"] == 3000
    assert clf.estimator is not None


def test_probabilities_sum_to_one_and_agree_with_labels(clf, image):
    proba = clf.predict_proba(image)
    assert proba.dims == ("class", "y", "x")
    assert proba.coords["class"].values.tolist() == list(clf.classes)
    np.testing.assert_allclose(proba.sum("class"), 1.0, atol=1e-5)
    best = np.asarray(clf.classes)[proba.argmax("class").values]
    agree = np.mean(best == clf.predict(image).values)
    assert agree > 0.999  # ties between equal probabilities may break either way


def test_onnx_matches_sklearn_on_test_pixels(clf, image):
    stack = pixel_features(image, clf.spec).values
    x = stack.reshape(stack.shape[0], -1).T
    expected = clf.estimator.predict(x)
    got = clf.predict(image).values.reshape(-1)
    differ = got != expected
    assert differ.mean() < 1e-3
    # where they differ, sklearn's two best classes tie (tree votes are multiples of 1/15)
    if differ.any():
        top2 = np.sort(clf.estimator.predict_proba(x[differ]), axis=1)[:, -2:]
        np.testing.assert_allclose(top2[:, 0], top2[:, 1], atol=1e-6)
    np.testing.assert_allclose(
        clf.predict_proba(image).values.reshape(len(clf.classes), -1).T,
        clf.estimator.predict_proba(x),
        atol=1e-5,
    )


def test_save_and_load_give_the_same_predictions_without_sklearn(clf, image, tmp_path):
    path = clf.save(tmp_path / "landcover" / "1")
    bundle = read_bundle(path)
    assert bundle.task == "pixel-classification"
    assert bundle.bands == clf.spec.bands
    assert bundle.metadata["feature_names"] == clf.feature_names
    loaded = PixelClassifier.load(path)
    assert loaded.estimator is None
    assert loaded.classes == clf.classes
    np.testing.assert_array_equal(loaded.predict(image).values, clf.predict(image).values)
    with pytest.raises(BundleError, match="already exists"):
        clf.save(path)
    assert "random-forest" in repr(loaded)


def test_predict_on_dask_is_lazy_and_equal(clf, image):
    lazy = clf.predict(image.chunk({"y": 40, "x": 50}))
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, clf.predict(image).values)
    proba = clf.predict_proba(image.chunk({"y": 40, "x": 50}))
    assert proba.chunks is not None
    np.testing.assert_allclose(proba.values, clf.predict_proba(image).values, atol=1e-6)


def test_band_order_and_extra_bands_do_not_matter(clf, image):
    shuffled = image.isel(band=list(range(12, -1, -1)))
    np.testing.assert_array_equal(clf.predict(shuffled).values, clf.predict(image).values)


def test_missing_band_names_it(clf, image):
    with pytest.raises(UnknownBandError, match="lacks band\\(s\\) swir22"):
        clf.predict(image.drop_sel(band="swir22"))


def test_nan_pixels_get_nodata(clf, image):
    holed = image.copy()
    holed[:, 10, 20] = np.nan
    predicted = clf.predict(holed)
    assert predicted.values[10, 20] == -1
    # texture windows leave NaN neighbours out, so only the NaN pixel itself is lost
    assert (predicted.values == -1).sum() == 1
    assert np.isnan(clf.predict_proba(holed).values[:, 10, 20]).all()


def test_scaled_integers_with_nodata_give_the_same_classes(clf, image):
    counts = np.round(image.values / 1e-4).astype(np.uint16) + 1
    counts[:, 0, 0] = 0
    ints = image.copy(data=counts).assign_coords(
        scale=("band", np.full(13, 1e-4)), offset=("band", np.full(13, -1e-4))
    )
    ints = ints.rio.write_nodata(0)
    predicted = clf.predict(ints).values
    assert predicted[0, 0] == -1
    assert np.mean(predicted == clf.predict(image).values) > 0.99


@pytest.mark.parametrize("model", [m for m in MODELS if m != "random-forest"])
def test_every_model_learns_and_round_trips(model, image, top_half, labels, tmp_path):
    params = {"n_estimators": 10} if model == "gradient-boosting" else {}
    clf = train_pixel_classifier(
        image, top_half, model=model, indices=("ndvi",), max_samples=1500, svm_samples=600,
        **params,
    )  # fmt: skip
    predicted = clf.predict(image)
    bottom = np.zeros(labels.shape, bool)
    bottom[48:] = True
    assert class_scores(predicted, labels, valid=bottom).accuracy > 0.6
    loaded = PixelClassifier.load(clf.save(tmp_path / model))
    np.testing.assert_array_equal(loaded.predict(image).values, predicted.values)


def test_random_forest_leaves_hold_three_pixels_unless_told(image, top_half):
    # Full-depth trees grow a leaf per noisy pixel (slow fit, large ONNX graph).
    small = dict(n_estimators=3, max_samples=2000, indices=("ndvi",))
    default = train_pixel_classifier(image, top_half, **small).estimator
    assert default.min_samples_leaf == 3
    leaves = default.estimators_[0].get_n_leaves()
    full = train_pixel_classifier(image, top_half, min_samples_leaf=1, **small).estimator
    assert full.min_samples_leaf == 1
    assert full.estimators_[0].get_n_leaves() > 1.3 * leaves


def test_svm_kernel_parameter_and_sample_bound(image, top_half):
    clf = train_pixel_classifier(
        image, top_half, model="svm", kernel="linear", svm_samples=300, bands=["red", "nir"]
    )
    assert clf.metadata["params"] == {"kernel": "linear"}
    assert clf.metadata["metrics"]["training_pixels"] == 300
    assert clf.feature_names == ["red", "nir"]


def test_time_series_features_and_date_count_check(scene, labels):
    clf = train_pixel_classifier(
        scene.image, labels, bands=["red", "nir"], indices=("ndvi",), **FAST
    )
    assert clf.feature_names[:3] == ["red@t0", "nir@t0", "NDVI@t0"]
    assert "NDVI:tmean" in clf.feature_names and "red:tstd" in clf.feature_names
    assert len(clf.feature_names) == 3 * 2 + 3 * 4
    with pytest.raises(InvalidInputError, match="need 2 dates, the image has no time"):
        clf.predict(scene.image.isel(time=0))
    with pytest.raises(InvalidInputError, match="need 2 dates, the image has 1 dates"):
        clf.predict(scene.image.isel(time=[0]))


def test_valid_mask_and_ignore_value(image, labels):
    # keep class 1 (water) out of training with the valid mask
    valid = labels.values != 1
    clf = train_pixel_classifier(image, labels, valid=valid, bands=["red", "nir"], **FAST)
    assert 1 not in clf.classes
    # with ignore=None every value, 0 included, is a class
    raw = labels - 1
    clf0 = train_pixel_classifier(image, raw, ignore=None, bands=["red", "nir"], **FAST)
    assert 0 in clf0.classes


def test_evaluate_scores_the_labelled_pixels(clf, image, labels):
    scores = evaluate(clf, image, labels)
    direct = class_scores(clf.predict(image), labels)
    assert scores.accuracy == pytest.approx(direct.accuracy)
    assert scores.macro_f1 == pytest.approx(direct.macro_f1)
    valid = np.zeros(labels.shape, bool)
    valid[:10] = True
    assert evaluate(clf, image, labels, valid=valid).confusion.sum() == 10 * 96
    with pytest.raises(InvalidInputError, match="valid mask has shape"):
        evaluate(clf, image, labels, valid=valid[:5])


def square(row0, col0, size, image):
    x0 = float(image.x[col0]) - 5
    y0 = float(image.y[row0]) + 5
    ring = [[x0, y0], [x0 + 10 * size, y0], [x0 + 10 * size, y0 - 10 * size],
            [x0, y0 - 10 * size], [x0, y0]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


def test_polygon_labels_are_rasterised_on_the_grid(image):
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:32633"}},
        "features": [
            {"type": "Feature", "geometry": square(2, 3, 4, image), "properties": {"class": 2}},
            {"type": "Feature", "geometry": square(20, 30, 2, image), "properties": {"class": 5}},
        ],
    }
    raster, names = labels_to_raster(fc, image)
    assert names == {}
    assert raster[2:6, 3:7].tolist() == [[2] * 4] * 4
    assert raster[20:22, 30:32].tolist() == [[5] * 2] * 2
    assert (raster > 0).sum() == 16 + 4


def test_polygons_in_wgs84_with_class_names(image, tmp_path):
    features = []
    for name, (r, c) in (("water", (5, 5)), ("forest", (40, 40)), ("water", (70, 10))):
        geom = transform_geom("EPSG:32633", "EPSG:4326", square(r, c, 6, image))
        features.append({"type": "Feature", "geometry": geom, "properties": {"kind": name}})
    path = tmp_path / "labels.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    raster, names = labels_to_raster(path, image, class_property="kind")
    assert names == {1: "forest", 2: "water"}
    assert (raster[7, 7], raster[42, 42], raster[72, 12]) == (2, 1, 2)
    clf = train_pixel_classifier(image, str(path), class_property="kind", **FAST)
    assert clf.class_names == {1: "forest", 2: "water"}
    raster2, names2 = labels_to_raster(features, image, class_property="kind",
                                       class_ids={"water": 7})  # fmt: skip
    assert names2 == {7: "water", 8: "forest"}
    assert raster2[7, 7] == 7


def test_polygons_burn_in_the_given_order_and_null_geometries_burn_nothing(image):
    # One rasteriser (prep.labels.rasterize_features): a null geometry is skipped
    # silently (rasterio's own rasterize warned ShapeSkipWarning), the last polygon
    # wins where two overlap, as before.
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": [
            {"type": "Feature", "geometry": square(2, 3, 4, image), "properties": {"class": 2}},
            {"type": "Feature", "geometry": None, "properties": {"class": 3}},
            {"type": "Feature", "geometry": square(4, 5, 4, image), "properties": {"class": 5}},
        ],
    }
    raster, _ = labels_to_raster(fc, image)
    assert raster.dtype == np.int32
    assert (raster[2, 3], raster[5, 6], raster[7, 8]) == (2, 5, 5)
    assert (raster == 2).sum() == 16 - 4 and (raster == 5).sum() == 16 and (raster == 3).sum() == 0


def test_label_errors(image, labels):
    feature = {"type": "Feature", "geometry": square(2, 3, 4, image), "properties": {"c": 1}}
    with pytest.raises(InvalidInputError, match="lacks the class property 'class'"):
        labels_to_raster([feature], image)
    with pytest.raises(InvalidInputError, match="must be >= 1"):
        labels_to_raster({**feature, "properties": {"class": 0}}, image, labels_crs="EPSG:32633")
    with pytest.raises(InvalidInputError, match="must hold ints or names"):
        labels_to_raster([{**feature, "properties": {"class": 1.5j}}], image)
    with pytest.raises(NoValidDataError, match="holds no feature"):
        labels_to_raster({"type": "FeatureCollection", "features": []}, image)
    with pytest.raises(InvalidInputError, match="needs a 'geometry'"):
        labels_to_raster([{"type": "Feature"}], image)
    with pytest.raises(InvalidInputError, match="must be a label raster"):
        labels_to_raster({"type": "Polygon"}, image)
    with pytest.raises(InvalidInputError, match="not a readable GeoJSON file"):
        labels_to_raster("/no/such/file.geojson", image)
    no_crs = image.drop_vars("spatial_ref")
    with pytest.raises(CRSMismatchError, match="the image has none"):
        labels_to_raster([{**feature, "properties": {"class": 1}}], no_crs, labels_crs="EPSG:32633")


def test_training_errors(image, labels):
    with pytest.raises(InvalidInputError, match="unknown model 'tree'"):
        train_pixel_classifier(image, labels, model="tree")
    with pytest.raises(InvalidInputError, match="labels have shape \\(10, 10\\)"):
        train_pixel_classifier(image, labels.values[:10, :10])
    with pytest.raises(InvalidInputError, match="labels must have dims \\(y, x\\)"):
        train_pixel_classifier(image, labels.expand_dims("t"))
    with pytest.raises(InvalidInputError, match="integer class ids"):
        train_pixel_classifier(image, labels.astype(float))
    with pytest.raises(NoValidDataError, match="no labelled pixel"):
        train_pixel_classifier(image, labels * 0)
    with pytest.raises(InvalidInputError, match="at least two classes"):
        train_pixel_classifier(image, (labels > 0).astype(np.int8))
    with pytest.raises(InvalidInputError, match="reserved for nodata"):
        train_pixel_classifier(image, labels - 2, ignore=None, bands=["red"], **FAST)
    with pytest.raises(InvalidInputError, match="bad parameter"):
        train_pixel_classifier(image, labels, no_such_param=1)
    with pytest.raises(InvalidInputError, match="model 'sgd'"):
        train_pixel_classifier(image, labels, model="sgd", loss="no-such-loss")
    with pytest.raises(InvalidInputError, match="max_samples must be an int"):
        train_pixel_classifier(image, labels, max_samples=1)
    with pytest.raises(UnknownBandError, match="lacks band\\(s\\) pan"):
        train_pixel_classifier(image, labels, bands=["red", "pan"])
    with pytest.raises(UnknownBandError, match="NDVI needs band"):
        train_pixel_classifier(image.sel(band=["red", "green"]), labels, indices=("ndvi",))
    with pytest.raises(InvalidInputError, match="valid mask has shape"):
        train_pixel_classifier(image, labels, valid=np.ones((3, 3), bool))
    with pytest.raises(InvalidInputError, match=r"must be an xarray\.DataArray"):
        train_pixel_classifier(image.values, labels)
    with pytest.raises(InvalidInputError, match="dims \\(band, y, x\\)"):
        train_pixel_classifier(image.isel(band=0), labels)
    with pytest.raises(InvalidInputError, match="texture_window must be an odd int"):
        train_pixel_classifier(image, labels, texture=True, texture_window=4)
    other = labels.rio.write_crs("EPSG:4326")
    with pytest.raises(CRSMismatchError, match="differs from the image CRS"):
        train_pixel_classifier(image, other)


def test_all_nan_labelled_pixels(image, labels):
    empty = xr.full_like(image, np.nan)
    with pytest.raises(NoValidDataError, match="NaN feature"):
        train_pixel_classifier(empty, labels, **FAST)


def test_load_refuses_other_bundles(clf, tmp_path):
    other = tmp_path / "other"
    write_bundle(other, model_onnx=clf._model_onnx, metadata={"task": "segmentation"})
    with pytest.raises(BundleError, match="task is 'segmentation', not 'pixel-classification'"):
        PixelClassifier.load(other)
    lacking = tmp_path / "lacking"
    write_bundle(lacking, model_onnx=clf._model_onnx, metadata={"task": "pixel-classification"})
    with pytest.raises(BundleError, match="lacks 'features'"):
        PixelClassifier.load(lacking)
    bad = tmp_path / "bad"
    meta = {**clf.metadata, "features": {"bands": 3}}
    write_bundle(bad, model_onnx=clf._model_onnx, metadata=meta)
    with pytest.raises(BundleError, match="invalid feature spec"):
        PixelClassifier.load(bad)
    skew = tmp_path / "skew"
    meta = {**clf.metadata, "feature_names": clf.feature_names[::-1]}
    write_bundle(skew, model_onnx=clf._model_onnx, metadata=meta)
    with pytest.raises(BundleError, match="feature_names do not match"):
        PixelClassifier.load(skew)


def test_feature_spec_round_trips(image):
    spec = FeatureSpec.from_image(image, indices="ndvi,NDWI", texture=True, texture_window=7)
    assert FeatureSpec.from_json(spec.to_json()) == spec
    assert spec.indices == ("NDVI", "NDWI")
    with pytest.raises(InvalidInputError, match="no features"):
        FeatureSpec.from_image(image, bands=[])


def test_image_checks_and_sensor_band_ids(image):
    with pytest.raises(InvalidInputError, match="numeric bands"):
        train_pixel_classifier(image.astype(bool), image.isel(band=0).astype(int))
    with pytest.raises(InvalidInputError, match="is empty"):
        train_pixel_classifier(image.isel(y=slice(0, 0)), np.zeros((0, 96), int))
    # sensor ids ("B04") are translated to band names through the sensor profile
    ids = image.sel(band=["red", "nir"]).assign_coords(band=["B04", "B08"])
    ids.attrs["sensor"] = "sentinel2_l1c"
    stack = pixel_features(ids, FeatureSpec(bands=("red", "nir")))
    np.testing.assert_array_equal(stack.values, pixel_features(image, stack_spec()).values)


def stack_spec():
    return FeatureSpec(bands=("red", "nir"))


def test_extra_layers_train_predict_and_round_trip(image, top_half, labels, tmp_path):
    # a per-pixel layer the bands do not hold: the class itself, noised (a stand-in
    # for an interpolated NDVI series or a DEM)
    noise = np.random.default_rng(0).normal(0, 0.1, labels.shape)
    extra = xr.DataArray(
        (labels.values + noise)[None].astype(np.float32), dims=("feature", "y", "x"),
        coords={"feature": ["hint"], "y": image.y, "x": image.x},
    )  # fmt: skip
    clf = train_pixel_classifier(image, top_half, bands=["red"], extra=extra, **FAST)
    assert clf.feature_names == ["red", "hint"]
    assert clf.metadata["features"]["extra"] == ["hint"]
    held_out = (labels.y <= labels.y[47]).values[:, None].repeat(96, axis=1)
    scores = evaluate(clf, image, labels, valid=held_out, extra=extra)
    assert scores.accuracy > 0.9  # red alone cannot tell the seven classes apart
    loaded = PixelClassifier.load(clf.save(tmp_path / "m" / "1"))
    np.testing.assert_array_equal(loaded.predict(image, extra).values, clf.predict(image, extra))
    proba = loaded.predict_proba(image.chunk({"y": 32}), extra)
    assert proba.chunks is not None and proba.shape == (7, 96, 96)
    with pytest.raises(InvalidInputError, match="need extra layer"):
        loaded.predict(image)
    with pytest.raises(InvalidInputError, match="use none"):
        train_pixel_classifier(image, top_half, bands=["red"], **FAST).predict(image, extra)
