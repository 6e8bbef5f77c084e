"""Tile expressions: arithmetic on band names, a few whitelisted functions, or an index name.

An expression is parsed, never evaluated as Python. Plain arithmetic
(numbers, band names, ``+ - * / **``, unary minus) goes through
:func:`satlearn.spectral.parse_formula` (an :mod:`ast` whitelist) and is
computed by satlearn's formula engine (:func:`satlearn.spectral.compute_formula`).
An expression that also calls one of :data:`FUNCTIONS` (``abs``, ``sqrt``,
``log``, ``exp``, ``min``, ``max`` ...) is checked against the same whitelist
plus those calls (a bare function name, positional arguments only) and
computed by a small tree walk over NumPy arrays. A name of the spectral index
catalogue (``NDVI``, ``NDWI``, ...) is its catalogue formula, with the band
symbols mapped to the asset's band names and constants at their defaults.
Attribute access, subscripts, lambdas, comprehensions, strings and any other
call are refused with :class:`~satlearn.errors.InvalidInputError`.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.spectral import (
    BAND_SYMBOLS,
    compute_formula,
    describe_index,
    literal_value,
    parse_formula,
    resolve_index_name,
)

__all__ = [
    "FUNCTIONS",
    "MAX_LENGTH",
    "Expression",
    "bind_bands",
    "evaluate_expression",
    "parse_expression",
]

#: Functions an expression may call: name -> (NumPy function, number of arguments).
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int]] = {
    "abs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "exp": (np.exp, 1),
    "min": (np.fmin, 2),
    "max": (np.fmax, 2),
}
#: The longest expression accepted, in characters (a guard on parse and walk depth).
MAX_LENGTH = 512
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, its parse and the band symbols it reads."""

    text: str
    formula: str  # what is computed: the text, or the index's catalogue formula
    tree: ast.expr
    symbols: tuple[str, ...]  # band symbols read, first-seen order
    constants: tuple[tuple[str, float], ...]  # catalogue constants of an index
    aliases: tuple[tuple[str, tuple[str, ...]], ...]  # index symbol -> band names to try
    arithmetic: bool  # no calls: satlearn.spectral's engine computes it
    index: str | None  # the catalogue name when the expression is an index


