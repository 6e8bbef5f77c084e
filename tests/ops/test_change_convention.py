"""Change detection's calling convention (issue 13) and its result object's shape.

The package face, keyword-only options with the old positional form kept for
one release, one default method for both forms, hyphenated names, units in
the names, the checks of :mod:`satlearn.checks`, and ``ChangeResult``'s
``.mask`` / layers / ``.scores`` / ``.to_features`` / ``.compute`` /
``.coded_mask``.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from conftest import make_dataarray
from satlearn.errors import (
    CRSMismatchError,
    DimensionError,
    GridMismatchError,
    InvalidInputError,
)
from satlearn.metrics import BinaryScores, binary_scores
from satlearn.ops import change
from satlearn.ops.change import ChangeResult, change_mask, detect_change

BANDS = ["blue", "green", "red", "nir"]


def planted_pair(size=64, seed=0):
    """Two dates of a 4-band scene; rows/cols 20:36 change."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.4, (4, size, size)).astype(np.float32)
    after = base + rng.normal(0, 0.005, base.shape).astype(np.float32)
    after[:, 20:36, 20:36] += np.array([0.10, 0.10, 0.20, -0.15], np.float32)[:, None, None]
    truth = np.zeros((size, size), bool)
    truth[20:36, 20:36] = True
    return make_dataarray(base, names=BANDS), make_dataarray(after, names=BANDS), truth


@pytest.fixture(scope="module")
def pair():
    return planted_pair()


def _silently(func, *args, **kwargs):
    """``func(...)``, failing on any deprecation it gives (rioxarray's own are let by)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", FutureWarning)
        return func(*args, **kwargs)


@contextmanager
def _deprecated(match):
    """``pytest.warns(DeprecationWarning, match=...)`` without its re-emitting.

    pytest.warns re-emits the other warnings it caught, rioxarray's own
    PendingDeprecationWarning among them, where pyproject's filter no longer
    recognises their origin.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(re.search(match, m) for m in messages), messages


# --------------------------------------------------------------------------- the face


def test_the_face_keeps_every_name_the_module_had_without_a_warning():
    names = [
        "METHODS", "BinaryScores", "ChangeResult", "IRMADFit", "NoiseFloor", "PCAKMeansFit",
        "binary_scores", "change_mask", "cva", "detect_change", "difference_magnitude",
        "fit_irmad", "fit_pca_kmeans", "irmad_chi2", "log_ratio_magnitude",
        "pca_kmeans_labels", "ratio_magnitude",
    ]  # fmt: skip
    for name in names:
        assert _silently(getattr, change, name) is not None, name
    assert set(names) <= set(change.__all__) <= set(dir(change))
    assert change.binary_scores is binary_scores and change.BinaryScores is BinaryScores
    with pytest.raises(AttributeError, match="no attribute 'detect_changes'"):
        change.detect_changes  # noqa: B018


