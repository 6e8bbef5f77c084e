"""Clouds: band-test kernels, detectors behind cloud_mask, shadows, errors, dask, real data."""

from __future__ import annotations

import math

import dask.array
import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from conftest import make_dataarray
from satlearn.bands import get_sensor
from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.metrics import binary_scores
from satlearn.ops import clouds
from satlearn.ops.clouds import (
    CLASSES,
    NODATA_CLASS,
    classify_clouds,
    cloud_mask,
    cloud_shadow,
    dark_pixels,
    hollstein_classes,
    project_mask,
    rules_classes,
    shadow_offset,
)
from satlearn.synth import atmosphere, make_scene

S2 = get_sensor("sentinel2_l1c")

# Typical TOA reflectance spectra (blue, green, red, nir, swir16, swir22, cirrus).
SPECTRA = {
    "cloud": (0.45, 0.44, 0.43, 0.45, 0.35, 0.25, 0.004),
    "cirrus": (0.12, 0.10, 0.09, 0.25, 0.18, 0.10, 0.03),
    "water": (0.08, 0.06, 0.04, 0.02, 0.01, 0.005, 0.001),
    "snow": (0.80, 0.78, 0.76, 0.70, 0.05, 0.02, 0.002),
    "clear": (0.07, 0.08, 0.06, 0.35, 0.20, 0.10, 0.001),  # vegetation
}


@pytest.fixture(scope="module")
def scene():
    return make_scene(192, seed=0, n_dates=1)


@pytest.fixture(scope="module")
def image(scene):
    return scene.image.isel(time=0)


def spectra_scene(names=("cloud", "cirrus", "water", "snow", "clear")) -> xr.DataArray:
    """A 13-band S2 scene, one column per spectrum in SPECTRA (other bands 0.2)."""
    data = np.full((len(S2.names), 4, len(names)), 0.2, dtype=np.float32)
    for j, name in enumerate(names):
        for band, value in zip(clouds.RULES_BANDS, SPECTRA[name], strict=True):
            data[S2.names.index(band), :, j] = value
    return make_dataarray(data, names=list(S2.names))


# --------------------------------------------------------------------------- kernels


def test_rules_kernel_classifies_typical_spectra():
    arrays = [np.array(v, dtype=np.float32) for v in zip(*SPECTRA.values(), strict=True)]
    codes = rules_classes(*arrays)
    assert [int(c) for c in codes] == [CLASSES[name] for name in SPECTRA]


def test_rules_kernel_marks_non_finite_pixels_nodata():
    bands = [np.array([0.45, 0.45], np.float32) for _ in range(7)]
    bands[4] = np.array([0.35, np.nan], np.float32)
    bands[6] = np.array([0.004, 0.004], np.float32)
    codes = rules_classes(*bands)
    assert codes[1] == NODATA_CLASS
    assert codes[0] != NODATA_CLASS


def test_hollstein_tree_leaves():
    # coastal, blue, green, re1, re2, re3, nir08, nir09, cirrus, swir16
    cloud = (0.5, 0.5, 0.5, 0.5, 0.48, 0.5, 0.5, 0.3, 0.05, 0.4)
    water = (0.1, 0.08, 0.06, 0.03, 0.02, 0.02, 0.01, 0.01, 0.001, 0.005)
    snow = (0.6, 0.6, 0.7, 0.6, 0.6, 0.6, 0.6, 0.3, 0.01, 0.1)
    cirrus = (0.1, 0.08, 0.07, 0.1, 0.2, 0.25, 0.3, 0.08, 0.02, 0.2)
    arrays = [np.array(v, np.float32) for v in zip(cloud, water, snow, cirrus, strict=True)]
    codes = hollstein_classes(*arrays)
    assert [int(c) for c in codes] == [CLASSES[n] for n in ("cloud", "water", "snow", "cirrus")]


def test_shadow_offset_matches_the_synthetic_scenes_convention():
    for azimuth, zenith in ((150.0, 35.0), (90.0, 20.0), (250.0, 60.0)):
        dy, dx = shadow_offset(1500.0, azimuth, zenith, 10.0)
        assert (round(dy), round(dx)) == atmosphere.shadow_offset(1500.0, azimuth, zenith, 10.0)
    # Sun in the south: the shadow lies north (up, negative rows).
    dy, dx = shadow_offset(1000.0, 180.0, 45.0, 10.0)
    assert dy == pytest.approx(-100.0) and dx == pytest.approx(0.0, abs=1e-9)


