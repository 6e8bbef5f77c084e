"""Principal-component substitution (Chavez et al. 1991).

The first principal component is replaced by the matched pan, i.e.
substitution with ``w = g = v_1``, the leading eigenvector of the MS
covariance. Global statistics, then per pixel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.ops.pansharpen._statistics import FusionStatistics
from satlearn.ops.pansharpen._substitution import match_pan

__all__ = ["pca_parameters"]


def pca_parameters(stats: FusionStatistics, *, count: int) -> dict[str, Any]:
    """The :func:`component_substitution` options of PCA substitution, from the first pass."""
    _values, vectors = np.linalg.eigh(stats.cov[:count, :count])
    first = vectors[:, -1]
    # Orient PC1 so that it grows with the pan (and with the bands).
    if first @ stats.cov[:count, count] < 0:
        first = -first
    pan_gain, pan_offset, _var_i = match_pan(stats, first)
    return {"weights": first, "gains": first, "pan_gain": pan_gain, "pan_offset": pan_offset}
