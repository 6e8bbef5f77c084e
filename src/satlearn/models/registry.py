"""The model registry: architectures register by name, :func:`build_model` builds them.

Its own module so that the architecture modules (which register themselves)
import the registry, not the package that imports them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from satlearn.errors import InvalidInputError

__all__ = ["MODELS", "build_model", "default_device", "register_model"]

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
