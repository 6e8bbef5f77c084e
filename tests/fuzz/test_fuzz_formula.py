"""Fuzzing index formulas: satlearn.spectral's whitelisted parse and the compute of a parsed one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, NASTY_TOKENS, arithmetic, expect_clean, mutated_text
from satlearn.errors import InvalidInputError
from satlearn.spectral import compute_formula
from satlearn.spectral._formula import parse_formula

pytestmark = pytest.mark.timeout(120)

SYMBOLS = ["N", "R", "G", "B", "S1", "L", "g", "C1"]
_atoms = st.one_of(
    st.sampled_from(SYMBOLS),
    st.sampled_from(["0", "1", "2.5", "1e308", "1e-308", "0.0", "10**400"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_expressions = arithmetic(_atoms)
# Python that is not arithmetic: every one must be refused by the whitelist.
_hostile = st.sampled_from(
    [
        "__import__('os').system('true')",
        "N.__class__",
        "lambda: 1",
        "[N for N in R]",
        "N if R else G",
        "N @ R",
        "N // R",
        "N % R",
        "abs(N)",
        "N < R",
        "(yield N)",
        "'N'",
        "N; R",
        "N\nR",
        "f'{N}'",
        "True",
        "None",
        "1j",
        "...",
    ]
)
_formulas = st.one_of(
    _expressions,
    mutated_text("(N - R) / (N + R)"),
    _hostile,
    st.sampled_from(NASTY_TOKENS),
    st.text(max_size=30),
)


def _inputs(formula) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {s: rng.integers(0, 3, (4, 5)).astype(np.uint16) for s in formula.symbols}


@FUZZ
@given(text=_formulas)
def test_formulas_parse_and_compute_or_are_refused(text):
    formula = expect_clean(lambda: parse_formula(text), ["formula"])
    if formula is None:
        return
    result = expect_clean(
        lambda: compute_formula(text, _inputs(formula), threads=1), ["formula", "input"]
    )
    if result is not None:
        assert result.dtype == np.float32
        assert not np.isinf(result).any()  # the documented promise: NaN, never inf


# Found by fuzzing (the parser's MemoryError and RecursionError, a float32 overflow to inf).
def test_deep_unary_minus_is_refused():
    text = "-" * 100_000 + "N"
    with pytest.raises(InvalidInputError, match=r"formula .* too long or too deeply nested") as err:
        parse_formula(text)
    assert len(str(err.value)) < 200  # the formula is cut, not echoed whole


def test_a_long_sum_is_refused_or_computed():
    text = "+".join(["N"] * 100_000)
    formula = expect_clean(lambda: parse_formula(text), ["formula"])
    assert formula is None or formula.symbols == ("N",)


def test_a_sum_just_deep_enough_to_recurse_is_refused_before_it_does():
    # 2000 terms parse, but walking them recursively would pass Python's limit.
    text = "+".join(["N"] * 2000)
    with pytest.raises(InvalidInputError, match="nests deeper than"):
        compute_formula(text, {"N": np.ones((2, 2), np.uint16)}, threads=1)


def test_a_long_sum_within_the_depth_limit_computes():
    result = compute_formula("+".join(["N"] * 150), {"N": np.ones((2, 2), np.uint16)}, threads=1)
    np.testing.assert_array_equal(result, np.full((2, 2), 150, np.float32))


def test_a_constant_beyond_float32_is_nan_not_inf():
    inputs = {"N": np.ones((2, 2), np.uint16)}
    result = compute_formula("1e39", inputs, threads=1)  # no overflow warning either
    assert np.isnan(result).all()
    assert compute_formula("-1e39", inputs, threads=1).dtype == np.float32
    np.testing.assert_array_equal(compute_formula("3e38", inputs, threads=1), np.float32(3e38))


def test_an_integer_literal_beyond_float_is_infinite_like_1e999():
    # Found by the random run of the tile-expression fuzzing: '9' * 400 raised OverflowError.
    inputs = {"N": np.full((2, 2), 3, np.uint16)}
    huge = "9" * 400
    assert np.isnan(compute_formula(huge, inputs, threads=1)).all()
    np.testing.assert_array_equal(
        compute_formula(f"N + {huge}", inputs, threads=1),
        compute_formula("N + 1e999", inputs, threads=1),
    )
    np.testing.assert_array_equal(compute_formula(f"N / {huge}", inputs, threads=1), 0.0)
