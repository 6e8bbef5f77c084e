"""Each learned task against its classical counterpart, on a held-out synthetic scene.

What is compared, in the same run: a model trained with :func:`satlearn.train.train`
on chips of one synthetic scene (``make_scene(--train-size, seed=--train-seed)``)
and the classical method of :mod:`satlearn.ops` for the same task, both scored
on *another* scene (``make_scene(--test-size, seed=--test-seed)``, never seen in
training: no training pixel is ever scored). The model runs once over the
whole test image (every model here is fully convolutional), normalised with
the statistics of its training chips.

* water: U-Net against ``ops.water.water_mask`` (MNDWI, edge-Otsu); IoU and F1
  against ``landcover == water``, pixels under thick cloud left out;
* change: Siamese U-Net (difference fusion) against ``ops.change.detect_change``
  with ``difference``, ``cva`` and ``irmad`` (the best of them on the test
  scene is reported); F1 and kappa against ``change_mask``, pixels under cloud
  or shadow on either date left out;
* clouds: U-Net against ``ops.clouds.cloud_mask(method="rules")``; IoU and F1
  against ``cloud_mask | cirrus_mask`` of date 0;
* super-resolution x2: ESPCN (bicubic + learned residual) against bicubic;
  PSNR and SSIM by the Wald protocol (2x2 block mean down, x2 up, compared
  with the original; a 4-pixel border left out);
* ships: CenterNet (stride 2) against ``ops.ships.detect_ships`` (CFAR);
  precision, recall and F1 by ``metrics.score_ships`` (centroid in box),
  true and false positives pooled over the test scene and three more
  (seeds ``--test-seed`` + 1..3): one scene holds about ten ships;
* land cover: U-Net (7 classes) against a random forest
  (``ml.train_pixel_classifier`` on the training scene's clear pixels) and
  k-means (k=7, clusters named by Hungarian matching on the *test* truth: an
  optimistic bound); accuracy and macro-F1, thick cloud left out.

Choosing the best classical change method on the test scene, and naming
k-means clusters with the test truth, favour the classical side: the learned
models get no such help. The change model (BCE + Dice, the default loss)
uses the decision threshold that maximises F1 on its own validation chips
(training scene), not 0.5: changes are ~1 % of the pixels.
Likewise the CenterNet score threshold is the one that maximises ship F1 on
its validation chips (``--ship-threshold`` fixes it).

Times: training wall time (data, training, per-epoch validation; no bundle
export) and prediction / classical time on the test scene. torch runs on one
thread (``--threads``): on shared 2-core machines two threads spin against
each other. Ratios printed: learned / classical (higher is better for every
score here).

Run: ``python benchmarks/bench_learned_vs_classical.py [--tasks water change ...]
[--epochs-scale 1.0]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from _bench import add_seed_options
from satlearn.metrics import binary_scores, class_scores
from satlearn.synth import make_scene

TASKS = ("water", "change", "clouds", "superres", "ships", "landcover")

#: Per task: training config (data / model / optimisation), small enough for a
#: few CPU minutes each on one thread.
CONFIGS: dict[str, dict[str, Any]] = {
    "water": {
        "task": "segmentation",
        "data": {"target": "water", "chip_size": 64, "stride": 32},
        "model": {"name": "unet", "options": {"width": 16, "depth": 3}},
        "epochs": 12,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 3e-3,
    },
    "change": {
        "task": "change",
        # Four events a scene (two new settlements, a clearing, a flood), often
        # under cloud: four training scenes give the model enough to learn from.
        "data": {"target": "change", "chip_size": 64, "stride": 32, "seed": [1, 2, 3, 4]},
        # ~5 % of chips hold change: train on those and as many empty ones.
        "foreground_share": 0.5,
        "model": {"name": "siamese-unet", "options": {"width": 16, "depth": 3}},
        "epochs": 15,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 3e-3,
    },
    "clouds": {
        "task": "segmentation",
        "data": {"target": "clouds", "chip_size": 64, "stride": 32},
        "model": {"name": "unet", "options": {"width": 16, "depth": 3}},
        "epochs": 8,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 3e-3,
    },
    "superres": {
        "task": "superres",
        "data": {"target": "superres", "chip_size": 64, "stride": 32, "scale": 2},
        "model": {"name": "espcn", "options": {"width": 32}},
        "epochs": 20,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 1e-3,
    },
    "ships": {
        "task": "detection",
        # ~35 ships a scene: four scenes.
        "data": {"target": "ships", "chip_size": 64, "stride": 32, "seed": [1, 2, 3, 4]},
        "foreground_share": 0.5,
        "model": {"name": "centernet", "options": {"width": 16, "depth": 3, "stride": 2}},
        "epochs": 80,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 3e-3,
    },
    "landcover": {
        "task": "segmentation",
        "data": {"target": "landcover", "chip_size": 64, "stride": 32},
        "model": {"name": "unet", "options": {"width": 16, "depth": 3}},
        "epochs": 80,
        "steps_per_epoch": 20,
        "batch_size": 16,
        "learning_rate": 3e-3,
    },
}


def train_task(name: str, args: argparse.Namespace, tmp: str) -> tuple[Any, float, dict]:
    """Train one task on the training scene; returns (result, seconds, config)."""
    from satlearn.train import train

    base = CONFIGS[name]
    config = {
        **base,
        "data": {
            "kind": "synthetic",
            "size": args.train_size,
            "seed": args.train_seed,
            **base["data"],
        },
        "epochs": max(1, round(base["epochs"] * args.epochs_scale)),
        "steps_per_epoch": args.steps_per_epoch or base["steps_per_epoch"],
        "val_fraction": 0.15,
        "num_workers": 0,
        "early_stopping": base.get("early_stopping", {"patience": 0}),
        "augment": {"flip": True, "rotate90": True},
        "seed": args.seed,
        "device": "cpu",
        "output": {"directory": tmp, "name": name},
    }
    start = time.perf_counter()
    result = train(config, export=False, progress=False)
    return result, time.perf_counter() - start, config


def normalised(result: Any, image: np.ndarray) -> torch.Tensor:
    """(band, y, x) or (n, band, y, x) reflectance -> normalised float32 tensor batch."""
    mean = np.asarray(result.normalisation["mean"], np.float32)[:, None, None]
    std = np.asarray(result.normalisation["std"], np.float32)[:, None, None]
    x = (np.asarray(image, np.float32) - mean) / std
    return torch.from_numpy(x if x.ndim == 4 else x[None])


def run_model(result: Any, x: torch.Tensor) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    with torch.no_grad():
        out = result.model.eval()(x)
    return out[0].numpy(), time.perf_counter() - start


def timed(func: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def row(rows: list, task: str, metric: str, learned: float, classical: float, what: str) -> None:
    rows.append((task, metric, learned, classical, what))


# --------------------------------------------------------------------------- tasks


def bench_water(result: Any, test: Any, rows: list, times: dict) -> None:
    from satlearn.ops.water import water_mask

    image = test.image.isel(time=0)
    truth = test.landcover.values == 0
    scored = ~test.cloud_mask.values[0]
    out, t_model = run_model(result, normalised(result, image.values))
    learned = out.argmax(axis=0) == 1
    classical, t_classic = timed(lambda: water_mask(image).values)
    a = binary_scores(learned, truth, valid=scored)
    b = binary_scores(classical, truth, valid=scored)
    row(rows, "water", "IoU", a.iou, b.iou, "U-Net vs water_mask (MNDWI + edge-Otsu)")
    row(rows, "water", "F1", a.f1, b.f1, "")
    times["water"] = (t_model, t_classic)


def best_threshold(result: Any, task: str) -> float:
    """Decision threshold on the sigmoid that maximises F1 on the validation chips."""
    from satlearn.train.data import IGNORE, TrainingSet, collate
    from satlearn.train.loop import model_input

    val = TrainingSet(result.data.val, result.normalisation["mean"], result.normalisation["std"])
    batch = collate([val[i] for i in range(len(val))])
    with torch.no_grad():
        prob = torch.sigmoid(result.model.eval()(model_input(task, batch)))[:, 0].numpy()
    mask = batch["mask"].numpy()
    valid = mask != IGNORE
    best, best_f1 = 0.5, -1.0
    for t in np.arange(0.05, 0.96, 0.05):
        f1 = binary_scores(prob > t, mask == 1, valid=valid).f1
        if np.isfinite(f1) and f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def bench_change(result: Any, test: Any, rows: list, times: dict) -> None:
    import xarray as xr

    from satlearn.ops.change import detect_change

    before, after = test.image.isel(time=0), test.image.isel(time=-1)
    truth = test.change_mask.values
    clear = ~(test.cloud_mask | test.shadow_mask).any("time").values
    x = torch.cat([normalised(result, before.values), normalised(result, after.values)], dim=1)
    out, t_model = run_model(result, x)
    threshold = best_threshold(result, "change")
    with np.errstate(over="ignore"):
        prob = 1 / (1 + np.exp(-out[0]))
    learned = binary_scores(prob > threshold, truth, valid=clear)
    at_half = binary_scores(prob > 0.5, truth, valid=clear)
    valid = xr.DataArray(clear, dims=("y", "x"))
    best_name, best_scores, t_best = "", None, 0.0
    for method in ("difference", "cva", "irmad"):
        mask, seconds = timed(
            lambda m=method: detect_change(before, after, method=m, valid=valid).mask.values
        )
        s = binary_scores(mask, truth, valid=clear)
        print(f"  change {method:<10} F1 {s.f1:.3f}  ({seconds:.2f} s)")
        if best_scores is None or s.f1 > best_scores.f1:
            best_name, best_scores, t_best = method, s, seconds
    what = (
        f"Siamese U-Net (threshold {threshold:.2f}) vs best of difference/cva/irmad ({best_name})"
    )
    row(rows, "change", "F1", learned.f1, best_scores.f1, what)
    row(rows, "change", "kappa", learned.kappa, best_scores.kappa, "")
    row(rows, "change", "F1 @ 0.5", at_half.f1, best_scores.f1, "learned at threshold 0.5")
    # bench_change.py also leaves cirrus out: thin cloud on one date looks like change.
    no_cirrus = clear & ~test.cirrus_mask.values.any(axis=0)
    a = binary_scores(prob > threshold, truth, valid=no_cirrus)
    b = max(
        (binary_scores(detect_change(before, after, method=m, valid=valid).mask.values, truth,
                       valid=no_cirrus) for m in ("difference", "cva", "irmad")),
        key=lambda s: s.f1,
    )  # fmt: skip
    row(rows, "change", "F1 no cirrus", a.f1, b.f1, "cirrus on either date also left out")
    times["change"] = (t_model, t_best)


def bench_clouds(result: Any, test: Any, rows: list, times: dict) -> None:
    from satlearn.ops.clouds import cloud_mask

    image = test.image.isel(time=0)
    truth = test.cloud_mask.values[0] | test.cirrus_mask.values[0]
    out, t_model = run_model(result, normalised(result, image.values))
    learned = out.argmax(axis=0) == 1
    classical, t_classic = timed(lambda: cloud_mask(image, method="rules").values)
    a, b = binary_scores(learned, truth), binary_scores(classical, truth)
    row(rows, "clouds", "IoU", a.iou, b.iou, 'U-Net vs cloud_mask("rules")')
    row(rows, "clouds", "F1", a.f1, b.f1, "")
    times["clouds"] = (t_model, t_classic)


def bench_superres(result: Any, test: Any, rows: list, times: dict) -> None:
    from satlearn.ops.quality import psnr, ssim

    reference = test.image.isel(time=0).values.astype(np.float32)
    c, h, w = reference.shape
    h, w = h - h % 2, w - w % 2
    reference = reference[:, :h, :w]
    # Wald protocol: degrade by the scale (2x2 block mean, as in training), upsample, compare.
    low = reference.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    out, t_model = run_model(result, normalised(result, low))
    mean = np.asarray(result.normalisation["mean"], np.float32)[:, None, None]
    std = np.asarray(result.normalisation["std"], np.float32)[:, None, None]
    learned = out * std + mean
    start = time.perf_counter()
    cubic = F.interpolate(torch.from_numpy(low[None]), scale_factor=2.0, mode="bicubic")[0]
    t_cubic = time.perf_counter() - start
    cubic = cubic.numpy()
    border = 4  # both methods pad at the edges: score the interior
    inner = (slice(None), slice(border, -border), slice(border, -border))
    ref = reference[inner]
    row(rows, "superres x2", "PSNR dB", psnr(ref, learned[inner]), psnr(ref, cubic[inner]),
        "ESPCN vs bicubic, Wald (2x2 block mean), 13 bands")  # fmt: skip
    row(rows, "superres x2", "SSIM", ssim(ref, learned[inner]), ssim(ref, cubic[inner]), "")
    times["superres x2"] = (t_model, t_cubic)


def ship_threshold(result: Any) -> float:
    """Heatmap score threshold that maximises ship F1 on the validation chips."""
    from satlearn.metrics import score_ships
    from satlearn.models import decode_detections
    from satlearn.train.data import TrainingSet, collate

    val = TrainingSet(result.data.val, result.normalisation["mean"], result.normalisation["std"])
    batch = collate([val[i] for i in range(len(val))])
    with torch.no_grad():
        out = result.model.eval()(batch["image"]).numpy()
    stride = result.model.config["stride"]
    best, best_f1 = 0.3, -1.0
    for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5):
        tp = fp = fn = 0
        for o, truth in zip(out, batch["boxes"], strict=True):
            boxes, _, _ = decode_detections(o, threshold=t, stride=stride)
            s = score_ships(
                [{"bbox_px": [b[1], b[0], b[3], b[2]]} for b in boxes.tolist()],
                [{"bbox": [b[1], b[0], b[3], b[2]]} for b in truth.numpy().tolist()],
            )
            tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
        f1 = _f1_precision_recall(tp, fp, fn)[0]
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best


Scores = tuple[float, float, float]  # F1, precision, recall


def _f1_precision_recall(tp: int, fp: int, fn: int) -> Scores:
    return 2 * tp / max(2 * tp + fp + fn, 1), tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def pooled_ship_scores(tests: list, detect: Any) -> tuple[Scores, float]:
    """Scores of ``detect(scene)`` with true/false positives pooled over the scenes; seconds."""
    from satlearn.metrics import score_ships

    counts, seconds = np.zeros(3, int), 0.0
    for test in tests:
        found, t = timed(lambda test=test: detect(test))
        seconds += t
        s = score_ships(found, test.ships, date_index=0)
        counts += (s.tp, s.fp, s.fn)
    return _f1_precision_recall(*counts), seconds


def cfar_ships(scene: Any, **options: Any) -> Any:
    """``detect_ships`` on date 0 of a scene."""
    from satlearn.ops.ships import detect_ships

    return detect_ships(scene.image.isel(time=0), **options)


def ship_rows(rows: list, task: str, learned: Scores, classical: Scores, what: str) -> None:
    for i, metric in enumerate(("F1", "precision", "recall")):
        row(rows, task, metric, learned[i], classical[i], what if i == 0 else "")


def bench_ships(
    result: Any,
    tests: list,
    classical: tuple[Scores, float],
    rows: list,
    times: dict,
    threshold: float | None,
) -> None:
    """CenterNet against CFAR (``classical``: pooled_ship_scores of cfar_ships)."""
    from satlearn.models import decode_detections

    if threshold is None:
        threshold = ship_threshold(result)
    stride = result.model.config["stride"]

    def centernet(test: Any) -> list[dict]:
        with torch.no_grad():
            out = result.model.eval()(normalised(result, test.image.isel(time=0).values))
        boxes, _, _ = decode_detections(out[0], threshold=threshold, stride=stride)
        # decode gives (x0, y0, x1, y1) with the truths' exclusive maxima;
        # score_ships wants (min_row, min_col, max_row, max_col).
        return [{"bbox_px": [b[1], b[0], b[3], b[2]]} for b in boxes.tolist()]

    learned, t_model = pooled_ship_scores(tests, centernet)
    n = sum(1 for test in tests for s in test.ships if s["date_index"] == 0)
    what = (
        f"CenterNet (score >= {threshold}) vs detect_ships CFAR, {n} ships "
        f"in {len(tests)} test scenes"
    )
    ship_rows(rows, "ships", learned, classical[0], what)
    times["ships"] = (t_model, classical[1])


#: The candidate stage of the two-stage ship path: CFAR with a lower
#: threshold than detect_ships' default (k=5, 0.08), for recall; the chip
#: classifier restores the precision.
CANDIDATES = {"k": 3.5, "min_contrast": 0.04}


def harvest_candidates(scene: Any, **options: Any) -> tuple[list[dict], np.ndarray]:
    """Candidate ships of date 0 and their chips (as detect_ships' confirm hook sees them)."""
    seen: list[np.ndarray] = []

    def record(chips: np.ndarray) -> np.ndarray:
        seen.append(chips)
        # Probabilities >= 0.5 keep every candidate; their value says which chip.
        return np.arange(1, len(chips) + 1, dtype=np.float64)

    found = cfar_ships(scene, confirm=record, **options).ships
    chips = np.concatenate(seen) if seen else np.zeros((0, 0, 0, 0), np.float32)
    # One window per scene here (<= 4096 px), so the confidences index `chips`.
    assert len(seen) <= 1
    return found, chips[[int(ship["confidence"]) - 1 for ship in found]]


def train_candidate_classifier(args: argparse.Namespace, tmp: str) -> tuple[Any, float, int]:
    """chip-classifier on CFAR candidates of the training scenes (1 = a true ship)."""
    from satlearn.metrics import score_ships
    from satlearn.train import train
    from satlearn.train.data import TaskData

    samples = []
    for seed in CONFIGS["ships"]["data"]["seed"]:
        scene = make_scene(args.train_size, seed=seed)
        found, chips = harvest_candidates(scene, **CANDIDATES)
        for ship, chip in zip(found, chips, strict=True):
            label = score_ships([ship], scene.ships, date_index=0).tp
            samples.append({"image": np.nan_to_num(chip).astype(np.float32), "label": label})
    n_false = sum(1 for sample in samples if sample["label"] == 0)
    order = np.random.default_rng(0).permutation(len(samples))
    n_val = max(1, len(samples) // 5)  # tiny smoke runs hold a handful of candidates
    data = TaskData(
        "classification",
        [samples[i] for i in order[n_val:]],
        [samples[i] for i in order[:n_val]],
        [str(b) for b in make_scene(64, seed=0).image.band.values],
        ["not_ship", "ship"],
        32,
    )
    config = {
        "task": "classification",
        "data": {"kind": "synthetic", "target": "landcover-chips"},  # provenance only
        "model": {"name": "chip-classifier", "options": {"width": 16, "depth": 2}},
        "epochs": max(1, round(30 * args.epochs_scale)),
        "batch_size": 16,
        "learning_rate": 3e-3,
        "num_workers": 0,
        "device": "cpu",
        "seed": args.seed,
        "early_stopping": {"patience": 0},
        "augment": {"flip": True, "rotate90": True},
        "output": {"directory": tmp, "name": "ship-candidates"},
    }
    start = time.perf_counter()
    result = train(config, data=data, export=False, progress=False)
    seconds = time.perf_counter() - start
    accuracy = result.metrics.get("accuracy", 0.0)
    print(f"[ships, two-stage] {len(samples)} candidates ({n_false} false) from "
          f"{len(CONFIGS['ships']['data']['seed'])} training scenes; chip-classifier trained "
          f"in {seconds:.0f} s, validation accuracy {accuracy:.3f}")  # fmt: skip
    return result, seconds, len(samples)


def bench_ship_candidates(
    result: Any, tests: list, classical: tuple[Scores, float], rows: list, times: dict
) -> None:
    """CFAR candidates confirmed by the chip classifier, against detect_ships alone."""
    model = result.model.eval()

    def confirm(chips: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = model(normalised(result, np.nan_to_num(chips)))
        return torch.softmax(logits, dim=1)[:, 1].numpy()

    learned, t_model = pooled_ship_scores(
        tests, lambda test: cfar_ships(test, confirm=confirm, **CANDIDATES)
    )
    what = "CFAR candidates (k 3.5) + chip-classifier vs detect_ships CFAR (k 5)"
    ship_rows(rows, "ships 2-st.", learned, classical[0], what)
    times["ships 2-stage"] = (t_model, classical[1])


def bench_landcover(result: Any, train_scene: Any, test: Any, rows: list, times: dict) -> None:
    from satlearn.ops.landcover import kmeans_landcover, score_clusters
    from satlearn.pixelml import train_pixel_classifier

    image = test.image.isel(time=0)
    truth = test.landcover.values
    scored = ~test.cloud_mask.values[0]
    out, t_model = run_model(result, normalised(result, image.values))
    a = class_scores(out.argmax(axis=0), truth, n_classes=7, valid=scored)
    # Random forest: trained on the training scene's clear pixels (labels + 1: 0 = unlabelled).
    train_image = train_scene.image.isel(time=0)
    labels = np.where(train_scene.cloud_mask.values[0], 0, train_scene.landcover.values + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        start = time.perf_counter()
        forest = train_pixel_classifier(train_image, labels.astype(np.int16), max_samples=50_000)
        predicted = forest.predict(image).values - 1
        t_rf = time.perf_counter() - start
        clusters, t_km = timed(
            lambda: kmeans_landcover(image, k=7, indices=("ndvi", "ndwi")).clusters.values
        )
    rf = class_scores(predicted, truth, n_classes=7, valid=scored)
    _, km = score_clusters(clusters, truth, valid=scored, ignore=None)
    row(rows, "land cover", "accuracy", a.accuracy, rf.accuracy, "U-Net vs random forest")
    row(rows, "land cover", "macro-F1", a.macro_f1, rf.macro_f1, "")
    row(rows, "land cover", "accuracy", a.accuracy, km.accuracy,
        "U-Net vs k-means k=7 (oracle-named)")  # fmt: skip
    row(rows, "land cover", "macro-F1", a.macro_f1, km.macro_f1, "")
    times["land cover"] = (t_model, t_rf)
    times["land cover (k-means)"] = (t_model, t_km)


def run_once(args: argparse.Namespace, test: Any) -> tuple[list, dict, dict]:
    """Train and score every task of ``args.tasks`` with training seed ``args.seed``."""
    rows: list = []
    times: dict = {}
    trained: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            result, seconds, config = train_task(name, args, tmp)
            last = result.history[-1]
            print(f"[{name}] trained {result.epochs_run} epochs x "
                  f"{config['steps_per_epoch']} steps x {config['batch_size']} "
                  f"({len(result.data.train)} train / {len(result.data.val)} val chips of "
                  f"{config['data']['chip_size']} px) in {seconds:.0f} s; best epoch "
                  f"{result.best_epoch}, train loss {last['train_loss']:.4f}")  # fmt: skip
            trained[name] = (seconds, config)
            if name == "water":
                bench_water(result, test, rows, times)
            elif name == "change":
                bench_change(result, test, rows, times)
            elif name == "clouds":
                bench_clouds(result, test, rows, times)
            elif name == "superres":
                bench_superres(result, test, rows, times)
            elif name == "ships":
                extra = [make_scene(args.test_size, seed=args.test_seed + k) for k in (1, 2, 3)]
                tests = [test, *extra]
                classical = pooled_ship_scores(tests, cfar_ships)  # once for both learned paths
                bench_ships(result, tests, classical, rows, times, args.ship_threshold)
                two_stage, seconds, _ = train_candidate_classifier(args, tmp)
                trained["ships 2-stage"] = (seconds, {})
                bench_ship_candidates(two_stage, tests, classical, rows, times)
            else:
                train_scene = make_scene(args.train_size, seed=args.train_seed, ships=False)
                bench_landcover(result, train_scene, test, rows, times)
    return rows, times, trained


def print_rows(rows: list) -> None:
    print(f"\n{'task':<12}{'metric':<11}{'learned':>9}{'classical':>11}{'ratio':>8}  compared")
    for task, metric, learned, classical, what in rows:
        ratio = learned / classical if classical else float("nan")
        print(f"{task:<12}{metric:<11}{learned:9.3f}{classical:11.3f}{ratio:8.2f}  {what}")


def _sd(values: np.ndarray) -> float:
    """Sample standard deviation (0 for a single run)."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarise(
    seeds: list[int], per_seed: list[list]
) -> list[tuple[str, str, float, float, float, float]]:
    """Mean and sample sd of each (task, metric) over the seeds, learned and classical."""
    summary = []
    print(f"\nover training seeds {','.join(map(str, seeds))}: mean +- sd")
    print(f"{'task':<12}{'metric':<11}{'learned':>19}{'classical':>19}")
    for i, (task, metric, *_rest) in enumerate(per_seed[0]):
        learned = np.array([rows[i][2] for rows in per_seed], dtype=float)
        classical = np.array([rows[i][3] for rows in per_seed], dtype=float)
        item = (task, metric, learned.mean(), _sd(learned), classical.mean(), _sd(classical))
        summary.append(item)
        spread = f"{item[2]:11.3f} +- {item[3]:.3f}{item[4]:11.3f} +- {item[5]:.3f}"
        print(f"{task:<12}{metric:<11}{spread}")
    return summary


def main(argv: list[str] | None = None) -> list[list]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--test-seed", type=int, default=100)
    parser.add_argument("--train-size", type=int, default=1024)
    parser.add_argument("--test-size", type=int, default=512)
    parser.add_argument("--epochs-scale", type=float, default=1.0)
    parser.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="override every task's steps per epoch (smoke runs on tiny inputs)",
    )
    add_seed_options(parser, seed_help="the training seed (default 0)")
    parser.add_argument(
        "--ship-threshold",
        type=float,
        default=None,
        help="CenterNet score threshold (default: best F1 on validation chips)",
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    seed_list = args.seeds or [0 if args.seed is None else args.seed]
    torch.set_num_threads(args.threads)
    print(f"cores: {len(os.sched_getaffinity(0))}, torch {torch.__version__} threads: "
          f"{args.threads}, training seeds {','.join(map(str, seed_list))}, "
          f"train scene seed {args.train_seed} ({args.train_size} px), "
          f"test scene seed {args.test_seed} ({args.test_size} px)")  # fmt: skip
    print("bit-exact determinism holds per machine only (CPU kernels differ across machines)")
    test = make_scene(args.test_size, seed=args.test_seed)
    per_seed = []
    for seed in seed_list:
        args.seed = seed
        print(f"\n== training seed {seed} ==")
        rows, times, trained = run_once(args, test)
        print_rows(rows)
        print(f"\n{'task':<22}{'train s':>9}{'predict s':>11}{'classical s':>13}")
        for name, (t_model, t_classic) in times.items():
            key = {"superres x2": "superres", "land cover": "landcover",
                   "land cover (k-means)": "landcover"}.get(name, name)  # fmt: skip
            print(f"{name:<22}{trained[key][0]:9.0f}{t_model:11.2f}{t_classic:13.2f}")
        per_seed.append(rows)
    if len(seed_list) > 1:
        summarise(seed_list, per_seed)
    return per_seed


if __name__ == "__main__":
    main()
