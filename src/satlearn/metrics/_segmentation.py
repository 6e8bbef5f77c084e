"""Segmentation scores for learned models: per-class IoU, mean IoU, boundary F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics._agreement import label_pair, safe_ratio, scored_confusion, valid_mask

__all__ = [
    "BoundaryScores",
    "SegmentationScores",
    "boundary_f1",
    "iou_from_confusion",
    "segmentation_scores",
    "segmentation_scores_from_confusion",
]


@dataclass(frozen=True)
class SegmentationScores:
    """Per-class IoU, mean IoU and pixel accuracy of a class map.

    ``iou`` holds one value per class (NaN for a class absent from both maps);
    ``miou`` averages the classes present in the reference.
    """

    iou: np.ndarray
    miou: float
    accuracy: float
    confusion: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {
            "iou": [None if np.isnan(v) else float(v) for v in self.iou],
            "miou": self.miou,
            "accuracy": self.accuracy,
            "confusion": self.confusion.tolist(),
        }


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class intersection over union of a confusion matrix (NaN when undefined).

    Examples
    --------
    >>> iou_from_confusion(np.array([[3, 1], [0, 2]])).round(3)
    array([0.75 , 0.667])
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def segmentation_scores(
    predicted: Any,
    reference: Any,
    *,
    n_classes: int | None = None,
    valid: Any = None,
    ignore: int | None = None,
) -> SegmentationScores:
    """IoU per class, mean IoU and accuracy of a predicted class map.

    Parameters
    ----------
    predicted, reference : array_like of int or DataArray
        Class ids, of one shape (any number of dims: a stack of chips works).
    n_classes : int, optional
        Number of classes; default: one more than the largest id present.
    valid : array_like of bool, optional
        Pixels to count.
    ignore : int, optional
        A reference id meaning "unlabelled": those pixels are not counted.

    Raises
    ------
    NoValidDataError
        No pixel is counted.

    Examples
    --------
    >>> s = segmentation_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    >>> s.iou.round(3).tolist(), round(s.miou, 3)
    ([0.5, 0.667], 0.583)
    """
    confusion = scored_confusion(
        predicted, reference, n_classes=n_classes, valid=valid, ignore=ignore
    )
    return segmentation_scores_from_confusion(confusion)


def segmentation_scores_from_confusion(confusion: np.ndarray) -> SegmentationScores:
    """:class:`SegmentationScores` of a confusion matrix accumulated elsewhere.

    Examples
    --------
    >>> round(segmentation_scores_from_confusion(np.array([[3, 1], [0, 2]])).miou, 3)
    0.708
    """
    confusion = np.asarray(confusion)
    if confusion.sum() == 0:
        raise NoValidDataError("the confusion matrix is empty: no pixel was scored")
    iou = iou_from_confusion(confusion)
    present = confusion.sum(axis=1) > 0
    return SegmentationScores(
        iou=iou,
        miou=float(np.nan_to_num(iou[present]).mean()),
        accuracy=float(np.trace(confusion) / confusion.sum()),
        confusion=confusion,
    )


@dataclass(frozen=True)
class BoundaryScores:
    """Boundary precision, recall and F1 (BF score) within a pixel tolerance.

    ``matched_predicted`` of ``predicted_pixels`` predicted boundary pixels lie
    within the tolerance of a reference boundary, ``matched_reference`` of
    ``reference_pixels`` reference boundary pixels within the tolerance of a
    predicted one. Scores are NaN when undefined (no boundary at all).
    """

    precision: float
    recall: float
    f1: float
    matched_predicted: int
    predicted_pixels: int
    matched_reference: int
    reference_pixels: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __add__(self, other: BoundaryScores) -> BoundaryScores:
        """Pool the counts of two scorings (e.g. two batches of chips)."""
        return _boundary_from_counts(
            self.matched_predicted + other.matched_predicted,
            self.predicted_pixels + other.predicted_pixels,
            self.matched_reference + other.matched_reference,
            self.reference_pixels + other.reference_pixels,
        )


def _boundary_from_counts(mp: int, n_p: int, mr: int, n_r: int) -> BoundaryScores:
    precision = safe_ratio(mp, n_p)
    recall = safe_ratio(mr, n_r)
    if n_p == 0 and n_r == 0:
        f1 = float("nan")
    elif precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = 0.0
    return BoundaryScores(
        precision=precision,
        recall=recall,
        f1=float(f1),
        matched_predicted=int(mp),
        predicted_pixels=int(n_p),
        matched_reference=int(mr),
        reference_pixels=int(n_r),
    )


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbour has another label (both sides of every edge)."""
    edge = np.zeros(labels.shape, dtype=bool)
    dy = labels[1:, :] != labels[:-1, :]
    dx = labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    return edge


def boundary_f1(
    predicted: Any,
    reference: Any,
    *,
    tolerance: float = 2.0,
    valid: Any = None,
) -> BoundaryScores:
    """Boundary F1 (BF score) of a label map: how well its edges follow the reference's.

    A boundary pixel is one with a 4-neighbour of another label. A predicted
    boundary pixel is matched when a reference boundary pixel lies within
    ``tolerance`` pixels (Euclidean, by ``scipy.ndimage.distance_transform_edt``
    of the other map's non-boundary), and the other way round for recall
    (Csurka et al. 2013). A 3-D input is a stack of chips scored one by one and
    pooled, so chip edges are not boundaries.

    Parameters
    ----------
    predicted, reference : array_like of int or bool
        Label maps ``(y, x)`` or stacks ``(n, y, x)`` of one shape.
    tolerance : float
        Distance in pixels within which two boundary pixels match.
    valid : array_like of bool, optional
        Boundary pixels outside it are not counted.

    Examples
    --------
    >>> ref = np.zeros((16, 16), int); ref[:, 8:] = 1
    >>> pred = np.zeros((16, 16), int); pred[:, 9:] = 1   # edge one pixel off
    >>> boundary_f1(pred, ref, tolerance=1).f1, boundary_f1(pred, ref, tolerance=0).f1
    (1.0, 0.5)
    """
    pred, ref = label_pair(predicted, reference)
    if pred.ndim not in (2, 3):
        raise InvalidInputError(f"boundary_f1 takes (y, x) or (n, y, x) maps, got {pred.shape}")
    if not tolerance >= 0:
        raise InvalidInputError(f"tolerance must be >= 0, got {tolerance}")
    mask = valid_mask(valid, pred.shape)
    from scipy.ndimage import distance_transform_edt

    if pred.ndim == 2:
        pred, ref = pred[None], ref[None]
        mask = None if mask is None else mask[None]
    counts = np.zeros(4, dtype=np.int64)
    # One distance transform per chip: a loop over chips, not pixels.
    for i in range(pred.shape[0]):
        bp, br = _boundaries(pred[i]), _boundaries(ref[i])
        if mask is not None:
            bp &= mask[i]
            br &= mask[i]
        if bp.any() and br.any():
            near_r = distance_transform_edt(~br) <= tolerance
            near_p = distance_transform_edt(~bp) <= tolerance
            counts += [(bp & near_r).sum(), bp.sum(), (br & near_p).sum(), br.sum()]
        else:
            counts += [0, bp.sum(), 0, br.sum()]
    return _boundary_from_counts(*(int(c) for c in counts))
