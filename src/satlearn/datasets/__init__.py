"""Readers of the field's public datasets in their published formats, and chips.

Each reader module registers its classes on import (see
:mod:`satlearn.datasets.base`); importing this package imports them all.
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

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DATASETS", "DatasetError", "Download", "SampleDataset", "get_dataset", "register"]
