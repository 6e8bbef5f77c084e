"""Brovey transform, as GDAL and rio-pansharpen compute it (Gillespie et al. 1987).

A pseudo-pan ``I = sum_k w_k MS_k`` and ``out_k = MS_k * PAN / I``: keeps
each pixel's spectral angle of the resampled MS. Per pixel (*blockwise*);
``weights="auto"`` needs the global first pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from satlearn.ops.pansharpen._inputs import band_vector, kernel_arrays
from satlearn.ops.pansharpen._substitution import intensity

__all__ = ["brovey"]


def brovey(
    ms: np.ndarray, pan: np.ndarray, *, weights: Sequence[float] | None = None
) -> np.ndarray:
    """Brovey fusion: ``out_k = MS_k * PAN / sum_j w_j MS_j``.

    Per pixel: blockwise.

    Parameters
    ----------
    ms : ndarray, shape (B, H, W)
        Multispectral bands already on the pan grid.
    pan : ndarray, shape (H, W)
        Panchromatic band.
    weights : sequence of B floats, optional
        Weights of the pseudo-pan; default ``1/B`` each (GDAL's default).

    Returns
    -------
    ndarray, shape (B, H, W)
        Where the pseudo-pan is zero the output is zero, as in GDAL.

    References
    ----------
    Gillespie, Kahle & Walker (1987), https://doi.org/10.1016/0034-4257(87)90088-5

    Examples
    --------
    >>> ms = np.full((2, 2, 2), 10.0)
    >>> brovey(ms, np.full((2, 2), 30.0))[0, 0, 0]
    np.float64(30.0)
    """
    ms, pan = kernel_arrays(ms, pan)
    count = ms.shape[0]
    w = np.full(count, 1.0 / count) if weights is None else band_vector(weights, count, "weights")
    pseudo_pan = intensity(ms, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pseudo_pan != 0, pan / pseudo_pan, 0).astype(ms.dtype, copy=False)
    return ms * ratio
