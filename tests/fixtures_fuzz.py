"""Shared pieces of the fuzz harness (tests/fuzz/): settings, mutation strategies, the property.

The property every parser must hold (docs/reliability.md, "Fuzzing"): an input
either parses to a valid result or raises a :class:`satlearn.errors.SatlearnError`
subclass whose message names the input (a file name, a field or the offending
text); any other exception type fails the test, and so does an example that
runs past the hypothesis deadline or the file's pytest-timeout.

Examples per parser: ``FUZZ_EXAMPLES`` (40 in ``make test``); set
``SATLEARN_FUZZ_EXAMPLES=2000`` for the long run. The examples are derandomised
in ``make test`` (the same inputs every run, so a red suite is reproducible) and
random in a long run, which is there to find new inputs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from satlearn.errors import SatlearnError

FUZZ_EXAMPLES = int(os.environ.get("SATLEARN_FUZZ_EXAMPLES", "40"))
_LONG = "SATLEARN_FUZZ_EXAMPLES" in os.environ

#: The settings of every fuzz test: bounded examples, a generous per-example
#: deadline (2 s; a hang is caught by it or by the file's pytest-timeout), no
#: example database left in the working tree.
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=2000 if not _LONG else 5000,
    derandomize=not _LONG,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)

# Tokens that break parsers: huge and special numbers, separators, quotes,
# unicode (digits that str.isdigit accepts but int() refuses, a BOM, RTL marks,
# surrogates escaped for JSON), control bytes.
NASTY_TOKENS = [
    "0",
    "-1",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    str(2**63),
    str(10**400),
    "9" * 5000,
    "0x1F",
    "1_000",
    "",
    " ",
    ",",
    ";",
    "=",
    '"',
    "'",
    "\\",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "\ufeff",
    "\u200f",
    "²",
    "١٢",
    "𝟗",
    "é",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "&",
    "&amp;",
    "<!ENTITY a 'x'>",
    "null",
    "true",
    "[]",
    "{}",
]

_NASTY_BYTES = [t.encode("utf-8") for t in NASTY_TOKENS] + [b"\xff", b"\xfe\xff", b"\xc3", b"\x80"]


def _flip(data: bytes, position: int, bit: int) -> bytes:
    if not data:
        return data
    i = position % len(data)
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]


def _truncate(data: bytes, position: int) -> bytes:
    return data[: position % (len(data) + 1)]


def _insert(data: bytes, position: int, piece: bytes) -> bytes:
    i = position % (len(data) + 1)
    return data[:i] + piece + data[i:]


def _delete(data: bytes, position: int, length: int) -> bytes:
    i = position % (len(data) + 1)
    return data[:i] + data[i + length :]


def _duplicate(data: bytes, position: int, length: int) -> bytes:
    i = position % (len(data) + 1)
    return data[:i] + data[i : i + length] * 3 + data[i:]


def _replace_number(data: bytes, which: int, piece: bytes) -> bytes:
    """Replace the ``which``-th run of digits with ``piece`` (a huge number, NaN, text)."""
    runs, start = [], None
    for i, c in enumerate(data + b" "):
        digit = 48 <= c <= 57
        if digit and start is None:
            start = i
        elif not digit and start is not None:
            runs.append((start, i))
            start = None
    if not runs:
        return data + piece
    a, b = runs[which % len(runs)]
    return data[:a] + piece + data[b:]


_POSITION = st.integers(min_value=0, max_value=1 << 20)
_PIECE = st.one_of(st.sampled_from(_NASTY_BYTES), st.binary(min_size=1, max_size=16))


def _one_mutation(data: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(_flip, st.just(data), _POSITION, st.integers(0, 7)),
        st.builds(_truncate, st.just(data), _POSITION),
        st.builds(_insert, st.just(data), _POSITION, _PIECE),
        st.builds(_delete, st.just(data), _POSITION, st.integers(1, 64)),
        st.builds(_duplicate, st.just(data), _POSITION, st.integers(1, 64)),
        st.builds(
            _replace_number,
            st.just(data),
            _POSITION,
            st.sampled_from([t.encode() for t in NASTY_TOKENS[:16]]),
        ),
    )


def mutated_bytes(sample: bytes, *, max_mutations: int = 4) -> st.SearchStrategy[bytes]:
    """A valid ``sample`` with 0..``max_mutations`` mutations stacked: byte flips,
    truncation, insertion of nasty tokens, deletion, duplication, numbers replaced."""

    def stack(data: bytes, depth: int) -> st.SearchStrategy[bytes]:
        if depth == 0:
            return st.just(data)
        return _one_mutation(data).flatmap(lambda d: stack(d, depth - 1))

    return st.integers(0, max_mutations).flatmap(lambda n: stack(sample, n))


def mutated_text(sample: str, *, max_mutations: int = 4) -> st.SearchStrategy[str]:
    """:func:`mutated_bytes` of the UTF-8 text, decoded back (bad bytes replaced)."""
    return mutated_bytes(sample.encode("utf-8"), max_mutations=max_mutations).map(
        lambda b: b.decode("utf-8", errors="replace")
    )


def _json_leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(NASTY_TOKENS),
    )


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON-like value: nested lists and objects of odd leaves."""
    return st.recursive(
        _json_leaves(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.text(max_size=10), inner, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def arithmetic(
    atoms: st.SearchStrategy[str],
    *,
    calls: list[str] | None = None,
    max_leaves: int = 10,
) -> st.SearchStrategy[str]:
    """Formulas over ``atoms``: ``+ - * / **``, unary minus and, given ``calls``,
    function calls of 0 to 3 arguments (of any name: unknown ones must be refused)."""

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        options = [
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"-{e}"),
        ]
        if calls:
            options.append(
                st.builds(
                    lambda name, args: f"{name}({', '.join(args)})",
                    st.sampled_from(calls),
                    st.lists(inner, min_size=0, max_size=3),
                )
            )
        return st.one_of(*options)

    return st.recursive(atoms, extend, max_leaves=max_leaves)


def usable_file_name(name: str) -> bool:
    """Whether the file system takes ``name``: the others are no input a reader can meet."""
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and "\x00" not in name
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in name)
        and len(os.fsencode(name)) <= 255
    )


