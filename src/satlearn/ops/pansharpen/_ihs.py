"""Fast (generalised) IHS (Tu et al. 2001): ``out_k = MS_k + (PAN' - I)``.

Component substitution with unit gains; ``PAN'`` is the pan matched in mean
and standard deviation to ``I = w . MS`` (equal weights by default, or
regressed: ``weights="auto"``). Global statistics, then per pixel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.ops.pansharpen._statistics import FusionStatistics, resolve_weights
from satlearn.ops.pansharpen._substitution import match_pan

__all__ = ["ihs_parameters"]


def ihs_parameters(stats: FusionStatistics, *, count: int, weights: Any = None) -> dict[str, Any]:
    """The :func:`component_substitution` options of fast IHS, from the first pass."""
    w = resolve_weights(weights, stats, count)
    pan_gain, pan_offset, _var_i = match_pan(stats, w)
    return {"weights": w, "gains": np.ones(count), "pan_gain": pan_gain, "pan_offset": pan_offset}