def test_importing_the_package_loads_no_heavy_library():
    # A fresh interpreter: what other tests imported does not count.
    heavy = ("scipy", "sklearn", "cv2", "dask", "numba", "xarray", "rioxarray", "torch")
    code = (
        "import json, sys\n"
        "import satlearn.ops.change\n"
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# --------------------------------------------------------------------------- arguments


def test_both_forms_share_one_default_method_cva(pair):
    before, after, _ = pair
    defaults = {
        inspect.signature(f).parameters["method"].default for f in (change_mask, detect_change)
    }
    assert defaults == {change.DEFAULT_METHOD} == {"cva"}
    result = _silently(detect_change, before, after)
    assert result.method == "cva"
    np.testing.assert_array_equal(_silently(change_mask, before, after), result.mask)


def test_options_are_keyword_only_and_the_old_positional_method_warns(pair):
    before, after, _ = pair
    for func in (change_mask, detect_change):
        params = inspect.signature(func).parameters
        assert [p for p in params if params[p].kind is not params[p].KEYWORD_ONLY][:2] == [
            "before",
            "after",
        ]
        assert params["method"].kind is params["method"].KEYWORD_ONLY
    with _deprecated(r"pass method to detect_change\(\) by keyword"):
        old = detect_change(before, after, "difference")
    assert old.method == "difference"
    with _deprecated(r"pass method to change_mask\(\) by keyword"):
        mask = change_mask(before, after, "difference")
    np.testing.assert_array_equal(mask, old.mask)
    with pytest.raises(TypeError, match="positional arguments"):
        detect_change(before, after, "cva", "otsu")


def test_underscore_method_spellings_work_with_a_warning(pair):
    before, after, _ = pair
    with _deprecated("'pca_kmeans' is spelt 'pca-kmeans'") as caught:
        result = detect_change(before, after, method="pca_kmeans")
    assert result.method == "pca-kmeans"
    with _deprecated("'log_ratio' is spelt 'log-ratio'") as more:
        mask = change_mask(before, after, method="log_ratio")
    np.testing.assert_array_equal(mask, _silently(change_mask, before, after, method="log-ratio"))
    # Shown where the call is, not inside satlearn (Python hides those by default).
    assert {w.filename for w in caught + more if "is spelt" in str(w.message)} == {__file__}
    with _deprecated("'kittler_illingworth' is spelt"):
        ki = detect_change(before, after, method="cva", threshold="kittler_illingworth")
    assert (
        ki.threshold
        == _silently(
            detect_change, before, after, method="cva", threshold="kittler-illingworth"
        ).threshold
    )


def test_pixel_sizes_carry_their_unit_and_the_old_names_warn(pair):
    before, after, _ = pair
    new = _silently(detect_change, before, after, method="pca-kmeans", smooth_px=3, block_px=4)
    with _deprecated(r"smooth=\.\.\.\) is spelt smooth_px"):
        old = detect_change(before, after, method="pca-kmeans", smooth=3, block_px=4)
    np.testing.assert_array_equal(old.mask, new.mask)
    with _deprecated(r"block_size=\.\.\.\) is spelt block_px"):
        mask = change_mask(before, after, method="pca-kmeans", smooth_px=3, block_size=4)
    np.testing.assert_array_equal(mask, new.mask)
    with pytest.raises(TypeError, match="new name 'smooth_px'"):
        detect_change(before, after, smooth=3, smooth_px=3)


# --------------------------------------------------------------------------- checks


def test_input_errors_are_the_checks_errors_worded_for_two_dates(pair):
    before, after, _ = pair
    with pytest.raises(DimensionError, match=r"after must have dims \(band, y, x\).*isel"):
        detect_change(before, after.expand_dims(time=1))
    with pytest.raises(GridMismatchError, match="before is 64 x 64 pixels, after is 64 x 60"):
        detect_change(before, after.isel(x=slice(0, 60)))
    with pytest.raises(GridMismatchError, match="transforms differ"):
        detect_change(before, after.assign_coords(x=after.x + 10.0))
    with pytest.raises(CRSMismatchError, match="before is in EPSG:32633, after in None"):
        detect_change(before, make_dataarray(after.values, names=BANDS, crs=None))
    with pytest.raises(GridMismatchError, match="valid mask is not on the scene's grid"):
        detect_change(before, after, valid=before.isel(band=0).assign_coords(y=before.y + 5) > 0)


def test_band_order_and_two_d_inputs_are_still_accepted(pair):
    before, after, _ = pair
    transposed = after.transpose("y", "x", "band")
    np.testing.assert_array_equal(
        _silently(detect_change, before, transposed).mask,
        _silently(detect_change, before, after).mask,
    )
    red = [da.sel(band="red", drop=True) for da in (before, after)]
    assert _silently(change_mask, red[0], red[1].transpose("x", "y")).dims == ("y", "x")


# --------------------------------------------------------------------------- the result


def test_the_result_has_the_common_shape(pair):
    before, after, truth = pair
    result = _silently(detect_change, before, after, method="cva")
    assert isinstance(result, ChangeResult)
    assert result.mask.dtype == bool and result.mask.dims == ("y", "x")
    for layer in (result.magnitude, result.direction, result.valid):
        assert layer.dims == ("y", "x") and layer.rio.transform() == before.rio.transform()
    assert result.scores(truth) == binary_scores(result.mask, truth, valid=result.valid)
    with _deprecated(r"reference=\.\.\.\) is spelt truth"):
        assert result.scores(reference=truth) == result.scores(truth)
    [feature] = result.to_features(min_pixels=20)
    assert feature["properties"]["pixels"] == 256 and feature["properties"]["method"] == "cva"


def test_compute_gathers_every_layer_in_one_pass(pair):
    before, after, _ = pair
    eager = _silently(detect_change, before, after, method="irmad")
    assert eager.compute() is eager  # nothing lazy: nothing to do
    chunked = [da.chunk({"y": 32, "x": 32}) for da in (before, after)]
    lazy = _silently(detect_change, *chunked, method="cva")
    done = lazy.compute()
    for name in ("magnitude", "mask", "valid", "direction"):
        layer = getattr(done, name)
        assert isinstance(layer.data, np.ndarray), name
        np.testing.assert_array_equal(layer, getattr(lazy, name).values)
    assert (done.method, done.threshold, done.details) == (
        lazy.method,
        lazy.threshold,
        lazy.details,
    )
    assert done.mask.rio.crs == before.rio.crs


def test_the_coded_mask_is_one_zero_and_nodata(pair):
    before, after, _ = pair
    result = _silently(detect_change, before, after.where(after.x != after.x[0]), method="cva")
    coded = result.coded_mask()
    assert coded.dtype == np.uint8 and coded.rio.nodata == 255
    assert (coded.values[:, 0] == 255).all()  # no data in the after date's first column
    np.testing.assert_array_equal(coded.values == 1, result.mask.values)
    np.testing.assert_array_equal(coded.values == 0, result.valid.values & ~result.mask.values)
    assert result.coded_mask(nodata=9).rio.nodata == 9
    for bad in (0, 1, 256, 2.5, True):
        with pytest.raises(InvalidInputError, match=r"nodata must be an int in 2\.\.255"):
            result.coded_mask(nodata=bad)
