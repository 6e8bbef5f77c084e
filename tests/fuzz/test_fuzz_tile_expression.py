"""Fuzzing the viewer's tile expressions: satlearn.view's parse (arithmetic, whitelisted
functions, index names), the binding of its symbols to an asset's bands, and its evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, NASTY_TOKENS, arithmetic, expect_clean, mutated_text
from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.view._expression import (
    FUNCTIONS,
    MAX_LENGTH,
    bind_bands,
    evaluate_expression,
    parse_expression,
)

pytestmark = pytest.mark.timeout(120)

BANDS = ["red", "green", "blue", "nir", "swir16"]
# Band names, b1.. numbers, index symbols, and identifiers that only look like bands:
# digits str.isdigit accepts and int() refuses (Ethiopic ፩ is an identifier character).
_SYMBOLS = ["red", "nir", "NIR", "b1", "b5", "b6", "b0", "N", "R", "S1", "b፩", "b١", "B04", "x"]
_NUMBERS = ["0", "1", "2.5", ".5", "1e308", "1e39", "1e999", "1e-320", "0x1F", "1_000", "9" * 400]
_atoms = st.one_of(
    st.sampled_from(_SYMBOLS),
    st.sampled_from(_NUMBERS),
    st.floats(allow_nan=False).map(repr),
)


_expressions = arithmetic(_atoms, calls=[*FUNCTIONS, "pow", "eval"])
# Python that is no tile expression: every one must be refused, none evaluated.
_hostile = st.sampled_from(
    [
        "__import__('os').system('true')",
        "__import__",
        "abs.__class__",
        "red.__class__.__mro__",
        "abs(red).real",
        "(lambda: 1)()",
        "lambda: 1",
        "[x for x in red]",
        "red if nir else blue",
        "red[0]",
        "red @ nir",
        "red // nir",
        "red % nir",
        "red < nir",
        "abs(*red)",
        "max(red, nir=1)",
        "sqrt",
        "sqrt + red",
        "(yield red)",
        "'red'",
        "red; nir",
        "red\nnir",
        "f'{red}'",
        "True",
        "None",
        "1j",
        "...",
        "9 ** 9 ** 9 ** 9",
        "abs(9 ** 9 ** 9)",
        "exp(1e308) * 0",
        "abs(" + "9" * 400 + ")",
        "(" * 300 + "red" + ")" * 300,
        "abs(" * 100 + "red" + ")" * 100,
        "-" * 500 + "red",
        "+".join(["red"] * 256),
        "red" * 200,
    ]
)
_texts = st.one_of(
    _expressions,
    mutated_text("(nir - red) / (nir + red)"),
    mutated_text("sqrt(abs(b4 - b3)) / max(nir, 1e-6)"),
    st.sampled_from(["NDVI", "ndwi", "EVI", "NBR", "SAVI", "NOPE", " NDVI ", "NDVI2"]),
    _hostile,
    st.sampled_from(NASTY_TOKENS),
    st.text(max_size=40),
    st.text(alphabet="(+-*/) 0123456789.eabsqrtlogminxrdn", min_size=MAX_LENGTH - 8),
)


def _bands(symbols) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {s: rng.integers(0, 3, (4, 5)).astype(np.uint16) for s in symbols}


# Found by fuzzing: a literal beyond float ("abs(9...9)": OverflowError in float()); a
# band symbol whose digits int() refuses ("b፩": ValueError in bind_bands); an unhashable
# expression (TypeError from the cache in front of the type check).
@FUZZ
@given(text=_texts)
@example(text="abs(" + "9" * 400 + ")")
@example(text="b፩ + 1")
@example(text=["red"])
def test_tile_expressions_parse_bind_and_evaluate_or_are_refused(text):
    expr = expect_clean(lambda: parse_expression(text), ["expression"])
    if expr is None:
        return
    assert isinstance(expr.text, str) and len(expr.text) <= MAX_LENGTH
    bound = expect_clean(lambda: bind_bands(expr, BANDS), ["expression"])
    if bound is None:
        return
    assert set(bound) == set(expr.symbols)
    assert all(0 <= i < len(BANDS) for i in bound.values())
    inputs = _bands(expr.symbols)
    scales = {s: 0.0001 for s in expr.symbols}
    result = expect_clean(
        lambda: evaluate_expression(expr, inputs, scales=scales), ["expression", "formula"]
    )
    if result is not None:
        assert result.dtype == np.float32
        assert result.shape == (4, 5) or not expr.symbols
        assert not np.isinf(result).any()  # NaN where undefined, never inf


def test_found_an_unhashable_expression_is_refused():
    with pytest.raises(InvalidInputError, match="expression: a string is needed, not list"):
        parse_expression(["red"])


def test_found_a_huge_integer_literal_in_a_call_is_infinite_then_nan():
    expr = parse_expression("abs(" + "9" * 400 + ") + red")
    result = evaluate_expression(expr, {"red": np.ones((2, 2), np.uint16)})
    assert result.dtype == np.float32 and np.isnan(result).all()


def test_found_a_non_ascii_band_number_names_no_band():
    with pytest.raises(UnknownBandError, match="no band b፩"):
        bind_bands(parse_expression("b፩ + 1"), BANDS)
    assert bind_bands(parse_expression("b2 + 1"), BANDS) == {"b2": 1}
