"""Sub-pixel registration: satlearn.ops.registration.phase_correlation vs skimage.

What is compared, in the same run:

* Speed: ``satlearn.ops.registration.phase_correlation(ref, mov, upsample=100)``
  (defaults: Hann window, spectral taper) against
  ``skimage.registration.phase_cross_correlation(ref, mov, upsample_factor=100)``
  on float32 images of 512 x 512 and 2048 x 2048; best of N calls each, and the
  ratio skimage / satlearn. satlearn is also timed with ``window=None,
  spectral_cutoff=None`` (the same computation skimage does, no apodisation).
* Accuracy: RMS error (per component, px) over random shifts uniform in
  +-20 px with 5 % Gaussian noise, for both libraries at upsample 100:
  - synthetic: a smooth random texture, the moving window cut from a
    Fourier-shifted copy of a larger field (non-circular);
  - real: the Landsat 8 pan band in ../shared/data (skipped when absent),
    the moving window cut from a cubic-spline shifted (``scipy.ndimage.shift``)
    copy of the larger raster.

* First call in a fresh process (what a one-shot ``satlearn register`` pays):
  each library's import plus one 512 x 512 call, timed inside ``--cold N``
  new interpreters (median), numpy already imported in both.

Run: ``python benchmarks/bench_registration.py [--repeat N] [--trials N] [--cold N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from satlearn.ops.registration import phase_correlation

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MARGIN = 32


def best_of(funcs: dict, repeat: int) -> dict[str, float]:
    """Best time of each function; calls are interleaved so load changes hit all alike."""
    for func in funcs.values():
        func()  # warm caches (windows, FFT plans)
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def texture(shape, seed=0):
    rng = np.random.default_rng(seed)
    fine = ndimage.gaussian_filter(rng.normal(size=shape), 2)
    coarse = ndimage.gaussian_filter(rng.normal(size=shape), 8)
    return (fine + 3 * coarse).astype(np.float32)


def fourier_shift(image, shift):
    return np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(image), shift)).real


def speed(repeat: int) -> None:
    print(f"\nspeed (best of {repeat}), float32, upsample 100")
    header = ("size", "skimage ms", "satlearn ms", "ratio", "bare ms", "ratio")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 11, 12, 6, 8, 6), strict=True)))
    for size in (512, 2048):
        reference = texture((size, size), seed=size)
        moving = fourier_shift(reference, (-7.37, 12.21)).astype(np.float32)
        best = best_of(
            {
                "skimage": lambda r=reference, m=moving: phase_cross_correlation(
                    r, m, upsample_factor=100
                ),
                "satlearn": lambda r=reference, m=moving: phase_correlation(r, m, 100),
                "bare": lambda r=reference, m=moving: phase_correlation(
                    r, m, 100, window=None, spectral_cutoff=None
                ),
            },
            repeat,
        )
        theirs, ours, bare = best["skimage"], best["satlearn"], best["bare"]
        print(
            f"{size:>6} {theirs * 1e3:>11.1f} {ours * 1e3:>12.1f} {theirs / ours:>5.2f}x"
            f" {bare * 1e3:>8.1f} {theirs / bare:>5.2f}x"
        )


_COLD = {
    "satlearn": (
        "from satlearn.ops.registration import phase_correlation as f\nf(a, b, upsample=100)\n"
    ),
    "skimage": (
        "from skimage.registration import phase_cross_correlation as f\n"
        "f(a, b, upsample_factor=100)\n"
    ),
}


def cold(runs: int) -> None:
    """Import + first call, each in ``runs`` fresh interpreters (median seconds)."""
    setup = (
        "import time, numpy as np\n"
        "a = np.random.default_rng(0).random((512, 512)).astype(np.float32)\n"
        "b = np.roll(a, (3, 5), (0, 1))\n"
        "t = time.perf_counter()\n"
    )
    medians = {}
    for name, call in _COLD.items():
        code = setup + call + "print(time.perf_counter() - t)\n"
        times = [
            float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout)
            for _ in range(runs)
        ]  # fmt: skip
        medians[name] = statistics.median(times)
    ratio = medians["skimage"] / medians["satlearn"]
    print(
        f"\nfirst call in a fresh process (import + one 512^2 call, median of {runs}): "
        f"skimage {medians['skimage'] * 1e3:.0f} ms, satlearn {medians['satlearn'] * 1e3:.0f} ms, "
        f"ratio {ratio:.2f}"
    )


def shifted_pair(source, size, true, rng, noise, how):
    top = rng.integers(MARGIN, source.shape[0] - size - MARGIN + 1)
    left = rng.integers(MARGIN, source.shape[1] - size - MARGIN + 1)
    big = source[top - MARGIN : top + size + MARGIN, left - MARGIN : left + size + MARGIN]
    moved = fourier_shift(big, -true) if how == "fourier" else ndimage.shift(big, -true, order=3)
    inner = slice(MARGIN, MARGIN + size)
    reference, moving = big[inner, inner], moved[inner, inner]
    scale = noise * reference.std()
    reference = reference + rng.normal(0, scale, reference.shape)
    moving = moving + rng.normal(0, scale, moving.shape)
    return reference.astype(np.float32), moving.astype(np.float32)


def accuracy(name, source, size, trials, how) -> None:
    rng = np.random.default_rng(0)
    errors = {"satlearn": [], "skimage": []}
    for _ in range(trials):
        true = rng.uniform(-20, 20, 2)
        reference, moving = shifted_pair(source, size, true, rng, 0.05, how)
        dy, dx, *_ = phase_correlation(reference, moving, 100)
        errors["satlearn"].append((dy - true[0], dx - true[1]))
        shift = phase_cross_correlation(reference, moving, upsample_factor=100)[0]
        errors["skimage"].append(shift - true)
    row = [f"{name:<34}"]
    for library, values in errors.items():
        values = np.asarray(values)
        rms = np.sqrt(np.mean(values**2))
        row.append(f"{library} {rms:.4f} (max {np.abs(values).max():.3f})")
    print("  ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--cold", type=int, default=5, help="fresh processes for the first call")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    speed(args.repeat)
    cold(args.cold)
    print(f"\naccuracy: RMS error per component (px), {args.trials} shifts in +-20 px, 5 % noise")
    accuracy(
        "synthetic texture 256^2, Fourier", texture((400, 400), seed=1), 256, args.trials, "fourier"
    )
    pan_path = SHARED / "landsat8-l1t-crop" / "l8_B8.tif"
    if pan_path.is_file():
        import rasterio

        with rasterio.open(pan_path) as src:
            pan = src.read(1).astype(np.float32)
        accuracy("Landsat 8 pan 256^2, cubic spline", pan, 256, args.trials, "spline")
        accuracy("Landsat 8 pan 512^2, cubic spline", pan, 512, args.trials, "spline")
    else:
        print(f"(real imagery skipped: {pan_path} not found)")


if __name__ == "__main__":
    main()
