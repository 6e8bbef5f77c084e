"""Learned models on the real data in ../shared/data, against their classical counterparts.

Four tasks, each trained with :func:`satlearn.train.train` on one part of a
real scene and scored on another, disjoint part (the samples are cut here and
handed over in memory with ``train(config, data=TaskData(...))``); the
classical method runs on the same held-out part in the same run:

``clouds``
    U-Net on the real Sentinel-2 L1C patch of s2cloudless' tests (856 x 512,
    13 bands, TOA reflectance). Train: rows 0-363 (rows 364-427 validate);
    score: rows 428-855, IoU against the patch's reference mask (which is
    s2cloudless' own output). Peer: ``cloud_mask(da, method="rules")``.
``buildings``
    U-Net on the SpaceNet-4 Atlanta pan sample of solaris (900 x 900, 0.5 m).
    Train: rows 0-479 (480-599 validate); score: rows 600-899: pixel IoU, and
    SpaceNet's object F1 at IoU 0.5 (:func:`spacenet_f1`): predicted polygons
    from :func:`vectorize_mask` (>= 20 px), truth = the label polygons
    clipped to the scored window (>= 20 px left). One small tile: a smoke
    test, not a SpaceNet result. Peer: Otsu on the pan (buildings are mostly
    bright roofs), scored the same way.
``change``
    Siamese U-Net on OSCD Bercy (13 bands on the 10 m grid, bilinear, as in
    bench_change.py). Train: columns 0-215 (rows 296-394 of them validate);
    score: columns 216-359, F1 of "change" (label 2). Peers: every unsupervised
    method of :func:`satlearn.ops.change.detect_change` run on the same
    held-out columns.
``superres``
    VDSR-style x2 on the Landsat 8 crop (7 reflective 30 m bands, TOA
    reflectance) by the Wald protocol: the 30 m bands are block-averaged by 2
    (60 m; the same degradation as satlearn.train's super-resolution samples),
    the model learns 60 m -> 30 m on rows 0-239 (240-299 validate) and is
    scored on rows 300-599: PSNR (data range = the reference's max - min) and
    SSIM against the 30 m truth, vs bicubic upsampling of the same 60 m input.

Everything is seeded (seed 0), torch runs one thread (two busy-wait against
each other on 2 shared cores), no DataLoader workers. Training seconds are
wall clock of :func:`train`; the selected weights are those of the best
validation epoch.

Run: ``python benchmarks/bench_learned_real.py [clouds buildings change superres]
[--epochs-scale 1.0]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import torch
import xarray as xr
import yaml

from _bench import add_seed_options, cpu_model
from satlearn.bands import get_sensor
from satlearn.metrics import binary_scores
from satlearn.train import TrainConfig, train
from satlearn.train.data import TaskData
from satlearn.train.loop import TrainResult, model_input

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[0].parent / "shared" / "data"
# Set by main() for each run of --seeds; read by fit().
SEED = 0
# --max-chips (smoke runs on tiny inputs): at most this many training and validation chips.
MAX_CHIPS: int | None = None


# --------------------------------------------------------------------------- helpers


def chips(arrays: dict[str, np.ndarray], chip: int, stride: int) -> list[dict[str, np.ndarray]]:
    """Samples cut on a regular grid from arrays sharing their last two axes."""
    h, w = next(iter(arrays.values())).shape[-2:]
    out = []
    for y in range(0, h - chip + 1, stride):
        for x in range(0, w - chip + 1, stride):
            out.append(
                {
                    k: np.ascontiguousarray(v[..., y : y + chip, x : x + chip])
                    for k, v in arrays.items()
                }
            )
    return out if MAX_CHIPS is None else out[:MAX_CHIPS]


def scores_of(prefix: str, scores: Any) -> dict[str, float]:
    """IoU, F1, precision and recall of binary scores, keyed ``PREFIX_METRIC``."""
    return {
        f"{prefix}_{k}": float(getattr(scores, k)) for k in ("iou", "f1", "precision", "recall")
    }


def fit(
    task: str,
    name: str,
    data: TaskData,
    model: dict[str, Any],
    *,
    epochs: int,
    batch: int,
    lr: float,
    root: Path,
    loss: dict[str, Any] | None = None,
    seed: int | None = None,
    augment: dict[str, Any] | None = None,
) -> tuple[TrainResult, float]:
    """Train on in-memory samples (seed: SEED unless given); the result and the seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig.from_dict(
            {
                "task": task,
                # Recorded as provenance only: the samples come in `data`.
                "data": {"kind": "dataset", "name": name, "root": str(root)},
                "model": model,
                "epochs": epochs,
                "batch_size": batch,
                "learning_rate": lr,
                "schedule": "one-cycle",
                "seed": SEED if seed is None else seed,
                "num_workers": 0,
                "device": "cpu",
                "early_stopping": {"patience": 0},
                "loss": loss or {},
                "augment": {"flip": True, "rotate90": True, **(augment or {})},
                "output": {"directory": tmp, "name": name},
            }
        )
        start = time.perf_counter()
        result = train(config, data=data, export=False, progress=False)
        return result, time.perf_counter() - start


