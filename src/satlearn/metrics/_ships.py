"""Ship detections against truth ships: one-to-one matching, precision, recall, F1.

Detections are matched to truth ships one to one (Hungarian assignment on
centroid distance, ``scipy.optimize.linear_sum_assignment``). By default
(``match="centroid"``) a pair may match when the detection's centroid falls
inside the truth ship's box grown by ``tolerance_px`` (1 pixel): at 10 m a
ship is a few pixels wide, and a one-pixel offset of a 3 x 8 box already
drops its box IoU to ~0.5, so IoU would punish location noise, not misses.
``match="iou"`` requires a box IoU of at least ``iou_threshold`` (0.3)
instead. Boxes are ``(min_row, min_col, max_row, max_col)``; IoU does not
depend on the axis order, so :func:`box_iou` serves both conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from satlearn.errors import InvalidInputError
from satlearn.metrics._detection import box_iou

__all__ = ["ShipScores", "score_ships"]


@dataclass(frozen=True)
class ShipScores:
    """Detection scores against truth ships.

    Attributes
    ----------
    precision, recall, f1 : float
        NaN where undefined (no detection / no truth); ``f1`` is 0 when both
        precision and recall are 0 and with no detection or no truth
        (but not both).
    tp, fp, fn : int
    matches : list of (int, int)
        (detection index, truth index) pairs.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    matches: list[tuple[int, int]]

    def as_dict(self) -> dict[str, Any]:
        """Scores as a plain dict (without ``matches``)."""
        return {
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
        }  # fmt: skip


def _boxes_and_centres(items: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    items = getattr(items, "ships", items)  # a ShipDetections, or its records
    boxes, centres = [], []
    for i, item in enumerate(items):
        box = item.get("bbox_px", item.get("bbox"))
        if box is None or len(box) != 4:
            raise InvalidInputError(
                f"{what} {i} has no 'bbox' / 'bbox_px' (min_row, min_col, max_row, max_col)"
            )
        r0, c0, r1, c1 = (float(v) for v in box)
        boxes.append((r0, c0, r1, c1))
        if "row" in item and "col" in item:
            centres.append((float(item["row"]), float(item["col"])))
        else:
            centres.append(((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2))
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(centres, np.float64).reshape(-1, 2)


def score_ships(
    detected: Any,
    truths: Sequence[dict[str, Any]],
    *,
    match: str = "centroid",
    tolerance_px: float = 1.0,
    iou_threshold: float = 0.3,
    date_index: int | None = None,
) -> ShipScores:
    """Precision, recall and F1 of detected ships against truth ships.

    Parameters
    ----------
    detected : ShipDetections or sequence of dict
        Detections with ``bbox_px`` (or ``bbox``) and ``row``/``col``.
    truths : sequence of dict
        Truth ships with ``bbox`` = (min_row, min_col, max_row, max_col),
        exclusive maxima (as :func:`satlearn.synth.make_scene` gives them),
        and optionally ``row``/``col`` centres.
    match : {"centroid", "iou"}
        ``"centroid"``: the detection's centroid lies inside the truth box
        grown by ``tolerance_px``; ``"iou"``: box IoU >= ``iou_threshold``.
        Pairs are assigned one to one (Hungarian, nearest centres first).
    date_index : int, optional
        Keep only truths of this date (``ship["date_index"]``).

    Returns
    -------
    ShipScores

    Examples
    --------
    >>> truth = [{"bbox": (10, 10, 13, 20), "row": 11.0, "col": 14.5}]
    >>> found = [{"bbox_px": [10, 11, 13, 20], "row": 11.2, "col": 15.0},
    ...          {"bbox_px": [50, 50, 52, 52], "row": 50.5, "col": 50.5}]
    >>> s = score_ships(found, truth)
    >>> s.tp, s.fp, s.fn, round(s.precision, 2), s.recall
    (1, 1, 0, 0.5, 1.0)
    """
    key = str(match).lower()
    if key not in ("centroid", "iou"):
        raise InvalidInputError(f"unknown match {match!r}; known: centroid, iou")
    if date_index is not None:
        truths = [t for t in truths if int(t.get("date_index", 0)) == int(date_index)]
    det_boxes, det_centres = _boxes_and_centres(detected, "detection")
    tru_boxes, tru_centres = _boxes_and_centres(truths, "truth")
    n_det, n_tru = len(det_boxes), len(tru_boxes)
    matches: list[tuple[int, int]] = []
    if n_det and n_tru:
        if key == "centroid":
            t = float(tolerance_px)
            # pixel (i, j) spans [i - 0.5, i + 0.5): box [r0, r1) covers centres r0-0.5 .. r1-0.5
            r, c = det_centres[:, 0][:, None], det_centres[:, 1][:, None]
            ok = (r >= tru_boxes[None, :, 0] - 0.5 - t) & (r <= tru_boxes[None, :, 2] - 0.5 + t)
            ok &= (c >= tru_boxes[None, :, 1] - 0.5 - t) & (c <= tru_boxes[None, :, 3] - 0.5 + t)
        else:
            ok = box_iou(det_boxes, tru_boxes) >= float(iou_threshold)
        distance = np.hypot(
            det_centres[:, None, 0] - tru_centres[None, :, 0],
            det_centres[:, None, 1] - tru_centres[None, :, 1],
        )
        cost = np.where(ok, distance, 1e9)
        rows, cols = linear_sum_assignment(cost)
        matches = [(int(a), int(b)) for a, b in zip(rows, cols, strict=True) if ok[a, b]]
    tp = len(matches)
    fp, fn = n_det - tp, n_tru - tp
    precision = tp / n_det if n_det else math.nan
    recall = tp / n_tru if n_tru else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if (n_det or n_tru) else math.nan
    return ShipScores(precision, recall, f1, tp, fp, fn, matches)
