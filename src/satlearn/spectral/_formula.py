"""The formula compiler: a whitelisted :mod:`ast` parse, constant folding, a register program.

A formula is parsed with :mod:`ast` (``mode="eval"``, never passed to
``eval``) and refused unless it holds only numbers, names, ``+ - * / **`` and
unary +/-. Names bound to numbers are substituted and constant sub-trees
folded; what is left becomes a :class:`Program`, a short list of NumPy ufunc
steps over numbered float32 registers that loads each input once. Both
engines run that program: :mod:`satlearn.spectral._numpy` step by step over
pieces, :mod:`satlearn.spectral._numba` as one fused loop.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["Formula", "Program", "compile_program", "fold_constants", "parse_formula"]

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@dataclass(frozen=True)
class Formula:
    """A parsed, checked formula."""

    tree: ast.expr
    symbols: tuple[str, ...]  # every name in the formula, first-seen order


def _check_tree(node: ast.AST, text: str) -> None:
    """Refuse anything but numbers, names, + - * / ** and unary +/-."""
    if isinstance(node, ast.Expression):
        _check_tree(node.body, text)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check_tree(node.left, text)
        _check_tree(node.right, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _check_tree(node.operand, text)
    elif isinstance(node, ast.Name) or (
        isinstance(node, ast.Constant) and type(node.value) in (int, float)
    ):
        pass
    else:
        raise InvalidInputError(
            f"formula {shown(text)}: {type(node).__name__} is not allowed "
            "(only numbers, band symbols, constants, + - * / ** and unary minus)"
        )


# Deeper trees are refused: the checks, folding and compiling below recurse once
# per level, and no index formula nests anywhere near this deep.
MAX_DEPTH = 200


def shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message, cut to ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _depth(tree: ast.AST) -> int:
    """The nesting depth of ``tree``, without recursion (a deep tree is the problem)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def literal_value(node: ast.Constant) -> float:
    """A number literal as a float; an integer beyond float64 ('9' * 400) is infinite,
    as the literal 1e999 already is (and an infinite result is NaN by contract)."""
    try:
        return float(node.value)
    except OverflowError:
        return math.inf


@functools.cache
def parse_formula(text: str) -> Formula:
    """Parse ``text`` once (memoised) and refuse anything but the whitelist."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise InvalidInputError(f"formula {shown(text)} is not an expression ({err.msg})") from None
    except (ValueError, RecursionError, MemoryError):
        # CPython's parser gives up on very long or deeply nested input this way
        # ('-' * 100_000 + 'N': MemoryError; a 100 000-term sum: RecursionError).
        raise InvalidInputError(
            f"formula {shown(text)} is too long or too deeply nested to parse"
        ) from None
    if _depth(tree) > MAX_DEPTH:
        raise InvalidInputError(
            f"formula {shown(text)} nests deeper than {MAX_DEPTH} levels; split it up"
        )
    _check_tree(tree, text)
    symbols = dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return Formula(tree.body, tuple(symbols))


def fold_constants(node: ast.expr, scalars: Mapping[str, float]) -> Any:
    """Replace names bound to numbers and fold constant sub-trees.

    Returns a float for a constant sub-tree, else a nested tuple
    ``("name", symbol)`` / ``(op, left, right)`` / ``("neg", operand)``.
    """
    if isinstance(node, ast.Constant):
        return literal_value(node)
    if isinstance(node, ast.Name):
        return float(scalars[node.id]) if node.id in scalars else ("name", node.id)
    if isinstance(node, ast.UnaryOp):
        operand = fold_constants(node.operand, scalars)
        if isinstance(node.op, ast.UAdd):
            return operand
        return -operand if isinstance(operand, float) else ("neg", operand)
    assert isinstance(node, ast.BinOp)  # guaranteed by _check_tree
    op = _BINARY[type(node.op)]
    left, right = fold_constants(node.left, scalars), fold_constants(node.right, scalars)
    if isinstance(left, float) and isinstance(right, float):
        return _scalar_op(op, left, right)
    return (op, left, right)


def _scalar_op(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b if b != 0 else math.nan
    try:
        result = a**b
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return result if isinstance(result, float) and math.isfinite(result) else math.nan


# A program is a list of steps run on every piece; registers are float32 buffers.
# ("load", reg, symbol)            reg = float32(input[symbol]) * scale + offset
# ("ufunc", reg, func, a, b)       reg = func(a, b); a, b are registers or floats
# ("unary", reg, func, a)          reg = func(a)
# ("zero_den", reg, den)           reg[den == 0] = nan   (den a register)
@dataclass(frozen=True)
class Program:
    """Register steps that compute a folded formula (see the step kinds above)."""

    steps: tuple[tuple[Any, ...], ...]
    n_registers: int
    result: int | float  # the register holding the result, or a constant
    symbols: tuple[str, ...]  # array inputs, in load order


_UFUNCS: dict[str, Callable[..., Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
}


def compile_program(tree: Any) -> Program:
    """Turn a folded tree into register steps, loading each input once."""
    steps: list[tuple[Any, ...]] = []
    loaded: dict[str, int] = {}
    free: list[int] = []
    count = 0

    def new() -> int:
        nonlocal count
        if free:
            return free.pop()
        count += 1
        return count - 1

    def release(value: Any) -> None:
        if isinstance(value, int) and value not in loaded.values():
            free.append(value)

    def emit(node: Any, guard: bool) -> Any:
        # guard: this value feeds a denominator or a power, where an inf from a
        # division by zero could turn finite (x / inf == 0), so fix it here.
        if isinstance(node, float):
            return node
        kind = node[0]
        if kind == "name":
            symbol = node[1]
            if symbol not in loaded:
                loaded[symbol] = new()
                steps.append(("load", loaded[symbol], symbol))
            return loaded[symbol]
        if kind == "neg":
            operand = emit(node[1], guard)
            release(operand)
            reg = new()
            steps.append(("unary", reg, np.negative, operand))
            return reg
        op, left_node, right_node = node
        inner_guard = guard or op in ("/", "**")
        left = emit(left_node, guard or op == "**")
        right = emit(right_node, inner_guard)
        if op == "**" and isinstance(right, float):
            step = _power_step(left, right)
            release(left)
            reg = new()
            steps.append((*step[:1], reg, *step[1:]))
            return reg
        if op == "/" and isinstance(right, float) and right == 0.0:
            # x / 0 is NaN by contract, whatever x is.
            op, right = "*", math.nan
        release(left)
        if op != "/" or not guard:
            release(right)
        reg = new()
        steps.append(("ufunc", reg, _UFUNCS[op], left, right))
        if op == "/" and guard and isinstance(right, int):
            steps.append(("zero_den", reg, right))
            release(right)
        return reg

    result = emit(tree, False)
    return Program(tuple(steps), count, result, tuple(loaded))


def _power_step(base: Any, exponent: float) -> tuple[Any, ...]:
    if exponent == 2.0:
        return ("unary", np.square, base)
    if exponent == 0.5:
        return ("unary", np.sqrt, base)
    if exponent == 1.0:
        return ("unary", np.positive, base)
    return ("ufunc", np.power, base, exponent)
