"""UC Merced Land Use, and the class-folder machinery it shares with EuroSAT.

The archive ``UCMerced_LandUse.zip`` unpacks to
``UCMerced_LandUse/Images/<class>/<class>NN.tif``: 21 classes of 100 RGB
TIFFs each (uint8, 0.3 m, USGS National Map orthoimagery), 256 x 256 pixels
except a few (e.g. 256 x 247) that the authors left at their true size.

:class:`ClassFolderDataset` is the generic part: one folder per class, one
image per file, the folder naming the class and the file name agreeing with
it, a deterministic stratified split by seed or the split lists that
TorchGeo publishes, and skipping of unreadable files (counted, reported by
:meth:`~satlearn.datasets.base.SampleDataset.describe`).

Example
-------
>>> from satlearn.datasets import get_dataset
>>> ds = get_dataset("ucmerced")("data/UCMerced_LandUse", split="train")  # doctest: +SKIP
>>> sample = ds[0]  # doctest: +SKIP
>>> sample["image"].shape, ds.classes[sample["label"]]  # doctest: +SKIP
((3, 256, 256), 'agricultural')
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from satlearn.datasets.base import (
    Download,
    Sample,
    SampleDataset,
    Transform,
    register,
)
from satlearn.datasets.images import Verify, fit_image, read_image
from satlearn.errors import DatasetError, InvalidInputError

__all__ = [
    "ClassFolderDataset",
    "UCMerced",
    "stratified_split",
]

_SPLITS = ("train", "val", "test")


def stratified_split(
    labels: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    ratios: tuple[float, float, float] = (0.6, 0.2, 0.2),
) -> np.ndarray:
    """Assign each sample to train (0), val (1) or test (2), class by class.

    Each class's samples (in the given order) are permuted by a generator
    seeded with ``(seed, class id)`` and cut by ``ratios``, so the split is
    deterministic, keeps class proportions, and one class gaining or losing
    files does not reshuffle the others. Written by hand because
    scikit-learn's ``train_test_split`` cuts two ways per call and mixes the
    classes' random streams.

    Examples
    --------
    >>> parts = stratified_split([0] * 10 + [1] * 5, seed=1)
    >>> np.bincount(parts[:10]).tolist(), np.bincount(parts[10:]).tolist()
    ([6, 2, 2], [3, 1, 1])
    """
    labels = np.asarray(labels, dtype=np.int64)
    r = np.asarray(ratios, dtype=float)
    if r.shape != (3,) or (r < 0).any() or not np.isclose(r.sum(), 1.0):
        raise InvalidInputError(
            f"split ratios must be 3 non-negative numbers summing to 1, got {ratios}"
        )
    parts = np.empty(labels.shape, dtype=np.int64)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        order = np.random.default_rng((seed, int(cls))).permutation(members.size)
        cuts = np.round(np.cumsum(r)[:2] * members.size).astype(int)
        part = np.searchsorted(cuts, np.arange(members.size), side="right")
        parts[members[order]] = part
    return parts


# --------------------------------------------------------------------------- base


class ClassFolderDataset(SampleDataset):
    """One folder per class, one image per file (UC Merced, EuroSAT).

    Subclasses set :attr:`image_dirs` (folders, relative to the root, that may
    hold the class folders, in the order the publishers' archives use),
    :attr:`suffixes`, :attr:`classes` and :meth:`_file_class` (the class a
    file's name claims).

    Parameters
    ----------
    root
        The folder the archive was unpacked into, or the class folders' parent.
    split
        None (all samples), ``"train"``, ``"val"`` or ``"test"``.
    seed, split_ratios
        The deterministic stratified split (see :func:`stratified_split`).
    split_file
        A list of file names, one a line, that makes up ``split`` (TorchGeo's
        ``<name>-train.txt``); matched by file stem, so a ``.tif`` list also
        selects ``.jpg`` files. When None and the root holds
        :attr:`split_file_pattern` for the split, that file is used.
    verify
        ``"header"`` (default) parses every file's header when the dataset is
        built, skipping (and counting) empty or garbage files; ``"full"``
        decodes every image, which also catches truncated files, at the cost
        of reading the whole dataset once; ``"none"`` checks nothing. A file
        that fails to decode later raises :class:`DatasetError` naming it.
    transforms
        Callable applied to each sample dict.
    """

    image_dirs: ClassVar[tuple[str, ...]] = ("",)
    suffixes: ClassVar[tuple[str, ...]] = ()
    split_file_pattern: ClassVar[str] = ""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        seed: int = 0,
        split_ratios: tuple[float, float, float] = (0.6, 0.2, 0.2),
        split_file: str | os.PathLike[str] | None = None,
        verify: Verify = "header",
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        if split is not None and split not in _SPLITS:
            raise InvalidInputError(
                f"{self.name}: split must be None or one of {_SPLITS}, got {split!r}"
            )
        if verify not in ("none", "header", "full"):
            raise InvalidInputError(
                f"{self.name}: verify must be 'none', 'header' or 'full', got {verify!r}"
            )
        self.seed = seed
        self.image_dir = self._find_image_dir()
        files, labels = self._scan()
        self.missing_classes = sorted(set(self.classes) - {self.classes[i] for i in set(labels)})
        files, labels = self._select_split(files, labels, split_ratios, split_file)
        if verify != "none":
            files, labels = self._verify(files, labels, decode=verify == "full")
        self.files: list[Path] = files
        self.labels = np.asarray(labels, dtype=np.int64)

    # -- layout

    def _find_image_dir(self) -> Path:
        known = set(self.classes)
        for rel in self.image_dirs:
            candidate = self.root / rel if rel else self.root
            if candidate.is_dir() and any(
                p.name in known for p in candidate.iterdir() if p.is_dir()
            ):
                return candidate
        tried = ", ".join(
            str(self.root / rel) if rel else str(self.root) for rel in self.image_dirs
        )
        raise DatasetError(
            f"{self.name}: no class folders ({', '.join(self.classes[:3])}, ...) found; looked in "
            f"{tried}. {self.manual_download or self._download_hint()}"
        )

    def _download_hint(self) -> str:
        urls = ", ".join(d.url for d in self.downloads)
        return (
            f"Download {urls} and unpack it into the root "
            f"(`satlearn datasets download {self.name} ROOT`)."
        )

    def _scan(self) -> tuple[list[Path], list[int]]:
        index = {name: i for i, name in enumerate(self.classes)}
        files: list[Path] = []
        labels: list[int] = []
        for folder in sorted(
            p for p in self.image_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            if folder.name not in index:
                raise DatasetError(
                    f"{self.name}: {folder} is not a known class folder; "
                    f"known: {', '.join(self.classes)}"
                )
            for path in sorted(folder.iterdir(), key=_natural_key):
                if path.suffix.lower() not in self.suffixes or path.name.startswith("."):
                    continue  # README, thumbnails, .DS_Store: not samples
                claimed = self._file_class(path)
                if claimed != folder.name:
                    raise DatasetError(
                        f"{self.name}: {path} is named for class {claimed!r} but lies in folder "
                        f"{folder.name!r}; refusing to guess its label"
                    )
                files.append(path)
                labels.append(index[folder.name])
        if not files:
            raise DatasetError(
                f"{self.name}: no {'/'.join(self.suffixes)} files under {self.image_dir}"
            )
        return files, labels

    def _file_class(self, path: Path) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _select_split(
        self,
        files: list[Path],
        labels: list[int],
        ratios: tuple[float, float, float],
        split_file: str | os.PathLike[str] | None,
    ) -> tuple[list[Path], list[int]]:
        if self.split is None:
            return files, labels
        if split_file is None and self.split_file_pattern:
            default = self.root / self.split_file_pattern.format(split=self.split)
            split_file = default if default.is_file() else None
        if split_file is not None:
            return self._read_split_file(Path(split_file), files, labels)
        parts = stratified_split(labels, seed=self.seed, ratios=ratios)
        wanted = _SPLITS.index(self.split)
        keep = np.flatnonzero(parts == wanted)
        return [files[i] for i in keep], [labels[i] for i in keep]

    def _read_split_file(
        self, path: Path, files: list[Path], labels: list[int]
    ) -> tuple[list[Path], list[int]]:
        if not path.is_file():
            raise DatasetError(f"{self.name}: split file {path} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise DatasetError(f"{path}: split file is not UTF-8 text ({err})") from err
        by_stem = {f.stem: i for i, f in enumerate(files)}
        keep: list[int] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            entry = line.strip()
            if not entry:
                continue
            stem = Path(entry).stem
            if stem not in by_stem:
                raise DatasetError(
                    f"{path}, line {lineno}: {entry!r} is not among the dataset's files"
                )
            keep.append(by_stem[stem])
        return [files[i] for i in keep], [labels[i] for i in keep]

    def _verify(
        self, files: list[Path], labels: list[int], *, decode: bool
    ) -> tuple[list[Path], list[int]]:
        good_files: list[Path] = []
        good_labels: list[int] = []
        for path, label in zip(files, labels, strict=True):
            try:
                if path.stat().st_size == 0:
                    raise DatasetError(f"{path}: empty file")
                read_image(path, decode=decode)
            except DatasetError as exc:
                self.skipped.append((str(path), str(exc)))
                continue
            good_files.append(path)
            good_labels.append(label)
        return good_files, good_labels

    # -- samples

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> Sample:
        path = self.files[index]
        image = read_image(path)
        assert image is not None  # decode=True always returns an array
        return {"image": image, "label": int(self.labels[index]), "meta": {"file": str(path)}}

    def class_counts(self) -> dict[str, int]:
        """Samples per class in this split (classes with none included)."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, counts, strict=True)}

    def describe(self) -> dict[str, Any]:
        """Base description plus class counts, missing classes and skipped files."""
        info = super().describe()
        info["image_dir"] = str(self.image_dir)
        info["class_counts"] = self.class_counts()
        info["missing_classes"] = self.missing_classes
        info["skipped_files"] = [{"file": f, "reason": r} for f, r in self.skipped]
        return info


def _natural_key(path: Path) -> tuple[Any, ...]:
    # "River_10" after "River_9", as the publishers number them.
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


# --------------------------------------------------------------------------- UC Merced

_UCM_CLASSES = (
    "agricultural", "airplane", "baseballdiamond", "beach", "buildings", "chaparral",
    "denseresidential", "forest", "freeway", "golfcourse", "harbor", "intersection",
    "mediumresidential", "mobilehomepark", "overpass", "parkinglot", "river", "runway",
    "sparseresidential", "storagetanks", "tenniscourt",
)  # fmt: skip


@register
class UCMerced(ClassFolderDataset):
    """UC Merced Land Use: 21 classes x 100 RGB TIFF chips, 0.3 m.

    Parameters
    ----------
    root
        The folder ``UCMerced_LandUse.zip`` was unpacked into (holding
        ``UCMerced_LandUse/Images``), or ``UCMerced_LandUse``, or ``Images``.
    image_size
        Output size in pixels (default 256). About 40 of the 2100 chips are
        not 256 x 256 (256 x 247 and the like); bringing them to the common
        size by default makes batches stack without a custom collate, and the
        3-4 % stretch is far below what the classes differ by. None keeps
        every chip's true size. The true size is always in ``meta["size"]``.
    fit
        ``"resize"`` (OpenCV, default) or ``"pad"`` (reflect the edge rows,
        no stretching) for chips of another size.
    split, seed, split_ratios, split_file, verify, transforms
        See :class:`ClassFolderDataset`; TorchGeo's ``uc_merced-train.txt``
        (and val, test) lists are picked up from the root when present.

    Examples
    --------
    >>> ds = UCMerced("data", split="test", seed=0)  # doctest: +SKIP
    >>> ds.describe()["class_counts"]["beach"]  # doctest: +SKIP
    20
    """

    name = "ucmerced"
    task = "classification"
    source = (
        "Yang & Newsam, 'Bag-of-visual-words and spatial extensions for land-use classification', "
        "ACM SIGSPATIAL 2010; imagery: USGS National Map (public domain)"
    )
    downloads = (
        # Checksum unknown to us (the mirrors publish only MD5s): verified by size/extract only.
        Download(
            url="http://weegee.vision.ucmerced.edu/datasets/UCMerced_LandUse.zip",
            filename="UCMerced_LandUse.zip",
            extract=True,
        ),
    )
    classes = _UCM_CLASSES
    bands = ("red", "green", "blue")
    image_dirs = ("UCMerced_LandUse/Images", "Images", "")
    suffixes = (".tif", ".tiff")
    split_file_pattern = "uc_merced-{split}.txt"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        image_size: int | None = 256,
        fit: Literal["resize", "pad"] = "resize",
        seed: int = 0,
        split_ratios: tuple[float, float, float] = (0.6, 0.2, 0.2),
        split_file: str | os.PathLike[str] | None = None,
        verify: Verify = "header",
        transforms: Transform | None = None,
    ) -> None:
        if fit not in ("resize", "pad"):
            raise InvalidInputError(f"ucmerced: fit must be 'resize' or 'pad', got {fit!r}")
        self.image_size = image_size
        self.fit = fit
        super().__init__(
            root,
            split=split,
            seed=seed,
            split_ratios=split_ratios,
            split_file=split_file,
            verify=verify,
            transforms=transforms,
        )

    def _file_class(self, path: Path) -> str:
        # agricultural00.tif -> agricultural
        return re.sub(r"\d+$", "", path.stem)

    def _load(self, index: int) -> Sample:
        sample = super()._load(index)
        image = sample["image"][:3]  # a stray alpha band would not be a published band
        sample["meta"]["size"] = tuple(image.shape[1:])
        if self.image_size is not None:
            image = fit_image(image, self.image_size, self.fit)
        sample["image"] = image
        return sample

    def describe(self) -> dict[str, Any]:
        """Description plus the output size policy."""
        info = super().describe()
        info["image_size"] = self.image_size
        info["fit"] = self.fit
        return info
