"""The formula compiler: the whitelist, its errors, arithmetic, powers, constants, x/0."""

from __future__ import annotations

import numpy as np
import pytest

from satlearn.errors import InvalidInputError
from satlearn.spectral import compute_formula


def test_x_over_zero_is_nan_not_inf_even_inside_denominators():
    one = np.ones((3, 4), dtype=np.float32)
    zero = np.zeros((3, 4), dtype=np.float32)
    assert np.isnan(compute_formula("N/R", {"N": one, "R": zero})).all()
    assert np.isnan(compute_formula("N-R/(R*2)", {"N": one, "R": zero})).all()
    # N / (N / 0) would be N / inf == 0 without the guard on nested denominators.
    assert np.isnan(compute_formula("N/(N/R)", {"N": one, "R": zero})).all()
    assert np.isnan(compute_formula("N/((N/R)**0.5)", {"N": one, "R": zero})).all()
    assert np.isnan(compute_formula("N/(N/(a-a))", {"N": one}, constants={"a": 2.0})).all()
    # Overflow to inf is NaN too.
    huge = np.full((3, 4), 3e38, dtype=np.float32)
    assert np.isnan(compute_formula("N*N", {"N": huge})).all()


@pytest.mark.parametrize(
    "formula",
    ["__import__('os')", "N.real", "abs(N)", "N if R else N", "N < R", "'a'", "N @ R", "[N]"],
)
def test_formula_whitelist_refuses_anything_else(formula):
    n = np.ones(3, np.float32)
    with pytest.raises(InvalidInputError, match="not allowed"):
        compute_formula(formula, {"N": n, "R": n})


def test_formula_errors():
    n = np.ones(3, np.float32)
    with pytest.raises(InvalidInputError, match="not an expression"):
        compute_formula("N +", {"N": n})
    with pytest.raises(InvalidInputError, match="no value for R"):
        compute_formula("N - R", {"N": n})
    with pytest.raises(InvalidInputError, match="do not broadcast"):
        compute_formula("N - R", {"N": n, "R": np.ones(4)})
    with pytest.raises(InvalidInputError, match="not a number"):
        compute_formula("N - R", {"N": n, "R": np.array(["a", "b", "c"])})
    with pytest.raises(InvalidInputError, match="C-contiguous float32"):
        compute_formula("N", {"N": n}, out=np.empty(3, np.float64))


def test_formula_arithmetic_powers_and_constants():
    n = np.array([0.25, 1.0, 4.0], np.float32)
    r = np.array([2.0, 3.0, 0.5], np.float32)
    formula = "-N**2.0 + N**0.5 + N**1 + N**3.0 + 2.0**R + (+R) * -c"
    got = compute_formula(formula, {"N": n, "R": r}, constants={"c": 1.5})
    expected = -(n**2) + np.sqrt(n) + n + n**3 + 2.0**r - r * 1.5
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # A formula of constants alone fills the output.
    raw = np.array([1, 0, 1], np.uint16)
    filled = compute_formula("(a + 1) / 2", {"N": raw}, constants={"a": 1.0})
    np.testing.assert_array_equal(filled, [1.0, 1.0, 1.0])
    nan_const = compute_formula("a / 0", {"N": n}, constants={"a": 1.0})
    assert np.isnan(nan_const).all()
    assert np.isnan(compute_formula("0.0 ** -1.0 + N", {"N": n})).all()
    assert np.isnan(compute_formula("N * 10.0 ** 400", {"N": n})).all()
    only_band = compute_formula("N", {"N": raw}, scales={"N": 0.5}, offsets={"N": 1.0})
    np.testing.assert_array_equal(only_band, [1.5, 1.0, 1.5])
    with pytest.raises(InvalidInputError, match="is not a usable factor"):
        compute_formula("N", {"N": raw}, scales={"N": 0.0})
