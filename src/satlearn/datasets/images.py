"""Image files of the scene-classification datasets: read any of their formats, fit a size.

Shared by the class-folder readers (UC Merced, EuroSAT), Planet and Draper:
JPEG and PNG through Pillow, TIFF (any band count and dtype) through
rasterio, and OpenCV to resize or pad an image to a fixed size so batches
stack.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import rasterio
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from satlearn.errors import DatasetError, InvalidInputError

__all__ = ["Verify", "fit_image", "read_image"]

#: How thoroughly a reader checks its files when it is built.
Verify = Literal["none", "header", "full"]


def read_image(path: Path, *, decode: bool = True) -> np.ndarray | None:
    """Read one image file as a ``(band, y, x)`` array in the file's dtype.

    JPEG, PNG and plain (non-geo) TIFF go through Pillow; GeoTIFFs with more
    than the 3 or 4 bands Pillow understands, or 16-bit data, go through
    rasterio. With ``decode=False`` only the header is parsed (cheap, catches
    empty and garbage files) and None is returned.

    Raises
    ------
    DatasetError
        Naming the file, when it cannot be opened or decoded (truncated,
        corrupt, not an image).

    Examples
    --------
    >>> read_image(Path("UCMerced_LandUse/Images/beach/beach00.tif")).shape  # doctest: +SKIP
    (3, 256, 256)
    """
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            return _read_tiff(path, decode=decode)
        with Image.open(path) as img:
            if not decode:
                return None
            img.load()
            if img.mode not in ("RGB", "L", "RGBA"):
                img = img.convert("RGB")
            arr = np.asarray(img)
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError, rasterio.errors.RasterioError) as exc:
        # Pillow raises OSError ("image file is truncated"), UnidentifiedImageError
        # (an OSError) or SyntaxError for broken headers; rasterio its own errors.
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc
    return arr[np.newaxis] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _read_tiff(path: Path, *, decode: bool) -> np.ndarray | None:
    # rasterio reads every TIFF flavour of these datasets (uint16, 13 bands);
    # chips without georeferencing (UC Merced, Planet) are expected, so that
    # warning is silenced here and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            if not decode:
                return None
            return src.read()


def fit_image(image: np.ndarray, size: int | tuple[int, int], fit: str = "resize") -> np.ndarray:
    """Bring a ``(band, y, x)`` image to ``size`` pixels.

    ``fit="resize"`` resamples (OpenCV, area-averaging when shrinking,
    bilinear when growing); ``fit="pad"`` reflects the last rows/columns to
    fill the missing ones (no invented zero border) and crops any excess.

    Examples
    --------
    >>> fit_image(np.zeros((3, 247, 256), np.uint8), 256).shape
    (3, 256, 256)
    """
    height, width = (size, size) if isinstance(size, int) else size
    if image.shape[1:] == (height, width):
        return image
    if fit == "pad":
        cropped = image[:, :height, :width]
        pad_y, pad_x = height - cropped.shape[1], width - cropped.shape[2]
        return np.pad(cropped, ((0, 0), (0, pad_y), (0, pad_x)), mode="symmetric")
    if fit != "resize":
        raise InvalidInputError(f"fit must be 'resize' or 'pad', got {fit!r}")
    shrinking = height * width < image.shape[1] * image.shape[2]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
    out = cv2.resize(hwc, (width, height), interpolation=interpolation)
    out = out.reshape(height, width, -1)
    return np.ascontiguousarray(out.transpose(2, 0, 1))


# --------------------------------------------------------------------------- splits
