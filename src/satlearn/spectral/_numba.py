"""The numba engine: a :class:`~satlearn.spectral._formula.Program` as one fused loop.

Arrays of 4 Mpx and more take this road: the same program, step for step,
becomes one float32 loop compiled with numba (``parallel=True``), so each
pixel is read once and written once, at close to memory bandwidth. The loop's
source is generated from the parsed program alone, with fixed operator
spellings and numbered registers, never from the formula's text; it is
compiled once per program and kept in a small cache. numba is imported on
the first large array, not with this module.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from satlearn.spectral._formula import Program

__all__ = ["jit_usable", "run_jit"]

# Below this many pixels the NumPy program runs: compiling a formula costs a few
# hundred milliseconds once, which only a large array pays back.
_JIT_MIN_PIXELS = 1 << 22
_JIT_BLOCK = 16384  # below this many pixels one thread runs the loop: a launch costs more
_JIT_CACHE_SIZE = 64
_JIT_DTYPES = frozenset("bBhHiIlLqQfd")  # integer and float32/64 inputs; others take NumPy
_jit_kernels: OrderedDict[str, Callable[..., None]] = OrderedDict()
_jit_lock = threading.Lock()  # one parallel launch at a time: numba's workqueue is not reentrant


@functools.cache
def _numba() -> Any:
    """The numba module, or None when it cannot be imported."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is installed where tests run
        return None
    return numba


# How each program step reads in the generated scalar code. Only these fixed
# spellings, integers and the identifiers r<n>, x<n>, c[<n>] ever reach the source.
_JIT_BINARY = {np.add: "+", np.subtract: "-", np.multiply: "*", np.divide: "/", np.power: "**"}
_JIT_UNARY = {
    np.negative: "-{0}",
    np.square: "{0} * {0}",
    np.sqrt: "np.sqrt({0})",
    np.positive: "{0}",
}


def _jit_source(
    program: Program,
    constants: list[float],
    loads: Sequence[tuple[bool, bool]],
    check_nodata: bool,
    parallel: bool,
) -> str:
    """Source of a numba function running ``program`` pixel by pixel.

    Each NumPy step becomes one float32 scalar statement in the same order, so
    both paths round alike and put NaN in the same places. ``constants`` is
    filled with the program's numbers, passed to the function as a float32
    array (a literal would be float64 and change the rounding).
    """
    index_of = {symbol: j for j, symbol in enumerate(program.symbols)}

    def operand(value: Any) -> str:
        if isinstance(value, int):
            return f"r{value}"
        constants.append(float(value))
        return f"c[{len(constants) - 1}]"

    body: list[str] = []
    for step in program.steps:
        kind, reg = step[0], f"r{int(step[1])}"
        if kind == "load":
            j = index_of[step[2]]
            body.append(f"{reg} = np.float32(x{j}[i])")
            has_shift, has_scale = loads[j]
            if has_shift:
                body.append(f"{reg} = {reg} + shift[{j}]")
            if has_scale:
                body.append(f"{reg} = {reg} * scale[{j}]")
        elif kind == "ufunc":
            left, right = operand(step[3]), operand(step[4])
            body.append(f"{reg} = {left} {_JIT_BINARY[step[2]]} {right}")
        elif kind == "unary":
            body.append(f"{reg} = " + _JIT_UNARY[step[2]].format(operand(step[3])))
        else:  # zero_den
            body.append(f"if r{int(step[2])} == 0:")
            body.append(f"    {reg} = nan")
    body.append(f"value = r{int(program.result)}")
    bad = ["np.isinf(value)"]
    if check_nodata:
        bad += [f"(x{j}[i] == nodata{j})" for j in range(len(program.symbols))]
    body.append(f"out[i] = nan if {' | '.join(bad)} else value")

    inputs = ", ".join(f"x{j}" for j in range(len(program.symbols)))
    nodata = "".join(f", nodata{j}" for j in range(len(program.symbols)))
    # One flat loop: prange hands each thread one contiguous run of pixels, and
    # an index counting up from zero lets LLVM drop numba's negative-index
    # wraparound and vectorise the body. The earlier loop over 16 Ki blocks
    # (``range(block * B, min(size, ...))``) kept the wraparound select on
    # every load and ran 3-5x slower, at a fifth of the bandwidth bound.
    outer = "numba.prange" if parallel else "range"
    lines = [
        f"def kernel(out, c, shift, scale, nan, {inputs}{nodata}):",
        "    size = out.size",
        f"    for i in {outer}(size):",
        *(f"        {line}" for line in body),
    ]
    return "\n".join(lines) + "\n"


