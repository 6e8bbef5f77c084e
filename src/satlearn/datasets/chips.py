"""Moved: chipping is :mod:`satlearn.prep.chips`, its reader :mod:`satlearn.datasets.chip_set`.

This path is deprecated: it re-exports every name for one release and warns on
import (it goes in 0.3.0); import from the new modules.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.datasets.chips moved to satlearn.prep.chips (ChipDataset to "
    "satlearn.datasets.chip_set); import from there (the old path goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.datasets.chip_set import ChipDataset  # noqa: E402
from satlearn.prep.chips import (  # noqa: E402
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
