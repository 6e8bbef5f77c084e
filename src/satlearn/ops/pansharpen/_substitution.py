"""Component substitution, the kernel IHS, Gram-Schmidt and PCA share.

``out_k = MS_k + g_k (a PAN + b - I)`` with the intensity ``I = sum_j w_j
MS_j``; the methods differ only in the weights ``w`` and gains ``g``
(:mod:`._ihs`, :mod:`._gram_schmidt`, :mod:`._pca`), and ``a``, ``b`` match
the pan to ``I`` in mean and spread (:func:`match_pan`). Per pixel
(*blockwise*) once the parameters are known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from satlearn.ops.pansharpen._inputs import band_vector, kernel_arrays
from satlearn.ops.pansharpen._statistics import FusionStatistics

__all__ = ["component_substitution", "intensity", "match_pan"]


def intensity(ms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The pseudo-pan ``sum_k w_k MS_k`` of a ``(B, H, W)`` array."""
    # tensordot keeps the temporary to one (H, W) plane.
    return np.tensordot(weights.astype(ms.dtype), ms, axes=1)


def component_substitution(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Sequence[float],
    gains: Sequence[float],
    pan_gain: float = 1.0,
    pan_offset: float = 0.0,
) -> np.ndarray:
    """The component-substitution kernel ``out_k = MS_k + g_k (a PAN + b - sum_j w_j MS_j)``.

    IHS (``g = 1``), Gram-Schmidt (``g_k = cov(MS_k, I)/var(I)``) and PCA
    (``w = g = v_1``) are this kernel with different parameters; ``a`` and
    ``b`` match the pan to the intensity ``I`` in mean and spread. Per pixel:
    blockwise.

    References
    ----------
    Tu et al. (2001), https://doi.org/10.1016/S1566-2535(01)00036-7;
    Aiazzi, Baronti & Selva (2007), https://doi.org/10.1109/TGRS.2007.901007

    Examples
    --------
    >>> ms = np.ones((2, 1, 1))
    >>> component_substitution(ms, np.full((1, 1), 2.0), weights=[0.5, 0.5], gains=[1, 1])
    array([[[2.]],
    <BLANKLINE>
           [[2.]]])
    """
    ms, pan = kernel_arrays(ms, pan)
    count = ms.shape[0]
    w = band_vector(weights, count, "weights")
    g = band_vector(gains, count, "gains").astype(ms.dtype)
    detail = pan * ms.dtype.type(pan_gain) + ms.dtype.type(pan_offset)
    detail -= intensity(ms, w)
    return ms + g[:, None, None] * detail


def match_pan(stats: FusionStatistics, weights: np.ndarray) -> tuple[float, float, float]:
    """(pan_gain, pan_offset, var_I): match the pan to ``I = w . MS`` in mean and spread.

    The spread of the low-passed pan is used, as in Vivone et al.'s toolbox,
    because ``I`` is built from bands that carry no pan-scale detail.
    """
    b = stats.count
    mean_i = float(weights @ stats.mean[:b])
    var_i = float(weights @ stats.cov[:b, :b] @ weights)
    std_low = math.sqrt(max(stats.cov[-1, -1], 1e-24))
    gain = math.sqrt(max(var_i, 0.0)) / std_low
    return gain, mean_i - gain * float(stats.mean[b]), var_i
