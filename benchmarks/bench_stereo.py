"""Stereo DEM: satlearn.ops.stereo against OpenCV's StereoBM and StereoSGBM with defaults.

What is compared, in the same run, on the rectified pair of
``satlearn.synth.make_scene`` (cloud-free, 10 m pixels, B/H 0.6: one pixel of
disparity is 16.7 m of height) for a few sizes and seeds:

* **satlearn**: ``compute_disparity`` with its defaults (disparity range from
  SIFT matches, tuned SGBM ``MODE_HH``, left-right check, Lucas-Kanade
  sub-pixel step, inpainting), heights with ``disparity_to_height`` and the
  true ``dem.min()`` as reference height (a stereo pair measures relative
  heights). Figures: RMSE / NMAD / median of the height error in metres over
  all pixels (holes filled) and over the matched pixels; the fraction matched
  before filling; wall time (everything: stretch, range, two SGBM runs, ...).
* **satlearn, subpixel="sgbm"**: the same without the refinement, to measure it.
* **StereoBM / StereoSGBM defaults**: what a user would try first:
  ``cv2.StereoBM_create(numDisparities=N)`` and
  ``cv2.StereoSGBM_create(numDisparities=N)``, all else default, on the same
  8-bit pair (satlearn's shared stretch), ``N`` the smallest multiple of 16
  above the true maximum disparity (the defaults' 16 would not cover it).
  Their errors are over the pixels they answer; no left-right check, no
  filling. Ratios printed: peer RMSE / satlearn RMSE (matched pixels), peer
  time / satlearn time.

Then the memory bound of strip processing: peak RSS of a child process
running ``compute_disparity`` on a 2048^2 pair with ``memory_mb`` 1024 (one
strip) and 64 (strips), and how far the two results differ (Linux: VmHWM).

Then the Pleiades pair in ../shared/data/pleiades-stereo-s2p: it is not
epipolar-rectified (raw sensor crops with RPC models), which the vertical
offsets of SIFT matches show; the benchmark prints them and does not match it.

Run: ``python benchmarks/bench_stereo.py [--sizes 256 512 1024] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from satlearn.metrics import dem_accuracy
from satlearn.ops.stereo import compute_disparity, disparity_to_height, stretch_pair
from satlearn.synth import make_scene

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def to8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.rint(np.clip((image - low) / (high - low) * 255, 0, 255)).astype(np.uint8)


def timed(func, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def peer(matcher, left8, right8):
    raw = matcher.compute(left8, right8)
    disparity = raw.astype(np.float32) / 16
    valid = raw >= 0  # minDisparity 0: negative values are OpenCV's "invalid"
    disparity[~valid] = np.nan
    return disparity, valid


def synthetic(sizes: list[int], seeds: int, repeat: int) -> None:
    header = (
        f"{'size':>5} {'seed':>4} {'method':<22} {'valid':>6} {'RMSE m':>7} {'NMAD m':>7}"
        f" {'med m':>6} {'RMSE all':>8} {'ms':>8} {'RMSE x':>7} {'time x':>7}"
    )
    print("\nsynthetic pairs (heights in m; 1 px of disparity = 16.7 m)")
    print(header)
    totals: dict[str, list[tuple[float, float, float, float]]] = {}
    for size in sizes:
        for seed in range(seeds if size <= 1024 else 1):
            scene = make_scene(size, seed=seed, n_dates=1, clouds=False, ships=False)
            left, right = scene.stereo_left.values, scene.stereo_right.values
            truth, dem = scene.disparity.values, scene.dem.values
            geometry = {
                "pixel_size_m": scene.pixel_size_m,
                "base_to_height": scene.base_to_height,
                "reference_height": float(dem.min()),
            }
            low, high = stretch_pair(left, right)
            left8, right8 = to8(left, low, high), to8(right, low, high)
            n = 16 * int(np.ceil((truth.max() + 1) / 16))
            runs = {
                "satlearn": lambda a=left, b=right: compute_disparity(a, b),
                "satlearn subpixel=sgbm": lambda a=left, b=right: compute_disparity(
                    a, b, subpixel="sgbm"
                ),
                "StereoBM defaults": lambda a=left8, b=right8, n=n: peer(
                    cv2.StereoBM_create(numDisparities=n), a, b
                ),
                "StereoSGBM defaults": lambda a=left8, b=right8, n=n: peer(
                    cv2.StereoSGBM_create(numDisparities=n), a, b
                ),
            }
            ours = None
            for name, func in runs.items():
                seconds, result = timed(func, repeat)
                disparity, valid = result[0], result[1]
                heights = disparity_to_height(disparity, **geometry)
                matched = dem_accuracy(heights, dem, valid=valid)
                overall = dem_accuracy(heights, dem) if np.isfinite(heights).all() else None
                if ours is None:
                    ours = (matched.rmse, seconds)
                row = (
                    f"{size:>5} {seed:>4} {name:<22} {valid.mean():>6.3f} {matched.rmse:>7.2f}"
                    f" {matched.nmad:>7.2f} {matched.median:>6.2f}"
                    f" {overall.rmse if overall else float('nan'):>8.2f} {seconds * 1e3:>8.1f}"
                    f" {matched.rmse / ours[0]:>6.2f}x {seconds / ours[1]:>6.2f}x"
                )
                print(row)
                totals.setdefault(name, []).append(
                    (valid.mean(), matched.rmse, matched.nmad, seconds / ours[1])
                )
    print("\nmeans over all pairs: valid, RMSE m, NMAD m, time / satlearn")
    for name, values in totals.items():
        v = np.mean(values, axis=0)
        print(f"  {name:<22} {v[0]:.3f}  {v[1]:.2f}  {v[2]:.2f}  {v[3]:.2f}x")


_CHILD = """
import sys, time, numpy as np
from satlearn.ops.stereo import compute_disparity
left, right = np.load(sys.argv[1]), np.load(sys.argv[2])
start = time.perf_counter()
result = compute_disparity(left, right, min_disparity=-4, num_disparities=48,
                           memory_mb=float(sys.argv[3]))