def predict(
    result: TrainResult,
    task: str,
    image: np.ndarray,
    image2: np.ndarray | None = None,
    *,
    transforms: int = 1,
):
    """The model's raw output on a whole (normalised) region, as numpy ``(K, H, W)``.

    ``transforms`` 8 averages over the flips and rotations of the input
    (:func:`satlearn.models.dihedral_ensemble`).
    """
    from satlearn.models import dihedral_ensemble

    mean = np.asarray(result.normalisation["mean"], np.float32)[:, None, None]
    std = np.asarray(result.normalisation["std"], np.float32)[:, None, None]
    batch = {"image": torch.from_numpy((image - mean) / std)[None]}
    if image2 is not None:
        batch["image2"] = torch.from_numpy((image2 - mean) / std)[None]
    with torch.no_grad():
        x = model_input(task, batch)
        out = dihedral_ensemble(result.model.eval(), x, transforms=transforms)[0].numpy()
    if task == "superres":
        return out * std + mean
    return out


def foreground(logits: np.ndarray) -> np.ndarray:
    """Class-1 decision of a 1- (sigmoid) or 2-class (softmax) logit map."""
    return logits[0] > 0 if logits.shape[0] == 1 else logits.argmax(axis=0) == 1


def header(title: str) -> None:
    print(f"\n== {title} ==")


def line(name: str, scores: Any, extra: str = "") -> None:
    print(
        f"{name:<26} IoU {scores.iou:6.3f}  F1 {scores.f1:6.3f}  precision "
        f"{scores.precision:6.3f}  recall {scores.recall:6.3f}{extra}"
    )


def report_training(result: TrainResult, seconds: float, data: TaskData) -> None:
    best = result.history[result.best_epoch - 1]
    metrics = {
        k: round(v, 3)
        for k, v in best.items()
        if k.startswith("val_")
        and isinstance(v, float)
        and k in ("val_miou", "val_f1", "val_psnr", "val_loss")
    }
    print(
        f"trained {result.epochs_run} epochs on {len(data.train)} chips "
        f"({len(data.val)} validation) in {seconds:.0f} s; best epoch {result.best_epoch} "
        f"{metrics}"
    )


# --------------------------------------------------------------------------- clouds


