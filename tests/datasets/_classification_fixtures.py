"""Writers of small scene-classification fixtures in each dataset's published format.

Each writer lays files out exactly as the publisher's archive does (folder
names, file names, encodings, dtypes, MATLAB's array layout) and returns what
it wrote, so tests can read the files back and compare pixel by pixel.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import rasterio
import scipy.io
from affine import Affine
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning


def pattern(
    seed: int, shape: tuple[int, ...], dtype: type = np.uint8, high: int = 256
) -> np.ndarray:
    """Deterministic random pixels; distinct per seed so mixed-up files show."""
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(dtype)


def smooth_rgb(seed: int, height: int, width: int) -> np.ndarray:
    """A ``(3, y, x)`` uint8 image that JPEG keeps within a few levels: smooth ramps.

    Each channel ramps in its own direction, so a reader that swaps channels
    (BGR) or transposes axes is caught even through lossy compression.
    """
    y, x = np.mgrid[0:height, 0:width].astype(float)
    base = 40 + 10 * (seed % 7)
    r = base + 150 * x / max(width - 1, 1)
    g = base + 150 * y / max(height - 1, 1)
    b = np.full_like(x, 220 - 3 * (seed % 20))
    return np.stack([r, g, b]).round().astype(np.uint8)


def write_jpeg(path: Path, image: np.ndarray) -> np.ndarray:
    """Write a ``(3, y, x)`` uint8 image as JPEG with Pillow; return what a decoder reads back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(path, quality=95)
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).transpose(2, 0, 1)


def write_plain_tiff(path: Path, image: np.ndarray) -> None:
    """Write a ``(3, y, x)`` uint8 TIFF with Pillow (no georeferencing, like UC Merced's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(path, format="TIFF")


def write_geotiff(
    path: Path, image: np.ndarray, *, crs: str | None, transform: Affine | None
) -> None:
    """Write a ``(band, y, x)`` GeoTIFF with rasterio (georeferenced when crs is given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count, height, width = image.shape
    profile: dict[str, object] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": image.dtype,
    }
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    with warnings.catch_warnings():
        # Chips published without georeferencing (Planet's) are written as such on purpose.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(image)


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file to a fraction of its bytes (a broken download)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# --------------------------------------------------------------------------- DeepSat


def deepsat_arrays(n: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 4, 28, 28)`` uint8 and labels ``(n,)`` cycling through the classes."""
    images = pattern(seed, (n, 4, 28, 28))
    labels = np.arange(n) % n_classes
    return images, labels


def to_matlab_x(images: np.ndarray) -> np.ndarray:
    """``(n, band, y, x)`` to MATLAB's ``28x28x4xN`` (row, column, band, sample)."""
    return np.ascontiguousarray(images.transpose(2, 3, 1, 0))


def one_hot_kxn(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """MATLAB's ``KxN`` uint8 one-hot label matrix."""
    out = np.zeros((n_classes, labels.size), dtype=np.uint8)
    out[labels, np.arange(labels.size)] = 1
    return out


def write_deepsat_mat_v5(
    path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str]
) -> None:
    """A MATLAB v5 ``sat-N-full.mat`` (``train_x`` 28x28x4xN, ``train_y`` KxN) via scipy."""
    k = len(names)
    content: dict[str, object] = {}
    for split, (images, labels) in splits.items():
        content[f"{split}_x"] = to_matlab_x(images)
        content[f"{split}_y"] = one_hot_kxn(labels, k)
    annotations = np.empty((k, 2), dtype=object)
    for i, name in enumerate(names):
        annotations[i, 0] = name
        annotations[i, 1] = np.eye(k, dtype=np.uint8)[i]
    content["annotations"] = annotations
    scipy.io.savemat(path, content, format="5", do_compression=True)


def write_deepsat_mat_v73(
    path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], k: int
) -> None:
    """A MATLAB v7.3 (HDF5) file with MATLAB's layout.

    MATLAB writes column-major arrays, so HDF5 sees every dimension reversed:
    ``train_x`` 28x28x4xN appears as ``(N, 4, 28, 28)`` indexed
    ``[sample, band, column, row]``; ``train_y`` KxN as ``(N, K)``. The file
    starts with MATLAB's 512-byte user block holding the text header.
    """
    with h5py.File(path, "w", userblock_size=512) as f:
        for split, (images, labels) in splits.items():
            mat_x = to_matlab_x(images)  # (row, col, band, n) as MATLAB sees it
            f.create_dataset(f"{split}_x", data=mat_x.transpose(3, 2, 1, 0), chunks=(1, 4, 28, 28))
            f[f"{split}_x"].attrs["MATLAB_class"] = np.bytes_("uint8")
            f.create_dataset(f"{split}_y", data=one_hot_kxn(labels, k).T)
            f[f"{split}_y"].attrs["MATLAB_class"] = np.bytes_("uint8")
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 "
        b"HDF5 schema 1.00 ."
    )
    with path.open("r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def write_deepsat_csv(
    root: Path, n_k: int, split: str, images: np.ndarray, labels: np.ndarray
) -> None:
    """Kaggle's ``X_<split>_sat<K>.csv`` (rows of 28*28*4 values in (y, x, band) C order)
    and one-hot ``y_<split>_sat<K>.csv``, both without header."""
    x_rows = images.transpose(0, 2, 3, 1).reshape(images.shape[0], -1)
    np.savetxt(root / f"X_{split}_sat{n_k}.csv", x_rows, fmt="%d", delimiter=",")
    y = one_hot_kxn(labels, n_k).T
    np.savetxt(root / f"y_{split}_sat{n_k}.csv", y, fmt="%d", delimiter=",")


def write_deepsat_annotations_csv(root: Path, n_k: int, names: list[str]) -> None:
    """Kaggle's ``sat<K>annotations.csv``: name, then the class's one-hot vector."""
    lines = [",".join([name, *map(str, np.eye(n_k, dtype=int)[i])]) for i, name in enumerate(names)]
    (root / f"sat{n_k}annotations.csv").write_text("\n".join(lines) + "\n")
