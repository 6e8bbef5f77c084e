"""Streaming scorers and losses: pooled batches equal one-shot metrics; bad outputs are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import boundary_f1, class_scores, segmentation_scores
from satlearn.train.data import IGNORE
from satlearn.train.losses import dice_loss, task_loss
from satlearn.train.scoring import make_scorer

RNG = np.random.default_rng(0)


def _one_hot_logits(labels: np.ndarray, k: int) -> np.ndarray:
    return np.moveaxis(np.eye(k)[labels], -1, 1)


def test_classification_pooled_over_batches() -> None:
    ref = RNG.integers(0, 3, 50)
    pred = np.where(RNG.random(50) < 0.7, ref, RNG.integers(0, 3, 50))
    scorer = make_scorer("classification", classes=["a", "b", "c"])
    for part in np.array_split(np.arange(50), 3):
        scorer.update(np.eye(3)[pred[part]], {"label": ref[part]})
    got = scorer.result()
    want = class_scores(pred, ref, n_classes=3)
    assert got["accuracy"] == pytest.approx(want.accuracy)
    assert got["macro_f1"] == pytest.approx(want.macro_f1)
    assert list(got["f1_per_class"]) == ["a", "b", "c"]
    with pytest.raises(NoValidDataError):
        make_scorer("classification", classes=["a"]).result()


def test_segmentation_and_change_scores_skip_unlabelled_pixels() -> None:
    ref = RNG.integers(0, 2, (4, 16, 16))
    ref[:, :2] = IGNORE
    pred = RNG.integers(0, 2, (4, 16, 16))
    scorer = make_scorer("segmentation", classes=["land", "water"])
    scorer.update(_one_hot_logits(pred, 2), {"mask": ref})
    got = scorer.result()
    valid = ref != IGNORE
    want = segmentation_scores(pred, ref, valid=valid)
    assert got["miou"] == pytest.approx(want.miou)
    expected_bf = boundary_f1(pred, np.where(valid, ref, 0), valid=valid).f1
    assert got["boundary_f1"] == pytest.approx(expected_bf)
    change = make_scorer("change")
    change.update(np.where(pred == 1, 5.0, -5.0)[:, None], {"mask": ref})  # one logit
    c = change.result()
    assert c["f1"] == pytest.approx(want.iou[1] * 2 / (1 + want.iou[1]))
    with pytest.raises(InvalidInputError, match="does not match"):
        scorer.update(np.zeros((4, 2, 8, 8)), {"mask": ref})
    with pytest.raises(InvalidInputError, match="holds class 5"):
        scorer.update(np.zeros((1, 2, 2, 2)), {"mask": np.full((1, 2, 2), 5)})
    with pytest.raises(NoValidDataError):
        make_scorer("change").result()


def test_multilabel_and_superres() -> None:
    ml = make_scorer("multilabel", classes=["a", "b"])
    ml.update(np.array([[3.0, -3.0], [3.0, 3.0]]), {"label": np.array([[1, 0], [1, 0]])})
    r = ml.result()
    assert r["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1)) and r["subset_accuracy"] == 0.5
    assert r["f1_per_class"] == {"a": 1.0, "b": 0.0}
    with pytest.raises(NoValidDataError):
        make_scorer("multilabel", classes=["a"]).result()
    sr = make_scorer("superres", mean=[1.0], std=[2.0])
    target = RNG.random((2, 1, 16, 16))
    low = target.reshape(2, 1, 8, 2, 8, 2).mean(axis=(3, 5))
    sr.update(target + 0.01, {"target": target, "image": low})
    r = sr.result()
    # 0.01 normalised is 0.02 in data units; PSNR over the reference range.
    span = float(np.ptp(target * 2 + 1))
    assert r["psnr"] == pytest.approx(10 * np.log10(span**2 / 0.02**2))
    assert r["psnr_bicubic"] < r["psnr"] and 0.9 < r["ssim"] <= 1
    with pytest.raises(InvalidInputError, match="does not match"):
        sr.update(target[:, :, :8], {"target": target, "image": low})
    # Outputs in their own normalised space (a bundle's output_normalisation):
    # (out * 4 - 1) equals the target's (target * 2 + 1).
    own = make_scorer(
        "superres", mean=[1.0], std=[2.0], output_normalisation={"mean": [-1.0], "std": [4.0]}
    )
    own.update((target * 2 + 2) / 4, {"target": target, "image": low})
    psnr = own.result()["psnr"]
    assert psnr is None or psnr > 200  # float rounding only
    with pytest.raises(NoValidDataError):
        make_scorer("superres", mean=[0], std=[1]).result()
    with pytest.raises(InvalidInputError, match="mean and std"):
        make_scorer("superres")
    with pytest.raises(InvalidInputError, match="unknown task"):
        make_scorer("stereo")


def test_detection_scorer_reads_centernet_maps() -> None:
    out = np.zeros((1, 5, 8, 8), np.float32)
    out[0, 0, 2, 3] = 0.9
    out[0, 1:3, 2, 3] = 8  # an 8 x 8 box centred on cell (2, 3) at stride 4
    scorer = make_scorer("detection", classes=["ship"])
    boxes = [np.array([[8.0, 4.0, 16.0, 12.0]])]
    scorer.update(out, {"image": np.zeros((1, 3, 32, 32)), "boxes": boxes,
                        "box_labels": [np.zeros(1, np.int64)]})  # fmt: skip
    r = scorer.result()
    assert r["map50"] == 1.0 and r["recall"] == 1.0 and r["detections"] == 1
    with pytest.raises(NoValidDataError):
        make_scorer("detection").result()


def test_losses() -> None:
    mask = torch.tensor([[[0, 1], [1, IGNORE]]])
    perfect = torch.tensor([[[[9.0, -9.0], [-9.0, 0.0]], [[-9.0, 9.0], [9.0, 0.0]]]])
    assert float(dice_loss(perfect, mask)) < 1e-3
    assert float(dice_loss(perfect[:, 1:], mask)) < 1e-3  # single logit
    batch = {"mask": mask}
    good = float(task_loss("segmentation", perfect, batch, num_classes=2))
    bad = float(task_loss("segmentation", -perfect, batch, num_classes=2))
    assert good < 0.01 < bad
    # The unlabelled pixel's logits do not matter.
    moved = perfect.clone()
    moved[0, :, 1, 1] = torch.tensor([100.0, -100.0])
    assert float(task_loss("segmentation", moved, batch, num_classes=2)) == pytest.approx(good)
    assert float(task_loss("segmentation", perfect[:, 1:], batch, num_classes=2)) < 0.01
    nothing = {"mask": torch.full((1, 2, 2), IGNORE)}
    assert float(task_loss("change", perfect, nothing, num_classes=2)) == 0.0
    assert float(task_loss("change", perfect[:, 1:], batch, num_classes=1)) < 0.01
    with pytest.raises(InvalidInputError, match="unknown task"):
        task_loss("stereo", perfect, batch, num_classes=2)
