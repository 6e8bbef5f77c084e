"""dihedral_ensemble: the D4 average of a model's outputs, each transform undone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from satlearn.errors import InvalidInputError
from satlearn.models import build_model
from satlearn.models.ensemble import DIHEDRAL, _apply, dihedral_ensemble


def conv(scale: int = 1) -> nn.Module:
    """A random, orientation-dependent model (3x3 kernels have no symmetry)."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(3, 2, 3, padding=1)]
    if scale > 1:
        layers.append(nn.Upsample(scale_factor=scale, mode="nearest"))
    return nn.Sequential(*layers).eval()


def test_the_eight_symmetries_are_distinct_and_one_is_the_identity() -> None:
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    views = [_apply(x, t, m) for t, m in DIHEDRAL]
    images = {(tuple(v.shape), tuple(v.flatten().tolist())) for v in views}
    assert len(DIHEDRAL) == 8 and len(images) == 8
    assert torch.equal(_apply(x, *DIHEDRAL[0]), x)


@pytest.mark.parametrize("scale", [1, 2])
def test_the_ensemble_is_equivariant_and_averages_every_view(scale: int) -> None:
    model = conv(scale)
    x = torch.randn(2, 3, 10, 7)  # not square: rotations change the shape
    with torch.no_grad():
        out = dihedral_ensemble(model, x)
        assert out.shape == model(x).shape == (2, 2, 10 * scale, 7 * scale)
        # D4-averaged: rotating or mirroring the input rotates or mirrors the output.
        for turns, mirror in DIHEDRAL:
            moved = dihedral_ensemble(model, _apply(x, turns, mirror))
            torch.testing.assert_close(moved, _apply(out, turns, mirror), atol=1e-5, rtol=1e-5)
        # ... which the model alone is not.
        assert not torch.allclose(model(x.flip(-1)), model(x).flip(-1), atol=1e-3)
        torch.testing.assert_close(dihedral_ensemble(model, x, transforms=1), model(x))
        four = torch.stack(
            [torch.rot90(model(torch.rot90(x, k, (2, 3))), -k, (2, 3)) for k in range(4)]
        )
        torch.testing.assert_close(dihedral_ensemble(model, x, transforms=4), four.mean(0))


def test_equivariant_models_are_unchanged_and_class_outputs_are_averaged() -> None:
    bicubic = build_model("vdsr", in_channels=2, scale=2, width=4, depth=3).eval()  # zero residual
    x = torch.rand(1, 2, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(dihedral_ensemble(bicubic, x), bicubic(x), atol=1e-5, rtol=1e-5)
        classifier = build_model("resnet-classifier", in_channels=2, num_classes=3, width=4).eval()
        views = torch.stack([classifier(_apply(x, t, m)) for t, m in DIHEDRAL])
        torch.testing.assert_close(dihedral_ensemble(classifier, x), views.mean(0))


def test_bad_inputs_are_named() -> None:
    model = conv()
    with pytest.raises(InvalidInputError, match="transforms must be 1, 4 or 8"):
        dihedral_ensemble(model, torch.zeros(1, 3, 4, 4), transforms=2)
    with pytest.raises(InvalidInputError, match=r"\(N, C, H, W\) input"):
        dihedral_ensemble(model, torch.zeros(3, 4, 4))
    with pytest.raises(InvalidInputError, match=r"\(N, K\) or \(N, K, H, W\) outputs"):
        dihedral_ensemble(lambda t: t[:, 0], torch.zeros(1, 3, 4, 4))
