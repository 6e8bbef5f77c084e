"""Data cubes: STAC items into lazy ``(time, band, y, x)`` DataArrays, and writing them.

* :func:`load_cube` (``_load``): odc-stac does the loading; satlearn resolves
  band names per item and keeps the data model (names, CRS, scale/offset).
* :func:`save_cube`, :func:`flatten_time` (``_save``): a Zarr store, or one
  COG with a band per date, written atomically.

Composites are an operation on a cube: :func:`satlearn.ops.composite.median_composite`.
"""

from __future__ import annotations

from satlearn.cube._load import load_cube
from satlearn.cube._save import flatten_time, save_cube
from satlearn.deprecation import moved

__all__ = ["flatten_time", "load_cube", "save_cube"]

# Moved in 0.2 (a composite runs cloud detectors: it is an op, above the cube).
__getattr__ = moved(
    __name__,
    {
        "median_composite": "satlearn.ops.composite:median_composite",
        "SCL_MASKED": "satlearn.ops.composite:SCL_MASKED",
    },
)
