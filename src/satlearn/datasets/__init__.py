"""Readers of the field's public datasets in their published formats, and of chip sets.

Each reader module registers its classes on import (see
:mod:`satlearn.datasets.base`); importing this package imports them all.
Chipping, XYZ tiling, label rasterising and the file downloader moved to
:mod:`satlearn.prep`; their old modules here are deprecated re-export shims
that warn on import, which this package does not import (so importing it
stays silent). :func:`download_dataset` fetches a registered reader's public
files through :mod:`satlearn.prep.download`.
"""

from __future__ import annotations

import importlib
import pkgutil

from satlearn.datasets.base import (
    DATASETS,
    DatasetError,
    Download,
    SampleDataset,
    download_dataset,
    get_dataset,
    register,
)

# Deprecated modules kept only as re-exports of what moved to satlearn.prep: not readers.
_SHIMS = frozenset({"chips", "download", "labels", "tiles"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"base", *_SHIMS} and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "DATASETS",
    "DatasetError",
    "Download",
    "SampleDataset",
    "download_dataset",
    "get_dataset",
    "register",
]