def clouds(
    scale: float,
    *,
    stride: int = 16,
    width: int = 16,
    depth: int = 3,
    epochs: int = 15,
    lr: float = 3e-3,
    loss: str = "bce+dice",
) -> dict[str, float]:
    from satlearn.ops.clouds import cloud_mask

    root = SHARED / "s2cloudless-testinputs"
    arrays = np.load(root / "input_arrays.npz", allow_pickle=False)
    image = np.moveaxis(arrays["s2_im"][0], -1, 0).astype(np.float32)  # (13, 856, 512)
    reference = arrays["cl_mask"][0].astype(np.int64)
    half = image.shape[1] // 2
    train_s = chips({"image": image[:, :364], "mask": reference[:364]}, 64, stride)
    val_s = chips({"image": image[:, 364:half], "mask": reference[364:half]}, 64, 64)
    ids = list(get_sensor("sentinel2_l1c").ids)
    data = TaskData(
        "segmentation",
        train_s,
        val_s,
        ids,
        ["clear", "cloud"],
        64,
        provenance={"source": "s2cloudless-testinputs", "rows": "0-427"},
    )
    header(
        f"clouds: real S2 L1C patch {image.shape[1:]}, train rows 0-{half - 1}, "
        f"score rows {half}-{image.shape[1] - 1} ({100 * reference[half:].mean():.1f} % cloud)"
    )
    model = {"name": "unet", "options": {"width": width, "depth": depth}}
    result, seconds = fit(
        "segmentation",
        "clouds-real",
        data,
        model,
        epochs=max(1, round(epochs * scale)),
        batch=8,
        lr=lr,
        root=root,
        loss={"name": loss},
    )
    report_training(result, seconds, data)
    test_ref = reference[half:].astype(bool)
    start = time.perf_counter()
    pred = foreground(predict(result, "segmentation", image[:, half:]))
    t_pred = time.perf_counter() - start
    da = xr.DataArray(
        image[:, half:],
        dims=("band", "y", "x"),
        coords={"band": ids},
        attrs={"sensor": "sentinel2_l1c"},
    )
    start = time.perf_counter()
    rules = cloud_mask(da, method="rules").values
    t_rules = time.perf_counter() - start
    unet = binary_scores(pred, test_ref)
    line(f"unet w{width} d{depth}", unet, f"  {t_pred:.2f} s")
    classical = binary_scores(rules, test_ref)
    line("cloud_mask rules", classical, f"  {t_rules:.2f} s")
    return {
        **scores_of("unet", unet),
        **scores_of("rules", classical),
        "train_s": seconds,
        "best_epoch": result.best_epoch,
    }


# --------------------------------------------------------------------------- buildings


def buildings(scale: float) -> dict[str, float]:
    from affine import Affine
    from skimage.filters import threshold_otsu

    from satlearn.datasets.spacenet import SpaceNetBuildings, spacenet_f1
    from satlearn.prep.labels import vectorize_mask

    root = SHARED / "spacenet-buildings-solaris"
    reader = SpaceNetBuildings(root, pairs=[("sample_geotiff.tif", "geotiff_labels.geojson")])
    sample = reader[0]
    image = sample["image"].astype(np.float32)  # (1, 900, 900) pan DN
    mask = sample["mask"].astype(np.int64)
    transform = Affine(*sample["meta"]["transform"])
    cut, val_row = 600, 480
    train_s = chips({"image": image[:, :val_row], "mask": mask[:val_row]}, 96, 48)
    val_s = chips({"image": image[:, val_row:cut], "mask": mask[val_row:cut]}, 96, 96)
    data = TaskData(
        "segmentation",
        train_s,
        val_s,
        ["pan"],
        ["background", "building"],
        96,
        provenance={"source": "spacenet-buildings-solaris", "rows": "0-599"},
    )
    header(
        f"buildings: SpaceNet-4 Atlanta pan 900 x 900 @ 0.5 m, train rows 0-{cut - 1}, "
        f"score rows {cut}-899 ({100 * mask[cut:].mean():.1f} % building)"
    )
    model = {"name": "unet", "options": {"width": 16, "depth": 3}}
    result, seconds = fit(
        "segmentation",
        "buildings-real",
        data,
        model,
        epochs=max(1, round(12 * scale)),
        batch=8,
        lr=3e-3,
        root=root,
    )
    report_training(result, seconds, data)

    window = transform @ Affine.translation(0, cut)
    footprint = shapely.box(*[*(window @ (0, 300)), *(window @ (900, 0))])
    pixel_area = abs(transform.a * transform.e)
    truth = [
        g
        for g in shapely.intersection(_label_geometries(root), footprint)
        if not g.is_empty and g.area >= 20 * pixel_area
    ]
    test_ref = mask[cut:].astype(bool)
    pred = foreground(predict(result, "segmentation", image[:, cut:]))
    pan = image[0, cut:]
    otsu = pan > threshold_otsu(pan)
    metrics: dict[str, float] = {"train_s": seconds, "best_epoch": result.best_epoch}
    for key, name, m in (("unet", "unet w16 d3", pred), ("otsu", "otsu on pan", otsu)):
        polys = vectorize_mask(m.astype(np.uint8), transform=window, min_pixels=20)
        p, r, f1 = spacenet_f1(polys, truth)
        pixels = binary_scores(m, test_ref)
        line(
            name,
            pixels,
            f"  objects: {len(polys)} predicted / {len(truth)} true, P {p:.3f} R {r:.3f} "
            f"F1@0.5 {f1:.3f}",
        )
        metrics[f"{key}_iou"] = pixels.iou
        metrics[f"{key}_object_f1"] = f1
    return metrics


