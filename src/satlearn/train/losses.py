"""The loss of each task (plain torch).

==============  =============================================================
task            loss
==============  =============================================================
classification  cross-entropy
multilabel      binary cross-entropy on logits
segmentation    cross-entropy + soft Dice (a single-logit model: BCE + Dice)
change          binary cross-entropy on the change logit
superres        L1 on the normalised high-resolution image
detection       CenterNet: penalty-reduced focal loss on the centre heatmaps,
                L1 on box size and centre offset at object centres
==============  =============================================================

Pixels whose mask is :data:`satlearn.train.data.IGNORE` count in no loss.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.train.data import IGNORE

__all__ = ["centernet_targets", "dice_loss", "focal_heatmap_loss", "task_loss"]


def dice_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Soft Dice loss, averaged over classes present in the batch, unlabelled pixels out.

    ``logits`` is ``(N, K, H, W)`` (softmax) or ``(N, 1, H, W)`` (sigmoid,
    mask 0/1).
    """
    valid = (mask != IGNORE).unsqueeze(1).to(logits.dtype)
    target = torch.where(mask == IGNORE, torch.zeros_like(mask), mask)
    if logits.shape[1] == 1:
        probs = torch.sigmoid(logits)
        onehot = target.unsqueeze(1).to(logits.dtype)
    else:
        probs = logits.softmax(dim=1)
        onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    probs, onehot = probs * valid, onehot * valid
    dims = (0, 2, 3)
    inter = (probs * onehot).sum(dims)
    total = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + 1.0) / (total + 1.0)
    return 1.0 - dice.mean()


def _masked_bce(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    valid = mask != IGNORE
    target = (mask == 1).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits[:, 0], target, reduction="none")
    return (loss * valid).sum() / valid.sum().clamp(min=1)


def _gaussian_sigma(width: float, height: float) -> float:
    # The CenterNet radius rule (Law & Deng's corner radius with min_overlap
    # 0.7, the smallest of its three cases), sigma = diameter / 6.
    a, b = 4.0, 2.0 * (height + width)
    c = (1.0 - 0.7) * width * height
    radius = (b - math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return max((2 * max(radius, 0.0) + 1) / 6.0, 0.5)


def centernet_targets(
    boxes: list[Any],
    labels: list[Any],
    *,
    num_classes: int,
    out_size: tuple[int, int],
    stride: float,
) -> dict[str, torch.Tensor]:
    """Heatmap, size and offset targets of a batch of boxes for a CenterNet head.

    Returns ``heatmap (N, K, h, w)``, ``wh (N, 2, h, w)`` (box width and
    height in input pixels), ``offset (N, 2, h, w)`` (sub-cell centre
    offset, in output cells) and ``centres (N, 1, h, w)`` (1 at object
    centres). Objects are few per chip: a loop over boxes, each splatting a
    vectorised Gaussian.
    """
    h, w = out_size
    n = len(boxes)
    heat = np.zeros((n, num_classes, h, w), np.float32)
    wh = np.zeros((n, 2, h, w), np.float32)
    offset = np.zeros((n, 2, h, w), np.float32)
    centres = np.zeros((n, 1, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
        lab = np.asarray(lab, dtype=np.int64).reshape(-1)
        for (x0, y0, x1, y1), k in zip(b, lab, strict=True):
            if not 0 <= k < num_classes:
                raise InvalidInputError(f"box label {k} is not a class id (0..{num_classes - 1})")
            cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
            px, py = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = _gaussian_sigma((x1 - x0) / stride, (y1 - y0) / stride)
            g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sigma**2))
            np.maximum(heat[i, k], g, out=heat[i, k])
            wh[i, :, py, px] = (x1 - x0, y1 - y0)
            offset[i, :, py, px] = (cx - px, cy - py)
            centres[i, 0, py, px] = 1.0
    return {
        "heatmap": torch.from_numpy(heat),
        "wh": torch.from_numpy(wh),
        "offset": torch.from_numpy(offset),
        "centres": torch.from_numpy(centres),
    }


def focal_heatmap_loss(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel focal loss (alpha 2, beta 4), per object.

    ``probs`` are heatmap probabilities (after the sigmoid), ``target`` the
    Gaussian-splatted heatmap with 1 at object centres.
    """
    p = probs.clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).to(p.dtype)
    neg_weight = (1 - target).pow(4)
    pos_loss = torch.log(p) * (1 - p).pow(2) * pos
    neg_loss = torch.log(1 - p) * p.pow(2) * neg_weight * (1 - pos)
    n_pos = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n_pos


def detection_loss(
    out: torch.Tensor, batch: dict[str, Any], *, num_classes: int, input_size: tuple[int, int]
) -> torch.Tensor:
    """CenterNet loss of a ``(N, K+4, h, w)`` output: focal heatmap + 0.1 x L1 size + L1 offset."""
    h, w = out.shape[-2:]
    stride = input_size[0] / h
    t = centernet_targets(
        batch["boxes"],
        batch["box_labels"],
        num_classes=num_classes,
        out_size=(h, w),
        stride=stride,
    )
    t = {k: v.to(out.device) for k, v in t.items()}
    heat = out[:, :num_classes]
    wh, offset = out[:, num_classes : num_classes + 2], out[:, num_classes + 2 : num_classes + 4]
    centres = t["centres"]
    n_pos = centres.sum().clamp(min=1)
    size_loss = (F.l1_loss(wh, t["wh"], reduction="none") * centres).sum() / n_pos
    off_loss = (F.l1_loss(offset, t["offset"], reduction="none") * centres).sum() / n_pos
    return focal_heatmap_loss(heat, t["heatmap"]) + 0.1 * size_loss + off_loss


def task_loss(
    task: str, out: torch.Tensor, batch: dict[str, Any], *, num_classes: int
) -> torch.Tensor:
    """The training loss of ``task`` for model output ``out`` and a collated ``batch``."""
    if task == "classification":
        return F.cross_entropy(out, batch["label"].long())
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(out, batch["label"].to(out.dtype))
    if task in ("segmentation", "change"):
        mask = batch["mask"].long()
        if out.shape[1] == 1:
            bce = _masked_bce(out, mask)
            return bce if task == "change" else bce + dice_loss(out, mask)
        ce = F.cross_entropy(out, mask, ignore_index=IGNORE)
        return ce + dice_loss(out, mask) if task == "segmentation" else ce
    if task == "superres":
        return F.l1_loss(out, batch["target"])
    if task == "detection":
        return detection_loss(
            out, batch, num_classes=num_classes, input_size=tuple(batch["image"].shape[-2:])
        )
    raise InvalidInputError(f"unknown task {task!r}")
