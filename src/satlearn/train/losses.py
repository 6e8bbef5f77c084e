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

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.train.data import IGNORE

__all__ = ["detection_loss", "dice_loss", "task_loss"]


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


def detection_loss(out: torch.Tensor, batch: dict[str, Any], *, num_classes: int) -> torch.Tensor:
    """CenterNet loss of a ``(N, K+4, h, w)`` output (``models.detection.centernet_loss``).

    The targets are built per image with the models' own
    :func:`~satlearn.models.detection.centernet_targets`, at the stride the
    output shows, so training and :func:`~satlearn.models.decode_detections`
    share one convention.
    """
    from satlearn.models.detection import centernet_loss, centernet_targets

    size = tuple(int(v) for v in batch["image"].shape[-2:])
    stride = max(1, round(size[0] / out.shape[-2]))
    targets = [
        centernet_targets(
            b.cpu().numpy(), c.cpu().numpy(), num_classes=num_classes, size=size, stride=stride
        )
        for b, c in zip(batch["boxes"], batch["box_labels"], strict=True)
    ]
    stacked = {
        key: torch.from_numpy(np.stack([t[key] for t in targets])).to(out.device)
        for key in targets[0]
    }
    return centernet_loss(out, stacked)


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
        if not (mask != IGNORE).any():  # nothing labelled: CE would be 0/0
            return out.sum() * 0.0
        ce = F.cross_entropy(out, mask, ignore_index=IGNORE)
        return ce + dice_loss(out, mask) if task == "segmentation" else ce
    if task == "superres":
        return F.l1_loss(out, batch["target"])
    if task == "detection":
        return detection_loss(out, batch, num_classes=num_classes)
    raise InvalidInputError(f"unknown task {task!r}")
