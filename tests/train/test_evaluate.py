"""Which task a bundle answers: bundle.json's ``task``, checked against its training config."""

from __future__ import annotations

import pytest

from satlearn.errors import BundleError
from satlearn.train.evaluate import bundle_training_task


@pytest.mark.parametrize(
    ("task", "trained"),
    [
        ("semantic-segmentation", "segmentation"),
        ("multilabel-classification", "multilabel"),
        ("change-detection", "change"),
        ("classification", "classification"),
        ("segmentation", "segmentation"),  # a training task name is accepted as it is
    ],
)
def test_the_task_comes_from_bundle_json(task, trained) -> None:
    assert bundle_training_task({"task": task}, "bundle b") == trained
    assert (
        bundle_training_task({"task": task, "training_config": {"task": trained}}, "b") == trained
    )


def test_a_task_that_disagrees_with_the_training_config_is_refused() -> None:
    meta = {"task": "classification", "training_config": {"task": "segmentation"}}
    with pytest.raises(
        BundleError, match=r"bundle b: bundle\.json's task 'classification' disagrees"
    ):
        bundle_training_task(meta, "bundle b")


def test_an_unknown_task_is_refused_even_with_a_known_training_config() -> None:
    # The old behaviour read training_config first and so scored this bundle as segmentation.
    meta = {"task": "stereo", "training_config": {"task": "segmentation"}}
    with pytest.raises(BundleError, match="task 'stereo' is not one satlearn evaluate scores"):
        bundle_training_task(meta, "bundle b")
