"""Chip sets written by :func:`satlearn.prep.chips.write_chip_set`, read back as a dataset.

The writer is a preparation tool (:mod:`satlearn.prep.chips`); the reader of
what it writes is a dataset reader like the others, registered as
``"chips"`` so that ``get_dataset("chips")`` and training configs with
``kind: chips`` find it.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any

import rasterio
import rasterio.errors

from satlearn.datasets.base import SampleDataset, csv_errors, register
from satlearn.errors import DatasetError
from satlearn.prep.chips import crs_text

__all__ = ["ChipDataset"]


@register
class ChipDataset(SampleDataset):
    """A chip set written by :func:`~satlearn.prep.chips.write_chip_set`, read back as samples.

    Samples: ``image`` ``(band, y, x)`` in the scene's dtype, ``mask``
    ``(y, x)`` class ids (``ignore_index`` where padded), ``meta`` with the
    chip's id, transform, CRS and bounds.

    Examples
    --------
    >>> train = ChipDataset("chips/", split="train")  # doctest: +SKIP
    >>> train[0]["image"].shape  # doctest: +SKIP
    (4, 256, 256)
    """

    name = "chips"
    task = "segmentation"
    source = "chips written by satlearn (satlearn chips / write_chip_set)"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = "train",
        transforms: Any = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        index, info = self.root / "index.csv", self.root / "chipset.json"
        if not index.is_file() or not info.is_file():
            raise DatasetError(
                f"chips: {self.root} has no index.csv and chipset.json (write it with "
                "satlearn chips or write_chip_set)"
            )
        try:
            self.info = json.loads(info.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as err:  # also not UTF-8, deep nesting
            raise DatasetError(f"chips: {info} is not valid JSON ({err})") from err
        if not isinstance(self.info, dict):
            raise DatasetError(f"chips: {info} is not a JSON object")
        with index.open(newline="", encoding="utf-8") as handle, csv_errors(index):
            reader = csv.DictReader(handle)
            missing = {"id", "image", "mask", "split"} - set(reader.fieldnames or ())
            if missing:
                raise DatasetError(f"chips: {index} lacks column(s) {', '.join(sorted(missing))}")
            rows = list(reader)
        for n, row in enumerate(rows, start=1):
            # csv.DictReader fills a short row with None and files a long one's extras under None.
            if None in row or None in row.values():
                raise DatasetError(
                    f"chips: {index}, row {n}: {len(row) - (None in row)} fields, expected "
                    f"{len(reader.fieldnames or ())}"
                )
        splits = sorted({row["split"] for row in rows})
        if split is not None and split not in ("train", "val", "test", *splits):
            raise DatasetError(f"chips: unknown split {split!r}; choose train, val or test")
        self.rows = [row for row in rows if split is None or row["split"] == split]
        classes = self.info.get("classes", {})
        bands = self.info.get("bands", [])
        self.ignore_index = self.info.get("ignore_index", 255)
        if not isinstance(classes, dict) or not all(
            k.strip().isascii() and k.strip().isdigit() and len(k) < 10 for k in classes
        ):
            raise DatasetError(f'chips: {info}: "classes" must map class ids (0, 1 ...) to names')
        if not isinstance(bands, list) or not all(isinstance(b, str) for b in bands):
            raise DatasetError(f'chips: {info}: "bands" must be a list of band names')
        if type(self.ignore_index) is not int:
            raise DatasetError(f'chips: {info}: "ignore_index" must be an integer')
        self.class_ids = tuple(int(k) for k in classes)
        self.classes = tuple(classes.values())
        self.bands = tuple(bands)

    def __len__(self) -> int:
        return len(self.rows)

    def _load(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        try:
            with rasterio.open(self.root / row["image"]) as ds:
                image = ds.read()
                transform, crs = ds.transform, ds.crs
            with rasterio.open(self.root / row["mask"]) as ds:
                mask = ds.read(1)
        except rasterio.errors.RasterioIOError as err:
            raise DatasetError(f"chips: chip {row['id']} in {self.root}: {err}") from err
        return {
            "image": image,
            "mask": mask,
            "meta": {
                "id": row["id"],
                "file": row["image"],
                "transform": tuple(transform)[:6],
                "crs": crs_text(crs),
                "bounds": self._bounds(row),
            },
        }

    def _bounds(self, row: dict[str, str]) -> tuple[float, ...]:
        try:
            return tuple(float(row[k]) for k in ("minx", "miny", "maxx", "maxy"))
        except (KeyError, ValueError) as err:
            raise DatasetError(
                f"chips: chip {row['id']} in {self.root}: no numeric minx, miny, maxx, maxy "
                f"in index.csv ({err})"
            ) from err
