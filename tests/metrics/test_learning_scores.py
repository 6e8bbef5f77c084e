"""Segmentation, boundary, detection metrics and the confusion PNG (satlearn.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import (
    boundary_f1,
    box_iou,
    confusion_matrix,
    detection_scores,
    iou_from_confusion,
    segmentation_scores,
    segmentation_scores_from_confusion,
)


def test_segmentation_scores_match_set_definitions() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 3, (40, 40))
    pred = np.where(rng.random((40, 40)) < 0.8, ref, rng.integers(0, 3, (40, 40)))
    s = segmentation_scores(pred, ref)
    for c in range(3):
        inter = np.sum((pred == c) & (ref == c))
        union = np.sum((pred == c) | (ref == c))
        assert s.iou[c] == pytest.approx(inter / union)
    assert s.miou == pytest.approx(s.iou.mean())
    assert s.accuracy == pytest.approx(np.mean(pred == ref))
    assert s.as_dict()["confusion"] == confusion_matrix(pred, ref).tolist()


def test_segmentation_scores_ignore_and_absent_class() -> None:
    ref = np.array([0, 0, 1, 255])
    pred = np.array([0, 1, 1, 2])
    s = segmentation_scores(pred, ref, n_classes=3, ignore=255)
    assert s.iou.tolist()[:2] == [0.5, 0.5]
    assert np.isnan(s.iou[2])  # absent from both maps once 255 is ignored
    assert s.as_dict()["iou"][2] is None
    with pytest.raises(NoValidDataError):
        segmentation_scores(pred, np.full(4, 255), ignore=255)
    with pytest.raises(NoValidDataError):
        segmentation_scores_from_confusion(np.zeros((2, 2), int))
    assert np.isnan(iou_from_confusion(np.zeros((2, 2)))).all()


def test_boundary_f1_tolerance_and_perfect_match() -> None:
    ref = np.zeros((32, 32), int)
    ref[8:24, 8:24] = 1
    assert boundary_f1(ref, ref, tolerance=0).f1 == 1.0
    shifted = np.roll(ref, 2, axis=1)
    assert boundary_f1(shifted, ref, tolerance=2).f1 == 1.0
    near = boundary_f1(shifted, ref, tolerance=1)
    assert 0 < near.f1 < 1
    # Precision and recall are symmetric for a rigid shift.
    assert near.precision == pytest.approx(near.recall)


def test_boundary_f1_stack_pools_chips_and_edges_of_chips_are_not_boundaries() -> None:
    a = np.zeros((2, 16, 16), int)
    a[0, :, 8:] = 1
    b = a.copy()
    b[1, 4:8, 4:8] = 1  # a false object in chip 1
    pooled = boundary_f1(b, a)
    one = boundary_f1(b[0], a[0]) + boundary_f1(b[1], a[1])
    assert pooled == one
    assert pooled.recall == 1.0 and pooled.precision < 1.0
    assert pooled.reference_pixels == 32  # two columns of 16, no chip border
    empty = boundary_f1(np.zeros((8, 8), int), np.zeros((8, 8), int))
    assert np.isnan(empty.f1)
    assert boundary_f1(np.eye(8, dtype=int), np.zeros((8, 8), int)).f1 == 0.0


def test_boundary_f1_valid_mask_and_errors() -> None:
    ref = np.zeros((16, 16), int)
    ref[:, 8:] = 1
    pred = np.zeros((16, 16), int)
    pred[:, 4:] = 1
    valid = np.zeros((16, 16), bool)
    valid[:, 6:] = True  # the wrong edge at column 4 is outside
    s = boundary_f1(pred, ref, valid=valid, tolerance=0)
    assert s.precision is not None and s.predicted_pixels == 0
    assert s.recall == 0.0
    with pytest.raises(InvalidInputError, match="shape"):
        boundary_f1(pred, ref[:8])
    with pytest.raises(InvalidInputError, match="valid mask"):
        boundary_f1(pred, ref, valid=valid[:8])
    with pytest.raises(InvalidInputError, match="tolerance"):
        boundary_f1(pred, ref, tolerance=-1)
    with pytest.raises(InvalidInputError, match=r"\(y, x\)"):
        boundary_f1(pred.ravel(), ref.ravel())


def test_box_iou() -> None:
    iou = box_iou([[0, 0, 2, 2], [0, 0, 0, 0]], [[1, 1, 3, 3], [0, 0, 2, 2]])
    assert iou[0].tolist() == pytest.approx([1 / 7, 1.0])
    assert iou[1].tolist() == [0.0, 0.0]  # a degenerate box overlaps nothing


def test_detection_scores_ap_recall_and_classes() -> None:
    truth = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[5, 5, 9, 9]])]
    boxes = [
        np.array([[0, 0, 10, 10], [21, 21, 30, 30], [50, 50, 60, 60]]),
        np.array([[40, 40, 45, 45]]),
    ]
    scores = [np.array([0.9, 0.6, 0.8]), np.array([0.7])]
    s = detection_scores(boxes, scores, truth)
    assert (s.true_positives, s.detections, s.ground_truth) == (2, 4, 3)
    assert s.recall == pytest.approx(2 / 3) and s.precision == pytest.approx(0.5)
    # Ranked hits: T F F T -> precision envelope 1 at recall 1/3, 0.5 at 2/3.
    assert s.map == pytest.approx(1 / 3 + 0.5 / 3)
    # A detection of the wrong class never matches.
    wrong = detection_scores(
        boxes[:1], scores[:1], truth[:1],
        predicted_labels=[np.array([1, 1, 1])], true_labels=[np.array([0, 0])],
    )  # fmt: skip
    assert wrong.map == 0.0 and wrong.true_positives == 0
    assert np.isnan(wrong.ap[1])
    assert wrong.as_dict()["ap"] == [0.0, None]


def test_detection_scores_duplicates_count_once_and_empty_inputs() -> None:
    truth = [np.array([[0, 0, 10, 10]])]
    twice = [np.array([[0, 0, 10, 10], [0, 0, 10, 10]])]
    s = detection_scores(twice, [np.array([0.9, 0.8])], truth)
    assert s.true_positives == 1 and s.map == 1.0
    none = detection_scores([np.zeros((0, 4))], [np.zeros(0)], truth)
    assert none.map == 0.0 and none.recall == 0.0 and np.isnan(none.precision)
    assert np.isnan(detection_scores([], [], []).map)
    with pytest.raises(InvalidInputError, match="images"):
        detection_scores([np.zeros((0, 4))], [], truth)
    with pytest.raises(InvalidInputError, match="scores"):
        detection_scores([np.zeros((1, 4))], [np.zeros(2)], truth)
    with pytest.raises(InvalidInputError, match="labels"):
        detection_scores([np.zeros((1, 4))], [np.zeros(1)], truth, predicted_labels=[[0, 1]])
