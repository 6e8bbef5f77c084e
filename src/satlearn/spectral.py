"""Spectral indices from the Awesome Spectral Indices catalogue.

Every index of the catalogue (Montero et al., 2023) that a scene's bands allow
is computed by its short name (``"ndvi"``, ``"evi"``, ``"savi"``, ``"ndwi"``,
``"mndwi"``, ``"nbr"``, ...). Definitions are not retyped here: the formulas,
band lists and constant defaults are read from the catalogue that the
``spyndex`` package ships (``spyndex.indices``, ``spyndex.constants``).

Bands
-----
The catalogue names bands by symbols; satlearn's band names map onto them by
wavelength range (nm, from ``spyndex.bands``):

======  =====================  ============  ==========================
symbol  satlearn band          range (nm)    note
======  =====================  ============  ==========================
A       coastal                400-455
B       blue                   450-530
G1      green1                 510-550       PlanetScope SuperDove B3
G       green                  510-600
Y       yellow                 585-625
R       red                    620-690
RE1     rededge1, rededge      695-715       a single red-edge band is RE1
RE2     rededge2               730-750
RE3     rededge3               765-795
N       nir                    760-900       Landsat OLI B5 is ``nir``
N2      nir08                  850-880       Sentinel-2 B8A
WV      nir09                  930-960
S1      swir16                 1550-1750
S2      swir22                 2080-2350
T       lwir, lwir11           10400-12500   Landsat B10 when no ``lwir``
T1      lwir11                 10600-11190
T2      lwir12                 11500-12510
VV..HV  vv, vh, hh, hv                       radar backscatter
======  =====================  ============  ==========================

Where a raster's band coordinate holds sensor band ids (``"B08"``) and
``da.attrs["sensor"]`` names the sensor, the ids are translated to names.

Constants
---------
Catalogue constants (``L``, ``g``, ``C1``, ``C2``, ``alpha``, ``gamma``, ...)
take the catalogue's defaults and are overridden by keyword:
``compute_index(da, "savi", L=0.5)``. The wavelength constants
(``lambdaN``, ``lambdaR``, ...) default to the band centres (nm) of the sensor
in ``da.attrs["sensor"]`` when one is recorded. Parameters without a default
(``PAR``, the kernel values ``kNN``, ``kNR``, ...) must be given, as numbers or
as arrays / DataArrays shaped like one band; until then the indices needing
them are not in :func:`available_indices`.

Evaluation
----------
Each formula is parsed once with :mod:`ast` against a whitelist (numbers,
band symbols, constants, ``+ - * / **`` and unary minus; anything else is
refused, and nothing is ever passed to ``eval``), its constant sub-expressions
folded, and compiled into a short program of NumPy ufunc calls. The program
runs over cache-sized pieces of the scene (64 Ki pixels) in a pool of threads:
each band is read once per piece, cast to float32 and scaled there
(``value * scale + offset``), every intermediate lives in a small reused
buffer, and the result is written straight into the output. So no temporary
the size of the scene is made, whatever the formula, and the SIMD loops of
NumPy's ufuncs do the arithmetic. Pixels where any input band equals the
nodata value, divisions by zero (``x/0`` and ``0/0``) and overflows give NaN,
without a warning and never ``inf``. Dask-backed arrays are evaluated block by
block (``xarray.apply_ufunc(..., dask="parallelized")``).

Arrays of 4 Mpx and more take a faster road: the same program, step for step,
becomes one fused float32 loop compiled with numba (``parallel=True``), so
each pixel is read once and written once, at close to memory bandwidth
(numexpr, the usual tool for this, runs at under a fifth of that speed on
uint16 bands here; see ``docs/benchmarks.md``). The loop's
source is generated from the parsed program alone, with fixed operator
spellings and numbered registers, never from the formula's text; it is
compiled once per program and kept in a small cache. Both roads round alike,
bit for bit.

References
----------
Montero, D., Aybar, C., Mahecha, M. D., Martinuzzi, F., Söchting, M., &
Wieneke, S. (2023). A standardized catalogue of spectral indices to advance
the use of remote sensing in Earth system research. Scientific Data, 10, 197.
https://doi.org/10.1038/s41597-023-02096-0

Examples
--------
>>> from satlearn.ops.indices import compute_index, available_indices
>>> ndvi = compute_index(scene, "ndvi")  # doctest: +SKIP
>>> both = compute_index(scene, ["ndvi", "savi"], L=0.5)  # doctest: +SKIP
>>> "NDWI" in available_indices(scene)  # doctest: +SKIP
True
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.bands import band_positions, band_scale_offset, get_sensor
from satlearn.errors import InvalidInputError, SatlearnError, UnknownBandError
from satlearn.raster import copy_grid, nodata_value

__all__ = [
    "BAND_SYMBOLS",
    "available_indices",
    "compute_index",
    "describe_index",
    "evaluate_formula",
    "index_names",
    "resolve_index_name",
]

#: Catalogue band symbol -> satlearn band names that stand for it, in order of preference.
BAND_SYMBOLS: dict[str, tuple[str, ...]] = {
    "A": ("coastal",),
    "B": ("blue",),
    "G1": ("green1",),
    "G": ("green",),
    "Y": ("yellow",),
    "R": ("red",),
    "RE1": ("rededge1", "rededge"),
    "RE2": ("rededge2",),
    "RE3": ("rededge3",),
    "N": ("nir",),
    "N2": ("nir08",),
    "WV": ("nir09",),
    "S1": ("swir16",),
    "S2": ("swir22",),
    "T": ("lwir", "lwir11"),
    "T1": ("lwir11",),
    "T2": ("lwir12",),
    "VV": ("vv",),
    "VH": ("vh",),
    "HH": ("hh",),
    "HV": ("hv",),
}

# Wavelength constants and the band symbol whose centre they are.
_WAVELENGTH_CONSTANTS = {
    "lambdaG": "G",
    "lambdaR": "R",
    "lambdaN": "N",
    "lambdaN2": "N2",
    "lambdaS1": "S1",
    "lambdaS2": "S2",
}

_PIECE = 65536  # pixels per piece: a few float32 buffers of it stay in a core's L2 cache
_TASK = 16 * _PIECE  # pixels per thread-pool task


# --------------------------------------------------------------------------- catalogue


@functools.cache
def _catalogue() -> dict[str, Any]:
    import spyndex

    return dict(spyndex.indices.items())


@functools.cache
def _constant_defaults() -> dict[str, float | None]:
    import spyndex

    return {name: c.default for name, c in spyndex.constants.items()}


def index_names() -> list[str]:
    """Every index short name of the catalogue, in catalogue spelling (``"NDVI"``, ``"kNDVI"``)."""
    return list(_catalogue())


def resolve_index_name(name: str) -> str:
    """The catalogue spelling of ``name``, matched case-insensitively.

    Two pairs differ only by case (``BAI`` / ``BaI``, ``MSR705`` / ``mSR705``):
    an exact spelling picks either, any other spelling the upper-case one.
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"an index name must be a string, got {type(name).__name__}")
    catalogue = _catalogue()
    if name in catalogue:
        return name
    matches = [k for k in catalogue if k.lower() == name.strip().lower()]
    if len(matches) == 1:
        return matches[0]
    upper = [k for k in matches if k == k.upper()]
    if upper:
        return upper[0]
    lowered = {k.lower(): k for k in catalogue}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3)
    hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
    raise InvalidInputError(
        f"unknown spectral index {name!r}{hint} (see satlearn.ops.indices.index_names())"
    )


