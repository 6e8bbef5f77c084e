"""Streaming scores of model outputs, shared by validation (torch) and evaluation (ONNX).

A scorer takes raw model outputs as NumPy arrays (logits, normalised
images, CenterNet maps: what both torch and onnxruntime give) batch by batch,
keeps only counts (confusion matrices, boundary matches, squared errors,
detections), and reports the task's metrics with :meth:`Scorer.result`.

Examples
--------
>>> import numpy as np
>>> s = make_scorer("classification", classes=["a", "b"])
>>> s.update(np.array([[2.0, 0.0], [0.0, 1.0]]), {"label": np.array([0, 0])})
>>> s.result()["accuracy"]
0.5
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import (
    BoundaryScores,
    boundary_f1,
    class_scores,
    cohen_kappa,
    confusion_matrix,
    detection_scores,
    segmentation_scores_from_confusion,
)
from satlearn.train.data import IGNORE

__all__ = ["Scorer", "make_scorer"]


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _named(names: Sequence[str], values: Any) -> dict[str, float | None]:
    return {c: _nan_to_none(float(v)) for c, v in zip(names, values, strict=False)}


class Scorer:
    """Base class: :meth:`update` with a batch, :meth:`result` for the metrics."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def result(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


class _Classification(Scorer):
    def __init__(self, classes: Sequence[str]) -> None:
        super().__init__(classes)
        self.confusion = np.zeros((len(classes), len(classes)), np.int64)

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:
        pred = np.asarray(output).argmax(axis=1)
        ref = np.asarray(batch["label"]).astype(np.int64)
        self.confusion += confusion_matrix(pred, ref, n_classes=len(self.classes))

    def result(self) -> dict[str, Any]:
        if self.confusion.sum() == 0:
            raise NoValidDataError("no sample was scored")
        n = len(self.classes)
        # class_scores on the pooled matrix: rebuild label vectors from the counts.
        ref, pred = np.divmod(np.repeat(np.arange(n * n), self.confusion.ravel()), n)
        s = class_scores(pred, ref, n_classes=n)
        return {
            "accuracy": s.accuracy,
            "macro_f1": s.macro_f1,
            "kappa": _nan_to_none(s.kappa),
            "f1_per_class": _named(self.classes, s.f1),
            "confusion": s.confusion.tolist(),
        }


class _Multilabel(Scorer):
    def __init__(self, classes: Sequence[str]) -> None:
        super().__init__(classes)
        self.counts = np.zeros((len(classes), 3), np.int64)  # tp, fp, fn per class
        self.exact = 0
        self.samples = 0

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:
        pred = np.asarray(output) > 0  # logit > 0 <=> sigmoid > 0.5
        ref = np.asarray(batch["label"]) > 0.5
        self.counts[:, 0] += (pred & ref).sum(axis=0)
        self.counts[:, 1] += (pred & ~ref).sum(axis=0)
        self.counts[:, 2] += (~pred & ref).sum(axis=0)
        self.exact += int((pred == ref).all(axis=1).sum())
        self.samples += len(pred)

    def result(self) -> dict[str, Any]:
        if self.samples == 0:
            raise NoValidDataError("no sample was scored")
        tp, fp, fn = self.counts.T.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
        present = (tp + fn) > 0
        total = 2 * tp.sum() + fp.sum() + fn.sum()
        return {
            "f1": float(2 * tp.sum() / total) if total else float("nan"),
            "macro_f1": float(np.nan_to_num(per_class[present]).mean()) if present.any() else 0.0,
            "subset_accuracy": self.exact / self.samples,
            "f1_per_class": _named(self.classes, per_class),
        }


