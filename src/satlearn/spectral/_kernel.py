"""The pure kernel: a formula computed on NumPy arrays, by the NumPy or the numba engine.

:func:`compute_formula` checks the inputs, compiles the formula
(:mod:`satlearn.spectral._formula`) and runs the program on the numba engine
for large arrays of compiled dtypes, else on the NumPy engine; both round
alike, bit for bit. No xarray, no I/O.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from satlearn.errors import InvalidInputError
from satlearn.spectral._formula import compile_program, fold_constants, parse_formula, shown
from satlearn.spectral._numba import jit_usable, run_jit
from satlearn.spectral._numpy import run_numpy

__all__ = ["compute_formula", "resolve_threads"]


def compute_formula(
    formula: str,
    inputs: Mapping[str, np.ndarray],
    *,
    constants: Mapping[str, float] | None = None,
    scales: Mapping[str, float] | None = None,
    offsets: Mapping[str, float] | None = None,
    nodata: float | None = None,
    threads: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Compute an index formula on numpy arrays into a float32 array.

    The pure kernel under :func:`compute_index`: no xarray, no I/O.

    Parameters
    ----------
    formula : str
        An expression of numbers, symbols, ``+ - * / **`` and unary minus,
        such as ``"(N-R)/(N+R)"``. Anything else is refused.
    inputs : mapping of str to ndarray
        One array per array symbol, all of one shape (or broadcastable to it).
        Integer arrays are fine: they are cast to float32 piece by piece.
    constants : mapping of str to float, optional
        Values of the scalar symbols.
    scales, offsets : mapping of str to float, optional
        Per input symbol, ``value * scale + offset`` is used in the formula.
    nodata : float, optional
        Raw input value marking missing pixels; any input equal to it gives NaN.
    threads : int, optional
        Worker threads; default: the CPUs this process may use.
    out : ndarray of float32, optional
        Where to write the result (C-contiguous, the inputs' shape).

    Returns
    -------
    numpy.ndarray
        float32; NaN where an input is nodata, a denominator is zero or the
        value overflows float32.

    Raises
    ------
    InvalidInputError
        A symbol has no input or constant, the formula is not allowed, or the
        arrays do not broadcast.

    Examples
    --------
    >>> nir = np.array([[0.5, 0.0]], dtype="float32")
    >>> red = np.array([[0.1, 0.0]], dtype="float32")
    >>> compute_formula("(N-R)/(N+R)", {"N": nir, "R": red})
    array([[0.6666667,       nan]], dtype=float32)
    """
    parsed = parse_formula(formula)
    constants = dict(constants or {})
    missing = [s for s in parsed.symbols if s not in inputs and s not in constants]
    if missing:
        raise InvalidInputError(f"formula {shown(formula)}: no value for {', '.join(missing)}")
    program = compile_program(fold_constants(parsed.tree, constants))
    used = {s: inputs[s] for s in program.symbols}
    try:
        arrays = np.broadcast_arrays(*(np.asarray(a) for a in used.values())) if used else []
    except ValueError as err:
        raise InvalidInputError(
            f"formula {shown(formula)}: inputs do not broadcast ({err})"
        ) from None
    if not used:
        shape = np.broadcast_shapes(*(np.shape(a) for a in inputs.values())) if inputs else ()
    else:
        shape = arrays[0].shape
    for symbol, array in zip(used, arrays, strict=True):
        if array.dtype.kind not in "uifb":
            raise InvalidInputError(f"input {symbol!r} has dtype {array.dtype}, not a number")
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise InvalidInputError(
            f"out must be a C-contiguous float32 array of shape {shape}, "
            f"got {out.dtype} {out.shape}"
        )
    if not isinstance(program.result, int):
        # A formula of constants only. One beyond float32 (1e39) is NaN, not inf:
        # that is the documented rule for any value overflowing float32, and a
        # NaN is what NumPy users mask as invalid, where an inf would pass.
        with np.errstate(over="ignore"):
            value = np.float32(program.result)
        out.fill(value if np.isfinite(value) else np.nan)
        return out
    flat_inputs = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    flat_out = out.reshape(-1)
    loads = {s: _shift_scale(scales, offsets, s) for s in program.symbols}
    size = flat_out.size
    workers = resolve_threads(threads)
    if jit_usable(flat_inputs, size):
        run_jit(program, flat_inputs, loads, flat_out, nodata, workers)
        return out
    run_numpy(program, dict(zip(used, flat_inputs, strict=True)), loads, flat_out, nodata, workers)
    return out


def _shift_scale(
    scales: Mapping[str, float] | None, offsets: Mapping[str, float] | None, symbol: str
) -> tuple[float, float]:
    """(shift, scale) such that ``(value + shift) * scale == value * scale + offset``."""
    scale = float((scales or {}).get(symbol, 1.0))
    offset = float((offsets or {}).get(symbol, 0.0))
    if scale == 0.0 or not math.isfinite(scale):
        raise InvalidInputError(f"input {symbol!r}: scale {scale} is not a usable factor")
    return offset / scale, scale


def resolve_threads(threads: int | None) -> int:
    """The worker count: ``threads``, checked, or the CPUs this process may use."""
    if threads is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            return os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"threads must be a positive int, got {threads!r}")
    return threads
