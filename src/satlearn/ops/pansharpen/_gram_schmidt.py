"""Gram-Schmidt spectral sharpening (Laben & Brower 2000), component-substitution form.

``out_k = MS_k + g_k (PAN' - I)`` with ``g_k = cov(MS_k, I) / var(I)``
(Aiazzi et al. 2007); ``weights="auto"`` gives GS-Adaptive (GSA): ``I``
weights regressed from the low-passed pan. Global statistics, then per pixel.
"""

from __future__ import annotations

from typing import Any

from satlearn.ops.pansharpen._statistics import FusionStatistics, resolve_weights
from satlearn.ops.pansharpen._substitution import match_pan

__all__ = ["gram_schmidt_parameters"]


def gram_schmidt_parameters(
    stats: FusionStatistics, *, count: int, weights: Any = None
) -> dict[str, Any]:
    """The :func:`component_substitution` options of Gram-Schmidt, from the first pass."""
    w = resolve_weights(weights, stats, count)
    pan_gain, pan_offset, var_i = match_pan(stats, w)
    gains = stats.cov[:count, :count] @ w / max(var_i, 1e-24)
    return {"weights": w, "gains": gains, "pan_gain": pan_gain, "pan_offset": pan_offset}
