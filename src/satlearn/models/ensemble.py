"""Test-time augmentation: a model's output averaged over flips and 90° rotations.

Imagery has no "up": a field or a roof seen rotated by 90° or mirrored is
still a field or a roof, so averaging a model's answers over the eight
symmetries of the square (the dihedral group D4) cancels part of its
orientation-dependent error at the cost of eight forward passes. Super-
resolution papers call it the *geometric self-ensemble* (Lim et al. 2017,
EDSR+); it is as common for segmentation.

Dense outputs (segmentation and change logits, super-resolution images:
``(N, K, H', W')`` on a grid aligned with the input, any scale factor) are
transformed back before averaging; ``(N, K)`` outputs (classification) are
averaged as they are. Outputs whose channels depend on orientation, such as
CenterNet's box width and height, are not supported.

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> model = build_model("unet", in_channels=3, num_classes=2, width=4, depth=1).eval()
>>> with torch.no_grad():
...     out = dihedral_ensemble(model, torch.zeros(1, 3, 16, 12))
>>> out.shape
torch.Size([1, 2, 16, 12])
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from satlearn.errors import InvalidInputError

__all__ = ["DIHEDRAL", "dihedral_ensemble"]

#: The eight symmetries of the square as (quarter turns, mirrored first).
DIHEDRAL: tuple[tuple[int, bool], ...] = tuple(
    (turns, mirror) for mirror in (False, True) for turns in range(4)
)


def _apply(x: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    if mirror:
        x = x.flip(-1)
    return torch.rot90(x, turns, dims=(-2, -1)) if turns else x


def _undo(y: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    if turns:
        y = torch.rot90(y, -turns, dims=(-2, -1))
    return y.flip(-1) if mirror else y


def dihedral_ensemble(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, transforms: int = 8
) -> torch.Tensor:
    """The mean of ``model``'s outputs over flips and rotations of ``x``, each undone.

    Parameters
    ----------
    model : callable
        ``(N, C, H, W) -> (N, K, H', W')`` (dense, grid-aligned with the
        input; any H, W, as fully convolutional models accept) or
        ``-> (N, K)``. Call it in eval mode and under ``torch.no_grad()``
        for inference.
    x : torch.Tensor
        ``(N, C, H, W)`` model input (a change model's stacked dates rotate
        together, as they should).
    transforms : {1, 4, 8}
        1: the model alone; 4: the four rotations; 8: rotations of the image
        and of its mirror (D4).

    Returns
    -------
    torch.Tensor
        The averaged output, shaped like ``model(x)``.

    Raises
    ------
    InvalidInputError
        ``x`` is not 4-D, ``transforms`` is not 1, 4 or 8, or an output is
        neither ``(N, K)`` nor 4-D.
    """
    if transforms not in (1, 4, 8):
        raise InvalidInputError(f"transforms must be 1, 4 or 8, got {transforms!r}")
    if x.ndim != 4:
        raise InvalidInputError(
            f"dihedral_ensemble needs an (N, C, H, W) input, got {tuple(x.shape)}"
        )
    total: torch.Tensor | None = None
    for turns, mirror in DIHEDRAL[:transforms]:
        y = model(_apply(x, turns, mirror))
        if y.ndim == 4:
            y = _undo(y, turns, mirror)
        elif y.ndim != 2:
            raise InvalidInputError(
                f"dihedral_ensemble averages (N, K) or (N, K, H, W) outputs, got {tuple(y.shape)}"
            )
        total = y if total is None else total + y
    assert total is not None
    return total / transforms