def describe_index(name: str) -> dict[str, Any]:
    """What the catalogue says of an index.

    Returns
    -------
    dict
        ``short_name``, ``long_name``, ``formula``, ``bands`` (catalogue
        symbols), ``band_names`` (satlearn names per symbol), ``constants``
        (name -> default, None where there is none), ``application_domain``,
        ``reference`` and ``platforms``.

    Examples
    --------
    >>> describe_index("ndvi")["formula"]
    '(N-R)/(N+R)'
    """
    short = resolve_index_name(name)
    entry = _catalogue()[short]
    symbols = _formula(short).symbols
    defaults = _constant_defaults()
    return {
        "short_name": short,
        "long_name": entry.long_name,
        "formula": entry.formula,
        "bands": [s for s in symbols if s not in defaults],
        "band_names": {s: list(BAND_SYMBOLS.get(s, ())) for s in symbols if s not in defaults},
        "constants": {s: defaults[s] for s in symbols if s in defaults},
        "application_domain": entry.application_domain,
        "reference": entry.reference,
        "platforms": list(entry.platforms),
    }


# --------------------------------------------------------------------------- formula compiler

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


@dataclass(frozen=True)
class _Formula:
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
            f"formula {text!r}: {type(node).__name__} is not allowed "
            "(only numbers, band symbols, constants, + - * / ** and unary minus)"
        )