class _Segmentation(Scorer):
    def __init__(self, classes: Sequence[str], tolerance: float) -> None:
        super().__init__(classes)
        n = max(len(classes), 2)
        self.confusion = np.zeros((n, n), np.int64)
        self.boundary: BoundaryScores | None = None
        self.tolerance = tolerance

    def _predict(self, output: np.ndarray) -> np.ndarray:
        output = np.asarray(output)
        return (output[:, 0] > 0) if output.shape[1] == 1 else output.argmax(axis=1)

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:
        pred = self._predict(output).astype(np.int64)
        ref = np.asarray(batch["mask"]).astype(np.int64)
        valid = ref != IGNORE
        ref = np.where(valid, ref, 0)
        n = len(self.confusion)
        if pred.shape != ref.shape:
            raise InvalidInputError(f"model output {pred.shape} does not match masks {ref.shape}")
        if ref.max(initial=0) >= n:
            raise InvalidInputError(f"mask holds class {ref.max()} but the model has {n} classes")
        self.confusion += confusion_matrix(pred, ref, n_classes=n, valid=valid)
        b = boundary_f1(pred, ref, tolerance=self.tolerance, valid=valid)
        self.boundary = b if self.boundary is None else self.boundary + b

    def result(self) -> dict[str, Any]:
        s = segmentation_scores_from_confusion(self.confusion)
        names = self.classes or [str(i) for i in range(len(s.iou))]
        assert self.boundary is not None  # set with the first (non-empty) update
        return {
            "miou": s.miou,
            "accuracy": s.accuracy,
            "iou_per_class": _named(names, s.iou),
            "boundary_f1": _nan_to_none(self.boundary.f1),
            "confusion": s.confusion.tolist(),
        }


class _Change(_Segmentation):
    def result(self) -> dict[str, Any]:
        if self.confusion.sum() == 0:
            raise NoValidDataError("no labelled pixel was scored")
        (tn, fp), (fn, tp) = self.confusion[:2, :2].tolist()

        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        return {
            "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "iou": ratio(tp, tp + fp + fn),
            "kappa": _nan_to_none(cohen_kappa(self.confusion[:2, :2])),
            "accuracy": ratio(tp + tn, tp + tn + fp + fn),
            "confusion": self.confusion[:2, :2].tolist(),
        }


class _SuperRes(Scorer):
    def __init__(self, mean: Any, std: Any, output: Mapping[str, Any] | None = None) -> None:
        super().__init__([])
        self.mean = np.asarray(mean, np.float64)[:, None, None]
        self.std = np.asarray(std, np.float64)[:, None, None]
        # How the model's outputs map back to band values (a bundle's
        # output_normalisation); by default the inputs' own statistics.
        output = output or {"mean": mean, "std": std}
        self.out_mean = np.asarray(output["mean"], np.float64)[:, None, None]
        self.out_std = np.asarray(output["std"], np.float64)[:, None, None]
        self.sq = {"model": 0.0, "bicubic": 0.0}
        self.count = 0
        self.low, self.high = math.inf, -math.inf
        self.ssim: list[float] = []

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:
        import torch
        import torch.nn.functional as F

        from satlearn.ops.quality import ssim

        out = np.asarray(output, np.float64) * self.out_std + self.out_mean
        ref = np.asarray(batch["target"], np.float64) * self.std + self.mean
        if out.shape != ref.shape:
            raise InvalidInputError(f"model output {out.shape} does not match targets {ref.shape}")
        # The baseline every super-resolution result is read against.
        low = torch.as_tensor(np.asarray(batch["image"], np.float32))
        cubic = F.interpolate(low, size=ref.shape[-2:], mode="bicubic", align_corners=False)
        cubic = cubic.numpy().astype(np.float64) * self.std + self.mean
        self.sq["model"] += float(((out - ref) ** 2).sum())
        self.sq["bicubic"] += float(((cubic - ref) ** 2).sum())
        self.count += ref.size
        self.low, self.high = min(self.low, float(ref.min())), max(self.high, float(ref.max()))
        if min(ref.shape[-2:]) >= 11:  # SSIM's Gaussian window spans 11 pixels
            self.ssim.extend(ssim(r, o) for r, o in zip(ref, out, strict=True))

    def result(self) -> dict[str, Any]:
        if self.count == 0:
            raise NoValidDataError("no sample was scored")
        # PSNR of the whole set (ops.quality.psnr's formula, streamed): one
        # data range (the reference's) and the mean squared error over all pixels.
        value_range = self.high - self.low if self.high > self.low else 1.0

        def psnr(sq: float) -> float | None:
            mse = sq / self.count
            return None if mse == 0 else 10 * math.log10(value_range**2 / mse)

        return {
            "psnr": psnr(self.sq["model"]),
            "psnr_bicubic": psnr(self.sq["bicubic"]),
            "ssim": float(np.mean(self.ssim)) if self.ssim else None,
            "data_range": value_range,
        }


