"""Scores of predicted maps against references: binary, multi-class, cluster matching."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn import metrics as skm

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import (
    binary_scores,
    class_scores,
    cohen_kappa,
    confusion_matrix,
    match_clusters,
)


def random_maps(n_classes=4, shape=(50, 40), seed=0):
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, n_classes, shape)
    predicted = np.where(rng.random(shape) < 0.7, reference, rng.integers(0, n_classes, shape))
    return predicted, reference


def test_confusion_matrix_rows_are_reference_columns_predicted():
    predicted, reference = random_maps()
    ours = confusion_matrix(predicted, reference)
    np.testing.assert_array_equal(ours, skm.confusion_matrix(reference.ravel(), predicted.ravel()))
    assert confusion_matrix(np.array([0]), np.array([1]))[1, 0] == 1


def test_confusion_matrix_counts_only_valid_pixels_and_pads_to_n_classes():
    predicted, reference = random_maps()
    valid = np.zeros(reference.shape, dtype=bool)
    valid[:10] = True
    ours = confusion_matrix(predicted, reference, valid=valid, n_classes=6)
    assert ours.shape == (6, 6) and ours.sum() == valid.sum()
    assert ours[4:].sum() == 0


def test_binary_scores_match_scikit_learn():
    rng = np.random.default_rng(1)
    reference = rng.random((60, 60)) < 0.2
    predicted = reference ^ (rng.random((60, 60)) < 0.1)
    s = binary_scores(predicted, reference)
    ref, pred = reference.ravel(), predicted.ravel()
    assert s.precision == pytest.approx(skm.precision_score(ref, pred))
    assert s.recall == pytest.approx(skm.recall_score(ref, pred))
    assert s.f1 == pytest.approx(skm.f1_score(ref, pred))
    assert s.iou == pytest.approx(skm.jaccard_score(ref, pred))
    assert s.accuracy == pytest.approx(skm.accuracy_score(ref, pred))
    assert s.kappa == pytest.approx(skm.cohen_kappa_score(ref, pred))
    assert s.tp + s.fp + s.fn + s.tn == ref.size
    assert s.as_dict()["tp"] == s.tp


def test_binary_scores_on_dataarrays_with_a_partial_reference():
    reference = xr.DataArray(np.array([[1, 0, 1], [0, 0, 1]], dtype=bool), dims=("y", "x"))
    predicted = xr.DataArray(np.array([[1, 1, 0], [0, 1, 1]], dtype=bool), dims=("y", "x"))
    labelled = np.array([[1, 1, 1], [1, 0, 0]], dtype=bool)  # the last two are unknown
    s = binary_scores(predicted, reference, valid=labelled)
    assert (s.tp, s.fp, s.fn, s.tn) == (1, 1, 1, 1)


def test_undefined_scores_are_nan_not_errors():
    nothing = np.zeros((3, 3), dtype=bool)
    s = binary_scores(nothing, nothing)
    assert np.isnan(s.precision) and np.isnan(s.recall) and np.isnan(s.f1)
    assert s.accuracy == 1.0 and np.isnan(s.kappa)
    assert np.isnan(cohen_kappa(np.zeros((2, 2))))


def test_class_scores_match_scikit_learn():
    predicted, reference = random_maps(n_classes=5, seed=2)
    s = class_scores(predicted, reference)
    ref, pred = reference.ravel(), predicted.ravel()
    assert s.accuracy == pytest.approx(skm.accuracy_score(ref, pred))
    assert s.macro_f1 == pytest.approx(skm.f1_score(ref, pred, average="macro"))
    assert s.kappa == pytest.approx(skm.cohen_kappa_score(ref, pred))
    np.testing.assert_allclose(s.f1, skm.f1_score(ref, pred, average=None))
    assert s.as_dict()["confusion"] == s.confusion.tolist()


def test_class_scores_ignore_unlabelled_and_average_classes_in_the_reference():
    reference = np.array([0, 1, 1, 2, 2, 2])  # 0 = unlabelled
    predicted = np.array([3, 1, 1, 2, 2, 3])
    s = class_scores(predicted, reference, ignore=0, n_classes=4)
    assert s.confusion.sum() == 5
    assert s.accuracy == pytest.approx(4 / 5)
    # Class 3 is predicted but absent from the reference: not in the average.
    assert s.macro_f1 == pytest.approx((1.0 + 0.8) / 2)
    assert np.isnan(s.f1[0])


def test_float_maps_of_whole_numbers_are_labels_other_floats_are_refused():
    assert confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1])).trace() == 2
    with pytest.raises(InvalidInputError, match="predicted must hold integer"):
        confusion_matrix(np.array([0.5]), np.array([0]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: confusion_matrix(np.zeros(3, int), np.zeros(4, int)), "shape"),
        (lambda: confusion_matrix(np.zeros(3, int), np.zeros(3, int), valid=np.ones(2)), "valid"),
        (lambda: confusion_matrix(np.array([-1]), np.array([0])), "non-negative"),
        (lambda: confusion_matrix(np.array([5]), np.array([0]), n_classes=3), "n_classes"),
        (lambda: binary_scores(np.ones(2), np.ones(2), valid=np.zeros(2, bool)), "no valid"),
        (lambda: class_scores(np.ones(2, int), np.zeros(2, int), ignore=0), "no valid"),
        (lambda: match_clusters(np.ones(2, int), np.ones(2, int), valid=np.zeros(2)), "no valid"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises((InvalidInputError, NoValidDataError), match=message):
        call()


def test_match_clusters_recovers_a_permutation():
    _, reference = random_maps(n_classes=4, seed=3)
    permutation = np.array([2, 0, 3, 1])
    clusters = permutation[reference]
    mapping = match_clusters(clusters, reference)
    np.testing.assert_array_equal(mapping[clusters], reference)


def test_match_clusters_sends_spare_clusters_to_their_best_class():
    reference = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clusters = np.array([0, 0, 2, 2, 1, 1, 1, 2])  # cluster 2 is mostly class 0
    mapping = match_clusters(clusters, reference)
    np.testing.assert_array_equal(mapping, [0, 1, 0])


def test_match_clusters_ignores_class_ids_absent_from_the_reference():
    reference = np.array([1, 1, 2, 2, 8, 8])  # sparse ids, as in eo-learn's LULC
    clusters = np.array([0, 0, 1, 1, 2, 2])
    mapping = match_clusters(clusters, reference)
    np.testing.assert_array_equal(mapping, [1, 2, 8])
