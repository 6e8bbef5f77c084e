"""Building blocks shared by the satlearn architectures (plain torch).

Every network in :mod:`satlearn.models` is made of the pieces here: a
convolution + normalisation + activation unit, a residual block, a residual
encoder that returns one feature map per scale, and a U-Net decoder that
walks those maps back up. They take any number of input channels, so a model
reads 3, 4, 13 or 26 bands alike.

Examples
--------
>>> import torch
>>> encoder = ResidualEncoder(4, width=8, depth=2)
>>> [f.shape[1:] for f in encoder(torch.zeros(1, 4, 32, 32))]
[torch.Size([8, 32, 32]), torch.Size([16, 16, 16]), torch.Size([32, 8, 8])]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.errors import InvalidInputError

__all__ = [
    "NORMS",
    "ConvNormAct",
    "ResidualBlock",
    "ResidualEncoder",
    "SatlearnModel",
    "UNetDecoder",
    "check_norm",
    "check_positive_int",
    "pad_to_multiple",
]

NORMS = ("batch", "group", "none")


def check_positive_int(name: str, value: Any, *, model: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else InvalidInputError naming the model option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInputError(f"{model}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_norm(norm: Any, *, model: str) -> str:
    """``norm`` when it is one of :data:`NORMS`, else InvalidInputError."""
    if norm not in NORMS:
        raise InvalidInputError(f"{model}: norm must be one of {NORMS}, got {norm!r}")
    return norm


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        # Group norm does not depend on the batch, so it behaves with the
        # batches of 1-4 tiles that scene-sized training often affords; 8
        # channels per group unless the layer is narrower.
        groups = max(1, channels // 8)
        while channels % groups:
            groups -= 1
        return nn.GroupNorm(groups, channels)
    return nn.Identity()


class ConvNormAct(nn.Sequential):
    """Conv2d (same padding) -> normalisation -> ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "batch",
        act: bool = True,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                bias=norm == "none",
            ),
            _norm_layer(norm, out_channels),
            nn.ReLU(inplace=True) if act else nn.Identity(),
        )


class ResidualBlock(nn.Module):
    """A ResNet basic block: two 3x3 convolutions and an identity (or 1x1) shortcut."""

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int = 1, norm: str = "batch"
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(in_channels, out_channels, stride=stride, norm=norm),
            ConvNormAct(out_channels, out_channels, norm=norm, act=False),
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = ConvNormAct(
                in_channels, out_channels, kernel_size=1, stride=stride, norm=norm, act=False
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class ResidualEncoder(nn.Module):
    """A residual encoder returning one feature map per scale.

    A 3x3 stem at full resolution, then ``depth`` stages, each halving the
    resolution (strided first block) and doubling the width (capped at
    ``max_width``), each of ``blocks`` residual blocks.

    Parameters
    ----------
    in_channels : int
        Input bands.
    width : int
        Channels of the stem (stage ``i`` has ``width * 2**i``).
    depth : int
        Number of downsampling stages.
    blocks : int
        Residual blocks per stage.
    norm : {"batch", "group", "none"}
    max_width : int
        Upper bound on a stage's channels.

    Attributes
    ----------
    channels : list of int
        Channels of the returned maps, full resolution first.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        width: int = 32,
        depth: int = 4,
        blocks: int = 1,
        norm: str = "batch",
        max_width: int = 512,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            ConvNormAct(in_channels, width, norm=norm), ResidualBlock(width, width, norm=norm)
        )
        self.channels = [width]
        stages = []
        for i in range(depth):
            cin, cout = self.channels[-1], min(width * 2 ** (i + 1), max_width)
            layers = [ResidualBlock(cin, cout, stride=2, norm=norm)]
            layers += [ResidualBlock(cout, cout, norm=norm) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            self.channels.append(cout)
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features


class UNetDecoder(nn.Module):
    """Walks encoder maps back up: upsample x2, concatenate the skip, two convolutions.

    Parameters
    ----------
    channels : sequence of int
        Channels of the encoder maps, full resolution first (as
        :attr:`ResidualEncoder.channels`).
    stop : int
        Index of the finest map to climb to (0: full resolution; 2: stride 4).
    norm : {"batch", "group", "none"}

    Attributes
    ----------
    out_channels : int
        Channels of the returned map.
    """

    def __init__(self, channels: Sequence[int], *, stop: int = 0, norm: str = "batch") -> None:
        super().__init__()
        ups = []
        current = channels[-1]
        for skip in reversed(channels[stop:-1]):
            ups.append(
                nn.Sequential(
                    ConvNormAct(current + skip, skip, norm=norm),
                    ConvNormAct(skip, skip, norm=norm),
                )
            )
            current = skip
        self.ups = nn.ModuleList(ups)
        self.stop = stop
        self.out_channels = current

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for up, skip in zip(self.ups, reversed(features[self.stop : -1]), strict=True):
            # Nearest x2 then convolutions (no transposed convolution): no
            # checkerboard artefacts, and an exact Resize in ONNX.
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = up(torch.cat([x, skip], dim=1))
        return x


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom and right of ``x`` (edge values) to a multiple of ``multiple``.

    Models whose encoder halves the resolution ``depth`` times need sizes that
    are multiples of ``2**depth``; padding inside the model (and cropping the
    answer back) lets them take any tile size. Edge replication keeps the
    padded border free of the artificial zero edges a network could react to.

    Examples
    --------
    >>> pad_to_multiple(torch.zeros(1, 2, 30, 33), 16).shape
    torch.Size([1, 2, 32, 48])
    """
    pad_h = (-x.shape[-2]) % multiple
    pad_w = (-x.shape[-1]) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")


class SatlearnModel(nn.Module):
    """Base class of the registered models: remembers how to rebuild itself.

    Attributes
    ----------
    config : dict
        JSON-ready constructor arguments, ``name`` included, such that
        ``build_model(**model.config)`` builds the same architecture.
    task : str
        The bundle ``task`` the model serves.
    output : dict
        What the output tensor means (recorded in bundle.json).
    spatially_dynamic : bool
        Whether the model takes any height and width (exported with free
        H and W axes).
    """

    task: str = ""
    spatially_dynamic: bool = True

    def __init__(self, name: str, **config: Any) -> None:
        super().__init__()
        self.config: dict[str, Any] = {"name": name, **config}

    @property
    def name(self) -> str:
        """The registry name the model was built under."""
        return str(self.config["name"])

    @property
    def in_channels(self) -> int:
        """Channels of the input tensor."""
        return int(self.config["in_channels"])

    @property
    def output(self) -> dict[str, Any]:
        """What the output means; subclasses say more."""
        return {"kind": "logits"}