class _Detection(Scorer):
    def __init__(self, classes: Sequence[str], score_threshold: float) -> None:
        super().__init__(classes)
        self.pred: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.truth: list[tuple[np.ndarray, np.ndarray]] = []
        self.score_threshold = score_threshold

    def update(self, output: np.ndarray, batch: dict[str, Any]) -> None:
        from satlearn.models import decode_detections

        output = np.asarray(output)
        stride = max(1, round(np.shape(batch["image"])[-2] / output.shape[-2]))
        # A low floor so mAP sees the whole precision-recall curve.
        for i, det in enumerate(decode_detections(output, threshold=0.05, stride=stride)):
            self.pred.append(det)
            self.truth.append(
                (np.asarray(batch["boxes"][i]).reshape(-1, 4), np.asarray(batch["box_labels"][i]))
            )

    def result(self) -> dict[str, Any]:
        if not self.truth:
            raise NoValidDataError("no sample was scored")
        n = len(self.classes)
        all_scores = detection_scores(
            [p[0] for p in self.pred],
            [p[1] for p in self.pred],
            [t[0] for t in self.truth],
            predicted_labels=[p[2] for p in self.pred],
            true_labels=[t[1] for t in self.truth],
            n_classes=n,
        )
        keep = [p[1] >= self.score_threshold for p in self.pred]
        at = detection_scores(
            [p[0][k] for p, k in zip(self.pred, keep, strict=True)],
            [p[1][k] for p, k in zip(self.pred, keep, strict=True)],
            [t[0] for t in self.truth],
            predicted_labels=[p[2][k] for p, k in zip(self.pred, keep, strict=True)],
            true_labels=[t[1] for t in self.truth],
            n_classes=n,
        )
        return {
            "map50": _nan_to_none(all_scores.map),
            "ap50_per_class": _named(self.classes, all_scores.ap),
            "recall": _nan_to_none(at.recall),
            "precision": _nan_to_none(at.precision),
            "score_threshold": self.score_threshold,
            "ground_truth": at.ground_truth,
            "detections": at.detections,
        }


def make_scorer(
    task: str,
    *,
    classes: Sequence[str] = (),
    mean: Any = None,
    std: Any = None,
    boundary_tolerance: float = 2.0,
    score_threshold: float = 0.3,
    output_normalisation: Mapping[str, Any] | None = None,
) -> Scorer:
    """The streaming scorer of ``task``.

    Parameters
    ----------
    task : str
        One of :data:`satlearn.train.config.TASKS`.
    classes : sequence of str
        Class names (classification, multilabel, segmentation, detection).
    mean, std : array_like
        Band statistics (super-resolution: outputs are normalised).
    boundary_tolerance : float
        Pixel tolerance of the segmentation boundary F1.
    score_threshold : float
        Detection confidence at which recall and precision are reported
        (mAP uses every detection).
    output_normalisation : mapping, optional
        Super-resolution: ``{"mean", "std"}`` that map outputs back to band
        values (a bundle's ``output_normalisation``); default ``mean``/``std``.
    """
    if task == "classification":
        return _Classification(classes)
    if task == "multilabel":
        return _Multilabel(classes)
    if task == "segmentation":
        return _Segmentation(classes, boundary_tolerance)
    if task == "change":
        return _Change(["no_change", "change"], boundary_tolerance)
    if task == "superres":
        if mean is None or std is None:
            raise InvalidInputError("the super-resolution scorer needs the band mean and std")
        return _SuperRes(mean, std, output_normalisation)
    if task == "detection":
        return _Detection(classes or ["object"], score_threshold)
    raise InvalidInputError(f"unknown task {task!r}")