def _label_geometries(root: Path) -> list[shapely.Geometry]:
    import json

    collection = json.loads((root / "geotiff_labels.geojson").read_text())
    return [shapely.geometry.shape(f["geometry"]) for f in collection["features"]]


# --------------------------------------------------------------------------- change


def change(
    scale: float,
    loss: str = "bce+dice",
    *,
    epochs: int = 15,
    width: int = 8,
    stride: int = 16,
    lr: float = 3e-3,
    members: int = 3,
    swap_dates: bool = False,
) -> dict[str, float]:
    """OSCD Bercy; ``members`` > 1 trains a deep ensemble (seeds SEED, then
    1000 x SEED + k) whose logits are averaged: the spread over seeds of one
    model on 747 change pixels is what the ensemble is for."""
    from satlearn.ops.change import detect_change

    sys.path.insert(0, str(HERE))
    from bench_change import RUNS, bercy  # the same 13-band 10 m stacks as bench_change

    before, after, reference, _, _ = bercy()
    b = before.values.astype(np.float32)
    a = after.values.astype(np.float32)
    ref = reference.astype(np.int64)
    cut, val_row = 216, 296
    train_s = chips(
        {
            "image": b[:, :val_row, :cut],
            "image2": a[:, :val_row, :cut],
            "mask": ref[:val_row, :cut],
        },
        64,
        stride,
    )
    val_s = chips(
        {
            "image": b[:, val_row:, :cut],
            "image2": a[:, val_row:, :cut],
            "mask": ref[val_row:, :cut],
        },
        64,
        32,
    )
    names = [str(n) for n in before.band.values]
    data = TaskData(
        "change",
        train_s,
        val_s,
        names,
        ["no_change", "change"],
        64,
        provenance={"source": "oscd-bercy", "columns": "0-215"},
    )
    test_ref = reference[:, cut:]
    header(
        f"change: OSCD Bercy {reference.shape}, train columns 0-{cut - 1} "
        f"({int(reference[:, :cut].sum())} change px), score columns {cut}-"
        f"{reference.shape[1] - 1} ({int(test_ref.sum())} change px)"
    )
    model = {"name": "siamese-unet", "options": {"width": width, "depth": 3}}
    results, seconds = [], 0.0
    for k in range(members):
        result, took = fit(
            "change",
            "change-real",
            data,
            model,
            epochs=max(1, round(epochs * scale)),
            batch=8,
            lr=lr,
            root=SHARED / "oscd-bercy",
            loss={"name": loss},
            seed=None if k == 0 else 1000 * SEED + k,
            augment={"swap_dates": swap_dates},
        )
        report_training(result, took, data)
        results.append(result)
        seconds += took
    print(f"loss {result_loss(loss, data)}")

    def ensemble(*images: np.ndarray, transforms: int = 1) -> np.ndarray:
        """The members' mean logits (one member: its own)."""
        runs = [predict(r, "change", *images, transforms=transforms) for r in results]
        return np.mean(runs, axis=0)

    logits = ensemble(b[:, :, cut:], a[:, :, cut:])
    learned = binary_scores(foreground(logits), test_ref)
    label = f"siamese-unet w{width} d3" + (f" x{members} ensemble" if members > 1 else "")
    line(label, learned)
    metrics: dict[str, float] = {
        **scores_of("siamese", learned),
        "train_s": seconds,
        "best_epoch": results[0].best_epoch,
    }
    # The threshold that is best on the validation rows of the training columns.
    val_logits = ensemble(b[:, val_row:, :cut], a[:, val_row:, :cut])
    grid = np.linspace(-4, 4, 33)
    val_f1 = [binary_scores(val_logits[0] > t, reference[val_row:, :cut]).f1 for t in grid]
    t = float(grid[int(np.nanargmax(val_f1))])
    tuned = binary_scores(logits[0] > t, test_ref)
    line(f"  logit > {t:+.2f} (val-tuned)", tuned)
    metrics["siamese_tuned_f1"] = tuned.f1
    # The geometric self-ensemble (8 flips/rotations of both dates), and what each
    # variant scores on the validation rows: the variant to report is chosen there.
    logits8 = ensemble(b[:, :, cut:], a[:, :, cut:], transforms=8)
    x8 = binary_scores(foreground(logits8), test_ref)
    line("  x8 self-ensemble", x8)
    metrics.update(scores_of("siamese_x8", x8))
    val_ref = reference[val_row:, :cut]
    val_logits8 = ensemble(b[:, val_row:, :cut], a[:, val_row:, :cut], transforms=8)
    metrics["val_f1_single"] = float(binary_scores(foreground(val_logits), val_ref).f1)
    metrics["val_f1_x8"] = float(binary_scores(foreground(val_logits8), val_ref).f1)
    print(
        f"  validation rows: F1 single pass {metrics['val_f1_single']:.3f}, "
        f"x8 {metrics['val_f1_x8']:.3f}, single at the tuned threshold {max(val_f1):.3f}"
    )
    hb, ha = before.isel(x=slice(cut, None)), after.isel(x=slice(cut, None))
    for name, kwargs in RUNS.items():
        try:
            got = detect_change(hb, ha, **kwargs).mask.values
        except Exception as err:  # a method that cannot run is reported, not fatal
            print(f"{name:<26} skipped: {err}")
            continue
        scores = binary_scores(got, test_ref)
        line(name, scores)
        metrics[f"{name}_f1"] = scores.f1
    classical = [
        v
        for k, v in metrics.items()
        if k.endswith("_f1") and "siamese" not in k and not k.startswith("val_")
    ]
    metrics["best_classical_f1"] = max(classical, default=float("nan"))
    return metrics


