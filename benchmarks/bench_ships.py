"""Water masks and ship candidates on synthetic scenes, against a plain baseline.

What is compared, in the same run, on held-out synthetic scenes
(``make_scene(size, seed, n_dates=1)``, Sentinel-2 L1C bands at 10 m,
seeds 100-105, sizes 512-1024; the defaults were chosen on seeds 0-23):

* Water: IoU and F1 of the mask against ``landcover == water`` on every
  pixel except water hidden under thick cloud.
* Ships: precision, recall and F1 against ``scene.ships`` (one-to-one
  centroid-in-box matching, :func:`satlearn.metrics.score_ships`), for
  ``detect_ships`` (CFAR and Felzenszwalb) and for the baseline; recall by
  ship length; median relative error of length and width, and orientation
  error, of matched ships.
* Time per megapixel of the whole job (water mask + ships), best of
  ``--repeat`` calls, numpy input; and the dask path (512-pixel chunks).
* The baseline a user would write first: water = MNDWI > 0 (Xu 2006) with
  holes filled (``scipy.ndimage.binary_fill_holes``); ships = NIR above a
  *global* robust threshold (median + 5 x 1.4826 x MAD of the water's NIR),
  8-connected components (``scipy.ndimage.label``) of 2 pixels or more.
  Ratios satlearn / baseline are printed for F1 and time. The baseline's ship
  stage is also run on satlearn's water mask ("base+w"; its time excludes
  the mask), which isolates local CFAR against a global threshold.

Run: ``python benchmarks/bench_ships.py [--repeat N] [--sizes 512 768 1024]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from satlearn.bands import reflectance
from satlearn.metrics import score_ships
from satlearn.ops.indices import compute_index
from satlearn.ops.ships import detect_ships
from satlearn.synth import make_scene

SEEDS = (100, 101, 102, 103, 104, 105)


def best_of(func, repeat: int):
    result, best = None, np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return result, best


def baseline(image, water=None):
    """Global thresholds and connected components: what a user would write first.

    With ``water`` (satlearn's mask), only the ship stage is the baseline's.
    """
    nir = reflectance(image, ["nir"]).values[0]
    if water is None:
        mndwi = compute_index(image, "mndwi").values
        with np.errstate(invalid="ignore"):
            open_water = mndwi > 0
        water = ndimage.binary_fill_holes(open_water)
        sea = nir[water & open_water]
    else:
        sea = nir[water]
    median = np.median(sea)
    mad = np.median(np.abs(sea - median)) * 1.4826
    bright = water & (nir > median + 5 * mad)
    labels, _ = ndimage.label(bright, structure=np.ones((3, 3)))
    ships = []
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        pixels = int((labels[box] == i).sum())
        if pixels < 2:
            continue
        rows, cols = np.nonzero(labels[box] == i)
        ships.append({
            "bbox_px": [box[0].start, box[1].start, box[0].stop, box[1].stop],
            "row": float(rows.mean() + box[0].start), "col": float(cols.mean() + box[1].start),
        })  # fmt: skip
    return water, ships


def water_scores(mask, scene):
    truth = scene.landcover.values == 0
    seen = ~(scene.cloud_mask.values[0] & truth)
    tp = (mask & truth & seen).sum()
    fp = (mask & ~truth & seen).sum()
    fn = (~mask & truth & seen).sum()
    return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 768, 1024])
    args = parser.parse_args()
    sizes = [args.sizes[i % len(args.sizes)] for i in range(len(SEEDS))]

    names = ("cfar", "fz", "base", "base_w")
    totals = {name: {"tp": 0, "fp": 0, "fn": 0, "t": 0.0} for name in names}
    water_iou = {"satlearn": [], "base": []}
    length_err, width_err, angle_err = [], [], []
    by_length = {"50-100 m": [0, 0], "100-200 m": [0, 0], "200-300 m": [0, 0]}
    mpx_total = 0.0
    header = ("seed", "size", "ships", "water IoU", "base IoU", "F1 cfar", "F1 fz", "F1 base",
              "F1 base+w", "ms/Mpx", "base ms/Mpx")  # fmt: skip
    print(" ".join(f"{h:>11}" for h in header))
    for seed, size in zip(SEEDS, sizes, strict=True):
        scene = make_scene(size, seed=seed, n_dates=1)
        image = scene.image.isel(time=0)
        mpx = size * size / 1e6
        mpx_total += mpx
        found, t_cfar = best_of(lambda image=image: detect_ships(image), args.repeat)
        fz, t_fz = best_of(lambda image=image: detect_ships(image, method="felzenszwalb"), 1)
        (base_water, base_ships), t_base = best_of(lambda image=image: baseline(image), args.repeat)
        water = found.water.values
        (_, base_w_ships), t_base_w = best_of(
            lambda image=image, water=water: baseline(image, water), args.repeat
        )
        row = [seed, size, len(scene.ships)]
        iou, _ = water_scores(found.water.values, scene)
        biou, _ = water_scores(base_water, scene)
        water_iou["satlearn"].append(iou)
        water_iou["base"].append(biou)
        f1s = []
        for name, result, seconds in (("cfar", found, t_cfar), ("fz", fz, t_fz),
                                      ("base", base_ships, t_base),
                                      ("base_w", base_w_ships, t_base_w)):  # fmt: skip
            s = score_ships(result, scene.ships)
            for key in ("tp", "fp", "fn"):
                totals[name][key] += getattr(s, key)
            totals[name]["t"] += seconds
            f1s.append(s.f1)
        scores = score_ships(found, scene.ships)
        matched = {t: d for d, t in scores.matches}
        for t, truth in enumerate(scene.ships):
            length = truth["length_m"]
            bin_ = "50-100 m" if length < 100 else ("100-200 m" if length < 200 else "200-300 m")
            by_length[bin_][1] += 1
            if t in matched:
                by_length[bin_][0] += 1
                ship = found.ships[matched[t]]
                length_err.append(ship["length_m"] / length - 1)
                width_err.append(ship["width_m"] / truth["width_m"] - 1)
                diff = (ship["orientation_deg"] - truth["heading_deg"] % 180 + 90) % 180 - 90
                angle_err.append(abs(diff))
        row += [f"{iou:.3f}", f"{biou:.3f}", *(f"{f:.3f}" for f in f1s),
                f"{1000 * t_cfar / mpx:.0f}", f"{1000 * t_base / mpx:.0f}"]  # fmt: skip
        print(" ".join(f"{v:>11}" for v in row))

    print("\nships, all scenes pooled (centroid-in-box matching, 1 px tolerance)")
    print(f"{'method':>22} {'precision':>9} {'recall':>7} {'F1':>6} {'ms/Mpx':>7}")
    f1 = {}
    for name, label in (("cfar", "satlearn CFAR"), ("fz", "satlearn felzenszwalb"),
                        ("base", "global thr + CC"),
                        ("base_w", "same, satlearn water")):  # fmt: skip
        t = totals[name]
        p = t["tp"] / max(t["tp"] + t["fp"], 1)
        r = t["tp"] / max(t["tp"] + t["fn"], 1)
        f1[name] = 2 * t["tp"] / max(2 * t["tp"] + t["fp"] + t["fn"], 1)
        print(f"{label:>22} {p:9.3f} {r:7.3f} {f1[name]:6.3f} {1000 * t['t'] / mpx_total:7.0f}")
    print(f"F1 ratio satlearn CFAR / baseline: {f1['cfar'] / max(f1['base'], 1e-9):.2f}")
    print(
        "F1 ratio satlearn CFAR / baseline on satlearn's water: "
        f"{f1['cfar'] / max(f1['base_w'], 1e-9):.2f}"
    )
    print(f"time ratio satlearn CFAR / baseline: {totals['cfar']['t'] / totals['base']['t']:.2f}")
    print(
        f"water IoU mean: satlearn {np.mean(water_iou['satlearn']):.3f}, "
        f"baseline {np.mean(water_iou['base']):.3f}"
    )
    print("\nrecall by ship length (10 m pixels: 5-30 px long, 0.8-6 px wide)")
    for name, (hit, n) in by_length.items():
        print(f"  {name:>10}: {hit}/{n}")
    print(
        f"matched ships: median |length error| {100 * np.median(np.abs(length_err)):.0f}%, "
        f"median |width error| {100 * np.median(np.abs(width_err)):.0f}%, "
        f"median orientation error {np.median(angle_err):.1f} deg"
    )

    scene = make_scene(1024, seed=SEEDS[-1], n_dates=1)
    image = scene.image.isel(time=0)
    eager, t_np = best_of(lambda: detect_ships(image), args.repeat)
    chunked = image.chunk({"band": -1, "y": 512, "x": 512})
    lazy, t_dask = best_of(lambda: detect_ships(chunked), args.repeat)
    same = [s["bbox_px"] for s in eager.ships] == [s["bbox_px"] for s in lazy.ships]
    print(
        f"\n1024 x 1024: numpy {1000 * t_np:.0f} ms, dask 512-px chunks {1000 * t_dask:.0f} ms, "
        f"same ships: {same}"
    )


if __name__ == "__main__":
    main()