seconds = time.perf_counter() - start
np.save(sys.argv[4], result.disparity)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(hwm / 1024, seconds)
"""


def memory(size: int) -> None:
    scene = make_scene(size, seed=0, n_dates=1, clouds=False, ships=False)
    print(f"\nstrip processing, {size}^2 pair, range 48 disparities (peak RSS of a child process)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("l.npy", "r.npy")]
        np.save(paths[0], scene.stereo_left.values)
        np.save(paths[1], scene.stereo_right.values)
        results = {}
        for budget in (1024, 64):
            out = os.path.join(tmp, f"d{budget}.npy")
            text = subprocess.run(
                [sys.executable, "-c", _CHILD, *paths, str(budget), out],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            rss, seconds = (float(v) for v in text.split())
            results[budget] = np.load(out)
            print(f"  memory_mb={budget:<5} peak RSS {rss:7.0f} MiB  {seconds:6.2f} s")
        diff = np.abs(results[1024] - results[64])
        print(
            f"  strips vs one strip: median |diff| {np.median(diff):.4f} px, "
            f"{100 * np.mean(diff < 0.05):.2f} % within 0.05 px, max {diff.max():.2f} px"
        )


def pleiades() -> None:
    folder = SHARED / "pleiades-stereo-s2p" / "input_pair"
    if not folder.is_dir():
        print(f"\n(Pleiades pair skipped: {folder} not found)")
        return
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    images = []
    for name in ("img_01.tif", "img_02.tif"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # sensor geometry
            with rasterio.open(folder / name) as src:
                images.append(src.read(1).astype(np.float32))
    low, high = stretch_pair(images[0][:1024, :1024], images[1][:1024, :1024])
    left8, right8 = (to8(a, low, high) for a in images)
    sift = cv2.SIFT_create(nfeatures=4000)
    kl, dl = sift.detectAndCompute(left8, None)
    kr, dr = sift.detectAndCompute(right8, None)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dl, dr, k=2)
    good = [m for m, second in pairs if m.distance < 0.8 * second.distance]
    pl = np.array([kl[m.queryIdx].pt for m in good])
    pr = np.array([kr[m.trainIdx].pt for m in good])
    dy, dx = pr[:, 1] - pl[:, 1], pr[:, 0] - pl[:, 0]
    print(
        f"\nPleiades s2p pair ({images[0].shape} and {images[1].shape}): {len(good)} SIFT matches;"
        f" row offset dy 5-95 %: {np.percentile(dy, 5):.1f} .. {np.percentile(dy, 95):.1f} px,"
        f" column offset dx 5-95 %: {np.percentile(dx, 5):.1f} .. {np.percentile(dx, 95):.1f} px"
    )
    print(
        "  not epipolar-rectified (rows do not correspond): rectification from the RPC models"
        " is outside satlearn.ops.stereo, so no DEM is computed from it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 512, 1024, 2048])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-size", type=int, default=2048)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, OpenCV {cv2.__version__}")
    synthetic(args.sizes, args.seeds, args.repeat)
    if args.memory_size:
        memory(args.memory_size)
    pleiades()


if __name__ == "__main__":
    main()
