"""Moved: label rasterising and vectorising is :mod:`satlearn.prep.labels`.

This path is deprecated: it re-exports every name for one release and warns on
import (it goes in 0.3.0); import from :mod:`satlearn.prep.labels`.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.datasets.labels moved to satlearn.prep.labels; import from there (the old path "
    "goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.prep.labels import (  # noqa: E402
    burn_values,
    features_bounds,
    rasterize_features,
    read_vector_labels,
    vectorize_mask,
)

__all__ = [
    "burn_values",
    "features_bounds",
    "rasterize_features",
    "read_vector_labels",
    "vectorize_mask",
]
