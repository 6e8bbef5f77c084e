"""Tensors from requests: datatype names, checks against a model's inputs, safe decoding.

Shared by the protocols. Every check runs before an array is allocated, so a
declared shape far larger than the body is refused without allocating it.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from satlearn.errors import InvalidInputError

__all__ = [
    "NUMPY_TO_V2",
    "V2_TO_NUMPY",
    "check_against",
    "check_shape",
    "decode_binary",
    "decode_json_data",
    "loads",
    "protocol_shape",
    "to_array",
    "v2_datatype",
]

#: Open Inference Protocol datatype names -> numpy dtype names.
V2_TO_NUMPY = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}
NUMPY_TO_V2 = {v: k for k, v in V2_TO_NUMPY.items()}


def loads(text: bytes | memoryview | str) -> Any:
    """Parse a request's JSON: orjson (10x faster on tensors), the standard parser as fallback.

    The fallback keeps what the standard parser alone accepted (``NaN`` and
    ``Infinity``, as Python clients write them; integers beyond 64 bits) and
    its error messages for malformed JSON.

    Raises
    ------
    ValueError
        Not JSON (:class:`json.JSONDecodeError`), not UTF-8 (:class:`UnicodeDecodeError`)
        or nested too deeply.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(bytes(text) if isinstance(text, memoryview) else text)
    except RecursionError:
        # orjson stops at 1024 levels; the standard parser recurses once per level.
        raise ValueError("nested too deeply (more than 1024 levels of arrays or objects)") from None


def v2_datatype(dtype: Any) -> str:
    """The protocol's name of a numpy dtype (``BYTES`` for strings and objects)."""
    try:
        return _V2_NAMES[dtype]
    except (KeyError, TypeError):  # TypeError: an unhashable dtype-like
        pass
    name = NUMPY_TO_V2.get(np.dtype(dtype).name, "BYTES") if dtype != "string" else "BYTES"
    with contextlib.suppress(TypeError):
        # Asked twice per request (the input check, the answer): np.dtype(...).name
        # costs ~20 us a call, a dict lookup nothing. Few distinct dtypes ever come.
        if len(_V2_NAMES) < 256:
            _V2_NAMES[dtype] = name
    return name


_V2_NAMES: dict[Any, str] = {}


def protocol_shape(shape: Sequence[int | None]) -> list[int]:
    """A bundle shape with -1 for free dimensions, as the protocols write it."""
    return [-1 if d is None else int(d) for d in shape]


def check_shape(value: Any, what: str) -> tuple[int, ...]:
    """A request's shape: a list of whole numbers >= 0."""
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise InvalidInputError(
            f"{what}: 'shape' must be a list of whole numbers >= 0, got {value!r}"
        )
    return tuple(value)


def check_against(spec: Any, shape: tuple[int, ...], bands: Sequence[str], what: str) -> None:
    """Refuse a shape the model input ``spec`` cannot take (rank, fixed dims, band count)."""
    expected = protocol_shape(spec.shape)
    if len(shape) != len(expected) or any(
        e != -1 and e != d for e, d in zip(expected, shape, strict=False)
    ):
        hint = ""
        if len(expected) == 4 and expected[1] != -1 and len(shape) == 4 and shape[1] != expected[1]:
            names = f" ({', '.join(bands)})" if len(bands) == expected[1] else ""
            hint = f": the model reads {expected[1]} bands{names}, the request has {shape[1]}"
        raise InvalidInputError(
            f"{what} has shape {list(shape)}; the model expects {expected} (-1: any){hint}"
        )


def decode_binary(
    raw: bytes | memoryview, shape: tuple[int, ...], dtype: str, what: str
) -> np.ndarray:
    """An array from raw row-major bytes, whose length must match the shape exactly."""
    need = math.prod(shape) * np.dtype(dtype).itemsize
    if len(raw) != need:
        raise InvalidInputError(
            f"{what}: shape {list(shape)} of {dtype} needs {need} bytes, the request has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def to_array(value: Any, dtype: Any, what: str) -> np.ndarray:
    """``value`` (nested lists of numbers) as an array of ``dtype``, or InvalidInputError.

    A finite number the datatype cannot hold (``1e39`` as FP32) is refused, not
    turned into infinity, and so is a fraction for an integer datatype (``1.5``
    as INT32, not 1); NaN and Infinity given as such are kept.

    Examples
    --------
    >>> to_array([[1, 2.0]], "int32", "input 'count'")
    array([[1, 2]], dtype=int32)
    """
    target = np.dtype(dtype)
    try:
        with np.errstate(over="raise", invalid="raise"):
            array = np.asarray(value, dtype=target)
    except FloatingPointError as err:
        raise InvalidInputError(
            f"{what} holds a number out of the range of {target.name} ({err})"
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidInputError(
            f"{what} is not a regular list of {target.name} values: {err}"
        ) from None
    if target.kind in "iu":
        # A second pass, for integer inputs only (images come as floats); regular by now.
        given = np.asarray(value)
        if given.dtype.kind == "f" and not np.array_equal(given, np.trunc(given)):
            raise InvalidInputError(
                f"{what} holds fractional numbers; {target.name} takes whole numbers"
            )
    return array


def decode_json_data(
    data: Any, shape: tuple[int, ...], dtype: str, body_size: int, what: str
) -> np.ndarray:
    """An array from JSON ``data`` (flat or nested row-major lists) of ``shape``."""
    count = math.prod(shape)
    # Each JSON number takes at least 2 bytes ("0,"): a larger count cannot be in the body.
    if count > body_size:
        raise InvalidInputError(
            f"{what}: shape {list(shape)} declares {count} values, more than the body could hold"
        )
    if not isinstance(data, list):
        data = [data]
    array = to_array(data, dtype, f"{what}: 'data'")
    if array.size != count:
        raise InvalidInputError(
            f"{what}: shape {list(shape)} needs {count} values, 'data' holds {array.size}"
        )
    return array.reshape(shape)