def _check(node: ast.AST, text: str) -> None:
    """The formula whitelist plus calls of :data:`FUNCTIONS` by bare name."""
    if isinstance(node, ast.Expression):
        _check(node.body, text)
    elif isinstance(node, ast.BinOp) and (type(node.op) in _BINARY or isinstance(node.op, ast.Pow)):
        _check(node.left, text)
        _check(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check(node.operand, text)
    elif isinstance(node, ast.Name) or (
        isinstance(node, ast.Constant) and type(node.value) in (int, float)
    ):
        pass
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
        and len(node.args) == FUNCTIONS[node.func.id][1]
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        for arg in node.args:
            _check(arg, text)
    else:
        what = type(node).__name__
        if isinstance(node, ast.Call):
            what = "a call of anything but " + ", ".join(f"{f}()" for f in FUNCTIONS)
        raise InvalidInputError(
            f"expression {text!r}: {what} is not allowed (only numbers, band names, "
            f"+ - * / **, unary minus and {', '.join(FUNCTIONS)})"
        )


def parse_expression(text: str) -> Expression:
    """Check ``text`` and parse it once (memoised); raises InvalidInputError when refused.

    Examples
    --------
    >>> parse_expression("sqrt(abs(nir - red))").symbols
    ('nir', 'red')
    """
    # Checked before the cache: an unhashable text would fail there with a TypeError.
    if not isinstance(text, str):
        raise InvalidInputError(f"expression: a string is needed, not {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError("expression: empty; give arithmetic on band names or an index")
    return _parse(text)


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> Expression:
    if len(text) > MAX_LENGTH or "\x00" in text:
        raise InvalidInputError(f"expression: longer than {MAX_LENGTH} characters or holds NUL")
    stripped = text.strip()
    if stripped.isidentifier():
        try:
            index = resolve_index_name(stripped)
        except InvalidInputError:
            index = None
        if index is not None:
            return _index_expression(text, index)
    try:
        parsed = parse_formula(stripped)
    except InvalidInputError:
        parsed = None
    if parsed is not None:
        _no_bare_functions(parsed.symbols, text)
        return Expression(text, stripped, parsed.tree, parsed.symbols, (), (), True, None)
    try:
        tree = ast.parse(stripped, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise InvalidInputError(f"expression {text!r} is not an arithmetic expression") from None
    _check(tree, text)
    callees = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    symbols = dict.fromkeys(
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in callees
    )
    _no_bare_functions(symbols, text)
    return Expression(text, stripped, tree.body, tuple(symbols), (), (), False, None)


def _no_bare_functions(symbols: Any, text: str) -> None:
    for name in symbols:
        if name in FUNCTIONS:
            raise InvalidInputError(f"expression {text!r}: {name} is a function, not a band")


def _index_expression(text: str, index: str) -> Expression:
    described = describe_index(index)
    formula = described["formula"]
    parsed = parse_formula(formula)
    defaults = described["constants"]
    constants, symbols, aliases = [], [], []
    for symbol in parsed.symbols:
        if symbol in BAND_SYMBOLS:
            symbols.append(symbol)
            aliases.append((symbol, BAND_SYMBOLS[symbol]))
        elif defaults.get(symbol) is not None:
            constants.append((symbol, float(defaults[symbol])))
        else:
            raise InvalidInputError(
                f"expression {text!r}: index {index} needs {symbol}, which has no default"
            )
    return Expression(
        text, formula, parsed.tree, tuple(symbols), tuple(constants), tuple(aliases), True, index
    )


def bind_bands(expr: Expression, names: Sequence[str]) -> dict[str, int]:
    """Each symbol of ``expr`` -> the 0-based band it reads (``b1`` .. or a band name).

    Raises
    ------
    UnknownBandError
        A symbol names no band of the asset.
    """
    lowered = [n.lower() for n in names]
    aliases = dict(expr.aliases)
    bound: dict[str, int] = {}
    for symbol in expr.symbols:
        candidates = aliases.get(symbol, (symbol,))
        for candidate in candidates:
            low = candidate.lower()
            if low in lowered:
                bound[symbol] = lowered.index(low)
                break
            # ASCII digits only: str.isdigit() also takes digits int() refuses ("b፩").
            number = low[1:]
            if (
                low.startswith("b")
                and number.isascii()
                and number.isdigit()
                and (1 <= int(number) <= len(names))
            ):
                bound[symbol] = int(low[1:]) - 1
                break
        else:
            wanted = " or ".join(candidates)
            raise UnknownBandError(
                f"expression {expr.text!r}: no band {wanted} in the asset "
                f"(its bands: {', '.join(names)}, or b1..b{len(names)})"
            )
    return bound


def evaluate_expression(
    expr: Expression,
    bands: Mapping[str, np.ndarray],
    *,
    scales: Mapping[str, float] | None = None,
    offsets: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The float32 value of ``expr`` on ``bands`` (symbol -> array); NaN where undefined."""
    if expr.arithmetic:
        return compute_formula(
            expr.formula,
            bands,
            constants=dict(expr.constants),
            scales=scales,
            offsets=offsets,
            threads=1,  # one tile is small; the server's threads already run tiles side by side
        )
    physical = {
        s: np.asarray(a, np.float32) * np.float32((scales or {}).get(s, 1.0))
        + np.float32((offsets or {}).get(s, 0.0))
        for s, a in bands.items()
    }
    with np.errstate(all="ignore"):
        out = np.asarray(_walk(expr.tree, physical), dtype=np.float32)
    shape = next(iter(physical.values())).shape if physical else out.shape
    out = np.broadcast_to(out, shape).copy()
    out[~np.isfinite(out)] = np.nan
    return out


def _walk(node: ast.expr, values: Mapping[str, np.ndarray]) -> np.ndarray | float:
    # Only the node kinds _check let through can reach here.
    if isinstance(node, ast.Constant):
        return literal_value(node)
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _walk(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _walk(node.left, values), _walk(node.right, values)
        if isinstance(node.op, ast.Pow):
            return np.power(np.asarray(left, np.float32), np.asarray(right, np.float32))
        return _BINARY[type(node.op)](np.float32(left) if isinstance(left, float) else left, right)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    func = FUNCTIONS[node.func.id][0]
    return func(*(np.asarray(_walk(a, values), np.float32) for a in node.args))
