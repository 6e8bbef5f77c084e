"""Agreement between a predicted map and a reference map.

The scores every evaluation in satlearn reports: for binary maps (change,
cloud, water, ship masks) precision, recall, F1, IoU, overall accuracy and
Cohen's kappa; for class maps (land cover) overall accuracy, macro-F1, kappa
and the confusion matrix; and Hungarian matching of unsupervised clusters to
reference classes.

Everything rests on one confusion matrix, counted with a single
``numpy.bincount`` over the valid pixels, so a score never needs more than
one pass over the maps and no temporary larger than the maps themselves.
Inputs may be NumPy arrays or DataArrays (dask-backed ones are computed).
``valid`` restricts the count to labelled pixels, for partial references such
as the change / no-change masks of the Taizhou pair.

Why not ``sklearn.metrics``: its functions take 1-D label vectors, build the
confusion matrix again for every score and, for kappa, materialise one-hot
copies; satlearn's maps are 2-D with masks, and each report wants all the
scores of one matrix at once.

Examples
--------
>>> import numpy as np
>>> predicted = np.array([[1, 1], [0, 0]], dtype=bool)
>>> reference = np.array([[1, 0], [0, 0]], dtype=bool)
>>> s = binary_scores(predicted, reference)
>>> float(s.precision), float(s.recall), round(float(s.kappa), 3)
(0.5, 1.0, 0.5)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from satlearn.errors import InvalidInputError, NoValidDataError

__all__ = [
    "BinaryScores",
    "ClassScores",
    "binary_scores",
    "class_scores",
    "cohen_kappa",
    "confusion_matrix",
    "match_clusters",
]


def _values(name: str, array: Any) -> np.ndarray:
    values = getattr(array, "values", array)  # DataArray -> ndarray (computes dask)
    values = np.asarray(values)
    if values.dtype.kind not in "biu":
        if values.dtype.kind == "f" and np.all(np.isfinite(values) & (values == np.round(values))):
            return values.astype(np.int64)
        raise InvalidInputError(f"{name} must hold integer or boolean labels, got {values.dtype}")
    return values


def _flat_pair(predicted: Any, reference: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
    pred = _values("predicted", predicted)
    ref = _values("reference", reference)
    if pred.shape != ref.shape:
        raise InvalidInputError(
            f"predicted has shape {pred.shape} but reference has shape {ref.shape}"
        )
    if valid is not None:
        mask = np.asarray(getattr(valid, "values", valid))
        if mask.shape != pred.shape:
            raise InvalidInputError(
                f"valid mask has shape {mask.shape}, the maps have shape {pred.shape}"
            )
        pred, ref = pred[mask.astype(bool)], ref[mask.astype(bool)]
    return pred.reshape(-1), ref.reshape(-1)


def confusion_matrix(
    predicted: Any,
    reference: Any,
    *,
    n_classes: int | None = None,
    valid: Any = None,
) -> np.ndarray:
    """Count pixels by (reference class, predicted class).

    Parameters
    ----------
    predicted, reference : array_like or DataArray
        Maps of non-negative integer (or boolean) class ids, of one shape.
    n_classes : int, optional
        Size of the matrix; default: one more than the largest id present.
    valid : array_like of bool, optional
        Only pixels where this is True are counted.

    Returns
    -------
    numpy.ndarray
        int64 of shape ``(n_classes, n_classes)``; rows are reference
        classes, columns predicted classes.

    Examples
    --------
    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]))
    array([[1, 1],
           [0, 1]])
    """
    pred, ref = _flat_pair(predicted, reference, valid)
    pred = pred.astype(np.int64, copy=False)
    ref = ref.astype(np.int64, copy=False)
    if pred.size and (pred.min() < 0 or ref.min() < 0):
        raise InvalidInputError("class ids must be non-negative")
    largest = int(max(pred.max(initial=-1), ref.max(initial=-1)))
    if n_classes is None:
        n_classes = largest + 1
    elif largest >= n_classes:
        raise InvalidInputError(f"class id {largest} does not fit n_classes={n_classes}")
    counts = np.bincount(ref * n_classes + pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def cohen_kappa(confusion: np.ndarray) -> float:
    """Cohen's kappa of a confusion matrix (agreement beyond chance).

    Returns NaN when chance agreement is total (one class only on both sides).

    Examples
    --------
    >>> round(cohen_kappa(np.array([[45, 5], [5, 45]])), 3)
    0.8
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    if total == 0:
        return float("nan")
    observed = np.trace(confusion) / total
    expected = float(confusion.sum(axis=0) @ confusion.sum(axis=1)) / total**2
    if expected == 1.0:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


