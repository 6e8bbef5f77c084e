"""The NumPy engine: a :class:`~satlearn.spectral._formula.Program` run piece by piece.

The scene is cut into cache-sized pieces (64 Ki pixels) handed to a pool of
threads in tasks of 16 pieces. Within a piece each band is read once, cast to
float32 and scaled, every intermediate lives in a small reused buffer, and the
last step writes straight into the output: no temporary the size of the scene
is made, and NumPy's SIMD ufunc loops do the arithmetic (they release the GIL,
hence the threads).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from satlearn.spectral._formula import Program

__all__ = ["run_numpy"]

_PIECE = 65536  # pixels per piece: a few float32 buffers of it stay in a core's L2 cache
_TASK = 16 * _PIECE  # pixels per thread-pool task


def run_numpy(
    program: Program,
    inputs: Mapping[str, np.ndarray],
    loads: Mapping[str, tuple[float, float]],
    out: np.ndarray,
    nodata: float | None,
    workers: int,
) -> None:
    """Run ``program`` over every pixel of the flat ``out``, in ``workers`` threads.

    ``inputs`` maps each of ``program.symbols`` to a flat array as long as
    ``out``; ``loads`` to its ``(shift, scale)``.
    """
    run = functools.partial(_run_task, program, dict(inputs), dict(loads))
    size = out.size
    spans = [(lo, min(lo + _TASK, size)) for lo in range(0, size, _TASK)]
    if workers == 1 or len(spans) == 1:
        for lo, hi in spans:
            run(out, nodata, lo, hi)
    else:
        with ThreadPoolExecutor(min(workers, len(spans))) as pool:
            for future in [pool.submit(run, out, nodata, lo, hi) for lo, hi in spans]:
                future.result()


def _run_task(
    program: Program,
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
