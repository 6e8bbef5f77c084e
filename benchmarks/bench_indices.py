"""NDVI throughput on one Sentinel-2 tile: satlearn beside spyndex, naive numpy and a memory copy.

Method: two random uint16 bands (red, nir) of 10980 x 10980 pixels (one
Sentinel-2 tile at 10 m) in memory; NDVI = (N - R) / (N + R) into float32.
The contenders run interleaved: ``--repeat`` rounds (default 5), each round
calling every contender once, in an order rotated by one each round, so that
a burst of load from other jobs hits all of them alike. The median of the
rounds counts (the minimum is printed too), and the load average before and
after is printed with the CPU model.

Compared, in the same run (what each row includes):

* memory copy: ``np.copyto`` between two pre-touched buffers as large as what
  NDVI reads plus writes (2 x uint16 in + 1 x float32 out = 8 bytes a pixel):
  copying 4 bytes a pixel reads 4 and writes 4, so it moves the same 8 bytes
  a pixel once: the bandwidth bound. (A strict one: the large copy writes
  with non-temporal stores, while a kernel's ordinary stores also read each
  output line before writing it.) "of bound" is copy time / method time.
* fresh output pages: ``np.empty`` of the float32 output plus one write per
  4 KiB page, the first-touch page faults every call that allocates its
  output pays (the kernel zeroes each page); not a contender, the cost a new
  output adds.
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

from _bench import cpu_model
from satlearn.ops.indices import compute_formula, compute_index


def interleaved(
    contenders: list[tuple[str, Callable[[], object]]], repeat: int
) -> dict[str, list[float]]:
    """Seconds of each contender over ``repeat`` rounds, every contender once a round.

    The order rotates by one each round, so that no contender always runs
    right after the same neighbour (whose freed pages or warm caches it would
    inherit).
    """
    times: dict[str, list[float]] = {label: [] for label, _ in contenders}
    for round_ in range(repeat):
        shift = round_ % len(contenders)
        for label, func in contenders[shift:] + contenders[:shift]:
            start = time.perf_counter()
            func()
            times[label].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10980)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    size, repeat = args.size, args.repeat
    pixels = size * size
    bytes_moved = pixels * (2 + 2 + 4)
    cpus = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    print(
        f"NDVI on {size} x {size} uint16 red + nir ({pixels / 1e6:.1f} Mpx), {cpus} CPU(s), "
        f"{cpu_model()}; load average {load_before[0]:.2f} (1 min), {load_before[1]:.2f} (5 min)"
    )

    rng = np.random.default_rng(0)
    bands = rng.integers(1, 10001, size=(2, size, size), dtype=np.uint16)
    red, nir = bands[0], bands[1]
    out = np.empty((size, size), dtype=np.float32)
    out.fill(0)

    source = np.empty(bytes_moved // 2, dtype=np.uint8)
    target = np.empty_like(source)
    source.fill(1)
    target.fill(0)

    def fresh_pages() -> np.ndarray:
        page = np.empty(pixels, dtype=np.float32)
        page[:: 4096 // 4] = 0  # one write per 4 KiB page
        return page

    def satlearn_kernel(threads: int | None) -> Callable[[], object]:
        return lambda: compute_formula(
            "(N-R)/(N+R)", {"N": nir, "R": red}, threads=threads, out=out
        )

    start = time.perf_counter()
    satlearn_kernel(None)()  # compiles the kernel
    print(f"first satlearn call (compiling the NDVI kernel included): "
          f"{time.perf_counter() - start:.3f} s")  # fmt: skip

    da = xr.DataArray(bands, dims=("band", "y", "x"), coords={"band": ["red", "nir"]})
    scaled = da.assign_coords(scale=("band", [1e-4, 1e-4]), offset=("band", [-0.1, -0.1]))
    scaled = scaled.rio.write_nodata(0)
    compute_index(scaled, "ndvi")  # compiles the scaled, masked kernel

    def naive() -> np.ndarray:
        n = nir.astype(np.float32)
        r = red.astype(np.float32)
        return (n - r) / (n + r)

    def naive_into_out() -> np.ndarray:
        n = nir.astype(np.float32)
        r = red.astype(np.float32)
        return np.divide(n - r, n + r, out=out)

    numexpr.set_num_threads(cpus)
    nir32, red32 = nir.astype(np.float32), red.astype(np.float32)
    copy_label = "memory copy (bandwidth bound)"
    naive_label = "naive numpy (n - r) / (n + r), float32"
    contenders: list[tuple[str, Callable[[], object]]] = [
        (copy_label, lambda: np.copyto(target, source)),
        ("fresh output pages (np.empty + first touch)", fresh_pages),
        (f"satlearn compute_formula into out ({cpus} th)", satlearn_kernel(None)),
        ("satlearn compute_formula into out (1 thread)", satlearn_kernel(1)),
        (
            f"satlearn compute_formula, new output ({cpus} th)",
            lambda: compute_formula("(N-R)/(N+R)", {"N": nir, "R": red}),
        ),
        ("satlearn compute_index (DataArray)", lambda: compute_index(da, "ndvi")),
        (
            "satlearn compute_index (scale, offset, nodata)",
            lambda: compute_index(scaled, "ndvi"),
        ),
        (naive_label, naive),
        ("naive numpy, result into out", naive_into_out),
        (
            f"numexpr.evaluate into out ({cpus} threads)",
            lambda: numexpr.evaluate(
                "(n - r) / (n + r)", local_dict={"n": nir, "r": red}, out=out, casting="unsafe"
            ),
        ),
        (
            "spyndex.computeIndex (float32 arrays)",
            lambda: spyndex.computeIndex("NDVI", {"N": nir32, "R": red32}),
        ),
    ]
    times = interleaved(contenders, repeat)

    check = spyndex.computeIndex("NDVI", {"N": nir32, "R": red32})
    ours = compute_formula("(N-R)/(N+R)", {"N": nir, "R": red})
    assert np.allclose(ours, check, rtol=1e-6, atol=1e-7), "satlearn and spyndex disagree"

    median = {label: float(np.median(seconds)) for label, seconds in times.items()}
    bound = median[copy_label]
    naive_time = median[naive_label]
    print(
        f"{'method':<48} {'median s':>8} {'min s':>7} {'Mpx/s':>7} {'MB/s':>7} "
        f"{'vs naive':>8} {'of bound':>8}"
    )
    for label, seconds in median.items():
        print(
            f"{label:<48} {seconds:>8.3f} {min(times[label]):>7.3f} "
            f"{pixels / seconds / 1e6:>7.0f} {bytes_moved / seconds / 1e6:>7.0f} "
            f"{naive_time / seconds:>7.2f}x {bound / seconds:>8.0%}"
        )
    load_after = os.getloadavg()
    print(
        f"{repeat} interleaved rounds, medians; vs naive: speed-up over the naive numpy "
        "expression; of bound: copy time / method time (both medians of the same rounds); "
        f"load average after: {load_after[0]:.2f} (1 min)"
    )


if __name__ == "__main__":
    main()
