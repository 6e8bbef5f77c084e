"""The loss of each task (plain torch).

==============  =============================================================
task            default loss
==============  =============================================================
classification  cross-entropy
multilabel      binary cross-entropy on logits
segmentation    cross-entropy + soft Dice (a single-logit model: BCE + Dice)
change          binary cross-entropy + soft Dice on the change logit
superres        L1 on the normalised high-resolution image
detection       CenterNet: penalty-reduced focal loss on the centre heatmaps,
                L1 on box size and centre offset at object centres
==============  =============================================================

The ``loss`` section of a :class:`~satlearn.train.config.TrainConfig`
(:class:`~satlearn.train.config.LossConfig`) picks another one for
segmentation and change (``bce``, ``weighted-bce``, ``bce+dice``, ``focal``,
with a foreground weight ``pos_weight`` that ``"auto"`` computes from the
training targets) and for super-resolution (``l1``, ``mse``);
:func:`build_loss` turns it into the callable the training loop uses.
Rare foreground (0.7 % changed pixels on OSCD Bercy) is why change trains
with Dice by default: with plain cross-entropy a model scores well by
predicting "no change" everywhere. On OSCD Bercy (docs/benchmarks.md) the
validation F1 of a Siamese U-Net was 0.12 with ``bce``, 0.11 ``focal``, 0.24
``weighted-bce`` and 0.40 ``bce+dice``.

Pixels whose mask is :data:`satlearn.train.data.IGNORE` count in no loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.train.data import IGNORE

__all__ = [
    "DEFAULT_LOSS",
    "TaskLoss",
    "build_loss",
    "class_weights",
    "detection_loss",
    "dice_loss",
    "pixel_loss",
    "task_loss",
]

#: The loss each task trains with when the config says ``default``.
DEFAULT_LOSS: dict[str, str] = {
    "classification": "cross-entropy",
    "multilabel": "bce",
    "segmentation": "bce+dice",
    "change": "bce+dice",
    "superres": "l1",
    "detection": "centernet",
}


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


def pixel_loss(
    logits: torch.Tensor,
    mask: torch.Tensor,
    *,
    weights: Sequence[float] | None = None,
    gamma: float = 0.0,
) -> torch.Tensor:
    """Per-pixel cross-entropy, optionally class-weighted and focal, averaged over labelled pixels.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, 1, H, W)`` (sigmoid: binary cross-entropy, mask 0/1) or
        ``(N, K, H, W)`` (softmax: cross-entropy, mask 0..K-1).
    mask : torch.Tensor
        ``(N, H, W)`` integer targets; :data:`~satlearn.train.data.IGNORE`
        pixels count in neither the sum nor the count.
    weights : sequence of float, optional
        Per-class weights (index = class id; a single-logit model uses
        ``weights[0]`` for 0 and ``weights[1]`` for 1). The mean stays over
        labelled pixels, as torch's ``pos_weight`` does, so a weight scales
        its class's share of the gradient.
    gamma : float
        Focal exponent: each pixel's term is multiplied by ``(1 - p_t) **
        gamma`` (0: plain cross-entropy), which damps the many easy
        background pixels.

    Returns
    -------
    torch.Tensor
        A scalar (0 with a gradient when nothing is labelled).

    Examples
    --------
    >>> logits = torch.zeros(1, 1, 1, 2)
    >>> round(float(pixel_loss(logits, torch.tensor([[[0, 1]]]))), 4)  # log 2
    0.6931
    >>> round(float(pixel_loss(logits, torch.tensor([[[0, 1]]]), weights=[1, 3])), 4)
    1.3863
    """
    valid = mask != IGNORE
    target = torch.where(valid, mask, torch.zeros_like(mask)).long()
    if logits.shape[1] == 1:
        z = logits[:, 0]
        ce = F.binary_cross_entropy_with_logits(z, target.to(z.dtype), reduction="none")
    else:
        ce = F.cross_entropy(logits, target, reduction="none")
    if gamma:
        # p_t = exp(-ce): the probability given to the true class.
        ce = ce * (1.0 - torch.exp(-ce)).clamp(min=0.0) ** gamma
    if weights is not None:
        w = torch.as_tensor(list(weights), dtype=ce.dtype, device=ce.device)
        ce = ce * w[target.clamp(max=len(w) - 1)]
    return (ce * valid).sum() / valid.sum().clamp(min=1)


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


def class_weights(
    samples: Sequence[Mapping[str, Any]], *, num_classes: int = 2, key: str = "mask"
) -> list[float]:
    """Foreground weights from training targets: background pixels / class pixels.

    Class 0 gets 1; class ``c`` gets ``n_0 / n_c`` (for a binary mask, the
    ``pos_weight`` of torch's ``BCEWithLogitsLoss`` docs: negatives over
    positives). A class absent from the samples gets 1 (no estimate);
    unlabelled (:data:`~satlearn.train.data.IGNORE`) pixels are not counted.

    Raises
    ------
    InvalidInputError
        No background pixel, or no foreground pixel of any class.

    Examples
    --------
    >>> mask = np.array([[0, 0, 0, 1]])
    >>> class_weights([{"mask": mask}])
    [1.0, 3.0]
    """
    counts = np.zeros(max(2, num_classes), np.int64)
    for sample in samples:
        values = np.asarray(sample[key]).ravel()
        values = values[values != IGNORE].astype(np.int64)
        counts += np.bincount(values, minlength=len(counts))[: len(counts)]
    if not counts[1:].any():
        raise InvalidInputError(
            "loss pos_weight 'auto': the training targets hold no foreground pixel; "
            "give pos_weight a number or use an unweighted loss"
        )
    if counts[0] == 0:
        raise InvalidInputError(
            "loss pos_weight 'auto': the training targets hold no background (class 0) pixel"
        )
    with np.errstate(divide="ignore"):
        ratio = np.where(counts > 0, counts[0] / np.maximum(counts, 1), 1.0)
    return [float(v) for v in ratio]


class TaskLoss:
    """A task's training loss as one callable ``loss(out, batch) -> scalar``.

    Built by :func:`build_loss`; :attr:`settings` is what a bundle's
    provenance records (name, resolved weights, gamma).
    """

    def __init__(
        self,
        task: str,
        name: str,
        *,
        num_classes: int,
        weights: list[float] | None = None,
        gamma: float = 0.0,
    ) -> None:
        self.task, self.name, self.num_classes = task, name, num_classes
        self.weights, self.gamma = weights, gamma

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.weights is not None:
            out["class_weights"] = self.weights
        if self.name == "focal":
            out["gamma"] = self.gamma
        return out

    def __call__(self, out: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        task, name = self.task, self.name
        if task == "classification":
            return F.cross_entropy(out, batch["label"].long())
        if task == "multilabel":
            return F.binary_cross_entropy_with_logits(out, batch["label"].to(out.dtype))
        if task == "superres":
            if name == "mse":
                return F.mse_loss(out, batch["target"])
            return F.l1_loss(out, batch["target"])
        if task == "detection":
            return detection_loss(out, batch, num_classes=self.num_classes)
        mask = batch["mask"].long()
        gamma = self.gamma if name == "focal" else 0.0
        loss = pixel_loss(out, mask, weights=self.weights, gamma=gamma)
        if name == "bce+dice":
            loss = loss + dice_loss(out, mask)
        return loss


def build_loss(
    task: str,
    config: Any = None,
    samples: Sequence[Mapping[str, Any]] = (),
    *,
    num_classes: int,
) -> TaskLoss:
    """The loss of ``task`` as a config's ``loss`` section asks for it.

    Parameters
    ----------
    task : str
        One of :data:`satlearn.train.config.TASKS`.
    config : LossConfig or mapping, optional
        ``{"name": ..., "pos_weight": ..., "gamma": ...}`` (default: the
        task's own loss, :data:`DEFAULT_LOSS`).
    samples : sequence of dict
        The training samples; read (their ``mask``) only for ``pos_weight:
        auto``.
    num_classes : int
        The task's classes (change: 2, no-change and change).

    Returns
    -------
    TaskLoss

    Raises
    ------
    InvalidInputError
        A loss that does not fit the task, or ``auto`` weights without
        foreground or background in the samples.

    Examples
    --------
    >>> mask = np.array([[0, 0, 0, 1]])
    >>> loss = build_loss("change", {"name": "weighted-bce"}, [{"mask": mask}], num_classes=2)
    >>> loss.settings
    {'name': 'weighted-bce', 'class_weights': [1.0, 3.0]}
    """
    from satlearn.train.config import TASK_LOSSES, TASKS, LossConfig

    if task not in TASKS:
        raise InvalidInputError(f"unknown task {task!r}")
    if config is None:
        config = LossConfig()
    elif isinstance(config, Mapping):
        from pydantic import ValidationError

        from satlearn.train.config import format_validation_error

        try:
            config = LossConfig.model_validate(dict(config))
        except ValidationError as err:
            raise InvalidInputError(format_validation_error(err, "loss")) from None
    name = config.name
    if name == "default":
        name = DEFAULT_LOSS[task]
    elif name not in TASK_LOSSES.get(task, ()):
        raise InvalidInputError(f"loss {name!r} does not fit task {task!r}")
    pos_weight = config.pos_weight
    if name == "weighted-bce" and pos_weight is None:
        pos_weight = "auto"
    weights = None
    if pos_weight == "auto":
        weights = class_weights(samples, num_classes=num_classes)
    elif pos_weight is not None:
        weights = [1.0] + [float(pos_weight)] * (max(2, num_classes) - 1)
    gamma = 2.0 if config.gamma is None else config.gamma
    return TaskLoss(task, name, num_classes=num_classes, weights=weights, gamma=gamma)


def task_loss(
    task: str, out: torch.Tensor, batch: dict[str, Any], *, num_classes: int
) -> torch.Tensor:
    """The default training loss of ``task`` for model output ``out`` and a collated ``batch``.

    Examples
    --------
    >>> out = torch.zeros(2, 3)
    >>> round(float(task_loss("classification", out, {"label": torch.tensor([0, 2])},
    ...                       num_classes=3)), 4)  # log 3
    1.0986
    """
    return build_loss(task, num_classes=num_classes)(out, batch)
