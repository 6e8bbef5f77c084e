"""NDVI throughput on one Sentinel-2 tile: satlearn beside spyndex, naive numpy and a memory copy.

Method: two random uint16 bands (red, nir) of 10980 x 10980 pixels (one
Sentinel-2 tile at 10 m) in memory; NDVI = (N - R) / (N + R) into float32.
Each contender runs ``--repeat`` times (default 3) and the best time counts.

Compared, in the same run (what each row includes):

* memory copy: ``np.copyto`` between two pre-touched buffers as large as what
  NDVI reads plus writes (2 x uint16 in + 1 x float32 out = 8 bytes a pixel):
  the time to move the same bytes once, the bandwidth bound.
* satlearn: ``compute_formula`` (the kernel under ``compute_index``) on the
  uint16 arrays, with all CPUs and with one thread, writing into a pre-touched
  float32 ``out`` (the same buffer policy as the copy); once more allocating
  its output (fresh pages each call, like the naive rows). Large arrays run a
  fused kernel compiled with numba; the first call, which compiles it, is
  printed apart and is not one of the timed calls. Then ``compute_index`` on a
  (band, y, x) DataArray (allocating its output), and the same with
  ``scale``/``offset`` coordinates (1/10000, -0.1) and nodata 0, as an L2A
  scene opened by ``open_raster`` carries them.
* naive numpy: ``(n - r) / (n + r)`` on the float32-cast arrays, the casts and
  every temporary included (that is what a user writes from uint16 bands);
  once more with the result written into the pre-touched ``out``.
* numexpr: ``numexpr.evaluate("(n - r) / (n + r)", out=out, casting="unsafe")``
  on the uint16 arrays with all CPUs, into the pre-touched ``out``.
* spyndex: ``spyndex.computeIndex("NDVI", {"N": nir, "R": red})`` on the same
  arrays cast to float32 (spyndex evaluates the formula with NumPy; the cast
  is not timed).

Throughput is megapixels per second and MB/s of index traffic (8 bytes a
pixel). Run: ``python benchmarks/bench_indices.py [--size 10980] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numexpr
import numpy as np
import spyndex
import xarray as xr

from satlearn.ops.indices import compute_formula, compute_index


def best_time(func: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size, repeat = args.size, args.repeat
    pixels = size * size
    bytes_moved = pixels * (2 + 2 + 4)
    cpus = len(os.sched_getaffinity(0))
    print(f"NDVI on {size} x {size} uint16 red + nir ({pixels / 1e6:.1f} Mpx), {cpus} CPU(s)")

    rng = np.random.default_rng(0)
    bands = rng.integers(1, 10001, size=(2, size, size), dtype=np.uint16)
    red, nir = bands[0], bands[1]
    out = np.empty((size, size), dtype=np.float32)
    rows: list[tuple[str, float]] = []

    source = np.empty(bytes_moved // 2, dtype=np.uint8)
    target = np.empty_like(source)
    source.fill(1)
    target.fill(0)
    # Copying N/2 bytes reads N/2 and writes N/2: N bytes moved, like the index.
    rows.append(
        ("memory copy (bandwidth bound)", best_time(lambda: np.copyto(target, source), repeat))
    )

    def satlearn_kernel(threads: int | None) -> Callable[[], object]:
        return lambda: compute_formula(
            "(N-R)/(N+R)", {"N": nir, "R": red}, threads=threads, out=out
        )

    first = best_time(satlearn_kernel(None), 1)  # compiles the kernel, touches ``out``
    print(f"first satlearn call (compiling the NDVI kernel included): {first:.3f} s")
    rows.append(
        (f"satlearn compute_formula ({cpus} threads)", best_time(satlearn_kernel(None), repeat))
    )
    rows.append(("satlearn compute_formula (1 thread)", best_time(satlearn_kernel(1), repeat)))
    rows.append(
        (
            f"satlearn compute_formula, new output ({cpus} th)",
            best_time(lambda: compute_formula("(N-R)/(N+R)", {"N": nir, "R": red}), repeat),
        )
    )

    da = xr.DataArray(bands, dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    rows.append(
        ("satlearn compute_index (DataArray)", best_time(lambda: compute_index(da, "ndvi"), repeat))
    )
    scaled = da.assign_coords(scale=("band", [1e-4, 1e-4]), offset=("band", [-0.1, -0.1]))
    scaled = scaled.rio.write_nodata(0)
    rows.append(
        (
            "satlearn compute_index (scale, offset, nodata)",
            best_time(lambda: compute_index(scaled, "ndvi"), repeat),
        )
    )

    def naive() -> np.ndarray:
        n = nir.astype(np.float32)
        r = red.astype(np.float32)
        return (n - r) / (n + r)

    rows.append(("naive numpy (n - r) / (n + r), float32", best_time(naive, repeat)))

    def naive_into_out() -> np.ndarray:
        n = nir.astype(np.float32)
        r = red.astype(np.float32)
        return np.divide(n - r, n + r, out=out)

    rows.append(("naive numpy, result into out", best_time(naive_into_out, repeat)))

    numexpr.set_num_threads(cpus)
    rows.append(
        (
            f"numexpr.evaluate into out ({cpus} threads)",
            best_time(
                lambda: numexpr.evaluate(
                    "(n - r) / (n + r)",
                    local_dict={"n": nir, "r": red},
                    out=out,
                    casting="unsafe",
                ),
                repeat,
            ),
        )
    )

    nir32, red32 = nir.astype(np.float32), red.astype(np.float32)
    rows.append(
        (
            "spyndex.computeIndex (float32 arrays)",
            best_time(lambda: spyndex.computeIndex("NDVI", {"N": nir32, "R": red32}), repeat),
        )
    )
    check = spyndex.computeIndex("NDVI", {"N": nir32, "R": red32})
    ours = compute_formula("(N-R)/(N+R)", {"N": nir, "R": red})
    assert np.allclose(ours, check, rtol=1e-6, atol=1e-7), "satlearn and spyndex disagree"

    times = dict(rows)
    bound = times["memory copy (bandwidth bound)"]
    naive_time = times["naive numpy (n - r) / (n + r), float32"]
    print(f"{'method':<48} {'time s':>8} {'Mpx/s':>8} {'MB/s':>8} {'vs naive':>9} {'of bound':>9}")
    for label, seconds in rows:
        print(
            f"{label:<48} {seconds:>8.3f} {pixels / seconds / 1e6:>8.0f} "
            f"{bytes_moved / seconds / 1e6:>8.0f} {naive_time / seconds:>8.2f}x "
            f"{bound / seconds:>8.0%}"
        )
    print("vs naive: speed-up over the naive numpy expression; of bound: copy time / method time")


if __name__ == "__main__":
    main()
