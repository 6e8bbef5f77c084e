"""Airbus Ship Detection (Kaggle, 2018): JPEG chips and run-length-encoded ship masks.

Published layout (the competition's data page)::

    ROOT/
      train_ship_segmentations_v2.csv   ImageId,EncodedPixels  (one row per ship)
      train_v2/<ImageId>                768 x 768 RGB JPEGs (ImageId is the file
      test_v2/<ImageId>                 name, e.g. ``00003e153.jpg``); unlabelled

The run-length encoding is Kaggle's: pixels are numbered 1..H*W
**column-major** (top to bottom, then left to right), and ``EncodedPixels``
holds space-separated pairs ``start length``. An image with several ships has
one row per ship; an image without ships has one row with an empty
``EncodedPixels``. :func:`rle_decode` and :func:`rle_encode` are exact
inverses, and :func:`rle_decode` rejects a string that runs past the image,
has an odd number of tokens or starts that do not increase.

Example
-------
>>> mask = rle_decode("2 3 10 1", shape=(4, 4))
>>> mask.astype(int)
array([[0, 0, 0, 0],
       [1, 0, 1, 0],
       [1, 0, 0, 0],
       [1, 0, 0, 0]])
>>> rle_encode(mask)
'2 3 10 1'
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from satlearn.datasets.base import Sample, SampleDataset, Transform, csv_errors, register
from satlearn.errors import DatasetError

__all__ = ["AirbusShips", "rle_decode", "rle_encode"]

AIRBUS_SHAPE = (768, 768)
_CSV_NAME = "train_ship_segmentations_v2.csv"
_HEADER = ["ImageId", "EncodedPixels"]


def _parse_rle(rle: str, shape: tuple[int, int], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Zero-based run starts and lengths of ``rle``, validated against ``shape``."""
    tokens = rle.split()
    if len(tokens) % 2:
        raise DatasetError(
            f"{where}: run-length encoding has an odd number of tokens ({len(tokens)})"
        )
    try:
        values = np.asarray(tokens, dtype=np.int64)
    except (ValueError, OverflowError):
        raise DatasetError(
            f"{where}: run-length encoding holds a token that is not an integer"
        ) from None
    starts, lengths = values[0::2], values[1::2]
    if starts.size == 0:
        return starts, lengths
    size = shape[0] * shape[1]
    # Before any arithmetic: a start or length near 2**63 would wrap the end
    # (start - 1 + length) to a negative int64 and pass the checks below.
    if (starts > size).any() or (lengths > size).any():
        raise DatasetError(
            f"{where}: run-length encoding runs past the image (a start or length above "
            f"{size}, the pixel count of a {shape[0]}x{shape[1]} image)"
        )
    if (starts < 1).any():
        raise DatasetError(f"{where}: run-length encoding has a start below 1 (starts are 1-based)")
    if (lengths < 1).any():
        raise DatasetError(f"{where}: run-length encoding has a run of length < 1")
    if (np.diff(starts) <= 0).any():
        raise DatasetError(f"{where}: run-length encoding has starts that do not increase")
    ends = starts - 1 + lengths  # zero-based exclusive end
    if (ends[:-1] > starts[1:] - 1).any():
        raise DatasetError(f"{where}: run-length encoding has overlapping runs")
    if ends[-1] > size:
        raise DatasetError(
            f"{where}: run-length encoding runs past the image (pixel {int(ends[-1])} "
            f"of {size} in a {shape[0]}x{shape[1]} image)"
        )
    return starts - 1, lengths


