"""Change detection between two co-registered dates.

Convention: both models take ONE tensor, the two dates stacked on the channel
axis, ``(N, 2*C, H, W)``: the C bands of the first date ("before") then the
same C bands of the second ("after"). A single input keeps the ONNX graph, the
sliding-window predictor and the server the same as for any other model;
``in_channels`` is therefore ``2*C`` (use :func:`stack_dates`). The output is
``(N, num_classes, H, W)`` logits at the input resolution (``num_classes=1``:
one change logit; 2: no-change / change).

``siamese-unet``
    One residual encoder, shared by both dates (the same weights see each
    date), fused at every scale by ``fusion="difference"`` (absolute
    difference of the features: symmetric in time) or ``"concat"``
    (concatenation and a 1x1 convolution: may learn directed changes), then a
    U-Net decoder.
``early-fusion-unet``
    A :class:`~satlearn.models.segmentation.UNet` over the stacked dates.

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> before, after = torch.zeros(1, 4, 40, 40), torch.ones(1, 4, 40, 40)
>>> model = build_model("siamese-unet", in_channels=8, num_classes=1, width=8, depth=2)
>>> model(stack_dates(before, after)).shape
torch.Size([1, 1, 40, 40])
"""

from __future__ import annotations

import torch
from torch import nn

from satlearn.errors import InvalidInputError
from satlearn.models.blocks import (
    ConvNormAct,
    ResidualEncoder,
    SatlearnModel,
    UNetDecoder,
    check_norm,
    check_positive_int,
    pad_to_multiple,
)
from satlearn.models.registry import register_model
from satlearn.models.segmentation import UNet

__all__ = ["FUSIONS", "EarlyFusionUNet", "SiameseUNet", "stack_dates"]

FUSIONS = ("difference", "concat")


def stack_dates(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """The change models' input: ``before`` and ``after`` (N, C, H, W) on channels.

    Raises
    ------
    InvalidInputError
        The two dates differ in shape.

    Examples
    --------
    >>> stack_dates(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 6, 8, 8])
    """
    if before.shape != after.shape:
        raise InvalidInputError(
            f"before {tuple(before.shape)} and after {tuple(after.shape)} must have the same shape"
        )
    return torch.cat([before, after], dim=1)


def _check_stacked(name: str, in_channels: int) -> None:
    check_positive_int("in_channels", in_channels, model=name, minimum=2)
    if in_channels % 2:
        raise InvalidInputError(
            f"{name}: in_channels counts both dates (2 x bands) and must be even, got {in_channels}"
        )


@register_model("siamese-unet")
class SiameseUNet(SatlearnModel):
    """Siamese U-Net: (N, 2C, H, W) stacked dates -> (N, num_classes, H, W) logits.

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Channels of the stacked input, 2 x bands.
    num_classes : int
        Output maps (1: a change logit).
    width, depth, blocks, norm
        As for :class:`~satlearn.models.segmentation.UNet`.
    fusion : {"difference", "concat"}
        How the two dates' features meet at each scale.
    """

    task = "change-detection"
    dates = 2

    def __init__(
        self,
        name: str = "siamese-unet",
        *,
        in_channels: int,
        num_classes: int | None = None,
        width: int = 32,
        depth: int = 4,
        blocks: int = 1,
        norm: str = "batch",
        fusion: str = "difference",
    ) -> None:
        _check_stacked(name, in_channels)
        check_positive_int("num_classes", num_classes, model=name)
        check_positive_int("width", width, model=name)
        check_positive_int("depth", depth, model=name)
        check_positive_int("blocks", blocks, model=name)
        check_norm(norm, model=name)
        if fusion not in FUSIONS:
            raise InvalidInputError(f"{name}: fusion must be one of {FUSIONS}, got {fusion!r}")
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            depth=depth,
            blocks=blocks,
            norm=norm,
            fusion=fusion,
        )
        self.bands = in_channels // 2
        self.multiple = 2**depth
        self.fusion = fusion
        self.encoder = ResidualEncoder(
            self.bands, width=width, depth=depth, blocks=blocks, norm=norm
        )
        if fusion == "concat":
            self.fuse = nn.ModuleList(
                ConvNormAct(2 * c, c, kernel_size=1, norm=norm) for c in self.encoder.channels
            )
        self.decoder = UNetDecoder(self.encoder.channels, norm=norm)
        self.head = nn.Conv2d(self.decoder.out_channels, num_classes, 1)

    @property
    def output(self) -> dict:
        return {"kind": "logits", "shape": ["batch", "class", "y", "x"]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.multiple)
        n = x.shape[0]
        # Both dates in one encoder pass (a batch of 2N): same weights, and
        # one call instead of two.
        features = self.encoder(torch.cat([x[:, : self.bands], x[:, self.bands :]], dim=0))
        if self.fusion == "difference":
            fused = [torch.abs(f[:n] - f[n:]) for f in features]
        else:
            fused = [
                fuse(torch.cat([f[:n], f[n:]], dim=1))
                for fuse, f in zip(self.fuse, features, strict=True)
            ]
        return self.head(self.decoder(fused))[..., :h, :w]


@register_model("early-fusion-unet")
class EarlyFusionUNet(UNet):
    """Early fusion: a U-Net over the stacked dates, (N, 2C, H, W) -> (N, K, H, W) logits.

    Parameters are those of :class:`~satlearn.models.segmentation.UNet`;
    ``in_channels`` counts both dates (2 x bands).
    """

    task = "change-detection"
    dates = 2

    def __init__(
        self,
        name: str = "early-fusion-unet",
        *,
        in_channels: int,
        num_classes: int | None = None,
        width: int = 32,
        depth: int = 4,
        blocks: int = 1,
        norm: str = "batch",
    ) -> None:
        _check_stacked(name, in_channels)
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            depth=depth,
            blocks=blocks,
            norm=norm,
        )