def test_project_mask_translates_without_wrapping():
    mask = np.zeros((5, 6), dtype=bool)
    mask[0, 0] = mask[4, 5] = True
    moved = project_mask(mask, (1, 2))
    assert np.argwhere(moved).tolist() == [[1, 2]]
    assert not project_mask(mask, (5, 0)).any()
    np.testing.assert_array_equal(project_mask(mask, (0, 0)), mask)


def test_dark_pixels_finds_basins_and_ignores_nan():
    nir = np.full((20, 20), 0.3, np.float32)
    nir[5:9, 5:9] = 0.15
    nir[15, 15] = np.nan
    dark = dark_pixels(nir)
    assert dark[5:9, 5:9].all()
    assert dark.sum() == 16
    assert not dark_pixels(np.full((4, 4), np.nan, np.float32)).any()


# --------------------------------------------------------------------------- detectors on scenes


def test_rules_find_every_synthetic_cloud_and_leave_clear_ground_clear(scene, image):
    codes = classify_clouds(image, shadows=False).values
    thick = scene.cloud_mask[0].values
    cirrus = scene.cirrus_mask[0].values
    assert (codes[thick] == CLASSES["cloud"]).mean() > 0.98
    masked = np.isin(codes, [CLASSES["cloud"], CLASSES["cirrus"]])
    assert masked[cirrus].mean() > 0.95
    # Clear ground away from cloud edges is rarely called thick cloud.
    far = ~ndimage.binary_dilation(thick | cirrus, iterations=3)
    assert (codes[far] == CLASSES["cloud"]).mean() < 0.1
    water = scene.landcover.values == 0
    assert (codes[water & far & (codes != CLASSES["cirrus"])] == CLASSES["water"]).mean() > 0.7


def test_cloud_mask_is_the_cloud_and_cirrus_classes(image):
    mask = cloud_mask(image)
    codes = classify_clouds(image, shadows=False)
    assert mask.dtype == bool and mask.dims == ("y", "x")
    np.testing.assert_array_equal(mask.values, np.isin(codes.values, [1, 2]))
    assert mask.rio.crs == image.rio.crs
    assert mask.rio.transform() == image.rio.transform()


def test_spectra_scene_through_every_dataarray_detector():
    da = spectra_scene()
    expected = [True, True, False, False, False]
    assert cloud_mask(da).values[0].tolist() == expected
    codes = classify_clouds(da).values[0]
    assert codes.tolist() == [CLASSES[n] for n in ("cloud", "cirrus", "water", "snow", "clear")]


def test_sensor_ids_are_translated_when_the_sensor_is_known(image):
    ids = image.assign_coords(band=[S2.to_id(b) for b in image.band.values])
    ids.attrs = {}
    with pytest.raises(UnknownBandError):
        cloud_mask(ids)
    ids.attrs["sensor"] = "sentinel2_l1c"
    np.testing.assert_array_equal(cloud_mask(ids).values, cloud_mask(image).values)


def test_landsat_scene_works_with_the_rules():
    scene = make_scene(128, seed=2, n_dates=1, sensor="landsat8", resolution=30.0)
    image = scene.image.isel(time=0)
    mask = cloud_mask(image).values
    truth = scene.cloud_mask[0].values
    assert binary_scores(mask, truth).recall > 0.98
    with pytest.raises(UnknownBandError, match="rededge1"):
        cloud_mask(image, method="hollstein")


def test_hollstein_detects_the_synthetic_clouds(scene, image):
    mask = cloud_mask(image, method="hollstein").values
    assert mask[scene.cloud_mask[0].values].mean() > 0.95


def test_buffer_grows_the_mask_by_a_disk(image):
    plain = cloud_mask(image).values
    grown = cloud_mask(image, buffer_px=2).values
    assert (grown >= plain).all()
    assert grown.sum() > plain.sum()
    disk = np.hypot(*np.mgrid[-2:3, -2:3]) <= 2.5
    assert not (grown & ~ndimage.binary_dilation(plain, structure=disk)).any()
    codes = classify_clouds(image, shadows=False, buffer_px=2).values
    np.testing.assert_array_equal(np.isin(codes, [1, 2]), grown)


# ------------------------------------------------------------------------ nodata, scaling, errors