def rle_decode(rle: str, shape: tuple[int, int] = AIRBUS_SHAPE) -> np.ndarray:
    """Decode a Kaggle run-length string into a boolean ``(height, width)`` mask.

    Parameters
    ----------
    rle : str
        Space-separated ``start length`` pairs; starts are 1-based pixel
        numbers in column-major order (down each column, then the next
        column). An empty string is an empty mask.
    shape : tuple of int
        ``(height, width)`` of the image, 768 x 768 for Airbus.

    Returns
    -------
    numpy.ndarray
        Boolean mask of ``shape``.

    Raises
    ------
    DatasetError
        When a run passes the last pixel, the token count is odd, a token is
        not an integer, or the starts do not strictly increase.

    Examples
    --------
    >>> rle_decode("1 2", shape=(2, 2)).astype(int)
    array([[1, 0],
           [1, 0]])
    """
    height, width = (int(s) for s in shape)
    starts, lengths = _parse_rle(rle, (height, width), "rle_decode")
    return _runs_to_mask(starts, lengths, (height, width))


def _runs_to_mask(starts: np.ndarray, lengths: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask from validated zero-based runs (non-overlapping, inside the image)."""
    height, width = shape
    # +1 at each run start and -1 after each run end, then a running sum:
    # one pass over the pixels, no loop over runs.
    edges = np.zeros(height * width + 1, dtype=np.int8)
    edges[starts] = 1
    edges[starts + lengths] -= 1  # runs do not overlap, so no index repeats within each array
    flat = np.cumsum(edges[:-1], dtype=np.int8).astype(bool)
    return flat.reshape((width, height)).T


def rle_encode(mask: np.ndarray) -> str:
    """Encode a 2-D mask as a Kaggle run-length string (column-major, 1-based).

    Parameters
    ----------
    mask : numpy.ndarray
        ``(height, width)`` array; non-zero pixels are foreground.

    Returns
    -------
    str
        ``"start length start length ..."``, or ``""`` for an empty mask.

    Examples
    --------
    >>> rle_encode(np.array([[1, 0], [1, 1]]))
    '1 2 4 1'
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise DatasetError(f"rle_encode: mask must be 2-D (height, width), got shape {mask.shape}")
    # Column-major flattening, padded with background so every run has a start and an end.
    flat = np.concatenate([[False], (mask != 0).T.ravel(), [False]])
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts, ends = changes[0::2], changes[1::2]
    pairs = np.empty(starts.size * 2, dtype=np.int64)
    pairs[0::2] = starts
    pairs[1::2] = ends - starts
    return " ".join(map(str, pairs.tolist()))


def _boxes(instances: list[np.ndarray]) -> np.ndarray:
    """``(n, 4)`` float32 ``x0, y0, x1, y1`` pixel-edge boxes of boolean masks."""
    boxes = np.zeros((len(instances), 4), dtype=np.float32)
    for i, mask in enumerate(instances):  # one per ship, not per pixel
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        boxes[i] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


@register
class AirbusShips(SampleDataset):
    """Airbus Ship Detection: 768 x 768 RGB chips with one mask and box per ship.

    Parameters
    ----------
    root : path
        Folder holding ``train_ship_segmentations_v2.csv`` and ``train_v2/``
        (and ``test_v2/`` for ``split="test"``), as unzipped from Kaggle.
    split : {"train", "test"}, optional
        ``"train"`` (default) reads the labelled images; ``"test"`` lists
        ``test_v2/*.jpg`` and yields images only.
    transforms : callable, optional
        Applied to each sample dict.
    skip_invalid : bool
        By default a malformed row (bad run-length string) raises
        :class:`DatasetError` naming the file and line; with ``True`` that
        image is left out and recorded in ``skipped`` instead.

    Samples hold ``image`` ``(3, 768, 768)`` uint8 RGB, ``mask`` ``(y, x)``
    uint8 (1 = ship), ``instances`` ``(y, x)`` int32 ship ids ``1..n`` in CSV
    row order (where two truth masks overlap, the later row's id is kept;
    each box still comes from its own mask), ``boxes`` ``(n, 4)`` float32
    ``x0, y0, x1, y1`` in pixel edges, ``labels`` ``(n,)`` int64 (all 1), and
    ``meta``. Images with no ship have ``n = 0``.

    Examples
    --------
    >>> ds = AirbusShips("airbus")  # doctest: +SKIP
    >>> ds[0]["boxes"].shape  # doctest: +SKIP
    (2, 4)
    """

    name: ClassVar[str] = "airbus-ships"
    task: ClassVar[str] = "detection"
    source: ClassVar[str] = (
        "Airbus Ship Detection Challenge, Kaggle 2018 "
        "(https://www.kaggle.com/c/airbus-ship-detection); competition data licence"
    )
    manual_download: ClassVar[str] = (
        "Kaggle login required: `kaggle competitions download -c airbus-ship-detection`, "
        f"then unzip so ROOT holds {_CSV_NAME} and train_v2/ (and test_v2/)."
    )
    classes = ("background", "ship")
    bands = ("red", "green", "blue")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        transforms: Transform | None = None,
        skip_invalid: bool = False,
    ) -> None:
        super().__init__(root, split=split or "train", transforms=transforms)
        if self.split not in ("train", "test"):
            raise DatasetError(f"{self.name}: unknown split {self.split!r}; use 'train' or 'test'")
        self._runs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        if self.split == "test":
            folder = self.root / "test_v2"
            self._ids = sorted(p.name for p in folder.glob("*.jpg"))
            self._folder = folder
        else:
            self._folder = self.root / "train_v2"
            self._read_csv(self.root / _CSV_NAME, skip_invalid)
            self._ids = list(self._runs)
        if not self._ids:
            raise DatasetError(f"{self.name}: no images found in {self._folder}")

    def _read_csv(self, path: Path, skip_invalid: bool) -> None:
        if not path.is_file():
            raise DatasetError(f"{self.name}: {path} not found (expected {_CSV_NAME} in the root)")
        bad: set[str] = set()
        with path.open(newline="", encoding="utf-8") as fh, csv_errors(path):
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip().lstrip("\ufeff") for h in header] != _HEADER:
                raise DatasetError(f"{path}: header is {header!r}, expected {','.join(_HEADER)}")
            for line, row in enumerate(reader, start=2):
                if len(row) != 2:
                    raise DatasetError(f"{path}, line {line}: expected 2 columns, got {len(row)}")
                image_id, rle = row[0].strip(), row[1]
                runs = self._runs.setdefault(image_id, [])
                try:
                    parsed = _parse_rle(rle, AIRBUS_SHAPE, f"{path}, line {line} ({image_id})")
                except DatasetError as err:
                    if not skip_invalid:
                        raise
                    bad.add(image_id)
                    self.skipped.append((image_id, str(err)))
                    continue
                if parsed[0].size:
                    runs.append(parsed)
        for image_id in bad:
            del self._runs[image_id]

    def __len__(self) -> int:
        return len(self._ids)

    def _load(self, index: int) -> Sample:
        image_id = self._ids[index]
        path = self._folder / image_id
        if not path.is_file():
            raise DatasetError(f"{self.name}: image {path} listed in {_CSV_NAME} is missing")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DatasetError(f"{self.name}: {path} is not a readable JPEG")
        image = np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1))
        height, width = image.shape[1:]
        sample: dict[str, Any] = {
            "image": image,
            "meta": {"id": image_id, "file": str(path), "split": self.split},
        }
        if self.split == "test":
            return sample
        size = height * width
        ships = []
        for n, (starts, lengths) in enumerate(self._runs[image_id], start=1):
            if starts[-1] + lengths[-1] > size:
                raise DatasetError(
                    f"{self.name}: ship {n} of {image_id} runs past its "
                    f"{height}x{width} image {path}"
                )
            ships.append(_runs_to_mask(starts, lengths, (height, width)))
        instances = np.zeros((height, width), dtype=np.int32)
        for n, ship in enumerate(ships, start=1):
            instances[ship] = n
        sample["mask"] = (instances > 0).astype(np.uint8)
        sample["instances"] = instances
        sample["boxes"] = _boxes(ships)
        sample["labels"] = np.ones(len(ships), dtype=np.int64)
        return sample

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        if self.split == "train":
            info["ships"] = sum(len(runs) for runs in self._runs.values())
            info["images_with_ships"] = sum(1 for runs in self._runs.values() if runs)
        return info
