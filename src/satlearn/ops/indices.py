"""Spectral indices as an operation: the face of :mod:`satlearn.spectral`.

The engine (the Awesome Spectral Indices catalogue, the parsed formula
compiler, the NumPy and numba programs, the DataArray layer) lives in
:mod:`satlearn.spectral`, below the operations, because pixel features
(:mod:`satlearn.ml.features`), water and change all build on it. This module
keeps the public names where users and outside checks call them:
``satlearn.ops.indices.compute_index(da, name)``.

:func:`compute_index` is *blockwise*: one fused program per chunk, no halo.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.array([[[0.1]], [[0.5]]], np.float32), dims=("band", "y", "x"),
...                   coords={"band": ["red", "nir"]})
>>> round(float(compute_index(da, "ndvi")), 3)
0.667
"""

from __future__ import annotations

from satlearn.spectral import (
    BAND_SYMBOLS,
    available_indices,
    compute_index,
    describe_index,
    evaluate_formula,
    index_names,
)

__all__ = [
    "BAND_SYMBOLS",
    "available_indices",
    "compute_index",
    "describe_index",
    "evaluate_formula",
    "index_names",
]
