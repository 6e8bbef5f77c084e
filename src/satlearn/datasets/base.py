"""The shape every dataset reader shares.

A reader takes a root folder laid out exactly as the publisher distributes
it and yields samples as plain dicts of NumPy arrays, so it works without
torch and, being a map-style dataset (``__len__`` + ``__getitem__``), plugs
straight into ``torch.utils.data.DataLoader`` (whose default collate turns the
arrays into tensors). Like TorchGeo's, readers take ``transforms``: a
callable applied to each sample dict.

Sample keys (those that apply):

``image``   float32 or the file's integer dtype, ``(band, y, x)``
``label``   int class id (single-label) or ``(n_classes,)`` uint8 (multi-label)
``mask``    ``(y, x)`` integer class or instance ids
``boxes``   ``(n, 4)`` float32 ``x0, y0, x1, y1`` in pixels
``meta``    dict: file name, id, transform/CRS where the data has them

Registration: each reader class is decorated with :func:`register`, so
``satlearn datasets list`` and :func:`get_dataset` find it by name.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from satlearn.errors import DatasetError, InvalidInputError
from satlearn.prep.download import Download, download_files

__all__ = [
    "DATASETS",
    "DatasetError",
    "Download",
    "SampleDataset",
    "csv_errors",
    "download_dataset",
    "get_dataset",
    "register",
]

Sample = dict[str, Any]
Transform = Callable[[Sample], Sample]


class SampleDataset:
    """Base class of the dataset readers (map-style: ``len`` and indexing).

    Subclasses set the class attributes, find their files in ``__init__``
    (raising :class:`DatasetError` naming the root and what is missing) and
    implement :meth:`_load`.
    """

    #: Registry name, e.g. ``"eurosat"``.
    name: ClassVar[str] = ""
    #: What a sample answers: classification, multilabel, segmentation, detection, ordering, scene.
    task: ClassVar[str] = ""
    #: Where the data comes from, licence, citation (one line each).
    source: ClassVar[str] = ""
    #: Public files, empty when the data needs a login.
    downloads: ClassVar[tuple[Download, ...]] = ()
    #: What to fetch by hand, and where to put it, when there is no public URL.
    manual_download: ClassVar[str] = ""

    classes: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        transforms: Transform | None = None,
    ) -> None:
        self.root = Path(os.fspath(root))
        if not self.root.is_dir():
            label = self.name or type(self).__name__
            raise DatasetError(f"{label}: root {self.root} is not a folder")
        self.split = split
        self.transforms = transforms
        #: Samples skipped as unreadable, with the reason (file, problem).
        self.skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def _load(self, index: int) -> Sample:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def __getitem__(self, index: int) -> Sample:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidInputError(f"{self.name}: index must be an int, got {index!r}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{self.name}: index {index} out of range for {n} samples")
        sample = self._load(index % n)
        return self.transforms(sample) if self.transforms is not None else sample

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self[index]

    def describe(self) -> dict[str, Any]:
        """What this reader holds: name, task, root, split, size, classes, bands, skips."""
        return {
            "name": self.name,
            "task": self.task,
            "root": str(self.root),
            "split": self.split,
            "samples": len(self),
            "classes": list(self.classes),
            "bands": list(self.bands),
            "skipped": len(self.skipped),
            "source": self.source,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
            f"samples={len(self)})"
        )


DATASETS: dict[str, type[SampleDataset]] = {}


@contextlib.contextmanager
def csv_errors(path: Path) -> Iterator[None]:
    """Turn a text file's decoding and CSV errors into a :class:`DatasetError` naming it.

    Wrap the reading of a published table (``with path.open(...) as fh,
    csv_errors(path):``): a byte that is not UTF-8 or a line the csv module
    refuses (a NUL byte, a field past the size limit) would otherwise escape as
    :class:`UnicodeDecodeError` or :class:`csv.Error`, naming no file.
    """
    try:
        yield
    except UnicodeDecodeError as err:
        raise DatasetError(
            f"{path}: not UTF-8 text (byte {err.object[err.start : err.start + 1]!r} "
            f"at offset {err.start} of a read block)"
        ) from None
    except csv.Error as err:
        raise DatasetError(f"{path}: not a readable CSV ({err})") from None


def register(cls: type[SampleDataset]) -> type[SampleDataset]:
    """Class decorator: make a reader findable by its ``name``."""
    if not cls.name:
        raise InvalidInputError(f"{cls.__name__} has no name to register under")
    DATASETS[cls.name] = cls
    return cls


def get_dataset(name: str) -> type[SampleDataset]:
    """The reader class registered as ``name`` (case-insensitive, ``-`` = ``_``)."""
    key = name.strip().lower().replace("-", "_")
    for known, cls in DATASETS.items():
        if known.replace("-", "_") == key:
            return cls
    raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS)) or 'none'}")


def download_dataset(
    name: str,
    root: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: bool = True,
    url_base: str | None = None,
) -> list[Path]:
    """Download (and extract) the public files of dataset ``name`` into ``root``.

    The reader's :attr:`SampleDataset.downloads` are fetched by
    :func:`satlearn.prep.download.download_files` (resumable, SHA-256-checked,
    atomically renamed, archives checked member by member).

    Parameters
    ----------
    name : str
        A registered reader (``satlearn datasets list``).
    root : path
        The folder the reader will be given; archives are extracted into it.
    force : bool
        Fetch again even where a verified file is already there.
    progress : bool
        Show a progress bar (only on a terminal).
    url_base : str, optional
        A mirror: each file is fetched from ``url_base/<last part of its URL>``.

    Returns
    -------
    list of Path
        The downloaded files (archives included; their contents are in ``root``).

    Raises
    ------
    DatasetError
        The dataset needs a login (the message says what to fetch and where to
        put it), ``root`` cannot be a folder (a file is in the way), or a
        download failed or did not verify.

    Examples
    --------
    >>> download_dataset("uc-merced", "data/ucmerced")  # doctest: +SKIP
    """
    cls = get_dataset(name)
    if not cls.downloads:
        how = cls.manual_download or "it has no public download URL"
        raise DatasetError(f"{cls.name} cannot be downloaded automatically: {how}")
    return download_files(
        cls.downloads, root, what=cls.name, force=force, progress=progress, url_base=url_base
    )
