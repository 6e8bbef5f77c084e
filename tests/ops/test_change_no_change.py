"""Change detection's guard against insignificant change (issue 11, item 1).

Otsu, Kittler-Illingworth and k-means split any histogram in two, pure noise
included; every method must call identical dates "no change" and dates that
differ by sensor noise alone (+-1 DN) almost "no change", without warnings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import make_dataarray
from satlearn.errors import InvalidInputError
from satlearn.ops.change import METHODS, NoiseFloor, detect_change, fit_pca_kmeans
from satlearn.synth import make_scene

# Ratios are relative: +-1 DN on the darkest pixels (water in the SWIR, a
# few DN) is a real several-percent change there, which a global noise floor
# cannot tell from change. Every other method stays near the 0.1 % design rate.
NOISE_ONLY_SHARE = {"ratio": 0.02, "log-ratio": 0.02}
DEFAULT_SHARE = 0.005


@pytest.fixture(scope="module")
def dn_scene():
    """A 13-band uint16 scene (synthetic reflectance x 10,000) and a +-1 DN noisy copy."""
    image = make_scene(96, seed=3, n_dates=1).image.isel(time=0).values
    dn = np.clip(np.round(np.clip(image, 0, 1) * 10_000), 1, None).astype(np.uint16)
    noise = np.random.default_rng(5).integers(-1, 2, dn.shape)
    noisy = np.clip(dn.astype(np.int32) + noise, 1, None).astype(np.uint16)
    return make_dataarray(dn), make_dataarray(noisy)


def _changed_share(before, after, method, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's ConvergenceWarning, RuntimeWarning...
        # ...but not rioxarray's own use of Affine `*` (pyproject.toml ignores it too):
        # the grid check reads both transforms, which the old check skipped when
        # rioxarray warned under this filter.
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning, "rioxarray")
        result = detect_change(before, after, method=method, **kwargs)
        return float(result.mask.sum() / result.valid.sum()), result


@pytest.mark.parametrize("method", METHODS)
def test_identical_dates_show_no_change_and_no_warning(dn_scene, method):
    image, _ = dn_scene
    share, result = _changed_share(image, image.copy(), method)
    assert share == 0.0
    assert int(result.valid.sum()) == image.sizes["y"] * image.sizes["x"]


@pytest.mark.parametrize("method", METHODS)
def test_noise_of_one_dn_is_not_change(dn_scene, method):
    image, noisy = dn_scene
    share, result = _changed_share(image, noisy, method)
    assert share <= NOISE_ONLY_SHARE.get(method, DEFAULT_SHARE), share
    noise = result.details["noise"]
    assert isinstance(noise, NoiseFloor) and noise.floor > 0 and noise.significance == 0.001


@pytest.mark.parametrize("method", ["difference", "cva", "irmad"])
def test_without_the_guard_otsu_and_ki_call_noise_change(dn_scene, method):
    # What the guard prevents: the histogram thresholds split pure noise.
    image, noisy = dn_scene
    share, result = _changed_share(image, noisy, method, significance=None)
    assert share > 0.2
    assert "noise" not in result.details


@pytest.mark.parametrize("method", ["cva", "pca-kmeans"])
def test_identical_dask_dates_show_no_change(dn_scene, method):
    image, _ = dn_scene
    chunked = image.chunk({"y": 48, "x": 48})
    share, _ = _changed_share(chunked, chunked.copy(), method)
    assert share == 0.0


def test_the_noise_estimate_matches_the_noise_added_and_ignores_scene_structure():
    # A smooth scene (strong structure, no change) plus Gaussian noise of 2 DN per date.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    scene = 1000 + 400 * np.sin(xx / 9.0) * np.cos(yy / 13.0)
    base = np.stack([scene, 0.5 * scene, 2 * scene]).astype(np.float32)
    before = make_dataarray(base + rng.normal(0, 2.0, base.shape).astype(np.float32))
    after = make_dataarray(base + rng.normal(0, 2.0, base.shape).astype(np.float32))
    result = detect_change(before, after, method="difference")
    # The difference of two dates has sqrt(2) x 2 DN of noise in each band.
    np.testing.assert_allclose(result.details["noise"].sigma, 2 * np.sqrt(2), rtol=0.05)
    share = float(result.mask.mean())
    assert share <= 0.003  # the design false-alarm rate is 0.001


def test_a_real_change_well_above_the_noise_is_still_found(dn_scene):
    image, noisy = dn_scene
    changed = noisy.values.astype(np.int32)
    changed[:, 30:50, 30:50] += 800  # 8 % reflectance brighter in every band
    after = noisy.copy(data=changed.astype(np.uint16))
    for method in ("difference", "cva", "pca-kmeans", "irmad"):
        result = detect_change(image, after, method=method)
        mask = result.mask.values
        assert mask[32:48, 32:48].all(), method
        assert mask.sum() <= 1.3 * 400, method


def test_kmeans_refuses_a_split_of_pure_noise_but_keeps_a_separated_one():
    rng = np.random.default_rng(1)
    noise = np.abs(rng.normal(0, 1, (80, 80))).astype(np.float32)
    fit = fit_pca_kmeans(noise, block_size=3, floor=3.3)
    assert fit.changed == -1  # the two clusters of noise lie closer than the floor
    assert fit_pca_kmeans(noise, block_size=3).changed in (0, 1)  # unguarded: always a split
    square = noise.copy()
    square[20:40, 20:40] += 10.0
    assert fit_pca_kmeans(square, block_size=3, floor=3.3).changed in (0, 1)


@pytest.mark.parametrize("method", METHODS)
def test_an_unknown_threshold_is_refused_by_every_method(dn_scene, method):
    image, noisy = dn_scene
    with pytest.raises(InvalidInputError, match="unknown threshold method 'banana'"):
        detect_change(image, noisy, method=method, threshold="banana")


def test_pca_kmeans_refuses_a_threshold_it_would_ignore(dn_scene):
    image, noisy = dn_scene
    with pytest.raises(InvalidInputError, match=r"pca-kmeans .* takes no threshold"):
        detect_change(image, noisy, method="pca-kmeans", threshold="otsu")
    with pytest.raises(InvalidInputError, match=r"pca-kmeans .* takes no threshold"):
        detect_change(image, noisy, method="pca-kmeans", threshold=0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"significance": 0.0}, r"significance must be in \(0, 0.5\)"),
        ({"significance": "high"}, "significance must be a number"),
    ],
)
def test_bad_threshold_and_significance_values_are_refused(dn_scene, kwargs, message):
    image, noisy = dn_scene
    with pytest.raises(InvalidInputError, match=message):
        detect_change(image, noisy, method="cva", **kwargs)
