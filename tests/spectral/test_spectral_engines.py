"""The two engines: NumPy pieces and threads, the numba loop (masks, cache, fallback).

That both engines round alike, bit for bit, is tested on catalogue indices in
test_spectral_indices.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from satlearn.spectral import _numba as numba_engine
from satlearn.spectral import _numpy as numpy_engine
from satlearn.spectral import compute_formula


def test_pieces_and_threads_cover_every_pixel(monkeypatch):
    monkeypatch.setattr(numpy_engine, "_PIECE", 50)
    monkeypatch.setattr(numpy_engine, "_TASK", 170)
    rng = np.random.default_rng(4)
    n = rng.integers(0, 100, (23, 31)).astype(np.uint8)
    r = rng.integers(0, 100, (23, 31)).astype(np.uint8)
    with np.errstate(all="ignore"):
        expected = (n.astype(np.float32) - r) / (n.astype(np.float32) + r)
    expected[~np.isfinite(expected)] = np.nan
    expected[(n == 7) | (r == 7)] = np.nan
    for threads in (1, 2, None):
        got = compute_formula("(N-R)/(N+R)", {"N": n, "R": r}, nodata=7, threads=threads)
        np.testing.assert_array_equal(got, expected)
    # Non-contiguous and broadcast inputs work too.
    got = compute_formula("N*R", {"N": n.T, "R": np.float32(2.0)})
    np.testing.assert_array_equal(got, n.T.astype(np.float32) * 2)


# --------------------------------------------------------------------------- compiled kernel


@pytest.fixture
def jit_always(monkeypatch):
    """Send every array, however small, through the numba kernel."""
    pytest.importorskip("numba")
    monkeypatch.setattr(numba_engine, "_JIT_MIN_PIXELS", 0)


@pytest.mark.parametrize("threads", [1, 2])
def test_compiled_kernel_scales_masks_and_divides_like_the_contract(jit_always, threads):
    rng = np.random.default_rng(5)
    shape = (3, 40_000)  # several compiled blocks, the last one partial
    n = rng.integers(0, 3000, shape).astype(np.uint16)
    r = rng.integers(0, 3000, shape).astype(np.uint16)
    n[0, :5], r[0, :5] = 1000, 1000  # both at the offset: 0 / 0
    n[1, :5] = 0  # nodata
    got = compute_formula(
        "(N-R)/(N+R) + N**1.5",
        {"N": n, "R": r},
        scales={"N": 1e-4, "R": 1e-4},
        offsets={"N": -0.1, "R": -0.1},
        nodata=0,
        threads=threads,
    )
    nf = (n.astype(np.float32) + np.float32(-1000.0)) * np.float32(1e-4)
    rf = (r.astype(np.float32) + np.float32(-1000.0)) * np.float32(1e-4)
    with np.errstate(all="ignore"):
        expected = (nf - rf) / (nf + rf) + nf ** np.float32(1.5)
    expected[~np.isfinite(expected) | (n == 0) | (r == 0)] = np.nan
    assert np.isnan(got[0, :5]).all() and np.isnan(got[1, :5]).all()
    # Float32 precision of the terms (|term| < 1.2): where the two terms nearly
    # cancel, one ulp of numba's powf against NumPy's is ~1e-8 absolute.
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_compiled_kernel_is_built_once_per_program_and_the_cache_is_bounded(
    jit_always, monkeypatch
):
    monkeypatch.setattr(numba_engine, "_jit_kernels", type(numba_engine._jit_kernels)())
    monkeypatch.setattr(numba_engine, "_JIT_CACHE_SIZE", 2)
    x = np.linspace(1, 2, 100, dtype=np.float32)
    for formula in ("N+R", "N+R", "N-R", "N*R"):
        compute_formula(formula, {"N": x, "R": x}, threads=1)
    assert len(numba_engine._jit_kernels) == 2
    # The generated source is made of fixed spellings, registers, inputs and
    # constant slots: no name from the formula's text ever reaches it.
    allowed = {
        "def", "kernel", "out", "c", "shift", "scale", "nan", "size", "for", "block", "in",
        "range", "prange", "numba", "min", "i", "np", "float32", "sqrt", "isinf", "value",
        "if", "else",
    }  # fmt: skip
    for source in numba_engine._jit_kernels:
        names = set(re.findall(r"[A-Za-z_]\w*", source))
        assert names - allowed <= {f"{p}{k}" for p in ("r", "x", "nodata") for k in range(9)}


def test_numpy_program_runs_where_numba_cannot(jit_always, monkeypatch):
    x = np.arange(1, 7, dtype=np.float16).reshape(2, 3)  # float16: not a compiled dtype
    monkeypatch.setattr(numba_engine, "_jit_kernels", type(numba_engine._jit_kernels)())
    got = compute_formula("N*2", {"N": x})
    np.testing.assert_array_equal(got, x.astype(np.float32) * 2)
    monkeypatch.setattr(numba_engine, "_numba", lambda: None)
    got = compute_formula("N*3", {"N": x.astype(np.float32)})
    np.testing.assert_array_equal(got, x.astype(np.float32) * 3)
    assert not numba_engine._jit_kernels


def test_compiled_nodata_test_answers_as_numpys_raw_equals_nodata(jit_always):
    # The loop compares in the input's own dtype where that is exact; values
    # the dtype cannot hold (0.5, -1, 70000 for uint16; 0.1 for float32) never
    # match, and a float32 nodata matches where NumPy's float64 test does.
    u = np.array([0, 1, 2, 65535, 7], dtype=np.uint16)
    f = np.array([0.1, -9999.0, 2.5, 0.0, 1.0], dtype=np.float32)
    for x, values in ((u, (0, 7, 0.5, -1, 70000, 65535)), (f, (-9999, 0.1, 2.5))):
        for nodata in values:
            jitted = compute_formula("N+R", {"N": x, "R": x[::-1].copy()}, nodata=nodata)
            expected = (x.astype(np.float32) + x[::-1]).astype(np.float32)
            expected[(x == nodata) | (x[::-1] == nodata)] = np.nan
            np.testing.assert_array_equal(jitted, expected, err_msg=f"{x.dtype} {nodata}")
