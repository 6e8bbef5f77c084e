"""Single-image super-resolution, x2 to x4: SRCNN, VDSR and ESPCN.

All three take the LOW-resolution tile, (N, C, h, w), and return
(N, C, scale*h, scale*w): the bicubic upsampling that SRCNN and VDSR work on
is inside the model (``F.interpolate(mode="bicubic")``, an ONNX ``Resize``),
so a server or the sliding-window predictor feeds the same low-resolution
input to every model and no caller has to reproduce the interpolation.

``srcnn``
    Dong et al. 2014: 9x9 -> 1x1 -> 5x5 convolutions (``width``, ``width/2``)
    on the bicubic image. ``residual=True`` (default) adds the bicubic image
    to the output, so the network learns only the missing detail and starts
    at bicubic quality; ``False`` is the paper's direct form.
``vdsr``
    Kim et al. 2016: ``depth`` 3x3 convolutions of ``width`` channels on the
    bicubic image, always residual (default depth 10, half the paper's 20:
    CPU-sized).
``espcn``
    Shi et al. 2016: convolutions at low resolution, then a sub-pixel
    convolution (``PixelShuffle``, ONNX ``DepthToSpace``) to the high
    resolution: the cheapest of the three. ``residual=True`` (default) adds
    the bicubic image as for SRCNN.

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> model = build_model("espcn", in_channels=4, scale=4, width=16)
>>> model(torch.zeros(1, 4, 10, 12)).shape
torch.Size([1, 4, 40, 48])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from satlearn.errors import InvalidInputError
from satlearn.models.blocks import SatlearnModel, check_positive_int
from satlearn.models.registry import register_model

__all__ = ["ESPCN", "SCALES", "SRCNN", "VDSR"]

SCALES = (2, 3, 4)


class _SuperResolution(SatlearnModel):
    task = "super-resolution"

    def __init__(
        self, name: str, *, in_channels: int, num_classes: int | None, scale: int, **config
    ):
        check_positive_int("in_channels", in_channels, model=name)
        if num_classes is not None:
            raise InvalidInputError(
                f"{name}: super-resolution outputs the input's bands; do not pass num_classes"
            )
        if scale not in SCALES or isinstance(scale, bool):
            raise InvalidInputError(f"{name}: scale must be one of {SCALES}, got {scale!r}")
        for key in ("width", "depth"):
            if key in config:
                check_positive_int(key, config[key], model=name, minimum=2 if key == "width" else 1)
        super().__init__(name, in_channels=in_channels, scale=scale, **config)
        self.scale = scale

    @property
    def output(self) -> dict:
        return {"kind": "image", "scale": self.scale, "shape": ["batch", "band", "y", "x"]}

    def bicubic(self, x: torch.Tensor) -> torch.Tensor:
        """The input upsampled by ``scale`` (bicubic, half-pixel centres)."""
        return F.interpolate(x, scale_factor=float(self.scale), mode="bicubic", align_corners=False)


class _ResidualBody(_SuperResolution):
    """A body of ``width`` channels and an optional bicubic residual (SRCNN, ESPCN)."""

    def __init__(
        self,
        name: str,
        *,
        in_channels: int,
        num_classes: int | None,
        scale: int,
        width: int,
        residual: bool,
    ) -> None:
        super().__init__(
            name, in_channels=in_channels, num_classes=num_classes, scale=scale, width=width,
            residual=bool(residual),
        )  # fmt: skip
        self.residual = bool(residual)
        self.body = self.make_body(in_channels, width, scale)

    def make_body(self, in_channels: int, width: int, scale: int) -> nn.Module:
        raise NotImplementedError  # pragma: no cover


@register_model("srcnn")
class SRCNN(_ResidualBody):
    """SRCNN on the in-model bicubic upsampling: (N, C, h, w) -> (N, C, sh, sw).

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Bands (in and out).
    num_classes : None
        Not used (must be None).
    scale : {2, 3, 4}
    width : int
        Channels of the first layer (default 64; the second has half).
    residual : bool
        Add the bicubic image to the output (default True).
    """

    def __init__(
        self,
        name: str = "srcnn",
        *,
        in_channels: int,
        num_classes: int | None = None,
        scale: int = 2,
        width: int = 64,
        residual: bool = True,
    ) -> None:
        super().__init__(
            name, in_channels=in_channels, num_classes=num_classes, scale=scale, width=width,
            residual=residual,
        )  # fmt: skip

    def make_body(self, in_channels: int, width: int, scale: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(in_channels, width, 9, padding=4),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width // 2, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width // 2, in_channels, 5, padding=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = self.bicubic(x)
        y = self.body(up)
        return y + up if self.residual else y


@register_model("vdsr")
class VDSR(_SuperResolution):
    """VDSR: ``depth`` 3x3 convolutions learning the residual over bicubic.

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Bands (in and out).
    num_classes : None
        Not used (must be None).
    scale : {2, 3, 4}
    width : int
        Channels of the hidden layers (default 64).
    depth : int
        Convolution layers, first and last included (default 10).
    """

    def __init__(
        self,
        name: str = "vdsr",
        *,
        in_channels: int,
        num_classes: int | None = None,
        scale: int = 2,
        width: int = 64,
        depth: int = 10,
    ) -> None:
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            scale=scale,
            width=width,
            depth=depth,
        )
        if depth < 2:
            raise InvalidInputError(f"{name}: depth must be an integer >= 2, got {depth!r}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(True)]
        layers.append(nn.Conv2d(width, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        # The residual starts near zero, so the untrained model is bicubic.
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = self.bicubic(x)
        return up + self.body(up)


@register_model("espcn")
class ESPCN(_ResidualBody):
    """ESPCN: low-resolution convolutions and a sub-pixel (PixelShuffle) output layer.

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Bands (in and out).
    num_classes : None
        Not used (must be None).
    scale : {2, 3, 4}
    width : int
        Channels of the first layer (default 64; the second has half).
    residual : bool
        Add the bicubic image to the output (default True).
    """

    def __init__(
        self,
        name: str = "espcn",
        *,
        in_channels: int,
        num_classes: int | None = None,
        scale: int = 2,
        width: int = 64,
        residual: bool = True,
    ) -> None:
        super().__init__(
            name, in_channels=in_channels, num_classes=num_classes, scale=scale, width=width,
            residual=residual,
        )  # fmt: skip

    def make_body(self, in_channels: int, width: int, scale: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(in_channels, width, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(width, width // 2, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(width // 2, in_channels * scale**2, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + self.bicubic(x) if self.residual else y