# --------------------------------------------------------------------------- superres


def superres(
    scale: float,
    loss: str = "mse",
    model: dict[str, Any] | None = None,
    learning_rate: float = 1e-3,
    epochs: int = 120,
) -> dict[str, float]:
    import torch.nn.functional as F

    from satlearn.datasets.landsat import open_landsat
    from satlearn.ops.quality import psnr, ssim

    root = SHARED / "landsat8-l1t-crop"
    bands = ["coastal", "blue", "green", "red", "nir", "swir16", "swir22"]
    hr = open_landsat(root, bands=bands).values.astype(np.float32)[:, :600, :626]  # even sides
    c, h, w = hr.shape
    lr = hr.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))  # Wald: block mean by 2

    def pairs(rows: slice, chip: int, stride: int) -> list[dict[str, np.ndarray]]:
        lo = chips({"image": lr[:, rows]}, chip, stride)
        hi_rows = slice(rows.start * 2, rows.stop * 2)
        hi = chips({"target": hr[:, hi_rows]}, 2 * chip, 2 * stride)
        return [{**a, **b} for a, b in zip(lo, hi, strict=True)]

    train_s = pairs(slice(0, 120), 24, 8)
    val_s = pairs(slice(120, 150), 24, 24)
    data = TaskData(
        "superres",
        train_s,
        val_s,
        bands,
        [],
        24,
        scale=2,
        provenance={"source": "landsat8-l1t-crop", "rows": "0-299"},
    )
    header(
        f"superres x2: Landsat 8 TOA {c} bands {h} x {w} @ 30 m (Wald: 60 m -> 30 m), "
        f"train rows 0-299, score rows 300-{h - 1}"
    )
    model = model or {"name": "vdsr", "options": {"width": 32, "depth": 8, "scale": 2}}
    result, seconds = fit(
        "superres",
        "sr-real",
        data,
        model,
        epochs=max(1, round(epochs * scale)),
        batch=16,
        lr=learning_rate,
        root=root,
        loss={"name": loss},
    )
    print(f"loss {loss}")
    report_training(result, seconds, data)
    test_hr = hr[:, 300:]
    test_lr = lr[:, 150:]
    sr = predict(result, "superres", test_lr)
    with torch.no_grad():
        bic = F.interpolate(
            torch.from_numpy(test_lr)[None], scale_factor=2.0, mode="bicubic", align_corners=False
        )[0].numpy()
    rng = float(np.ptp(test_hr))
    b = 4  # both scored without a 4-pixel border (edge padding differs)
    crop = np.s_[:, b:-b, b:-b]
    p_sr, p_bic = (
        psnr(test_hr[crop], sr[crop], data_range=rng),
        psnr(test_hr[crop], bic[crop], data_range=rng),
    )
    s_sr, s_bic = (
        ssim(test_hr[crop], sr[crop], data_range=rng),
        ssim(test_hr[crop], bic[crop], data_range=rng),
    )
    label = " ".join([model["name"], *(f"{k}={v}" for k, v in model["options"].items())])
    print(f"{label:<26} PSNR {p_sr:6.2f} dB  SSIM {s_sr:.4f}  ({p_sr - p_bic:+.2f} dB)")
    # The geometric self-ensemble (EDSR+): the same model over 8 flips/rotations.
    sr8 = predict(result, "superres", test_lr, transforms=8)
    p_sr8 = psnr(test_hr[crop], sr8[crop], data_range=rng)
    s_sr8 = ssim(test_hr[crop], sr8[crop], data_range=rng)
    gain8 = p_sr8 - p_bic
    print(f"{'  x8 self-ensemble':<26} PSNR {p_sr8:6.2f} dB  SSIM {s_sr8:.4f}  ({gain8:+.2f} dB)")
    print(f"{'bicubic':<26} PSNR {p_bic:6.2f} dB  SSIM {s_bic:.4f}")
    return {
        "psnr": p_sr,
        "gain_db": p_sr - p_bic,
        "ssim": s_sr,
        "psnr_x8": p_sr8,
        "gain_x8_db": gain8,
        "ssim_x8": s_sr8,
        "bicubic_psnr": p_bic,
        "bicubic_ssim": s_bic,
        "train_s": seconds,
        "best_epoch": result.best_epoch,
    }


