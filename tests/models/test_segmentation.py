"""unet: logits at input resolution for any size, learning, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.models import build_model
from satlearn.models.blocks import pad_to_multiple


@pytest.mark.parametrize("bands", [1, 13])
@pytest.mark.parametrize(("height", "width"), [(32, 32), (33, 31), (5, 7)])
def test_logits_at_input_resolution_for_any_size_and_band_count(bands, height, width):
    model = build_model("unet", in_channels=bands, num_classes=3, width=4, depth=3)
    assert model(torch.randn(2, bands, height, width)).shape == (2, 3, height, width)


def test_padding_does_not_change_the_answer_inside_a_multiple_sized_tile():
    # On a 32 px tile nothing is padded; the same tile inside a 31 px crop is
    # padded, and the model still answers for every pixel of the crop.
    model = build_model("unet", in_channels=2, num_classes=1, width=4, depth=2).eval()
    x = torch.randn(1, 2, 32, 32)
    assert torch.equal(pad_to_multiple(x, 4), x)
    padded = pad_to_multiple(x[..., :31, :30], 4)
    assert padded.shape[-2:] == (32, 32)
    # replicated edges: the padded row equals the last real row
    torch.testing.assert_close(padded[..., 31, :30], x[..., 30, :30])
    assert model(x[..., :31, :30]).shape == (1, 1, 31, 30)


def test_loss_falls_on_a_tiny_fixed_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 24, 24)
    target = (x[:, 0] + x[:, 1] > 0).long()  # a pixel-wise rule the net can learn
    model = build_model("unet", in_channels=3, num_classes=2, width=8, depth=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("norm", ["batch", "group", "none"])
def test_norm_options_build_and_rebuild(norm):
    model = build_model("unet", in_channels=3, num_classes=1, width=4, depth=1, norm=norm)
    clone = build_model(**model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 12, 12)
    torch.testing.assert_close(clone.eval()(x), model.eval()(x))


@pytest.mark.parametrize(
    ("options", "match"),
    [({"depth": 0}, "depth"), ({"num_classes": 0}, "num_classes"), ({"blocks": True}, "blocks")],
)
def test_bad_options_name_the_option(options, match):
    kwargs = {"in_channels": 3, "num_classes": 2, **options}
    with pytest.raises(InvalidInputError, match=match):
        build_model("unet", **kwargs)
