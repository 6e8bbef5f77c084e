"""Simple mean fusion, ``(MS_k + PAN) / 2`` (rio-pansharpen's ``simple_mean``)."""

from __future__ import annotations

import numpy as np

from satlearn.ops.pansharpen._inputs import kernel_arrays

__all__ = ["simple_mean"]


def simple_mean(ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
    """Simple mean fusion, ``(MS_k + PAN) / 2``, as in rio-pansharpen.

    Per pixel: blockwise.

    Examples
    --------
    >>> simple_mean(np.ones((1, 1, 1)), np.full((1, 1), 3.0))[0, 0, 0]
    np.float64(2.0)
    """
    ms, pan = kernel_arrays(ms, pan)
    return (ms + pan) * ms.dtype.type(0.5)
