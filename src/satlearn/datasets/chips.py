"""Moved: chipping is :mod:`satlearn.prep.chips`, its reader :mod:`satlearn.datasets.chip_set`.

This path keeps working (plain re-exports, no warning yet); new code imports
from the new modules.
"""

from __future__ import annotations

from satlearn.datasets.chip_set import ChipDataset
from satlearn.prep.chips import (
    VECTOR_SUFFIXES,
    ChipSetSummary,
    grid_chips,
    grid_windows,
    random_chips,
    write_chip_set,
)

__all__ = [
    "VECTOR_SUFFIXES",
    "ChipDataset",
    "ChipSetSummary",
    "grid_chips",
    "grid_windows",
    "random_chips",
    "write_chip_set",
]
