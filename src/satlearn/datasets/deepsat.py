"""DeepSat SAT-4 and SAT-6: 28 x 28 NAIP chips (red, green, blue, NIR; 1 m).

Two published forms, both read here:

- The authors' MATLAB files ``sat-4-full.mat`` / ``sat-6-full.mat`` with
  ``train_x`` (28x28x4xN uint8: row, column, band, sample), ``train_y``
  (KxN one-hot uint8; NxK is accepted too), ``test_x``/``test_y`` and
  ``annotations`` (class names). MATLAB v5 files are read with
  :func:`scipy.io.loadmat`, which loads the whole split into memory (about
  1.25 GB for SAT-4 train); v7.3 files are HDF5 and are read lazily with
  h5py, one chip per access. HDF5 sees MATLAB's column-major arrays with
  every dimension reversed: ``train_x`` is ``(N, 4, 28, 28)`` indexed
  ``[sample, band, column, row]`` and ``train_y`` is ``(N, K)``.
- Kaggle's CSV version (crawford/deepsat-sat4, -sat6): ``X_train_sat6.csv``
  with one chip per row, no header, 3136 = 28*28*4 integers; ``y_train_sat6.csv``
  one-hot rows; ``sat6annotations.csv`` (name, one-hot vector). A row is the
  chip's 28x28x4 array flattened in C order, i.e. (y, x, band) with the band
  varying fastest: the Kaggle description calls each row "28x28 images each
  with 4 channels", and the public kernels on that page read a row with
  ``reshape(28, 28, 4)`` and display ``[..., :3]`` as RGB. The CSVs are
  indexed by line offsets once and read one row per access.

Class order is the published one-hot order: SAT-4 barren land, trees,
grassland, none (every other cover); SAT-6 building, barren land, trees,
grassland, road, water (``sat6annotations.csv``; ``annotations`` in the .mat).
Where the files carry annotations they are checked against it.

Example
-------
>>> ds = DeepSatSAT6("data/deepsat-sat6", split="test")  # doctest: +SKIP
>>> sample = ds[0]  # doctest: +SKIP
>>> sample["image"].shape, ds.classes[sample["label"]]  # doctest: +SKIP
((4, 28, 28), 'building')
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import h5py
import numpy as np
import scipy.io

from satlearn.bands import get_sensor
from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.errors import DatasetError, InvalidInputError

__all__ = ["DeepSatSAT4", "DeepSatSAT6", "one_hot_to_labels"]

_CHIP = (28, 28, 4)
_ROW_VALUES = 28 * 28 * 4
_CHUNK = 1 << 24  # bytes per read while indexing CSV lines


def one_hot_to_labels(one_hot: np.ndarray, *, source: str, row_offset: int = 0) -> np.ndarray:
    """Class ids from an ``(N, K)`` one-hot matrix, refusing any row that is not one-hot.

    Parameters
    ----------
    one_hot
        ``(N, K)`` array of 0/1.
    source
        File name for the error message.
    row_offset
        Added to the 0-based row index in the message (1 for 1-based CSV lines).

    Raises
    ------
    DatasetError
        Naming ``source`` and the first offending row.

    Examples
    --------
    >>> one_hot_to_labels(np.array([[0, 1], [1, 0]]), source="y.csv").tolist()
    [1, 0]
    """
    y = np.asarray(one_hot)
    bad = ((y != 0) & (y != 1)).any(axis=1) | (y.sum(axis=1) != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DatasetError(
            f"{source}, row {row + row_offset}: {y[row].tolist()} is not a one-hot label"
        )
    return y.argmax(axis=1).astype(np.int64)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


class _DeepSat(SampleDataset):
    task = "classification"
    bands = get_sensor("deepsat").names
    source = (
        "Basu et al., 'DeepSat - A Learning framework for Satellite Imagery', ACM SIGSPATIAL 2015; "
        "https://csc.lsu.edu/~saikat/deepsat/ ; imagery: USDA NAIP (public domain)"
    )
    k: ClassVar[int] = 0

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        format: Literal["auto", "mat", "csv"] = "auto",
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        if split not in ("train", "test"):
            raise InvalidInputError(f"{self.name}: split must be 'train' or 'test', got {split!r}")
        if format not in ("auto", "mat", "csv"):
            raise InvalidInputError(f"{self.name}: format must be 'auto', 'mat' or 'csv'")
        mat = self.root / f"sat-{self.k}-full.mat"
        x_csv = self.root / f"X_{split}_sat{self.k}.csv"
        if format == "auto":
            format = "mat" if mat.is_file() else "csv" if x_csv.is_file() else "auto"
        self._h5: h5py.File | None = None
        self._h5_pid = 0
        self._x: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        if format == "mat" and mat.is_file():
            self.format = "mat"
            self.path = mat
            self._open_mat(mat, split)
        elif format == "csv" and x_csv.is_file():
            self.format = "csv"
            self.path = x_csv
            self._open_csv(x_csv, self.root / f"y_{split}_sat{self.k}.csv")
        else:
            raise DatasetError(
                f"{self.name}: neither {mat.name} nor {x_csv.name} found in {self.root}. "
                f"{self.manual_download}"
            )

    # -- MATLAB

    def _open_mat(self, path: Path, split: str) -> None:
        if h5py.is_hdf5(path):
            self.mat_version = "7.3"
            with h5py.File(path, "r") as f:
                for key in (f"{split}_x", f"{split}_y"):
                    if key not in f:
                        raise DatasetError(f"{path}: no variable {key!r} (has {sorted(f)})")
                shape = f[f"{split}_x"].shape
                if len(shape) != 4 or shape[1:] != (4, 28, 28):
                    raise DatasetError(
                        f"{path}: {split}_x has HDF5 shape {shape}, expected (N, 4, 28, 28) "
                        "(MATLAB 28x28x4xN)"
                    )
                y = f[f"{split}_y"][()]  # MATLAB KxN, seen by HDF5 as (N, K)
            self.labels = self._labels(y, shape[0], path)
            return
        self.mat_version = "5"
        try:
            content = scipy.io.loadmat(
                path, variable_names=[f"{split}_x", f"{split}_y", "annotations"]
            )
        except Exception as exc:
            # scipy's v5 reader raises whatever a damaged byte leads it to: ValueError,
            # IndexError (a file shorter than the 128-byte header), TypeError ("Expecting
            # miMATRIX type"), MatReadError, zlib.error, MemoryError on an absurd size...
            raise DatasetError(f"{path}: not a readable MATLAB file ({exc!r})") from exc
        for key in (f"{split}_x", f"{split}_y"):
            if key not in content:
                raise DatasetError(f"{path}: no variable {key!r}")
        x = content[f"{split}_x"]
        if x.ndim != 4 or x.shape[:3] != _CHIP:
            raise DatasetError(f"{path}: {split}_x has shape {x.shape}, expected 28x28x4xN")
        self._x = x
        self.labels = self._labels(content[f"{split}_y"], x.shape[3], path)
        if "annotations" in content:
            self._check_annotations(_strings(content["annotations"]), path)

    def _labels(self, y: np.ndarray, n: int, path: Path) -> np.ndarray:
        y = np.asarray(y)
        if y.shape == (self.k, n) and y.shape != (n, self.k):
            y = y.T
        elif y.shape != (n, self.k):
            raise DatasetError(
                f"{path}: labels of shape {y.shape} do not match {n} chips and {self.k} classes"
            )
        return one_hot_to_labels(y, source=str(path))

    def _check_annotations(self, names: list[str], path: Path) -> None:
        # Best effort: use the names only when the file spells out exactly K of them.
        names = [n for n in names if re.search(r"[A-Za-z]", n)]
        if len(names) != self.k:
            return
        if [_normalise(n) for n in names] != [_normalise(c) for c in self.classes]:
            raise DatasetError(
                f"{path}: annotations {names} disagree with the published class order "
                f"{list(self.classes)}; refusing to guess labels"
            )

    # -- CSV

    def _open_csv(self, x_path: Path, y_path: Path) -> None:
        if not y_path.is_file():
            raise DatasetError(f"{self.name}: {y_path} is missing (labels for {x_path.name})")
        with x_path.open("rb") as fh:
            first = fh.readline()
        if not re.fullmatch(rb"[\d\s.,+-]*", first):
            raise DatasetError(
                f"{x_path}, row 1: not {_ROW_VALUES} comma-separated pixel values "
                f"(a header? {first[:40]!r}); the published file has no header"
            )
        self._offsets = _line_offsets(x_path)
        try:
            with warnings.catch_warnings():
                # An empty file is refused just below; numpy would only warn.
                warnings.simplefilter("ignore", UserWarning)
                y = np.loadtxt(y_path, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as exc:  # UnicodeDecodeError included
            raise DatasetError(f"{y_path}: not a headerless one-hot CSV ({exc})") from exc
        if y.size == 0:
            raise DatasetError(f"{y_path}: no labels (the file is empty)")
        if y.shape[1] != self.k:
            raise DatasetError(f"{y_path}: {y.shape[1]} columns, expected {self.k} (one-hot)")
        n = len(self._offsets) - 1
        if y.shape[0] != n:
            raise DatasetError(f"{x_path} has {n} rows but {y_path} has {y.shape[0]}")
        self.labels = one_hot_to_labels(y, source=str(y_path), row_offset=1)
        annotations = self.root / f"sat{self.k}annotations.csv"
        if annotations.is_file():
            self._check_annotation_csv(annotations)

    def _check_annotation_csv(self, path: Path) -> None:
        names: dict[int, str] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        for lineno, line in enumerate(text.splitlines(), start=1):
            cells = [c.strip() for c in line.split(",")]
            if not line.strip():
                continue
            try:
                vector = np.array(cells[1:], dtype=np.float64)[np.newaxis]
            except ValueError as exc:
                raise DatasetError(
                    f"{path}, row {lineno}: expected 'name,0,1,...' ({exc})"
                ) from exc
            if vector.shape[1] != self.k:
                raise DatasetError(
                    f"{path}, row {lineno}: {vector.shape[1]} flags, expected {self.k}"
                )
            names[int(one_hot_to_labels(vector, source=str(path), row_offset=lineno)[0])] = cells[0]
        self._check_annotations([names.get(i, "?") for i in range(self.k)], path)

    # -- samples

    def __len__(self) -> int:
        return int(self.labels.size)

    def _load(self, index: int) -> Sample:
        if self._x is not None:
            image = np.ascontiguousarray(self._x[..., index].transpose(2, 0, 1))
        elif self._offsets is not None:
            image = self._csv_row(index)
        else:
            h5 = self._h5_file()
            # [band, column, row] -> (band, y, x)
            image = np.ascontiguousarray(h5[f"{self.split}_x"][index].transpose(0, 2, 1))
        return {
            "image": image,
            "label": int(self.labels[index]),
            "meta": {"file": str(self.path), "index": index},
        }

    def _csv_row(self, index: int) -> np.ndarray:
        assert self._offsets is not None
        start, end = int(self._offsets[index]), int(self._offsets[index + 1])
        with self.path.open("rb") as fh:
            fh.seek(start)
            line = fh.read(end - start)
        if not line.strip():
            raise DatasetError(f"{self.path}, row {index + 1}: empty row")
        try:
            # NumPy's C integer parser: ~10x faster than float() on 3136 split strings
            # (the published rows are integers 0..255).
            values = np.loadtxt(io.BytesIO(line), delimiter=",", dtype=np.int32, ndmin=1)
        except (ValueError, OverflowError) as exc:
            raise DatasetError(f"{self.path}, row {index + 1}: not integers ({exc})") from exc
        if values.size != _ROW_VALUES or (values < 0).any() or (values > 255).any():
            raise DatasetError(
                f"{self.path}, row {index + 1}: {values.size} values in 0..255 expected "
                f"{_ROW_VALUES} (28*28*4 uint8)"
            )
        return np.ascontiguousarray(values.astype(np.uint8).reshape(_CHIP).transpose(2, 0, 1))

    def _h5_file(self) -> h5py.File:
        # One handle per process: DataLoader workers must not share the parent's.
        if self._h5 is None or self._h5_pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._h5_pid = os.getpid()
        return self._h5

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_h5"] = None
        return state

    def close(self) -> None:
        """Close the HDF5 handle of a v7.3 file (reopened on the next access)."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def describe(self) -> dict[str, Any]:
        """Base description plus the file read, its form and class counts."""
        info = super().describe()
        info["file"] = str(self.path)
        info["format"] = self.format if self.format == "csv" else f"mat v{self.mat_version}"
        counts = np.bincount(self.labels, minlength=self.k)
        info["class_counts"] = dict(zip(self.classes, counts.tolist(), strict=True))
        return info


