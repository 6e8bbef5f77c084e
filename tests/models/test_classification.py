"""resnet-classifier and chip-classifier: shapes, options, learning, rebuild from config."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.models import MODELS, build_model
from satlearn.models.classification import ResNetClassifier


@pytest.mark.parametrize("bands", [1, 3, 13])
@pytest.mark.parametrize("size", [28, 33])
def test_logits_per_class_for_any_band_count_and_chip_size(bands, size):
    model = build_model("resnet-classifier", in_channels=bands, num_classes=5, width=4, depth=2)
    assert model(torch.randn(3, bands, size, size)).shape == (3, 5)


def test_width_depth_and_blocks_size_the_network():
    def params(**options):
        model = build_model("resnet-classifier", in_channels=3, num_classes=2, **options)
        return sum(p.numel() for p in model.parameters())

    small = params(width=4, depth=2)
    assert params(width=8, depth=2) > small
    assert params(width=4, depth=3) > small
    assert params(width=4, depth=2, blocks=2) > small


def test_chip_classifier_is_binary_by_default_and_keeps_its_name():
    model = build_model("chip-classifier", in_channels=4, width=4, depth=1)
    assert isinstance(model, ResNetClassifier)
    assert model(torch.randn(2, 4, 16, 16)).shape == (2, 2)
    assert model.config["name"] == "chip-classifier" and model.config["num_classes"] == 2


def test_config_rebuilds_the_same_architecture():
    model = build_model(
        "resnet-classifier", in_channels=6, num_classes=3, width=4, depth=2, norm="group"
    )
    clone = build_model(**model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 6, 20, 20)
    torch.testing.assert_close(clone.eval()(x), model.eval()(x))


def test_loss_falls_on_a_tiny_fixed_batch_single_and_multi_label():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16)
    single = torch.arange(8) % 3
    multi = (torch.rand(8, 4) > 0.5).float()
    for num_classes, target, loss_fn in (
        (3, single, F.cross_entropy),
        (4, multi, F.binary_cross_entropy_with_logits),
    ):
        model = build_model("resnet-classifier", in_channels=3, num_classes=num_classes, width=4)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(15):
            optimiser.zero_grad()
            loss = loss_fn(model(x), target)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0]
        assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num_classes": None}, "num_classes"),
        ({"num_classes": 2, "in_channels": 0}, "in_channels"),
        ({"num_classes": 2, "width": 2.5}, "width"),
        ({"num_classes": 2, "norm": "layer"}, "norm"),
        ({"num_classes": 2, "dropout": 1.5}, "dropout"),
        ({"num_classes": 2, "kernel": 5}, "no option 'kernel'"),
    ],
)
def test_bad_options_name_the_option(options, match):
    kwargs = {"in_channels": 3, **options}
    with pytest.raises(InvalidInputError, match=match):
        build_model("resnet-classifier", **kwargs)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(InvalidInputError, match=r"unknown model 'resnet50'.*unet"):
        build_model("resnet50", in_channels=3, num_classes=2)
    assert {"resnet-classifier", "chip-classifier", "unet"} <= set(MODELS)
