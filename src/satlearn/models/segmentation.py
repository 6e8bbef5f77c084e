"""Semantic segmentation: a U-Net with a residual encoder.

``unet`` maps (N, C, H, W) bands to (N, num_classes, H, W) logits, at the
input resolution. The encoder halves the resolution ``depth`` times, so the
model pads its input at the bottom and right (edge values) to a multiple of
``2**depth`` and crops the answer back: any tile size works, odd ones too.
One class (``num_classes=1``) gives a single logit map for a binary mask
(sigmoid); several give per-class logits (softmax).

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> model = build_model("unet", in_channels=13, num_classes=1, width=8, depth=3)
>>> model(torch.zeros(1, 13, 45, 37)).shape
torch.Size([1, 1, 45, 37])
"""

from __future__ import annotations

import torch
from torch import nn

from satlearn.models.blocks import (
    ResidualEncoder,
    SatlearnModel,
    UNetDecoder,
    check_norm,
    check_positive_int,
    pad_to_multiple,
)
from satlearn.models.registry import register_model

__all__ = ["UNet"]


@register_model("unet")
class UNet(SatlearnModel):
    """U-Net with a residual encoder: (N, C, H, W) -> (N, num_classes, H, W) logits.

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Input bands.
    num_classes : int
        Output maps (1 for a binary mask with a sigmoid).
    width : int
        Channels at full resolution (default 32), doubled at each level.
    depth : int
        Downsampling levels (default 4: sizes are padded to multiples of 16).
    blocks : int
        Residual blocks per encoder level (default 1).
    norm : {"batch", "group", "none"}
        Normalisation layers (default batch).
    """

    task = "semantic-segmentation"

    def __init__(
        self,
        name: str = "unet",
        *,
        in_channels: int,
        num_classes: int | None = None,
        width: int = 32,
        depth: int = 4,
        blocks: int = 1,
        norm: str = "batch",
    ) -> None:
        check_positive_int("in_channels", in_channels, model=name)
        check_positive_int("num_classes", num_classes, model=name)
        check_positive_int("width", width, model=name)
        check_positive_int("depth", depth, model=name)
        check_positive_int("blocks", blocks, model=name)
        check_norm(norm, model=name)
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            depth=depth,
            blocks=blocks,
            norm=norm,
        )
        self.multiple = 2**depth
        self.encoder = ResidualEncoder(
            in_channels, width=width, depth=depth, blocks=blocks, norm=norm
        )
        self.decoder = UNetDecoder(self.encoder.channels, norm=norm)
        self.head = nn.Conv2d(self.decoder.out_channels, num_classes, 1)

    @property
    def output(self) -> dict:
        return {"kind": "logits", "shape": ["batch", "class", "y", "x"]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = self.head(self.decoder(self.encoder(pad_to_multiple(x, self.multiple))))
        return y[..., :h, :w]
