"""Deprecated: downloading is :mod:`satlearn.prep.download` (goes in 0.3.0).

The file tools (:func:`download_file`, :func:`extract_archive`,
:func:`sha256sum`) are preparation tools, not dataset readers;
:func:`download_dataset` is :func:`satlearn.datasets.download_dataset`.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.datasets.download moved: import download_file, extract_archive and sha256sum "
    "from satlearn.prep.download, download_dataset from satlearn.datasets (the old path goes "
    "in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.datasets.base import download_dataset  # noqa: E402  (after the warning)
from satlearn.prep.download import (  # noqa: E402
    download_file,
    extract_archive,
    sha256sum,
)

__all__ = ["download_dataset", "download_file", "extract_archive", "sha256sum"]
