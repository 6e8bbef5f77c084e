"""Planet: Understanding the Amazon from Space (Kaggle, 2017): 17-label multi-label chips.

Layout as Kaggle distributes it (after ``7za x`` and ``tar xf``):
``train_v2.csv`` (header ``image_name,tags``; tags space-separated),
``train-jpg/train_N.jpg`` (256 x 256 8-bit RGB "visual" chips) and
``train-tif-v2/train_N.tif`` (256 x 256 uint16 analytic chips, 4 bands in
the order blue, green, red, NIR, as PlanetScope 4-band analytic products are
delivered). The test chips (``test-jpg/test_N.jpg``,
``test-jpg-additional/file_N.jpg``, ``test-tif-v2``) are listed by
``sample_submission_v2.csv`` and have no labels.

A sample's ``label`` is a ``(17,)`` uint8 vector in :data:`PLANET_LABELS`
order (alphabetical, the competition's tag spelling, ``artisinal`` included).

Example
-------
>>> ds = PlanetAmazon("data/planet", format="tif")  # doctest: +SKIP
>>> s = ds[0]  # doctest: +SKIP
>>> s["image"].shape, [ds.classes[i] for i in s["label"].nonzero()[0]]  # doctest: +SKIP
((4, 256, 256), ['clear', 'primary'])
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np

from satlearn.datasets.base import Sample, SampleDataset, Transform, csv_errors, register
from satlearn.datasets.images import Verify, read_image
from satlearn.errors import DatasetError, InvalidInputError

__all__ = ["PLANET_LABELS", "PlanetAmazon"]

#: The 17 tags, alphabetical: the order of the label vector.
PLANET_LABELS: tuple[str, ...] = (
    "agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear",
    "cloudy", "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy",
    "primary", "road", "selective_logging", "slash_burn", "water",
)  # fmt: skip


@register
class PlanetAmazon(SampleDataset):
    """Planet Amazon chips with their 17 multi-label tags.

    Parameters
    ----------
    root
        Folder holding ``train_v2.csv`` and ``train-jpg`` / ``train-tif-v2``.
    split
        ``"train"`` (default; labelled) or ``"test"`` (unlabelled, from
        ``sample_submission_v2.csv``; samples have no ``label``).
    format
        ``"jpg"`` (default; red, green, blue uint8) or ``"tif"`` (blue,
        green, red, nir uint16).
    verify
        As for the class-folder readers: ``"header"`` (default) skips and
        counts chips whose file is missing, empty or not an image;
        ``"full"`` decodes every chip; ``"none"`` only skips missing files.
    transforms
        Callable applied to each sample dict.

    Examples
    --------
    >>> PlanetAmazon("data/planet").describe()["label_counts"]["primary"]  # doctest: +SKIP
    37513
    """

    name = "planet-amazon"
    task = "multilabel"
    source = (
        "Planet: Understanding the Amazon from Space, Kaggle competition 2017 (Planet, SCCON); "
        "https://www.kaggle.com/c/planet-understanding-the-amazon-from-space"
    )
    manual_download = (
        "Accept the rules of https://www.kaggle.com/c/planet-understanding-the-amazon-from-space, "
        "download train_v2.csv(.zip) and train-jpg.tar.7z and/or train-tif-v2.tar.7z (for the test "
        "split: sample_submission_v2.csv, test-jpg*.tar.7z, test-tif-v2.tar.7z), unpack them "
        "(7za x X.tar.7z && tar xf X.tar) into ROOT so that ROOT/train_v2.csv and "
        "ROOT/train-jpg/train_0.jpg exist."
    )
    classes = PLANET_LABELS
    bands = ("red", "green", "blue")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        format: Literal["jpg", "tif"] = "jpg",
        verify: Verify = "header",
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        if split not in ("train", "test"):
            raise InvalidInputError(f"{self.name}: split must be 'train' or 'test', got {split!r}")
        if format not in ("jpg", "tif"):
            raise InvalidInputError(f"{self.name}: format must be 'jpg' or 'tif', got {format!r}")
        if verify not in ("none", "header", "full"):
            raise InvalidInputError(f"{self.name}: verify must be none, header or full: {verify!r}")
        self.format = format
        self.bands = (
            ("red", "green", "blue") if format == "jpg" else ("blue", "green", "red", "nir")
        )
        table = self.root / ("train_v2.csv" if split == "train" else "sample_submission_v2.csv")
        names, labels = self._read_table(table, labelled=split == "train")
        self.files: list[Path] = []
        keep: list[int] = []
        for i, name in enumerate(names):
            path = self._chip_path(name)
            problem = self._check(path, verify)
            if problem:
                self.skipped.append((str(path), problem))
                continue
            self.files.append(path)
            keep.append(i)
        self.names = [names[i] for i in keep]
        self.labels = labels[keep] if labels is not None else None

    def _read_table(self, path: Path, *, labelled: bool) -> tuple[list[str], np.ndarray | None]:
        if not path.is_file():
            raise DatasetError(f"{self.name}: {path} not found. {self.manual_download}")
        index = {tag: i for i, tag in enumerate(PLANET_LABELS)}
        with path.open(newline="", encoding="utf-8") as fh, csv_errors(path):
            reader = csv.reader(fh)
            header = next(reader, [])
            if [h.strip() for h in header[:2]] != ["image_name", "tags"]:
                raise DatasetError(
                    f"{path}, row 1: header {header!r}, expected ['image_name', 'tags']"
                )
            names: list[str] = []
            rows: list[np.ndarray] = []
            for lineno, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != 2 or not row[0].strip():
                    raise DatasetError(
                        f"{path}, row {lineno}: expected image_name,tags, got {row!r}"
                    )
                names.append(row[0].strip())
                if not labelled:
                    continue
                vector = np.zeros(len(PLANET_LABELS), dtype=np.uint8)
                for tag in row[1].split():
                    if tag not in index:
                        raise DatasetError(
                            f"{path}, row {lineno}: unknown tag {tag!r} for {row[0]!r}; "
                            f"known: {', '.join(PLANET_LABELS)}"
                        )
                    vector[index[tag]] = 1
                rows.append(vector)
        if labelled:
            shape = (len(rows), len(PLANET_LABELS))
            return names, np.stack(rows) if rows else np.zeros(shape, np.uint8)
        return names, None

    def _chip_path(self, name: str) -> Path:
        if self.format == "tif":
            return self.root / f"{self.split}-tif-v2" / f"{name}.tif"
        if self.split == "test" and name.startswith("file_"):
            return self.root / "test-jpg-additional" / f"{name}.jpg"
        return self.root / f"{self.split}-jpg" / f"{name}.jpg"

    @staticmethod
    def _check(path: Path, verify: str) -> str:
        if not path.is_file():
            return "missing file"
        if verify == "none":
            return ""
        if path.stat().st_size == 0:
            return "empty file"
        try:
            read_image(path, decode=verify == "full")
        except DatasetError as exc:
            return str(exc)
        return ""

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> Sample:
        image = read_image(self.files[index])
        assert image is not None
        expected = len(self.bands)
        if image.shape[0] == 4 and expected == 3:
            image = image[:3]  # a JPEG decoded with an alpha band: keep the colours
        if image.shape[0] != expected:
            raise DatasetError(f"{self.files[index]}: {image.shape[0]} bands, expected {expected}")
        sample: Sample = {
            "image": image,
            "meta": {"file": str(self.files[index]), "image_name": self.names[index]},
        }
        if self.labels is not None:
            sample["label"] = self.labels[index].copy()
        return sample

    def describe(self) -> dict[str, Any]:
        """Base description plus format, band order, label counts and skipped chips."""
        info = super().describe()
        info["format"] = self.format
        if self.labels is not None:
            counts = self.labels.sum(axis=0, dtype=np.int64).tolist()
            info["label_counts"] = dict(zip(PLANET_LABELS, counts, strict=True))
        info["skipped_files"] = [{"file": f, "reason": r} for f, r in self.skipped]
        return info