@functools.cache
def _parse(text: str) -> _Formula:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise InvalidInputError(f"formula {text!r} is not an expression ({err.msg})") from None
    _check_tree(tree, text)
    symbols = dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return _Formula(tree.body, tuple(symbols))


def _formula(short: str) -> _Formula:
    return _parse(_catalogue()[short].formula)


def _fold(node: ast.expr, scalars: Mapping[str, float]) -> Any:
    """Replace names bound to numbers and fold constant sub-trees.

    Returns a float for a constant sub-tree, else a nested tuple
    ``("name", symbol)`` / ``(op, left, right)`` / ``("neg", operand)``.
    """
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(scalars[node.id]) if node.id in scalars else ("name", node.id)
    if isinstance(node, ast.UnaryOp):
        operand = _fold(node.operand, scalars)
        if isinstance(node.op, ast.UAdd):
            return operand
        return -operand if isinstance(operand, float) else ("neg", operand)
    assert isinstance(node, ast.BinOp)  # guaranteed by _check_tree
    op = _BINARY[type(node.op)]
    left, right = _fold(node.left, scalars), _fold(node.right, scalars)
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
class _Program:
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


def _compile(tree: Any) -> _Program:
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
    return _Program(tuple(steps), count, result, tuple(loaded))


def _power_step(base: Any, exponent: float) -> tuple[Any, ...]:
    if exponent == 2.0:
        return ("unary", np.square, base)
    if exponent == 0.5:
        return ("unary", np.sqrt, base)
    if exponent == 1.0:
        return ("unary", np.positive, base)
    return ("ufunc", np.power, base, exponent)


# --------------------------------------------------------------------------- kernel


