"""Moved: label rasterising and vectorising is :mod:`satlearn.prep.labels`.

This path keeps working (plain re-exports, no warning yet); new code imports
from :mod:`satlearn.prep.labels`.
"""

from __future__ import annotations

from satlearn.prep.labels import (
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
