"""Spectral indices as an operation: the face of :mod:`satlearn.spectral`.

The engine (the Awesome Spectral Indices catalogue, the parsed formula
compiler, the NumPy and numba engines, the DataArray layer) lives in the
package :mod:`satlearn.spectral`, below the operations, because pixel features
(:mod:`satlearn.ml.features`), water and change all build on it. This module
keeps the public names where users and outside checks call them:
``satlearn.ops.indices.compute_index(da, name)``.

:func:`compute_index` is *blockwise*: one fused program per chunk, no halo.
:func:`compute_formula` is its pure kernel on NumPy arrays; ``evaluate_formula``,
its old name, works for one release with a :class:`DeprecationWarning`.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.array([[[0.1]], [[0.5]]], np.float32), dims=("band", "y", "x"),
...                   coords={"band": ["red", "nir"]})
>>> round(float(compute_index(da, "ndvi")), 3)
0.667
"""

from __future__ import annotations

from satlearn.deprecation import moved
from satlearn.spectral import (
    BAND_SYMBOLS,
    available_indices,
    compute_formula,
    compute_index,
    describe_index,
    index_names,
)

__all__ = [
    "BAND_SYMBOLS",
    "available_indices",
    "compute_formula",
    "compute_index",
    "describe_index",
    "index_names",
]

# Renamed in 0.2 (CHANGELOG.md); served with a DeprecationWarning for one release.
__getattr__ = moved(__name__, {"evaluate_formula": "satlearn.ops.indices:compute_formula"})