def deep_nesting(depth: int) -> str:
    """``[[[...]]]`` nested ``depth`` deep: the standard JSON parser recurses once per level."""
    return "[" * depth + "]" * depth


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterable[tuple[Any, ...]]:
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    if rest:
        copy[head] = _set(copy[head], rest, value, delete=delete)
    elif delete:
        del copy[head]
    else:
        copy[head] = value
    return copy


@st.composite
def mutated_json(draw: Any, sample: Any, *, max_mutations: int = 3) -> Any:
    """Structured mutations of a JSON document: a subtree replaced by any JSON value,
    a key deleted, a value wrapped in a list, an unknown key added."""
    doc = sample
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "wrap", "add"]))
        if kind == "delete" and path:
            doc = _set(doc, path, None, delete=True)
        elif kind == "wrap":
            doc = _set(doc, path, [_get(doc, path)])
        elif kind == "add" and isinstance(_get(doc, path), dict):
            doc = _set(doc, (*path, draw(st.text(max_size=8))), draw(json_values(5)))
        else:
            doc = _set(doc, path, draw(json_values(8)))
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def json_dumps(doc: Any) -> str:
    """JSON text of ``doc`` as a careless writer makes it (NaN and Infinity allowed)."""
    return json.dumps(doc, allow_nan=True)


def json_documents(sample: Any) -> st.SearchStrategy[bytes]:
    """Bytes of a JSON document: structured mutations, byte mutations of the valid text,
    or deep nesting (the classic recursion crash of a JSON reader)."""
    text = json_dumps(sample).encode()
    return st.one_of(
        mutated_json(sample).map(lambda d: json_dumps(d).encode()),
        mutated_bytes(text),
        st.sampled_from([100, 5000, 100_000]).map(lambda n: deep_nesting(n).encode()),
        st.sampled_from([100, 5000, 100_000]).map(lambda n: ('{"a":' * n + "1" + "}" * n).encode()),
    )


def expect_clean(call: Callable[[], Any], names: Iterable[str]) -> Any:
    """Run ``call``: return its result, or check the SatlearnError it raises names the input.

    Any other exception propagates and fails the test, with its traceback (the finding).
    """
    try:
        return call()
    except SatlearnError as err:
        error = err
    message, kind = str(error), type(error).__name__
    wanted = [n for n in names if n]
    assert message.strip(), f"{kind} with an empty message"
    assert any(n in message for n in wanted), (
        f"{kind} does not name the input (any of {wanted}): {message}"
    )
    return None


def finite(x: float) -> bool:
    """Whether ``x`` is a finite float (for checks on parsed numbers)."""
    return isinstance(x, (int, float)) and math.isfinite(x)