@dataclass(frozen=True)
class BinaryScores:
    """Scores of a binary map against a binary reference (True = positive).

    Precision, recall, F1 and IoU are NaN when undefined (no positive
    predicted, no positive in the reference, neither).
    """

    precision: float
    recall: float
    f1: float
    iou: float
    accuracy: float
    kappa: float
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def binary_scores(predicted: Any, reference: Any, *, valid: Any = None) -> BinaryScores:
    """Precision, recall, F1, IoU, accuracy and kappa of a binary map.

    Parameters
    ----------
    predicted, reference : array_like of bool or DataArray
        Nonzero = positive (changed, cloud, water, ...).
    valid : array_like of bool, optional
        Pixels to count (e.g. those a partial reference labels).

    Raises
    ------
    NoValidDataError
        No pixel is counted.

    Examples
    --------
    >>> s = binary_scores(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    >>> float(s.f1), float(s.accuracy)
    (0.5, 0.5)
    """
    pred, ref = _flat_pair(predicted, reference, valid)
    if pred.size == 0:
        raise NoValidDataError("no valid pixel to score (the valid mask or the maps are empty)")
    confusion = confusion_matrix(pred != 0, ref != 0, n_classes=2)
    (tn, fp), (fn, tp) = confusion.tolist()
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return BinaryScores(
        precision=precision,
        recall=recall,
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        iou=_ratio(tp, tp + fp + fn),
        accuracy=_ratio(tp + tn, pred.size),
        kappa=cohen_kappa(confusion),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
    )


@dataclass(frozen=True)
class ClassScores:
    """Scores of a class map against a reference class map.

    ``f1`` holds one value per class (NaN for a class absent from both maps);
    ``macro_f1`` averages the classes present in the reference.
    """

    accuracy: float
    macro_f1: float
    kappa: float
    f1: np.ndarray
    confusion: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "kappa": self.kappa,
            "f1": self.f1.tolist(),
            "confusion": self.confusion.tolist(),
        }


def class_scores(
    predicted: Any,
    reference: Any,
    *,
    n_classes: int | None = None,
    valid: Any = None,
    ignore: int | None = None,
) -> ClassScores:
    """Overall accuracy, macro-F1, kappa and confusion of a class map.

    Parameters
    ----------
    predicted, reference : array_like of int or DataArray
        Class ids (non-negative).
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
    >>> s = class_scores(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]))
    >>> float(s.accuracy), round(float(s.macro_f1), 3)
    (0.75, 0.778)
    """
    pred, ref = _flat_pair(predicted, reference, valid)
    if ignore is not None:
        keep = ref != ignore
        pred, ref = pred[keep], ref[keep]
    if pred.size == 0:
        raise NoValidDataError("no valid pixel to score (everything is masked or ignored)")
    confusion = confusion_matrix(pred, ref, n_classes=n_classes)
    tp = np.diag(confusion).astype(np.float64)
    in_reference = confusion.sum(axis=1)
    denominator = in_reference + confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / denominator, np.nan)
    present = in_reference > 0
    return ClassScores(
        accuracy=float(tp.sum() / confusion.sum()),
        macro_f1=float(np.nan_to_num(f1[present]).mean()),
        kappa=cohen_kappa(confusion),
        f1=f1,
        confusion=confusion,
    )


def match_clusters(clusters: Any, reference: Any, *, valid: Any = None) -> np.ndarray:
    """Map unsupervised cluster ids onto reference classes (Hungarian matching).

    Each cluster goes to the class it overlaps most, one cluster per class,
    maximising the total overlap (``scipy.optimize.linear_sum_assignment``).
    Clusters left over when there are more clusters than classes go to the
    class they overlap most.

    Returns
    -------
    numpy.ndarray
        ``mapping[cluster_id] = class_id``; apply as ``mapping[clusters]``.

    Examples
    --------
    >>> match_clusters(np.array([2, 2, 0, 1]), np.array([0, 0, 1, 2]))
    array([1, 2, 0])
    """
    cluster_ids, class_ids = _flat_pair(clusters, reference, valid)
    if cluster_ids.size == 0:
        raise NoValidDataError("no valid pixel to match clusters on")
    # Only classes present in the reference take part: with sparse ids (1, 2,
    # 3, 4, 8) an absent class would otherwise claim a cluster one-to-one.
    present, compact = np.unique(class_ids, return_inverse=True)
    n_clusters = int(cluster_ids.max()) + 1
    size = max(n_clusters, present.size)
    # rows: clusters, columns: present classes
    overlap = confusion_matrix(compact, cluster_ids, n_classes=size)[:n_clusters, : present.size]
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    best = overlap.argmax(axis=1)
    best[rows] = cols
    return present[best]