def result_loss(name: str, data: TaskData) -> dict[str, Any]:
    """The loss settings as training resolves them (pos_weight auto: the class weights)."""
    from satlearn.train.losses import build_loss

    return build_loss(data.task, {"name": name}, data.train, num_classes=2).settings


TASKS = {"clouds": clouds, "buildings": buildings, "change": change, "superres": superres}


# Goals of the learned-figures issue: (task, metric, how it is judged over the seeds).
GOALS = {
    "clouds": "unet_iou mean >= 0.86 and sd <= 0.01 (rules: 0.816)",
    "superres": "gain_db (one forward pass) mean >= +1.0 dB over bicubic",
    "change": "siamese_f1 mean >= best_classical_f1 mean + 0.05",
}


def goal_met(task: str, runs: list[dict[str, float]]) -> bool | None:
    """Whether the issue's goal holds for the runs of a task (None: no goal set)."""

    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in runs]))

    if task == "clouds":
        return (
            mean("unet_iou") >= 0.86
            and float(np.std([r["unet_iou"] for r in runs], ddof=1 if len(runs) > 1 else 0)) <= 0.01
        )
    if task == "superres":
        return mean("gain_db") >= 1.0
    if task == "change":
        return mean("siamese_f1") >= mean("best_classical_f1") + 0.05
    return None


