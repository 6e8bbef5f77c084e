"""Deprecated: this module is :mod:`satlearn.pixelml.pixel` now (goes in 0.3.0)."""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.ml.pixel is satlearn.pixelml.pixel now; import from there (the old path goes "
    "in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.pixelml.pixel import (  # noqa: E402  (after the warning, which must come first)
    MODELS,
    NODATA,
    TASK,
    PixelClassifier,
    evaluate,
    labels_to_raster,
    train_pixel_classifier,
)

__all__ = [
    "MODELS",
    "NODATA",
    "TASK",
    "PixelClassifier",
    "evaluate",
    "labels_to_raster",
    "train_pixel_classifier",
]
