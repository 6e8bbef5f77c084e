"""srcnn, vdsr, espcn: low-res in, scale x high-res out, bicubic inside, learning detail."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.models import build_model

NAMES = ["srcnn", "vdsr", "espcn"]


def bicubic(x, scale):
    return F.interpolate(x, scale_factor=float(scale), mode="bicubic", align_corners=False)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("bands", [1, 4])
def test_output_is_scale_times_the_low_res_input(name, scale, bands):
    model = build_model(name, in_channels=bands, scale=scale, width=8)
    assert model(torch.randn(2, bands, 9, 13)).shape == (2, bands, 9 * scale, 13 * scale)


def test_untrained_vdsr_is_exactly_bicubic():
    x = torch.randn(1, 3, 8, 8)
    model = build_model("vdsr", in_channels=3, scale=2, width=8, depth=4)
    torch.testing.assert_close(model(x), bicubic(x, 2))


@pytest.mark.parametrize("name", ["srcnn", "espcn"])
def test_residual_adds_the_bicubic_image(name):
    torch.manual_seed(0)
    direct = build_model(name, in_channels=2, scale=2, width=8, residual=False)
    residual = build_model(name, in_channels=2, scale=2, width=8)
    residual.load_state_dict(direct.state_dict())
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(residual(x), direct(x) + bicubic(x, 2))


@pytest.mark.parametrize("name", NAMES)
def test_loss_falls_and_beats_bicubic_on_a_tiny_batch(name):
    torch.manual_seed(0)
    # High-res target with fine stripes that bicubic cannot restore.
    yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    high = torch.stack([torch.sin(xx * 1.3 + s) * torch.cos(yy * 0.7) for s in range(4)])[:, None]
    low = F.avg_pool2d(high, 2)
    options = {"depth": 4} if name == "vdsr" else {}
    model = build_model(name, in_channels=1, scale=2, width=8, **options)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    baseline = F.mse_loss(bicubic(low, 2), high).item()
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = F.mse_loss(model(low), high)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert losses[-1] < baseline


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"scale": 8}, "scale must be one of"),
        ({"scale": True}, "scale must be one of"),
        ({"num_classes": 3}, "do not pass num_classes"),
        ({"width": 1}, "width"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(InvalidInputError, match=match):
        build_model("espcn", in_channels=3, **options)


def test_vdsr_needs_two_layers():
    with pytest.raises(InvalidInputError, match="depth must be an integer >= 2"):
        build_model("vdsr", in_channels=3, depth=1)
