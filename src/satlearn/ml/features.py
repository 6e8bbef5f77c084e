"""Deprecated: this module is :mod:`satlearn.pixelml.features` now (goes in 0.3.0)."""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.ml.features is satlearn.pixelml.features now; import from there (the old path "
    "goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.pixelml.features import (  # noqa: E402  (after the warning, which must come first)
    FeatureSpec,
    band_names,
    check_image,
    extra_names,
    interpolate_time,
    pixel_features,
    row_chunks,
    series_layers,
)

__all__ = [
    "FeatureSpec",
    "band_names",
    "check_image",
    "extra_names",
    "interpolate_time",
    "pixel_features",
    "row_chunks",
    "series_layers",
]