def evaluate_formula(
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
    """Evaluate an index formula on numpy arrays into a float32 array.

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
    >>> evaluate_formula("(N-R)/(N+R)", {"N": nir, "R": red})
    array([[0.6666667,       nan]], dtype=float32)
    """
    parsed = _parse(formula)
    constants = dict(constants or {})
    missing = [s for s in parsed.symbols if s not in inputs and s not in constants]
    if missing:
        raise InvalidInputError(f"formula {formula!r}: no value for {', '.join(missing)}")
    program = _compile(_fold(parsed.tree, constants))
    used = {s: inputs[s] for s in program.symbols}
    try:
        arrays = np.broadcast_arrays(*(np.asarray(a) for a in used.values())) if used else []
    except ValueError as err:
        raise InvalidInputError(f"formula {formula!r}: inputs do not broadcast ({err})") from None
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
        out.fill(np.float32(program.result))  # a formula of constants only
        if not math.isfinite(program.result):
            out.fill(np.nan)
        return out
    flat_inputs = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    flat_out = out.reshape(-1)
    loads = {s: _shift_scale(scales, offsets, s) for s in program.symbols}
    size = flat_out.size
    workers = _threads(threads)
    if _jit_usable(flat_inputs, size):
        _run_jit(program, flat_inputs, loads, flat_out, nodata, workers)
        return out
    run = functools.partial(_run_task, program, dict(zip(used, flat_inputs, strict=True)), loads)
    spans = [(lo, min(lo + _TASK, size)) for lo in range(0, size, _TASK)]
    if workers == 1 or len(spans) == 1:
        for lo, hi in spans:
            run(flat_out, nodata, lo, hi)
    else:
        with ThreadPoolExecutor(min(workers, len(spans))) as pool:
            for future in [pool.submit(run, flat_out, nodata, lo, hi) for lo, hi in spans]:
                future.result()
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


def _threads(threads: int | None) -> int:
    if threads is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            return os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInputError(f"threads must be a positive int, got {threads!r}")
    return threads


def _run_task(
    program: _Program,
    inputs: dict[str, np.ndarray],
    loads: dict[str, tuple[float, float]],
    out: np.ndarray,
    nodata: float | None,
    lo: int,
    hi: int,
) -> None:
    """Run ``program`` on ``out[lo:hi]``, a piece of at most _PIECE pixels at a time."""
    piece = min(_PIECE, hi - lo)
    buffers = [np.empty(piece, dtype=np.float32) for _ in range(program.n_registers)]
    flags = np.empty(piece, dtype=bool)
    spare = np.empty(piece, dtype=bool)
    check_nodata = nodata is not None and not np.isnan(nodata)
    nan = np.float32(np.nan)
    with np.errstate(all="ignore"):
        for start in range(lo, hi, piece):
            stop = min(start + piece, hi)
            n = stop - start
            regs = [b[:n] for b in buffers]
            target = out[start:stop]
            # The last step writes straight into the output.
            regs[program.result] = (
                target if program.steps[-1][1] == program.result else regs[program.result]
            )
            for step in program.steps:
                kind, reg = step[0], regs[step[1]]
                if kind == "ufunc":
                    a, b = step[3], step[4]
                    step[2](
                        regs[a] if isinstance(a, int) else np.float32(a),
                        regs[b] if isinstance(b, int) else np.float32(b),
                        out=reg,
                    )
                elif kind == "unary":
                    a = step[3]
                    step[2](regs[a], out=reg)
                elif kind == "load":
                    np.copyto(reg, inputs[step[2]][start:stop], casting="unsafe")
                    shift, scale = loads[step[2]]
                    # (value + offset / scale) * scale: exact zero for integer DNs at
                    # the offset (DN 1000 with 1/10000 and -0.1), one rounding only.
                    if shift != 0.0:
                        np.add(reg, np.float32(shift), out=reg)
                    if scale != 1.0:
                        np.multiply(reg, np.float32(scale), out=reg)
                else:  # zero_den
                    np.equal(regs[step[2]], 0, out=flags[:n])
                    np.copyto(reg, nan, where=flags[:n])
            if target is not regs[program.result]:
                np.copyto(target, regs[program.result])
            # inf only from x/0 or overflow: both are NaN by contract.
            bad = flags[:n]
            np.isinf(target, out=bad)
            if check_nodata:
                for raw in inputs.values():
                    np.equal(raw[start:stop], nodata, out=spare[:n])
                    np.logical_or(bad, spare[:n], out=bad)
            np.copyto(target, nan, where=bad)


# --------------------------------------------------------------------------- compiled kernel

# Below this many pixels the NumPy program runs: compiling a formula costs a few
# hundred milliseconds once, which only a large array pays back.
_JIT_MIN_PIXELS = 1 << 22
_JIT_BLOCK = 16384  # pixels per inner loop: long enough for SIMD, short enough to balance threads
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
    program: _Program,
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
    outer = "numba.prange" if parallel else "range"
    lines = [
        f"def kernel(out, c, shift, scale, nan, {inputs}{nodata}):",
        "    size = out.size",
        f"    for block in {outer}((size + {_JIT_BLOCK} - 1) // {_JIT_BLOCK}):",
        f"        for i in range(block * {_JIT_BLOCK}, min(size, (block + 1) * {_JIT_BLOCK})):",
        *(f"            {line}" for line in body),
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
    exec(compile(source, "<satlearn.ops.indices kernel>", "exec"), namespace)
    kernel = numba.njit(parallel=parallel, fastmath=False, error_model="numpy", cache=False)(
        namespace["kernel"]
    )
    with _jit_lock:
        _jit_kernels[source] = kernel
        while len(_jit_kernels) > _JIT_CACHE_SIZE:
            _jit_kernels.popitem(last=False)
    return kernel


def _jit_usable(arrays: Sequence[np.ndarray], size: int) -> bool:
    return (
        size >= _JIT_MIN_PIXELS
        and all(a.dtype.char in _JIT_DTYPES for a in arrays)
        and _numba() is not None
    )


def _run_jit(
    program: _Program,
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
        # The nodata test compares like NumPy's ``raw == nodata`` does: in the
        # dtype NumPy would pick for that array and a Python float.
        nodatas = [
            np.result_type(a.dtype, 0.0).type(nodata if check_nodata else 0.0) for a in flat_inputs
        ]
    args = (out, c, shift, scale, np.float32(np.nan), *flat_inputs, *nodatas)
    if not parallel:
        kernel(*args)
        return
    numba = _numba()
    with _jit_lock:
        numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
        kernel(*args)


# --------------------------------------------------------------------------- DataArray layer


def _symbol_band(symbol: str, lookup: Mapping[str, int]) -> str | None:
    for name in BAND_SYMBOLS.get(symbol, ()):
        if name in lookup:
            return name
    return None


def _sensor_wavelengths(da: xr.DataArray) -> dict[str, float]:
    """Wavelength constants (nm) from the sensor named in ``da.attrs["sensor"]``."""
    sensor = da.attrs.get("sensor")
    if not sensor:
        return {}
    try:
        profile = get_sensor(str(sensor))
    except SatlearnError:
        return {}
    values = {}
    for constant, symbol in _WAVELENGTH_CONSTANTS.items():
        for name in BAND_SYMBOLS[symbol]:
            if name in profile.names:
                values[constant] = profile.band(name).center_wavelength * 1000.0
                break
    return values


def _check_dataarray(da: Any) -> None:
    if not isinstance(da, xr.DataArray):
        raise InvalidInputError(
            f"spectral indices need an xarray.DataArray, got {type(da).__name__}"
        )
    if "band" not in da.dims:
        raise InvalidInputError(f"spectral indices need a 'band' dimension, got dims {da.dims}")
    if da.dtype.kind not in "uif":
        raise InvalidInputError(f"spectral indices need numeric bands, got dtype {da.dtype}")


@dataclass
class _Plan:
    short: str
    bands: dict[str, str]  # symbol -> band name
    arrays: dict[str, Any]  # symbol -> array-valued parameter
    scalars: dict[str, float]  # constant -> value


def _plan(
    da: xr.DataArray, short: str, lookup: Mapping[str, int], params: Mapping[str, Any]
) -> tuple[_Plan | None, list[str], list[str]]:
    """How to compute ``short`` on ``da``: (plan, missing bands, missing constants)."""
    defaults = _constant_defaults()
    wavelengths = _sensor_wavelengths(da)
    bands: dict[str, str] = {}
    arrays: dict[str, Any] = {}
    scalars: dict[str, float] = {}
    missing_bands: list[str] = []
    missing_constants: list[str] = []
    for symbol in _formula(short).symbols:
        if symbol in params:
            value = params[symbol]
            if isinstance(value, xr.DataArray | np.ndarray):
                arrays[symbol] = value
            else:
                scalars[symbol] = float(value)
        elif symbol in defaults:
            value = defaults[symbol]
            if value is None:
                value = wavelengths.get(symbol)
            if value is None:
                missing_constants.append(symbol)
            else:
                scalars[symbol] = float(value)
        else:
            band = _symbol_band(symbol, lookup)
            if band is None:
                missing_bands.append(symbol)
            else:
                bands[symbol] = band
    if missing_bands or missing_constants:
        return None, missing_bands, missing_constants
    return _Plan(short, bands, arrays, scalars), [], []


def _check_params(params: Mapping[str, Any], shorts: Sequence[str]) -> None:
    used = {s for short in shorts for s in _formula(short).symbols}
    for key, value in params.items():
        if key in BAND_SYMBOLS and key not in _constant_defaults():
            raise InvalidInputError(
                f"{key!r} is a band symbol ({'/'.join(BAND_SYMBOLS[key])}); "
                "bands come from the DataArray, not from keywords"
            )
        if key not in used:
            known = ", ".join(sorted(used & set(_constant_defaults()))) or "none"
            raise InvalidInputError(
                f"constant {key!r} is not used by {', '.join(shorts)}; their constants are {known}"
            )
        if isinstance(value, xr.DataArray | np.ndarray):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise InvalidInputError(f"constant {key}={value!r} is not a number or an array")


def available_indices(da: xr.DataArray, **params: Any) -> list[str]:
    """Short names of every catalogue index that ``da``'s bands allow.

    An index needing a parameter without a default (``PAR``, kernel values
    such as ``kNN``, wavelengths when no sensor is recorded) is listed only
    when that parameter is given here by keyword.

    Examples
    --------
    >>> available_indices(rgbn_scene)[:3]  # doctest: +SKIP
    ['ARI', 'ARI2', 'ARVI']
    """
    _check_dataarray(da)
    lookup = band_positions(da)
    return sorted(
        (short for short in _catalogue() if _plan(da, short, lookup, params)[0] is not None),
        key=str.lower,
    )


def _compute_one(
    da: xr.DataArray, plan: _Plan, lookup: Mapping[str, int], threads: int | None
) -> xr.DataArray:
    symbols = list(plan.bands) + list(plan.arrays)
    scales: dict[str, float] = {}
    offsets: dict[str, float] = {}
    operands = []
    for symbol, band in plan.bands.items():
        position = lookup[band]
        scales[symbol], offsets[symbol] = band_scale_offset(da, position)
        operands.append(da.isel(band=position, drop=True).reset_coords(drop=True))
    band_dims = da.isel(band=0, drop=True).dims
    for symbol, value in plan.arrays.items():
        if not isinstance(value, xr.DataArray):
            if value.ndim > len(band_dims):
                raise InvalidInputError(
                    f"parameter {symbol} has {value.ndim} dims; a band has {len(band_dims)}"
                )
            value = xr.DataArray(value, dims=band_dims[len(band_dims) - value.ndim :])
        operands.append(value)
    nodata = nodata_value(da)
    formula = _catalogue()[plan.short].formula
    dask_backed = any(getattr(op, "chunks", None) is not None for op in operands)

    def kernel(*arrays: np.ndarray) -> np.ndarray:
        inputs = dict(zip(symbols, arrays, strict=True))
        return evaluate_formula(
            formula,
            inputs,
            constants=plan.scalars,
            scales=scales,
            offsets=offsets,
            nodata=nodata,
            # Dask already runs one block per thread.
            threads=1 if dask_backed and threads is None else threads,
        )

    result = xr.apply_ufunc(
        kernel, *operands, dask="parallelized", output_dtypes=[np.float32], keep_attrs=False
    )
    return result.rename(plan.short)


def compute_index(
    da: xr.DataArray,
    name: str | Iterable[str],
    *,
    threads: int | None = None,
    **constants: Any,
) -> xr.DataArray:
    """Compute one or several spectral indices of the catalogue.

    Parameters
    ----------
    da : xarray.DataArray
        Dims ``(band, y, x)`` or ``(time, band, y, x)``, numpy- or
        dask-backed, with satlearn band names on ``band``. Integer bands with
        ``scale`` / ``offset`` coordinates along ``band`` (as
        :func:`satlearn.raster.open_raster` returns them) are scaled to
        reflectance inside the evaluation; pixels equal to ``da.rio.nodata``
        become NaN.
    name : str or iterable of str
        Index short names, case-insensitive (``"ndvi"``, ``"EVI"``); a
        comma-separated string (``"ndvi,ndwi"``) also names several.
    threads : int, optional
        Threads for numpy-backed input; default: all CPUs this process may use
        (dask-backed input: one per block, dask runs blocks in parallel).
    **constants : float or array
        Catalogue constants overriding the defaults (``L=0.5``, ``g=2.5``,
        ``alpha=0.2``), and parameters without a default (``PAR=...``,
        ``kNN=...``); arrays and DataArrays are used pixel by pixel.

    Returns
    -------
    xarray.DataArray
        float32. One index: dims ``(y, x)`` (or ``(time, y, x)``), named by the
        catalogue short name (``"NDVI"``). Several: dims ``(band, y, x)``
        with the short names on ``band``. Coordinates, CRS and transform are
        kept; nodata is NaN.

    Raises
    ------
    InvalidInputError
        Unknown index name or constant, a constant without a value, bad input.
    UnknownBandError
        ``da`` lacks bands the index needs; the message names them.

    Examples
    --------
    >>> ndvi = compute_index(scene, "ndvi")  # doctest: +SKIP
    >>> savi = compute_index(scene, "savi", L=0.25)  # doctest: +SKIP
    >>> stack = compute_index(scene, ["ndvi", "ndwi", "nbr"])  # doctest: +SKIP
    >>> stack.band.values.tolist()  # doctest: +SKIP
    ['NDVI', 'NDWI', 'NBR']

    References
    ----------
    Montero, D. et al. (2023). A standardized catalogue of spectral indices to
    advance the use of remote sensing in Earth system research. Scientific
    Data, 10, 197. https://doi.org/10.1038/s41597-023-02096-0
    """
    _check_dataarray(da)
    single = isinstance(name, str) and "," not in name
    requested = [name] if single else _split_names(name)
    if not requested:
        raise InvalidInputError("no index name given")
    shorts = list(dict.fromkeys(resolve_index_name(n) for n in requested))
    _check_params(constants, shorts)
    _threads(threads)  # validate early
    lookup = band_positions(da)
    plans = []
    for short in shorts:
        plan, missing_bands, missing_constants = _plan(da, short, lookup, constants)
        if missing_bands:
            wanted = ", ".join(
                f"{s} ({'/'.join(BAND_SYMBOLS.get(s, (s,)))})" for s in missing_bands
            )
            raise UnknownBandError(
                f"{short} needs band(s) {wanted}, which the DataArray lacks; "
                f"its bands are {', '.join(lookup) or 'none'}"
            )
        if missing_constants:
            raise InvalidInputError(
                f"{short} needs {', '.join(missing_constants)}, which have no default; "
                f"pass them by keyword, e.g. compute_index(da, {short!r}, "
                f"{missing_constants[0]}=...)"
            )
        assert plan is not None
        plans.append(plan)
    results = [_compute_one(da, plan, lookup, threads) for plan in plans]
    if single:
        result = results[0]
        result.attrs.update(_index_attrs(shorts[0]))
    else:
        result = xr.concat(results, dim="band", coords="minimal", compat="override")
        result = result.assign_coords(band=shorts)
        result.name = None
        result.attrs["long_name"] = [_catalogue()[s].long_name for s in shorts]
    return _georeferenced(result, da)


def _split_names(name: str | Iterable[str]) -> list[str]:
    if isinstance(name, str):
        return [part.strip() for part in name.split(",") if part.strip()]
    if not isinstance(name, Iterable):
        raise InvalidInputError(f"an index name must be a string, got {name!r}")
    names = list(name)
    for n in names:
        if not isinstance(n, str):
            raise InvalidInputError(f"an index name must be a string, got {n!r}")
    return names


def _index_attrs(short: str) -> dict[str, str]:
    entry = _catalogue()[short]
    return {"long_name": entry.long_name, "formula": entry.formula, "reference": entry.reference}


def _georeferenced(result: xr.DataArray, source: xr.DataArray) -> xr.DataArray:
    """Carry the source's grid (CRS and GeoTransform) and mark NaN as nodata."""
    result = copy_grid(result, source)
    result.rio.write_nodata(np.nan, encoded=False, inplace=True)
    return result
