"""Object detection scores: box IoU, average precision per class, recall."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError
from satlearn.metrics._agreement import safe_ratio

__all__ = ["DetectionScores", "box_iou", "detection_scores"]


def box_iou(boxes_a: Any, boxes_b: Any) -> np.ndarray:
    """Pairwise IoU of two sets of ``x0, y0, x1, y1`` boxes, shape ``(len(a), len(b))``.

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3)
    array([[0.333, 0.   ]])
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


@dataclass(frozen=True)
class DetectionScores:
    """Average precision per class at one IoU threshold, their mean, and recall.

    ``recall`` and ``precision`` count every detection given (apply a score
    threshold before scoring to get them at an operating point); ``ap`` is
    NaN for a class with no ground-truth box.
    """

    map: float
    ap: np.ndarray
    recall: float
    precision: float
    true_positives: int
    detections: int
    ground_truth: int
    iou_threshold: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ap"] = [None if np.isnan(v) else float(v) for v in self.ap]
        return out


def _average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP (PASCAL VOC 2010+): area under the monotone PR curve."""
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(np.float64)
    cum_tp = np.cumsum(hits)
    recall = cum_tp / n_gt
    precision = cum_tp / np.arange(1, hits.size + 1)
    # Precision envelope (max to the right), then sum over recall steps.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def detection_scores(
    predicted_boxes: Any,
    predicted_scores: Any,
    true_boxes: Any,
    *,
    predicted_labels: Any = None,
    true_labels: Any = None,
    n_classes: int | None = None,
    iou_threshold: float = 0.5,
) -> DetectionScores:
    """mAP at an IoU threshold (default 0.5) and recall of box detections over images.

    Detections are matched greedily by descending score to the unmatched
    ground-truth box of their class with the highest IoU >= ``iou_threshold``
    (the PASCAL VOC rule); AP is the all-point interpolated area under the
    precision-recall curve, per class, and ``map`` their mean over the classes
    with ground truth.

    Parameters
    ----------
    predicted_boxes, true_boxes : sequence of array_like
        Per image, ``(n, 4)`` boxes ``x0, y0, x1, y1``.
    predicted_scores : sequence of array_like
        Per image, ``(n,)`` confidences.
    predicted_labels, true_labels : sequence of array_like, optional
        Per image, ``(n,)`` class ids; default: one class (0).
    n_classes : int, optional
        Number of classes; default: one more than the largest id seen.
    iou_threshold : float
        Minimum IoU for a match.

    Examples
    --------
    >>> s = detection_scores([[[0, 0, 4, 4], [10, 10, 12, 12]]], [[0.9, 0.8]],
    ...                      [[[0, 0, 4, 5]]])
    >>> s.map, s.recall, s.precision
    (1.0, 1.0, 0.5)
    """
    n_images = len(true_boxes)
    if len(predicted_boxes) != n_images or len(predicted_scores) != n_images:
        raise InvalidInputError(
            f"detection_scores: {len(predicted_boxes)} predicted box sets and "
            f"{len(predicted_scores)} score sets for {n_images} images"
        )

    def labels_of(labels: Any, i: int, n: int, what: str) -> np.ndarray:
        if labels is None:
            return np.zeros(n, dtype=np.int64)
        out = np.asarray(labels[i], dtype=np.int64).reshape(-1)
        if out.size != n:
            raise InvalidInputError(f"image {i}: {n} {what} boxes but {out.size} labels")
        return out

    tp_all, score_all, label_all, gt_labels = [], [], [], []
    for i in range(n_images):
        pb = np.asarray(predicted_boxes[i], dtype=np.float64).reshape(-1, 4)
        ps = np.asarray(predicted_scores[i], dtype=np.float64).reshape(-1)
        tb = np.asarray(true_boxes[i], dtype=np.float64).reshape(-1, 4)
        if ps.size != len(pb):
            raise InvalidInputError(f"image {i}: {len(pb)} predicted boxes but {ps.size} scores")
        pl = labels_of(predicted_labels, i, len(pb), "predicted")
        tl = labels_of(true_labels, i, len(tb), "true")
        iou = box_iou(pb, tb)
        iou[pl[:, None] != tl[None, :]] = 0.0  # only boxes of one class match
        taken = np.zeros(len(tb), dtype=bool)
        hit = np.zeros(len(pb), dtype=bool)
        # Greedy matching is sequential by nature (each match removes a box);
        # the loop runs over detections of one image, never pixels.
        for j in np.argsort(-ps, kind="stable"):
            candidates = np.where(taken, -1.0, iou[j])
            if candidates.size and candidates.max() >= iou_threshold:
                best = int(candidates.argmax())
                taken[best] = hit[j] = True
        tp_all.append(hit)
        score_all.append(ps)
        label_all.append(pl)
        gt_labels.append(tl)
    tp = np.concatenate(tp_all) if tp_all else np.zeros(0, bool)
    scores = np.concatenate(score_all) if score_all else np.zeros(0)
    labels = np.concatenate(label_all) if label_all else np.zeros(0, np.int64)
    gt = np.concatenate(gt_labels) if gt_labels else np.zeros(0, np.int64)
    if n_classes is None:
        n_classes = int(max(labels.max(initial=-1), gt.max(initial=-1))) + 1
    ap = np.full(max(n_classes, 1), np.nan)
    for c in range(n_classes):
        n_gt = int((gt == c).sum())
        if n_gt:
            keep = labels == c
            ap[c] = _average_precision(tp[keep], scores[keep], n_gt) if keep.any() else 0.0
    with_gt = ~np.isnan(ap)
    n_tp = int(tp.sum())
    return DetectionScores(
        map=float(ap[with_gt].mean()) if with_gt.any() else float("nan"),
        ap=ap,
        recall=safe_ratio(n_tp, gt.size),
        precision=safe_ratio(n_tp, tp.size),
        true_positives=n_tp,
        detections=int(tp.size),
        ground_truth=int(gt.size),
        iou_threshold=float(iou_threshold),
    )
