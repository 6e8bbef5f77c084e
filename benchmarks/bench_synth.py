"""Synthetic-scene generation speed: ``satlearn.synth.make_scene`` at 512, 1024, 2048 pixels.

Method: ``make_scene(size, seed=0, sensor="sentinel2_l1c", n_dates=2)`` (13
bands, two dates, clouds, ships, pan at twice the resolution, DEM and stereo
pair) timed with ``time.perf_counter``; the best of ``--repeat`` runs (default
2) for sizes up to 1024 and a single run for larger ones. Throughput is scene
megapixels per second (one date's grid, height x width, per second of the
whole two-date generation). Peak resident memory is the process maximum from
``resource.getrusage`` after each size (so it only grows down the table).

Run: ``python benchmarks/bench_synth.py [--sizes 512 1024 2048] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

from satlearn.synth import make_scene


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def time_scene(size: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        scene = make_scene(size, seed=0, sensor="sentinel2_l1c", n_dates=2)
        best = min(best, time.perf_counter() - start)
        del scene
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    print(f"make_scene, sentinel2_l1c (13 bands), 2 dates, {cpus} CPU(s)")
    print(f"{'size':>11}  {'runs':>4}  {'seconds':>8}  {'Mpx/s':>7}  {'peak RSS MiB':>12}")
    make_scene(64, seed=0)  # warm up imports and FFT plans
    for size in args.sizes:
        repeat = args.repeat if size <= 1024 else 1
        seconds = time_scene(size, repeat)
        mpx = size * size / 1e6
        print(
            f"{size:>5} x {size:<5}  {repeat:>4}  {seconds:>8.2f}  {mpx / seconds:>7.2f}  "
            f"{peak_rss_mib():>12.0f}"
        )


if __name__ == "__main__":
    main()
