"""Scene and chip classification: a compact residual CNN family.

``resnet-classifier`` is a ResNet-style network sized by three settings:
``width`` (stem channels, doubled at each stage), ``depth`` (downsampling
stages) and ``blocks`` (residual blocks per stage). A global average pool
makes it take any chip size (SAT-4/6 28 px, EuroSAT 64 px, UC Merced 256 px).
The head gives one logit per class: softmax for single-label, sigmoid for
multi-label (Planet Amazon) is chosen by the loss and recorded at export
(``activation``), not built into the network.

``chip-classifier`` is the same network with two classes by default: the
learned second stage of a detector that keeps or drops candidates found by a
classical method (e.g. ship candidates from :mod:`satlearn.ops.ships`).

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> model = build_model("resnet-classifier", in_channels=4, num_classes=6, width=8)
>>> model(torch.zeros(2, 4, 28, 28)).shape
torch.Size([2, 6])
"""

from __future__ import annotations

import torch
from torch import nn

from satlearn.errors import InvalidInputError
from satlearn.models.blocks import (
    ResidualEncoder,
    SatlearnModel,
    check_norm,
    check_positive_int,
)
from satlearn.models.registry import register_model

__all__ = ["ResNetClassifier"]


@register_model("resnet-classifier", "chip-classifier")
class ResNetClassifier(SatlearnModel):
    """A residual CNN classifier: (N, C, H, W) -> (N, num_classes) logits.

    Parameters
    ----------
    name : str
        The registry name (``"resnet-classifier"`` or ``"chip-classifier"``).
    in_channels : int
        Input bands.
    num_classes : int, optional
        Outputs; required for ``resnet-classifier``, 2 by default for
        ``chip-classifier``.
    width : int
        Stem channels (default 32); stage ``i`` has ``width * 2**i``.
    depth : int
        Downsampling stages (default 3: a 64 px chip ends at 8 px).
    blocks : int
        Residual blocks per stage (default 1).
    norm : {"batch", "group", "none"}
        Normalisation layers (default batch).
    dropout : float
        Dropout before the linear head (default 0).
    """

    task = "classification"

    def __init__(
        self,
        name: str = "resnet-classifier",
        *,
        in_channels: int,
        num_classes: int | None = None,
        width: int = 32,
        depth: int = 3,
        blocks: int = 1,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        if num_classes is None and name == "chip-classifier":
            num_classes = 2
        check_positive_int("in_channels", in_channels, model=name)
        check_positive_int("num_classes", num_classes, model=name)
        check_positive_int("width", width, model=name)
        check_positive_int("depth", depth, model=name, minimum=0)
        check_positive_int("blocks", blocks, model=name)
        check_norm(norm, model=name)
        if not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
            raise InvalidInputError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            depth=depth,
            blocks=blocks,
            norm=norm,
            dropout=float(dropout),
        )
        self.encoder = ResidualEncoder(
            in_channels, width=width, depth=depth, blocks=blocks, norm=norm
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(self.encoder.channels[-1], num_classes),
        )

    @property
    def output(self) -> dict:
        return {"kind": "logits", "shape": ["batch", "class"]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[-1])
