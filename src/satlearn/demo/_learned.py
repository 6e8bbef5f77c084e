"""The learned step of the demo: a small U-Net trained on the scene's own labels.

The northern :data:`~satlearn.demo._classical.TRAIN_SHARE` of the scene is cut
into overlapping chips with the land-cover truth as masks (pixels under thick
cloud unlabelled); :func:`satlearn.train.train` learns a U-Net on them and
exports a bundle; :func:`satlearn.predict.predict` runs the bundle over the
whole scene, tile by tile (class COG, polygons, STAC item, thumbnail); the
southern part, never trained on, scores it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from satlearn.demo._classical import TRAIN_SHARE
from satlearn.demo._context import DemoContext, score
from satlearn.demo._pictures import write_classes_png
from satlearn.demo._result import StepResult

__all__ = [
    "SEGMENTATION_BANDS",
    "chip_samples",
    "run_segmentation",
    "torch_threads",
    "training_plan",
]

#: The bands the model reads: visible, NIR and the two SWIR bands.
SEGMENTATION_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")


def training_plan(size: int) -> dict[str, int]:
    """Chip side, stride and epochs for a scene of ``size`` pixels.

    A 1024-pixel scene gives ~550 chips of 64 px; a small test scene keeps
    enough chips (32 px) to learn something in a few seconds.
    """
    if size >= 512:
        return {"chip": 64, "stride": 32, "epochs": 12, "steps": 40}
    return {"chip": 32, "stride": 16, "epochs": 6, "steps": 20}


@contextmanager
def torch_threads() -> Iterator[None]:
    """Train on all cores but one (one on a 2-core machine), then restore.

    OpenMP threads spin at every barrier: two of them on two cores shared with
    anything else ran epochs 4-5x slower than one thread did.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(before, (os.cpu_count() or 1) - 1)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def chip_samples(
    image: np.ndarray, mask: np.ndarray, *, rows: int, chip: int, stride: int
) -> list[dict[str, Any]]:
    """Chips ``{"image", "mask"}`` of the first ``rows`` rows (the training part)."""
    height, width = mask.shape
    samples = []
    for y in range(0, min(rows, height) - chip + 1, stride):
        for x in range(0, width - chip + 1, stride):
            samples.append(
                {
                    "image": np.ascontiguousarray(image[:, y : y + chip, x : x + chip]),
                    "mask": np.ascontiguousarray(mask[y : y + chip, x : x + chip]),
                }
            )
    return samples


def run_segmentation(ctx: DemoContext, result: StepResult) -> None:
    """Train a U-Net (width 16) on the north of the scene, predict all of it, score the south."""
    from satlearn.metrics import segmentation_scores
    from satlearn.predict import CLASSES_COG, predict
    from satlearn.raster import open_raster
    from satlearn.synth.landcover import LAND_COVER_CLASSES
    from satlearn.train import TrainConfig, train
    from satlearn.train.data import IGNORE, TaskData

    truth = ctx.truth
    bands = list(SEGMENTATION_BANDS)
    image = ctx.image.sel(band=bands).values.astype(np.float32)
    cloudy = truth.cloud_mask.values[0]
    labels = np.where(cloudy, IGNORE, truth.landcover.values).astype(np.int64)
    height, width = labels.shape
    split = int(TRAIN_SHARE * height)
    plan = training_plan(min(height, width))
    samples = chip_samples(image, labels, rows=split, chip=plan["chip"], stride=plan["stride"])
    # Every fifth chip validates (picks the best epoch); the south stays unseen.
    val = samples[::5]
    train_chips = [s for i, s in enumerate(samples) if i % 5]
    folder = ctx.folder(result.name)
    config = TrainConfig.from_dict(
        {
            "task": "segmentation",
            # What the chips are (recorded in the bundle's provenance); the
            # samples themselves are cut above, from the north of this scene.
            "data": {
                "kind": "synthetic", "target": "landcover", "size": max(64, min(height, width)),
                "seed": ctx.seed, "chip_size": plan["chip"],
            },
            "bands": bands,
            "model": {"name": "unet", "options": {"width": 16, "depth": 3}},
            "epochs": plan["epochs"],
            "steps_per_epoch": plan["steps"],
            "batch_size": 16,
            "learning_rate": 0.003,
            "num_workers": 0,
            "augment": {"flip": True, "rotate90": True},
            "early_stopping": {"patience": 4},
            "seed": ctx.seed,
            "output": {
                "directory": str(folder / "bundle"), "name": "landcover-unet", "version": "1",
                "overwrite": True, "exporter": "legacy",
            },
        }
    )  # fmt: skip
    data = TaskData("segmentation", train_chips, val, bands, list(LAND_COVER_CLASSES), plan["chip"])
    with torch_threads():
        trained = train(config, data=data, progress=False)
    result.outputs["model bundle"] = trained.bundle
    result.notes.append(
        f"U-Net width 16, depth 3, on {len(train_chips)} chips of {plan['chip']} px from the "
        f"northern {TRAIN_SHARE:.0%}; {trained.epochs_run} epochs, best {trained.best_epoch}"
    )
    seen = np.unique(np.concatenate([s["mask"].ravel() for s in train_chips]))
    absent = [c for i, c in enumerate(LAND_COVER_CLASSES) if i not in seen]
    if absent:  # a class the north does not hold cannot be learned for the south
        result.notes.append(f"no training pixel of: {', '.join(absent)}")
    predicted = predict(trained.bundle, ctx.image, tile_size=256, out=folder / "prediction")
    for label, name in (
        ("predicted classes", CLASSES_COG),
        ("polygons (GeoParquet)", "polygons.parquet"),
        ("polygons (GeoJSON)", "polygons.geojson"),
        ("STAC item", "item.json"),
    ):
        if (predicted / name).exists():
            result.outputs[label] = predicted / name
    classes = open_raster(predicted / CLASSES_COG).values[0]
    write_classes_png(classes, ctx.picture(result, "U-Net land cover", "prediction"))
    south = np.arange(height)[:, None] >= split
    held_out = south & ~cloudy & (classes != 255)
    scores = segmentation_scores(
        classes, truth.landcover.values, n_classes=len(LAND_COVER_CLASSES), valid=held_out
    )
    score(result, "mIoU (held-out south)", scores.miou)
    score(result, "accuracy (held-out south)", scores.accuracy)
