"""Map agreement: one confusion matrix, the binary and class scores, cluster matching."""

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
    "flat_pair",
    "label_pair",
    "label_values",
    "match_clusters",
    "safe_ratio",
    "scored_confusion",
    "valid_mask",
]


def label_values(name: str, array: Any) -> np.ndarray:
    values = getattr(array, "values", array)  # DataArray -> ndarray (computes dask)
    values = np.asarray(values)
    if values.dtype.kind not in "biu":
        if values.dtype.kind == "f" and np.all(np.isfinite(values) & (values == np.round(values))):
            return values.astype(np.int64)
        raise InvalidInputError(f"{name} must hold integer or boolean labels, got {values.dtype}")
    return values


def label_pair(predicted: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    """The label arrays of a predicted and a reference map, checked to share one shape."""
    pred = label_values("predicted", predicted)
    ref = label_values("reference", reference)
    if pred.shape != ref.shape:
        raise InvalidInputError(
            f"predicted has shape {pred.shape} but reference has shape {ref.shape}"
        )
    return pred, ref


def valid_mask(valid: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``valid`` as a boolean array of the maps' ``shape`` (None stays None)."""
    if valid is None:
        return None
    mask = np.asarray(getattr(valid, "values", valid))
    if mask.shape != shape:
        raise InvalidInputError(f"valid mask has shape {mask.shape}, the maps have shape {shape}")
    return mask.astype(bool)


def flat_pair(predicted: Any, reference: Any, valid: Any) -> tuple[np.ndarray, np.ndarray]:
    pred, ref = label_pair(predicted, reference)
    mask = valid_mask(valid, pred.shape)
    if mask is not None:
        pred, ref = pred[mask], ref[mask]
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
    pred, ref = flat_pair(predicted, reference, valid)
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


def scored_confusion(
    predicted: Any,
    reference: Any,
    *,
    n_classes: int | None,
    valid: Any,
    ignore: int | None,
) -> np.ndarray:
    """The confusion matrix of the pixels a class score counts.

    Pixels outside ``valid`` and those whose reference id is ``ignore`` are
    left out; :class:`~satlearn.errors.NoValidDataError` when none is left.
    """
    pred, ref = flat_pair(predicted, reference, valid)
    if ignore is not None:
        keep = ref != ignore
        pred, ref = pred[keep], ref[keep]
    if pred.size == 0:
        raise NoValidDataError("no valid pixel to score (everything is masked or ignored)")
    return confusion_matrix(pred, ref, n_classes=n_classes)


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


def safe_ratio(numerator: float, denominator: float) -> float:
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
    pred, ref = flat_pair(predicted, reference, valid)
    if pred.size == 0:
        raise NoValidDataError("no valid pixel to score (the valid mask or the maps are empty)")
    confusion = confusion_matrix(pred != 0, ref != 0, n_classes=2)
    (tn, fp), (fn, tp) = confusion.tolist()
    precision = safe_ratio(tp, tp + fp)
    recall = safe_ratio(tp, tp + fn)
    return BinaryScores(
        precision=precision,
        recall=recall,
        f1=safe_ratio(2 * tp, 2 * tp + fp + fn),
        iou=safe_ratio(tp, tp + fp + fn),
        accuracy=safe_ratio(tp + tn, pred.size),
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
    confusion = scored_confusion(
        predicted, reference, n_classes=n_classes, valid=valid, ignore=ignore
    )
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
    cluster_ids, class_ids = flat_pair(clusters, reference, valid)
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
