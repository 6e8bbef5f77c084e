"""siamese-unet and early-fusion-unet: stacked-date input, fusion, learning a change."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from satlearn.errors import InvalidInputError
from satlearn.models import build_model
from satlearn.models.change import stack_dates


@pytest.mark.parametrize("name", ["siamese-unet", "early-fusion-unet"])
@pytest.mark.parametrize("bands", [1, 13])
@pytest.mark.parametrize(("height", "width"), [(32, 32), (29, 35)])
def test_change_logits_at_input_resolution(name, bands, height, width):
    model = build_model(name, in_channels=2 * bands, num_classes=2, width=4, depth=2)
    before, after = torch.randn(2, bands, height, width), torch.randn(2, bands, height, width)
    assert model(stack_dates(before, after)).shape == (2, 2, height, width)


def test_difference_fusion_is_symmetric_in_time_and_blind_to_no_change():
    model = build_model("siamese-unet", in_channels=6, num_classes=1, width=4, depth=2).eval()
    a, b = torch.randn(1, 3, 24, 24), torch.randn(1, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(stack_dates(a, b)), model(stack_dates(b, a)))
        # identical dates: every fused feature is 0, so the answer cannot
        # depend on the image itself
        same_a, same_b = model(stack_dates(a, a)), model(stack_dates(b, b))
    torch.testing.assert_close(same_a, same_b)


def test_concat_fusion_sees_the_order_of_the_dates():
    torch.manual_seed(0)
    model = build_model(
        "siamese-unet", in_channels=6, num_classes=1, width=4, depth=2, fusion="concat"
    ).eval()
    a, b = torch.randn(1, 3, 24, 24), torch.randn(1, 3, 24, 24)
    with torch.no_grad():
        assert not torch.allclose(model(stack_dates(a, b)), model(stack_dates(b, a)))


def test_the_siamese_encoder_is_shared_between_dates():
    siamese = build_model("siamese-unet", in_channels=8, num_classes=1, width=4, depth=2)
    assert siamese.encoder.stem[0][0].in_channels == 4  # one date's bands


@pytest.mark.parametrize("name", ["siamese-unet", "early-fusion-unet"])
def test_loss_falls_learning_where_the_dates_differ(name):
    torch.manual_seed(0)
    before = torch.randn(4, 2, 24, 24)
    change = torch.zeros(4, 24, 24)
    change[:, 6:16, 8:20] = 1.0
    # independent noise on each date, a real change where change == 1
    after = before + 2.0 * change[:, None] + 0.2 * torch.randn(4, 2, 24, 24)
    model = build_model(name, in_channels=4, num_classes=1, width=8, depth=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = stack_dates(before, after)
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], change)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize("name", ["siamese-unet", "early-fusion-unet"])
def test_odd_channel_counts_are_refused(name):
    with pytest.raises(InvalidInputError, match=r"2 x bands.*must be even, got 5"):
        build_model(name, in_channels=5, num_classes=1)


def test_bad_fusion_and_mismatched_dates():
    with pytest.raises(InvalidInputError, match="fusion"):
        build_model("siamese-unet", in_channels=4, num_classes=1, fusion="sum")
    with pytest.raises(InvalidInputError, match=r"before \(1, 3, 8, 8\) and after"):
        stack_dates(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
