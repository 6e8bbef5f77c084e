"""Training chips from scenes: regular grids, class-balanced random chips, chip sets on disk.

A chip is a small window of a raster (or of a ``(time, band, y, x)`` cube)
that keeps its georeferencing: its transform is the window transform of the
scene's, its CRS the scene's. Three ways to cut them:

:func:`grid_chips`
    A regular grid with overlap. The last partial row and column are padded
    with nodata to the full chip size (not shifted inwards, which would count
    pixels twice in metrics), or dropped.
:func:`random_chips`
    ``n`` chips at random centres; with ``balance=True`` each chip's centre
    pixel is drawn class by class in turn, so a rare class is at the centre
    of as many chips as a common one.
:func:`write_chip_set`
    A scene and its labels (a raster mask or vector polygons) to GeoTIFF
    chips on disk, with a CSV index (bounds, split, class counts) and a
    ``chipset.json``; splits are assigned by spatial blocks of chips so
    neighbouring chips stay in the same split. :class:`satlearn.datasets.chip_set.ChipDataset`
    reads the set back as a dataset (``get_dataset("chips")``).

Chipping never loads a lazy (dask-backed) scene whole: each chip computes its
own window only, and a scene given as a path is read window by window.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> image = np.zeros((3, 100, 100), dtype=np.float32)
>>> chips = list(grid_chips(image, 64, overlap=16, transform=Affine(10, 0, 0, 0, -10, 0)))
>>> [(w.row_off, w.col_off) for w, _ in chips]
[(0, 0), (0, 48), (48, 0), (48, 48)]
>>> chips[-1][1].rio.transform().c  # the chip's own origin: column 48 * 10 m
480.0
"""

from __future__ import annotations

from satlearn.prep.chips._grid import grid_chips, grid_windows
from satlearn.prep.chips._random import random_chips
from satlearn.prep.chips._write import VECTOR_SUFFIXES, ChipSetSummary, crs_text, write_chip_set

__all__ = [
    "VECTOR_SUFFIXES",
    "ChipSetSummary",
    "crs_text",
    "grid_chips",
    "grid_windows",
    "random_chips",
    "write_chip_set",
]
