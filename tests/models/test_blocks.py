"""Building blocks: encoder scales, decoder, padding, norms, the model base class."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from satlearn.models import build_model, default_device
from satlearn.models.blocks import (
    ConvNormAct,
    ResidualEncoder,
    UNetDecoder,
    pad_to_multiple,
)


def test_encoder_halves_resolution_and_doubles_width_per_stage_up_to_the_cap():
    encoder = ResidualEncoder(5, width=8, depth=3, max_width=24)
    features = encoder(torch.randn(2, 5, 32, 32))
    assert encoder.channels == [8, 16, 24, 24]
    assert [tuple(f.shape[1:]) for f in features] == [
        (8, 32, 32),
        (16, 16, 16),
        (24, 8, 8),
        (24, 4, 4),
    ]


def test_decoder_climbs_to_the_requested_scale():
    encoder = ResidualEncoder(3, width=4, depth=3)
    features = encoder(torch.randn(1, 3, 32, 32))
    full = UNetDecoder(encoder.channels)
    quarter = UNetDecoder(encoder.channels, stop=2)
    assert full(features).shape == (1, full.out_channels, 32, 32) and full.out_channels == 4
    assert quarter(features).shape == (1, 16, 8, 8)


def test_pad_to_multiple_pads_bottom_right_with_edge_values():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 4, 4)
    torch.testing.assert_close(padded[0, 0, :2, :3], x[0, 0])
    assert padded[0, 0, 3].tolist() == [3.0, 4.0, 5.0, 5.0]


@pytest.mark.parametrize(
    ("norm", "channels", "expected"),
    [("batch", 16, nn.BatchNorm2d), ("group", 17, nn.GroupNorm), ("none", 16, nn.Identity)],
)
def test_norm_choice(norm, channels, expected):
    unit = ConvNormAct(3, channels, norm=norm)
    assert isinstance(unit[1], expected)
    assert (unit[0].bias is not None) == (norm == "none")  # a norm makes the bias redundant
    if norm == "group":
        assert channels % unit[1].num_groups == 0


def test_model_base_class_exposes_name_channels_and_config():
    model = build_model("unet", in_channels=7, num_classes=2, width=4, depth=1)
    assert model.name == "unet" and model.in_channels == 7
    assert model.task == "semantic-segmentation"
    assert model.output["kind"] == "logits"


def test_default_device_is_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected
