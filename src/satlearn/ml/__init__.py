"""Deprecated: this package is :mod:`satlearn.pixelml` now.

``satlearn.ml`` did not say which of satlearn's learners lives here (the
torch ones are :mod:`satlearn.models` and :mod:`satlearn.train`), so the
scikit-learn per-pixel classifiers and their features moved to
:mod:`satlearn.pixelml`. This path, with :mod:`satlearn.ml.features` and
:mod:`satlearn.ml.pixel`, re-exports every public name for one release and
warns on import; it goes in 0.3.0.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.ml is satlearn.pixelml now; import from satlearn.pixelml (the old path goes in "
    "the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.pixelml import (  # noqa: E402  (after the warning, which must come first)
    MODELS,
    FeatureSpec,
    PixelClassifier,
    evaluate,
    pixel_features,
    train_pixel_classifier,
)

__all__ = [
    "MODELS",
    "FeatureSpec",
    "PixelClassifier",
    "evaluate",
    "pixel_features",
    "train_pixel_classifier",
]