# --------------------------------------------------------------------------- learning metrics
# Segmentation (IoU, boundary F1), detection (mAP@0.5, recall) and a
# confusion-matrix picture, for the deep-learning evaluation (satlearn.train).


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
    pred, ref = _flat_pair(predicted, reference, valid)
    if ignore is not None:
        keep = ref != ignore
        pred, ref = pred[keep], ref[keep]
    if pred.size == 0:
        raise NoValidDataError("no valid pixel to score (everything is masked or ignored)")
    confusion = confusion_matrix(pred, ref, n_classes=n_classes)
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
    precision = _ratio(mp, n_p)
    recall = _ratio(mr, n_r)
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
    pred = _values("predicted", predicted)
    ref = _values("reference", reference)
    if pred.shape != ref.shape:
        raise InvalidInputError(
            f"predicted has shape {pred.shape} but reference has shape {ref.shape}"
        )
    if pred.ndim not in (2, 3):
        raise InvalidInputError(f"boundary_f1 takes (y, x) or (n, y, x) maps, got {pred.shape}")
    if not tolerance >= 0:
        raise InvalidInputError(f"tolerance must be >= 0, got {tolerance}")
    mask = None
    if valid is not None:
        mask = np.asarray(getattr(valid, "values", valid)).astype(bool)
        if mask.shape != pred.shape:
            raise InvalidInputError(
                f"valid mask has shape {mask.shape}, the maps have shape {pred.shape}"
            )
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
        recall=_ratio(n_tp, gt.size),
        precision=_ratio(n_tp, tp.size),
        true_positives=n_tp,
        detections=int(tp.size),
        ground_truth=int(gt.size),
        iou_threshold=float(iou_threshold),
    )


def write_confusion_png(
    confusion: Any,
    path: Any,
    *,
    classes: Any = None,
    cell: int = 40,
) -> Any:
    """Draw a confusion matrix as a PNG (rows: reference, columns: predicted).

    Cells are shaded by the row-normalised share (recall per class, white to
    dark blue) and show the count. Written with Pillow (matplotlib is not a
    dependency) and atomically.

    Parameters
    ----------
    confusion : array_like
        Square count matrix.
    path : path
        Output ``.png``.
    classes : sequence of str, optional
        Class names for the axes (default: the ids).
    cell : int
        Cell size in pixels.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> write_confusion_png([[5, 1], [0, 4]], "confusion.png", classes=["a", "b"])
    ... # doctest: +SKIP
    PosixPath('confusion.png')
    """
    from pathlib import Path

    from PIL import Image, ImageDraw, ImageFont

    from satlearn.atomic import atomic_output

    matrix = np.asarray(confusion, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise InvalidInputError(f"confusion must be a non-empty square matrix, got {matrix.shape}")
    n = matrix.shape[0]
    names = [str(c) for c in (classes if classes is not None else range(n))]
    if len(names) != n:
        raise InvalidInputError(f"{len(names)} class names for a {n} x {n} confusion matrix")
    if cell < 8:
        raise InvalidInputError(f"cell must be at least 8 pixels, got {cell}")
    font = ImageFont.load_default()
    label_w = max(int(font.getlength(name)) for name in names) + 10
    title = "reference (rows) x predicted (columns)"
    title_h = 20
    width = max(label_w + n * cell + 4, int(font.getlength(title)) + 8)
    size = (width, title_h + label_w + n * cell + 4)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rows = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, matrix / np.maximum(rows, 1), 0.0)
    # White (share 0) to dark blue (share 1), linear in RGB.
    low, high = np.array([255, 255, 255]), np.array([8, 48, 107])
    colours = (low + share[..., None] * (high - low)).round().astype(int)
    draw.text((4, 4), title, fill="black", font=font)
    top = title_h + label_w
    # Column labels rotated: draw each on its own small image, rotate, paste.
    for j, name in enumerate(names):
        text = Image.new("RGB", (label_w, cell), "white")
        ImageDraw.Draw(text).text((2, cell // 2 - 6), name, fill="black", font=font)
        image.paste(text.rotate(90, expand=True), (label_w + j * cell, title_h))
    for i, name in enumerate(names):
        draw.text((4, top + i * cell + cell // 2 - 6), name, fill="black", font=font)
        for j in range(n):
            x0, y0 = label_w + j * cell, top + i * cell
            fill = tuple(int(v) for v in colours[i, j])
            draw.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=fill, outline="grey")
            ink = "white" if share[i, j] > 0.5 else "black"
            draw.text((x0 + 3, y0 + cell // 2 - 6), str(matrix[i, j]), fill=ink, font=font)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        image.save(tmp, format="PNG")
    return target


__all__ += [
    "BoundaryScores",
    "DetectionScores",
    "SegmentationScores",
    "boundary_f1",
    "box_iou",
    "detection_scores",
    "iou_from_confusion",
    "segmentation_scores",
    "segmentation_scores_from_confusion",
    "write_confusion_png",
]