def test_nodata_pixels_are_never_cloud_and_all_nodata_gives_an_empty_mask(image):
    data = image.values.copy()
    data[:, :10, :] = np.nan
    da = image.copy(data=data)
    mask = cloud_mask(da).values
    assert not mask[:10].any()
    assert (classify_clouds(da, shadows=False).values[:10] == NODATA_CLASS).all()
    empty = image.copy(data=np.full_like(image.values, np.nan))
    assert not cloud_mask(empty).values.any()
    assert not cloud_mask(empty, method="s2cloudless").values.any()
    codes = classify_clouds(empty)  # sun geometry in attrs, nothing to project
    assert (codes.values == NODATA_CLASS).all()


def test_scaled_integers_with_nodata_read_like_reflectance(image):
    stored = np.round(image.values / 1e-4).astype(np.uint16)
    stored[:, 0, :5] = 0
    da = image.copy(data=stored).assign_coords(scale=("band", np.full(13, 1e-4)))
    da = da.rio.write_nodata(0)
    mask = cloud_mask(da).values
    reference = cloud_mask(image.copy(data=stored * np.float32(1e-4))).values
    assert not mask[0, :5].any()
    np.testing.assert_array_equal(mask[1:], reference[1:])
    with pytest.raises(InvalidInputError, match="without a scale"):
        cloud_mask(image.copy(data=stored))