def _strings(value: Any) -> list[str]:
    """Every string inside a scipy.io cell/char array, in MATLAB's column-major order."""
    if isinstance(value, str):
        return [value]
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return [str(s) for s in array.ravel(order="F")]
    if array.dtype == object:
        return [s for item in array.ravel(order="F") for s in _strings(item)]
    return []


def _line_offsets(path: Path) -> np.ndarray:
    """Byte offsets where each non-empty line starts, plus one past the last line."""
    starts = [np.array([0], dtype=np.int64)]
    size = path.stat().st_size
    with path.open("rb") as fh:
        base = 0
        while chunk := fh.read(_CHUNK):
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            starts.append(newlines.astype(np.int64) + base + 1)
            base += len(chunk)
    offsets = np.concatenate(starts)
    if offsets[-1] != size:
        offsets = np.append(offsets, size)  # last line without a newline
    # Drop empty lines (a blank line at the end of the file, CRLF leftovers are stripped on read).
    lengths = np.diff(offsets)
    keep = np.append(lengths > 1, True)
    return offsets[keep]


@register
class DeepSatSAT4(_DeepSat):
    """SAT-4: 500,000 chips (400,000 train, 100,000 test), 4 classes.

    Parameters
    ----------
    root
        Folder holding ``sat-4-full.mat`` or Kaggle's ``X_train_sat4.csv``,
        ``y_train_sat4.csv``, ``X_test_sat4.csv``, ``y_test_sat4.csv``
        (and optionally ``sat4annotations.csv``).
    split
        ``"train"`` (default) or ``"test"``, the authors' split.
    format
        ``"auto"`` (the .mat when present, else the CSVs), ``"mat"`` or ``"csv"``.
    transforms
        Callable applied to each sample dict.

    Examples
    --------
    >>> DeepSatSAT4("data/sat4").describe()["format"]  # doctest: +SKIP
    'mat v5'
    """

    name = "deepsat-sat4"
    k = 4
    classes = ("barren_land", "trees", "grassland", "none")
    manual_download = (
        "Get sat-4-full.mat (MATLAB) or X_train_sat4.csv, y_train_sat4.csv, X_test_sat4.csv, "
        "y_test_sat4.csv and sat4annotations.csv from https://www.kaggle.com/datasets/crawford/"
        "deepsat-sat4 (Kaggle login) and put them directly in ROOT."
    )


@register
class DeepSatSAT6(_DeepSat):
    """SAT-6: 405,000 chips (324,000 train, 81,000 test), 6 classes.

    Parameters are those of :class:`DeepSatSAT4`, with ``sat-6-full.mat`` or
    ``X_train_sat6.csv`` and friends.

    Examples
    --------
    >>> len(DeepSatSAT6("data/sat6", split="test", format="csv"))  # doctest: +SKIP
    81000
    """

    name = "deepsat-sat6"
    k = 6
    classes = ("building", "barren_land", "trees", "grassland", "road", "water")
    manual_download = (
        "Get sat-6-full.mat (MATLAB) or X_train_sat6.csv, y_train_sat6.csv, X_test_sat6.csv, "
        "y_test_sat6.csv and sat6annotations.csv from https://www.kaggle.com/datasets/crawford/"
        "deepsat-sat6 (Kaggle login) and put them directly in ROOT."
    )
