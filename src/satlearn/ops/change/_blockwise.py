"""How change detection runs on numpy and on dask blocks: samples, kernels, halos.

* :func:`per_pixel` lifts a ``(band, y, x) -> (y, x)`` kernel onto
  DataArrays, *blockwise* (``xarray.apply_ufunc``, no halo);
* :func:`neighbourhood` lifts a ``(y, x) -> (y, x)`` neighbourhood kernel,
  *blockwise with a halo* of ``depth`` pixels (``dask.array.map_overlap``);
* :func:`stride` and :func:`compute` pick and gather the regular sub-grid of
  pixels a *global* fit is estimated on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["compute", "nan_mean_filter", "neighbourhood", "per_pixel", "stride"]

_F32 = np.float32


def stride(shape: tuple[int, int], max_samples: int) -> int:
    """Step of the regular sub-grid of a ``shape`` grid that holds at most ``max_samples`` pixels.

    Examples
    --------
    >>> stride((96, 96), 2000)
    3
    """
    return max(1, math.ceil(math.sqrt(shape[0] * shape[1] / max(int(max_samples), 1))))


def compute(*arrays: Any) -> list[np.ndarray]:
    """numpy arrays of ``arrays``; dask ones are computed together, in one pass."""
    if any(getattr(a, "chunks", None) is not None for a in arrays):
        import dask

        return [np.asarray(a) for a in dask.compute(*arrays)]
    return [np.asarray(a) for a in arrays]


def per_pixel(func: Any, *inputs: xr.DataArray, n_out: int = 1) -> Any:
    """Apply a (band, y, x)... -> (y, x) kernel block by block (blockwise, no halo)."""

    def kernel(*arrays: np.ndarray) -> Any:
        # apply_ufunc puts the core dim last; the kernels want it first.
        return func(*(np.moveaxis(a, -1, 0) for a in arrays))

    return xr.apply_ufunc(
        kernel,
        *inputs,
        input_core_dims=[["band"]] * len(inputs),
        output_core_dims=[[]] * n_out,
        dask="parallelized",
        output_dtypes=[_F32] * n_out,
    )


def nan_mean_filter(values: np.ndarray, size: int) -> np.ndarray:
    """Mean of the finite values in each size x size window (NaN stays NaN).

    A neighbourhood kernel: on dask blocks it needs a halo of ``size // 2 + 1``
    pixels (:func:`neighbourhood`).
    """
    import cv2  # a slow import, paid on first use only

    finite = np.isfinite(values)
    filled = np.where(finite, values, 0).astype(_F32)
    total = cv2.blur(filled, (size, size), borderType=cv2.BORDER_REFLECT)
    count = cv2.blur(finite.astype(_F32), (size, size), borderType=cv2.BORDER_REFLECT)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = total / count
    out[~finite] = np.nan
    return out


def neighbourhood(func: Any, da: xr.DataArray, depth: int, dtype: Any, **kwargs: Any) -> Any:
    """Apply a (y, x) -> (y, x) neighbourhood kernel; dask blocks overlap by ``depth``."""
    data = da.data
    if hasattr(data, "dask"):
        # boundary="none": at the scene's edges the kernel's own reflect border
        # applies, as on a whole numpy array, so both give the same values.
        data = data.map_overlap(func, depth=depth, boundary="none", dtype=dtype, **kwargs)
    else:
        data = func(data, **kwargs)
    return da.copy(data=data)