def test_missing_bands_are_named(image):
    with pytest.raises(UnknownBandError, match="cirrus"):
        cloud_mask(image.drop_sel(band="cirrus"))
    with pytest.raises(UnknownBandError, match="nir09, cirrus"):
        cloud_mask(image.drop_sel(band=["nir09", "cirrus"]), method="s2cloudless")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fmask9"}, "unknown cloud detector"),
        ({"method": 3}, "method must be a string"),
        ({"buffer_px": -1}, "buffer must be"),
        ({"buffer_px": 1.5}, "buffer must be"),
    ],
)
def test_bad_arguments(image, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        cloud_mask(image, **kwargs)


def test_bad_inputs(image):
    with pytest.raises(InvalidInputError, match=r"xarray\.DataArray"):
        cloud_mask(image.values)
    with pytest.raises(InvalidInputError, match="dims"):
        cloud_mask(image.transpose("y", "x", "band"))
    with pytest.raises(InvalidInputError, match="numeric"):
        cloud_mask(image.astype(bool))


# --------------------------------------------------------------------------- shadows


def test_shadow_search_finds_the_synthetic_cloud_height(scene, image):
    codes = classify_clouds(image)
    truth = scene.shadow_mask[0].values
    shadow = codes.values == CLASSES["shadow"]
    expected = atmosphere.shadow_offset(
        scene.cloud_height_m, scene.sun_azimuth, scene.sun_zenith, scene.pixel_size_m
    )
    found = codes.attrs["offset_px"]
    assert abs(found[0] - expected[0]) <= 1 and abs(found[1] - expected[1]) <= 1
    assert codes.attrs["cloud_height_m"] == pytest.approx(scene.cloud_height_m, rel=0.1)
    scores = binary_scores(shadow, truth)
    # Shadows over water and soft shadow edges are not dark enough: recall is the weak side.
    assert scores.precision > 0.75 and scores.f1 > 0.55
    # Most false alarms sit on the soft edge of a true shadow: within 1 px, precision is high.
    near_truth = ndimage.binary_dilation(truth)
    assert (shadow & near_truth).sum() / shadow.sum() > 0.9


def test_shadow_from_the_true_clouds_and_a_known_height(scene, image):
    truth = scene.shadow_mask[0].values
    shadow = cloud_shadow(scene.cloud_mask[0], image, cloud_height_m=scene.cloud_height_m)
    scores = binary_scores(shadow.values, truth)
    assert scores.precision > 0.95 and scores.f1 > 0.7
    assert not (shadow.values & scene.cloud_mask[0].values).any()
    # The geometry given as arguments instead of attrs gives the same answer.
    bare = image.copy()
    bare.attrs = {}
    again = cloud_shadow(
        scene.cloud_mask[0].values, bare, sun_azimuth=scene.sun_azimuth,
        sun_zenith=scene.sun_zenith, cloud_height_m=scene.cloud_height_m,
    )  # fmt: skip
    np.testing.assert_array_equal(again.values, shadow.values)


def test_shadow_geometry_errors(image):
    clouds_ = cloud_mask(image)
    bare = image.copy()
    bare.attrs = {}
    with pytest.raises(InvalidInputError, match="sun azimuth and zenith"):
        cloud_shadow(clouds_, bare)
    with pytest.raises(InvalidInputError, match="sun azimuth and zenith"):
        classify_clouds(bare, shadows=True)
    assert CLASSES["shadow"] not in classify_clouds(bare).values  # no geometry: no shadows
    with pytest.raises(InvalidInputError, match="zenith"):
        cloud_shadow(clouds_, image, sun_zenith=95.0)
    with pytest.raises(InvalidInputError, match="shape"):
        cloud_shadow(clouds_.values[:5], image)
    with pytest.raises(InvalidInputError, match="boolean"):
        cloud_shadow(clouds_.values.astype(np.uint8), image)
    with pytest.raises(InvalidInputError, match="height_range"):
        cloud_shadow(clouds_, image, height_range=(500.0, 100.0))
    with pytest.raises(InvalidInputError, match="height_range"):
        cloud_shadow(clouds_, image, height_range="high")
    with pytest.raises(InvalidInputError, match="cloud_height_m"):
        cloud_shadow(clouds_, image, cloud_height_m=-5.0)
    geographic = bare.rio.write_crs("EPSG:4326")
    with pytest.raises(InvalidInputError, match="pixel size in metres"):
        cloud_shadow(clouds_, geographic, sun_azimuth=150.0, sun_zenith=30.0)


def test_pixel_size_comes_from_the_crs_and_elevation_from_attrs(scene, image):
    bare = image.copy()
    bare.attrs = {"sun_azimuth": scene.sun_azimuth, "sun_elevation": 90.0 - scene.sun_zenith}
    shadow = cloud_shadow(scene.cloud_mask[0], bare, cloud_height_m=scene.cloud_height_m)
    reference = cloud_shadow(scene.cloud_mask[0], image, cloud_height_m=scene.cloud_height_m)
    np.testing.assert_array_equal(shadow.values, reference.values)


def test_hollstein_classification_uses_geometric_shadows_when_the_sun_is_known(image):
    bare = image.copy()
    bare.attrs = {}
    spectral = classify_clouds(bare, method="hollstein").values
    geometric = classify_clouds(image, method="hollstein")
    assert "cloud_height_m" in geometric.attrs
    assert "cloud_height_m" not in classify_clouds(bare, method="hollstein").attrs
    # The tree's own shadow leaves are replaced by the projection.
    same = spectral != CLASSES["shadow"]
    assert (geometric.values[same] == spectral[same]).mean() > 0.9


# --------------------------------------------------------------------------- dask


def test_dask_inputs_stay_lazy_and_agree(image):
    lazy = image.chunk({"band": 4, "y": 64, "x": 80})
    mask = cloud_mask(lazy, buffer_px=1)
    assert isinstance(mask.data, dask.array.Array)
    np.testing.assert_array_equal(mask.values, cloud_mask(image, buffer_px=1).values)
    codes = classify_clouds(lazy, method="hollstein", shadows=False)
    assert isinstance(codes.data, dask.array.Array)
    np.testing.assert_array_equal(
        codes.values, classify_clouds(image, method="hollstein", shadows=False).values
    )
    with_shadows = classify_clouds(lazy)
    np.testing.assert_array_equal(with_shadows.values, classify_clouds(image).values)


def test_s2cloudless_per_chunk_equals_the_whole_scene():
    # A small crop keeps LightGBM fast; chunk seams cross clouds.
    image = make_scene(96, seed=5, n_dates=1).image.isel(time=0)
    whole = cloud_mask(image, method="s2cloudless")
    lazy = cloud_mask(image.chunk({"y": 40, "x": 50}), method="s2cloudless")
    assert isinstance(lazy.data, dask.array.Array)
    np.testing.assert_array_equal(lazy.values, whole.values)
    codes = classify_clouds(image, method="s2cloudless", shadows=False).values
    np.testing.assert_array_equal(codes == CLASSES["cloud"], whole.values)
    assert CLASSES["cirrus"] not in codes


# --------------------------------------------------------------------------- real data


def s2cloudless_patch(shared_data):
    arrays = np.load(
        shared_data / "s2cloudless-testinputs" / "input_arrays.npz", allow_pickle=False
    )
    image = arrays["s2_im"][0]
    da = xr.DataArray(
        np.moveaxis(image, -1, 0), dims=("band", "y", "x"), coords={"band": list(S2.ids)},
        attrs={"sensor": "sentinel2_l1c"},
    )  # fmt: skip
    return da, arrays["cl_mask"][0].astype(bool)


def test_s2cloudless_reproduces_the_reference_mask(shared_data):
    da, reference = s2cloudless_patch(shared_data)
    crop = (slice(100, 260), slice(0, 160))  # 160 x 160 px keeps the test fast
    mask = cloud_mask(da.isel(y=crop[0], x=crop[1]), method="s2cloudless").values
    # Averaging and dilation see 2 px around, so the crop's own 2 px rim may differ.
    np.testing.assert_array_equal(mask[2:-2, 2:-2], reference[crop][2:-2, 2:-2])
    assert 0.2 < reference[crop].mean() < 0.8


def test_rules_agree_with_s2cloudless_on_the_real_patch(shared_data):
    da, reference = s2cloudless_patch(shared_data)
    scores = binary_scores(cloud_mask(da).values, reference)
    # Published Fmask thresholds, not tuned on this patch (see the benchmark).
    assert scores.f1 >= 0.9
    assert scores.accuracy >= 0.9


def test_rules_on_the_eolearn_reference_scenes(shared_data):
    base = shared_data / "eolearn-testeopatch"
    scenes = np.load(base / "REFERENCE_SCENES.npy", allow_pickle=False)
    clm = np.load(base / "TestEOPatch" / "mask" / "CLM.npy", allow_pickle=False)[..., 0]
    ndvi = np.load(base / "TestEOPatch" / "data" / "NDVI.npy", allow_pickle=False)[..., 0]
    for scene in scenes:
        with np.errstate(divide="ignore", invalid="ignore"):
            own = (scene[..., 7] - scene[..., 3]) / (scene[..., 7] + scene[..., 3])
        # The dates of the reference scenes are not recorded: match them by NDVI.
        date = int(np.argmin(np.nanmean(np.abs(ndvi - own), axis=(1, 2))))
        da = xr.DataArray(
            np.moveaxis(scene, -1, 0), dims=("band", "y", "x"), coords={"band": list(S2.ids)},
            attrs={"sensor": "sentinel2_l1c"},
        )  # fmt: skip
        predicted = cloud_mask(da).values.mean()
        expected = clm[date].mean()
        assert math.isclose(predicted, expected, abs_tol=0.15), (date, predicted, expected)


# --------------------------------------------------------------------------- trained models


def test_model_bundle_as_a_detector(tmp_path, scene, image):
    pixel = pytest.importorskip("satlearn.pixelml.pixel")
    labels = scene.cloud_mask[0].values.astype(np.int64) + 1  # 1 clear, 2 cloud
    clf = pixel.train_pixel_classifier(
        image, labels, model="naive-bayes", class_names={1: "clear", 2: "cloud"}, seed=0
    )
    clf.save(tmp_path / "clouds")
    mask = cloud_mask(image, method=f"model:{tmp_path / 'clouds'}")
    np.testing.assert_array_equal(mask.values, clf.predict(image).values == 2)
    assert binary_scores(mask.values, scene.cloud_mask[0].values).f1 > 0.8
    codes = classify_clouds(image, method=f"model:{tmp_path / 'clouds'}", shadows=False).values
    np.testing.assert_array_equal(codes == CLASSES["cloud"], mask.values)
    other = pixel.train_pixel_classifier(
        image, labels, model="naive-bayes", class_names={1: "land", 2: "sea"}, seed=0
    )
    other.save(tmp_path / "other")
    with pytest.raises(InvalidInputError, match="none is named cloud"):
        cloud_mask(image, method=f"model:{tmp_path / 'other'}")


# --------------------------------------------------------------------------- calling convention


def test_every_public_name_of_the_old_module_is_on_the_package_face():
    import importlib
    import warnings
    from pathlib import Path

    import satlearn.sun

    names = (
        "CLASSES", "METHODS", "NODATA_CLASS", "classify_clouds", "cloud_mask", "cloud_shadow",
        "dark_pixels", "hollstein_classes", "match_shadow", "project_mask", "rules_classes",
        "shadow_offset", "CLEAR", "CLOUD", "CIRRUS", "SHADOW", "SNOW", "WATER", "RULES_BANDS",
        "HOLLSTEIN_BANDS", "S2CLOUDLESS_BANDS", "SHADOW_BANDS", "detect_clouds", "CloudResult",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        face = importlib.import_module("satlearn.ops.clouds")
        assert all(hasattr(face, name) for name in names)
    assert set(face.__all__) <= set(dir(face))
    # One shadow geometry, shared with the synthetic scenes.
    assert face.shadow_offset is satlearn.sun.shadow_offset
    for path in Path(face.__file__).parent.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 600, path.name


def test_old_positional_method_and_buffer_keyword_warn_and_still_work(image):
    with pytest.warns(DeprecationWarning, match="by keyword"):
        positional = cloud_mask(image, "hollstein")
    np.testing.assert_array_equal(positional.values, cloud_mask(image, method="hollstein").values)
    with pytest.warns(DeprecationWarning, match="buffer_px"):
        old = cloud_mask(image, buffer=1)
    np.testing.assert_array_equal(old.values, cloud_mask(image, buffer_px=1).values)
    with pytest.warns(DeprecationWarning, match="by keyword"):
        codes = classify_clouds(image, "hollstein", shadows=False)
    expected = classify_clouds(image, method="hollstein", shadows=False)
    np.testing.assert_array_equal(codes.values, expected.values)
    with pytest.warns(DeprecationWarning, match="buffer_px"):
        classify_clouds(image, shadows=False, buffer=1)
    with pytest.raises(TypeError, match="buffer"):
        cloud_mask(image, buffer=1, buffer_px=1)


def test_detect_clouds_is_the_detailed_form_with_the_same_defaults(scene, image):
    result = clouds.detect_clouds(image)
    assert isinstance(result, clouds.CloudResult)
    np.testing.assert_array_equal(result.classes.values, classify_clouds(image).values)
    np.testing.assert_array_equal(result.mask.values, cloud_mask(image).values)
    assert result.mask.rio.crs == image.rio.crs
    assert result.mask.rio.transform() == image.rio.transform()
    np.testing.assert_array_equal(result.shadow.values, result.classes.values == CLASSES["shadow"])
    assert result.valid.values.all()
    assert result.method == "rules" and result.cloud_height_m > 0
    assert result.offset_px == tuple(result.classes.attrs["offset_px"])
    counts = result.counts()
    assert list(counts) == list(CLASSES)
    assert sum(counts.values()) == image.sizes["y"] * image.sizes["x"]
    assert counts["shadow"] == int(result.shadow.values.sum())
    # Scores and features of the mask, through satlearn.metrics and satlearn.vector.
    truth = scene.cloud_mask[0].values | scene.cirrus_mask[0].values
    assert result.scores(truth).f1 == binary_scores(result.mask.values, truth).f1
    shadow_scores = result.scores(scene.shadow_mask[0].values, layer="shadow")
    assert shadow_scores.precision > 0.75
    with pytest.raises(InvalidInputError, match="layer"):
        result.scores(truth, layer="snow")
    features = result.to_features(shadows=True)
    kinds = {f["properties"]["class"] for f in features}
    assert kinds == {"cloud", "shadow"}
    assert {f["properties"]["class"] for f in result.to_features()} == {"cloud"}
    # Without shadows, the buffered mask is cloud_mask's.
    grown = clouds.detect_clouds(image, shadows=False, buffer_px=2)
    np.testing.assert_array_equal(grown.mask.values, cloud_mask(image, buffer_px=2).values)
    assert grown.cloud_height_m is None and grown.offset_px is None


def test_detect_clouds_stays_lazy_and_its_coded_mask_marks_nodata(image):
    data = image.values.copy()
    data[:, :4, :] = np.nan
    da = image.copy(data=data)
    lazy = clouds.detect_clouds(da.chunk({"y": 64, "x": 64}), shadows=False)
    assert isinstance(lazy.classes.data, dask.array.Array)
    assert isinstance(lazy.mask.data, dask.array.Array)
    done = lazy.compute()
    assert isinstance(done.classes.data, np.ndarray)
    eager = clouds.detect_clouds(da, shadows=False)
    np.testing.assert_array_equal(done.classes.values, eager.classes.values)
    coded = done.coded_mask()
    assert coded.dtype == np.uint8 and coded.attrs == {"method": "rules", "classes": "clear,cloud"}
    assert (coded.values[:4] == NODATA_CLASS).all()
    np.testing.assert_array_equal(coded.values[4:], eager.mask.values[4:].astype(np.uint8))
    assert not done.valid.values[:4].any() and done.valid.values[4:].all()


def test_band_chunked_scaled_integers_read_like_the_whole_scene(image):
    stored = np.round(image.values / 1e-4).astype(np.uint16)
    da = image.copy(data=stored).assign_coords(scale=("band", np.full(13, 1e-4)))
    lazy = da.chunk({"band": 4, "y": 96, "x": 96})
    np.testing.assert_array_equal(cloud_mask(lazy).values, cloud_mask(da).values)
    np.testing.assert_array_equal(
        cloud_mask(lazy, method="s2cloudless").values, cloud_mask(da, method="s2cloudless").values
    )
