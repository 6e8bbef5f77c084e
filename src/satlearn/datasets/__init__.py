"""Readers of the field's public datasets in their published formats, and of chip sets.

Each reader module registers its classes on import (see
:mod:`satlearn.datasets.base`); importing this package imports them all.
Chipping, XYZ tiling and label rasterising moved to :mod:`satlearn.prep`;
their old modules here are re-export shims, which this package does not
import (so importing it stays silent when they start to warn).
"""

from __future__ import annotations

import importlib
import pkgutil

from satlearn.datasets.base import (
    DATASETS,
    DatasetError,
    Download,
    SampleDataset,
    get_dataset,
    register,
)

# Modules kept only as re-exports of what moved to satlearn.prep: not readers.
_SHIMS = frozenset({"chips", "labels", "tiles"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"base", *_SHIMS} and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DATASETS", "DatasetError", "Download", "SampleDataset", "get_dataset", "register"]
