"""Deep-learning architectures for satellite imagery (plain torch, any band count).

Every model is built by name through :func:`build_model` and keeps its
constructor arguments in ``model.config`` (JSON-ready, ``name`` included), so
``build_model(**model.config)`` rebuilds the same architecture: that is how a
bundle's ``weights.safetensors`` is loaded back (:func:`load_torch_model`).
Models are created on the CPU; move them with ``model.to(default_device())``
to use CUDA when present.

Registered models
-----------------
=====================  =================================  =====================================
name                   input -> output                    notes
=====================  =================================  =====================================
``resnet-classifier``  (N, C, H, W) -> (N, K) logits      residual CNN sized by width/depth;
                                                          softmax (single-label) or sigmoid
                                                          (multi-label) is the caller's
``chip-classifier``    (N, C, H, W) -> (N, K) logits      the same family, K = 2 by default:
                                                          keep/drop classical candidates
``unet``               (N, C, H, W) -> (N, K, H, W)       U-Net, residual encoder; any H, W
``siamese-unet``       (N, 2C, H, W) -> (N, K, H, W)      change: dates stacked on channels
                                                          (before then after), shared encoder,
                                                          fusion ``"difference"``/``"concat"``
``early-fusion-unet``  (N, 2C, H, W) -> (N, K, H, W)      change: a U-Net over both dates
``srcnn``              (N, C, h, w) -> (N, C, sh, sw)     super-resolution x2/x4; bicubic
``vdsr``               (N, C, h, w) -> (N, C, sh, sw)     upsampling inside the model, so the
``espcn``              (N, C, h, w) -> (N, C, sh, sw)     input is always the low-res tile
``centernet``          (N, C, H, W) -> (N, K+4, H/s, W/s) heatmaps (sigmoid) + w, h + offset;
                                                          :func:`decode_detections` -> boxes
=====================  =================================  =====================================

:func:`dihedral_ensemble` averages a model's outputs over the eight flips and
rotations of its input (test-time augmentation).

Examples
--------
>>> import torch
>>> model = build_model("unet", in_channels=4, num_classes=3, width=8, depth=2)
>>> model(torch.zeros(1, 4, 30, 30)).shape
torch.Size([1, 3, 30, 30])
>>> build_model(**model.config).config == model.config
True
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from satlearn.errors import InvalidInputError

__all__ = [
    "MODELS",
    "build_model",
    "decode_detections",
    "default_device",
    "dihedral_ensemble",
    "export_bundle",
    "load_torch_model",
    "register_model",
]

_T = TypeVar("_T", bound=Callable[..., Any])

#: name -> constructor ``(name, *, in_channels, num_classes, **options)``.
MODELS: dict[str, Callable[..., Any]] = {}


def register_model(*names: str) -> Callable[[_T], _T]:
    """Register a model class under one or more names (a class decorator)."""

    def decorate(cls: _T) -> _T:
        for name in names:
            MODELS[name] = cls
        return cls

    return decorate


def build_model(
    name: str, *, in_channels: int, num_classes: int | None = None, **options: Any
) -> torch.nn.Module:
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        A name of :data:`MODELS` (see the module docstring).
    in_channels : int
        Channels of the input tensor (for change models: both dates, 2 x bands).
    num_classes : int, optional
        Output classes; required for classifiers, segmentation, change and
        detection, not used by super-resolution (output channels = input).
    **options
        Architecture options of the model (``width``, ``depth``, ``blocks``,
        ``norm``, ``scale``, ``fusion``, ``stride``...).

    Returns
    -------
    torch.nn.Module
        On the CPU, in training mode, with ``model.config``.

    Raises
    ------
    InvalidInputError
        Unknown name, or an option out of range (the message names it).

    Examples
    --------
    >>> build_model("resnet-classifier", in_channels=13, num_classes=10, width=16).config["depth"]
    3
    """
    if name not in MODELS:
        raise InvalidInputError(
            f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}"
        )
    cls = MODELS[name]
    accepted = set(inspect.signature(cls).parameters) - {"name", "in_channels", "num_classes"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InvalidInputError(
            f"model {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(sorted(accepted))}"
        )
    return cls(name, in_channels=in_channels, num_classes=num_classes, **options)


def default_device() -> torch.device:
    """CUDA when a GPU is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# The architecture modules register themselves on import.
from satlearn.models import (  # noqa: E402,F401
    change,
    classification,
    detection,
    segmentation,
    superres,
)
from satlearn.models.detection import decode_detections  # noqa: E402
from satlearn.models.ensemble import dihedral_ensemble  # noqa: E402
from satlearn.models.export import export_bundle, load_torch_model  # noqa: E402