def summarise(task: str, seeds: list[int], runs: list[dict[str, float]]) -> None:
    """Each run's metrics, then their mean and (sample) standard deviation."""
    keys = list(runs[0])
    print(f"\n-- {task}: seeds {','.join(map(str, seeds))} --")
    print(
        f"{'metric':<22}"
        + "".join(f"{'seed ' + str(s):>10}" for s in seeds)
        + f"{'mean':>10}{'sd':>9}"
    )
    for key in keys:
        values = np.array([r[key] for r in runs], dtype=float)
        sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        cells = "".join(f"{v:10.4f}" for v in values)
        print(f"{key:<22}{cells}{values.mean():10.4f}{sd:9.4f}")
    met = goal_met(task, runs)
    if met is not None:
        print(f"goal: {GOALS[task]}: {'met' if met else 'NOT met'}")


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, float]]]:
    global SEED, MAX_CHIPS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tasks", nargs="*", help=f"any of {', '.join(TASKS)} (default: all)")
    parser.add_argument(
        "--epochs-scale",
        type=float,
        default=1.0,
        help="multiply every task's epochs (quick checks: 0.1)",
    )
    add_seed_options(parser, seed_help="one training seed (default 0)")
    parser.add_argument(
        "--max-chips",
        type=int,
        default=None,
        help="at most this many training (and validation) chips: smoke runs on tiny inputs",
    )
    parser.add_argument(
        "--loss",
        action="append",
        default=[],
        metavar="TASK=NAME",
        help="the training loss of a task (change: bce, weighted-bce, bce+dice, focal; "
        "superres: l1, mse); default change=bce+dice, superres=mse",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="TASK.NAME=VALUE",
        help="a task's setting, for experiments (e.g. clouds.stride=16, clouds.width=24); "
        "the defaults are the recorded settings",
    )
    args = parser.parse_args(argv)
    losses = dict(item.split("=", 1) for item in args.loss)
    settings: dict[str, dict[str, Any]] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        task, _, name = key.partition(".")
        if task not in TASKS or not name or not value:
            parser.error(
                f"--set {item!r}: give TASK.NAME=VALUE with TASK one of {', '.join(TASKS)}"
            )
        settings.setdefault(task, {})[name] = yaml.safe_load(value)
    unknown = set(args.tasks) - set(TASKS)
    if unknown:
        parser.error(
            f"unknown task(s) {', '.join(sorted(unknown))}; choose from {', '.join(TASKS)}"
        )
    if not SHARED.is_dir():
        print(f"../shared/data not found at {SHARED}: nothing to run")
        return {}
    seed_list = args.seeds or [0 if args.seed is None else args.seed]
    MAX_CHIPS = args.max_chips
    torch.set_num_threads(1)

    import onnxruntime

    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, 1 thread, "
        f"seeds {','.join(map(str, seed_list))}, CPU {cpu_model()}"
    )
    print("bit-exact determinism holds per machine only (CPU kernels differ across machines)")
    results: dict[str, list[dict[str, float]]] = {}
    for name in args.tasks or TASKS:
        runs = []
        for seed in seed_list:
            SEED = seed
            torch.manual_seed(seed)
            start = time.perf_counter()
            print(f"\n[{name}, seed {seed}]")
            options = dict(settings.get(name, {}))
            if name in losses:
                options["loss"] = losses[name]
            runs.append(TASKS[name](args.epochs_scale, **options))
            print(f"({name}, seed {seed}: {time.perf_counter() - start:.0f} s in all)")
        results[name] = runs
        summarise(name, seed_list, runs)
    return results


if __name__ == "__main__":
    main()