def _jit_kernel(source: str, parallel: bool) -> Callable[..., None]:
    """Compile ``source`` once (memoised, least recently used dropped first)."""
    with _jit_lock:
        kernel = _jit_kernels.get(source)
        if kernel is not None:
            _jit_kernels.move_to_end(source)
            return kernel
    numba = _numba()
    namespace: dict[str, Any] = {"np": np, "numba": numba}
    # The source is built only from the fixed spellings above and integers.
    exec(compile(source, "<satlearn.spectral kernel>", "exec"), namespace)
    kernel = numba.njit(parallel=parallel, fastmath=False, error_model="numpy", cache=False)(
        namespace["kernel"]
    )
    with _jit_lock:
        _jit_kernels[source] = kernel
        while len(_jit_kernels) > _JIT_CACHE_SIZE:
            _jit_kernels.popitem(last=False)
    return kernel


def jit_usable(arrays: Sequence[np.ndarray], size: int) -> bool:
    """Whether the compiled loop takes ``arrays``: large enough, compiled dtypes, numba there."""
    return (
        size >= _JIT_MIN_PIXELS
        and all(a.dtype.char in _JIT_DTYPES for a in arrays)
        and _numba() is not None
    )


def _nodata_as(dtype: np.dtype, nodata: float) -> Any:
    """``nodata`` typed so that ``raw == nodata`` in the loop answers as NumPy's does.

    NumPy compares an array with a Python float in ``result_type(dtype, 0.0)``
    (float64 for uint16). Where the array's own dtype holds the value exactly
    and float64 holds every value of the dtype (integers and floats of up to
    4 bytes), comparing in the array's dtype gives the same answers and keeps
    the test as narrow as the data (16 uint16 lanes a vector, not 4 float64):
    the nodata mask then costs a few percent instead of a third of the loop.
    """
    wide = np.result_type(dtype, 0.0).type(nodata)
    if dtype.itemsize > 4 or dtype.kind not in "iuf":
        return wide
    if dtype.kind == "f":
        narrow = dtype.type(nodata)
        return narrow if float(narrow) == float(wide) else wide
    info = np.iinfo(dtype)
    if float(wide).is_integer() and info.min <= float(wide) <= info.max:
        return dtype.type(int(wide))
    return wide  # never equal to a value of the dtype, as in NumPy


def run_jit(
    program: Program,
    flat_inputs: Sequence[np.ndarray],
    loads: Mapping[str, tuple[float, float]],
    out: np.ndarray,
    nodata: float | None,
    workers: int,
) -> None:
    """Run ``program`` as one compiled loop over every pixel of ``out``."""
    check_nodata = nodata is not None and not np.isnan(nodata)
    shift_scale = [loads[s] for s in program.symbols]
    flags = [(shift != 0.0, scale != 1.0) for shift, scale in shift_scale]
    parallel = workers > 1 and out.size > _JIT_BLOCK
    constants: list[float] = []
    source = _jit_source(program, constants, flags, check_nodata, parallel)
    kernel = _jit_kernel(source, parallel)
    with np.errstate(all="ignore"):
        c = np.array(constants or [0.0], dtype=np.float32)
        shift = np.array([s for s, _ in shift_scale], dtype=np.float32)
        scale = np.array([k for _, k in shift_scale], dtype=np.float32)
        nodatas = [_nodata_as(a.dtype, nodata if check_nodata else 0.0) for a in flat_inputs]
    args = (out, c, shift, scale, np.float32(np.nan), *flat_inputs, *nodatas)
    if not parallel:
        kernel(*args)
        return
    numba = _numba()
    with _jit_lock:
        numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
        kernel(*args)
