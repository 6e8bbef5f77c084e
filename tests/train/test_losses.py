"""Training losses: the config's ``loss`` section, class weights, each loss's behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from satlearn.errors import InvalidInputError
from satlearn.train.config import TrainConfig
from satlearn.train.data import IGNORE
from satlearn.train.losses import (
    DEFAULT_LOSS,
    build_loss,
    class_weights,
    dice_loss,
    pixel_loss,
    task_loss,
)

CHANGE = {
    "task": "change",
    "data": {"kind": "synthetic", "target": "change"},
    "model": {"name": "siamese-unet"},
}


def _config(task: str = "change", **loss) -> TrainConfig:
    base = dict(CHANGE)
    if task == "superres":
        base = {**base, "task": "superres", "data": {"kind": "synthetic", "target": "superres"}}
    elif task == "segmentation":
        base = {**base, "task": "segmentation", "data": {"kind": "synthetic", "target": "water"}}
    return TrainConfig.from_dict({**base, "loss": loss})


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("task", "loss"),
    [
        ("change", {"name": "bce"}),
        ("change", {"name": "weighted-bce"}),
        ("change", {"name": "weighted-bce", "pos_weight": "auto"}),
        ("change", {"name": "bce+dice", "pos_weight": 10}),
        ("change", {"name": "focal", "gamma": 1.5}),
        ("segmentation", {"name": "focal", "pos_weight": "auto", "gamma": 0}),
        ("superres", {"name": "mse"}),
        ("superres", {"name": "l1"}),
        ("superres", {}),
    ],
)
def test_config_accepts_the_losses_of_each_task(task, loss) -> None:
    config = _config(task, **loss)
    assert config.loss.name == loss.get("name", "default")
    if "pos_weight" in loss:
        expected = loss["pos_weight"]
        assert config.loss.pos_weight == (expected if expected == "auto" else float(expected))


@pytest.mark.parametrize(
    ("task", "loss", "message"),
    [
        ("change", {"name": "mse"}, "loss 'mse' does not fit task 'change'"),
        ("superres", {"name": "focal"}, "loss 'focal' does not fit task 'superres'"),
        ("change", {"name": "hinge"}, "loss.name"),
        ("change", {"name": "bce", "pos_weight": 0}, "greater than 0"),
        ("change", {"name": "bce", "pos_weight": "often"}, "loss.pos_weight"),
        ("change", {"name": "bce", "pos_weight": float("inf")}, "loss.pos_weight"),
        ("superres", {"name": "mse", "pos_weight": 2}, "not of 'mse'"),
        ("change", {"pos_weight": 2}, "not of 'default'"),
        ("change", {"name": "bce", "gamma": 2}, "gamma is an option of the focal loss"),
        ("change", {"name": "focal", "gamma": -1}, "loss.gamma"),
        ("change", {"name": "bce", "weight": 2}, "unknown key 'loss.weight'"),
    ],
)
def test_config_refuses_bad_losses_by_name(task, loss, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _config(task, **loss)


def test_other_tasks_accept_only_their_default_loss() -> None:
    base = {
        "task": "classification",
        "data": {"kind": "synthetic", "target": "landcover-chips"},
        "model": {"name": "resnet-classifier"},
    }
    assert TrainConfig.from_dict({**base, "loss": {"name": "default"}}).loss.name == "default"
    with pytest.raises(InvalidInputError, match=r"accepts default$"):
        TrainConfig.from_dict({**base, "loss": {"name": "bce"}})


# --------------------------------------------------------------------------- class weights


def test_auto_weights_are_background_over_foreground_pixels() -> None:
    a = np.zeros((4, 4), np.uint8)
    a[0, 0] = 1
    b = np.zeros((4, 4), np.uint8)
    b[1, :3] = 1
    b[3, :] = IGNORE  # unlabelled pixels are not counted
    # Labelled: 28 pixels, 4 positive -> 24 / 4.
    assert class_weights([{"mask": a}, {"mask": b}]) == [1.0, 6.0]
    three = np.array([[0, 0, 0, 0, 1, 1, 2]])
    assert class_weights([{"mask": three}], num_classes=4) == [1.0, 2.0, 4.0, 1.0]


def test_auto_weights_need_both_classes() -> None:
    with pytest.raises(InvalidInputError, match="no foreground pixel"):
        class_weights([{"mask": np.zeros((3, 3), np.uint8)}])
    with pytest.raises(InvalidInputError, match="no background"):
        class_weights([{"mask": np.ones((3, 3), np.uint8)}])
    with pytest.raises(InvalidInputError, match="no foreground pixel"):
        class_weights([{"mask": np.full((3, 3), IGNORE, np.uint8)}])


def test_build_loss_resolves_weights() -> None:
    mask = np.zeros((10, 10), np.uint8)
    mask[:2, :5] = 1  # 10 % positive -> auto weight 9
    samples = [{"mask": mask}]
    assert build_loss("change", {"name": "weighted-bce"}, samples, num_classes=2).weights == [
        1.0,
        9.0,
    ]
    assert build_loss("change", {"name": "bce"}, samples, num_classes=2).weights is None
    fixed = build_loss("segmentation", {"name": "focal", "pos_weight": 3}, num_classes=3)
    assert fixed.weights == [1.0, 3.0, 3.0]
    assert fixed.settings == {"name": "focal", "class_weights": [1.0, 3.0, 3.0], "gamma": 2.0}
    assert build_loss("superres", num_classes=0).settings == {"name": "l1"}
    for task, name in DEFAULT_LOSS.items():
        assert build_loss(task, {"name": "default"}, num_classes=2).name == name
    with pytest.raises(InvalidInputError, match="does not fit task 'superres'"):
        build_loss("superres", {"name": "focal"}, num_classes=0)
    with pytest.raises(InvalidInputError, match="loss: name"):
        build_loss("change", {"name": "hinge"}, num_classes=2)
    with pytest.raises(InvalidInputError, match="unknown task 'stereo'"):
        build_loss("stereo", num_classes=2)


# --------------------------------------------------------------------------- behaviour


def _binary_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 8, 8, generator=generator)
    mask = (torch.rand(2, 8, 8, generator=generator) < 0.2).long()
    mask[0, 0, :4] = IGNORE
    return logits, mask


def test_pixel_loss_is_bce_over_labelled_pixels_and_softmax_agrees() -> None:
    logits, mask = _binary_batch()
    valid = mask != IGNORE
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, 0][valid], mask[valid].float()
    )
    assert float(pixel_loss(logits, mask)) == pytest.approx(float(expected), rel=1e-6)
    # Two softmax logits (0, z) are one sigmoid logit z.
    two = torch.cat([torch.zeros_like(logits), logits], dim=1)
    assert float(pixel_loss(two, mask)) == pytest.approx(float(expected), rel=1e-5)
    # Logits at IGNORE pixels do not matter.
    changed = logits.clone()
    changed[0, 0, 0, :4] = 50.0
    assert float(pixel_loss(changed, mask)) == pytest.approx(float(expected), rel=1e-6)


def test_weighted_bce_is_torchs_pos_weight() -> None:
    logits, mask = _binary_batch()
    valid = mask != IGNORE
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, 0][valid], mask[valid].float(), pos_weight=torch.tensor(7.0)
    )
    loss = build_loss("change", {"name": "bce", "pos_weight": 7}, num_classes=2)
    assert float(loss(logits, {"mask": mask})) == pytest.approx(float(expected), rel=1e-6)
    # The positives' gradient grows with the weight; the negatives' does not.
    grads = []
    for weight in (1.0, 7.0):
        x = logits.clone().requires_grad_(True)
        build_loss("change", {"name": "bce", "pos_weight": weight}, num_classes=2)(
            x, {"mask": mask}
        ).backward()
        grads.append(x.grad[:, 0])
    positive, negative = mask == 1, mask == 0
    assert torch.allclose(grads[1][positive], 7 * grads[0][positive])
    assert torch.allclose(grads[1][negative], grads[0][negative])


def test_focal_damps_easy_pixels_more_than_hard_ones() -> None:
    mask = torch.tensor([[[0, 1]]])
    easy = torch.tensor([[[[-4.0, 4.0]]]])  # both right with confidence
    hard = torch.tensor([[[[4.0, -4.0]]]])  # both wrong with confidence
    focal = build_loss("change", {"name": "focal", "gamma": 2}, num_classes=2)
    bce = build_loss("change", {"name": "bce"}, num_classes=2)
    batch = {"mask": mask}
    assert float(focal(easy, batch)) < 1e-3 * float(bce(easy, batch))
    assert float(focal(hard, batch)) > 0.9 * float(bce(hard, batch))
    # gamma 0 is plain cross-entropy.
    logits, m = _binary_batch()
    flat = build_loss("change", {"name": "focal", "gamma": 0}, num_classes=2)
    assert float(flat(logits, {"mask": m})) == pytest.approx(float(bce(logits, {"mask": m})))
    # Softmax focal: p_t of the true class, (1 - p_t) ** gamma.
    three = torch.tensor([[[[2.0]], [[0.0]], [[0.0]]]])
    p = math.exp(2) / (math.exp(2) + 2)
    got = pixel_loss(three, torch.tensor([[[0]]]), gamma=2.0)
    assert float(got) == pytest.approx((1 - p) ** 2 * -math.log(p), rel=1e-5)


def test_bce_plus_dice_adds_the_dice_term() -> None:
    logits, mask = _binary_batch()
    batch = {"mask": mask}
    both = build_loss("change", {"name": "bce+dice"}, num_classes=2)(logits, batch)
    bce = build_loss("change", {"name": "bce"}, num_classes=2)(logits, batch)
    assert float(both) == pytest.approx(float(bce + dice_loss(logits, mask)), rel=1e-6)
    # Both mask tasks default to BCE + Dice (rare foreground).
    for task in ("segmentation", "change"):
        assert float(task_loss(task, logits, batch, num_classes=2)) == pytest.approx(float(both))


def test_superres_losses() -> None:
    out = torch.zeros(1, 2, 2, 2)
    target = torch.full((1, 2, 2, 2), 2.0)
    target[0, 0, 0, 0] = 0.0
    batch = {"target": target}
    # 7 of 8 pixels off by 2: L1 1.75, MSE 3.5.
    assert float(build_loss("superres", {"name": "l1"}, num_classes=0)(out, batch)) == 1.75
    assert float(build_loss("superres", {"name": "mse"}, num_classes=0)(out, batch)) == 3.5
    assert float(task_loss("superres", out, batch, num_classes=0)) == 1.75


def test_nothing_labelled_gives_zero_with_a_gradient() -> None:
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    mask = torch.full((1, 4, 4), IGNORE)
    loss = build_loss("segmentation", {"name": "focal", "pos_weight": 5}, num_classes=2)(
        logits, {"mask": mask}
    )
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) == 0.0
