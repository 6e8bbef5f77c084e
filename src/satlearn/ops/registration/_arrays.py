"""The checks of the plain-array inputs of the registration kernels.

:func:`phase_correlation`, :func:`match_features` and :func:`shift_field`
take numpy images, not rasters, so their checks are these, not
:func:`satlearn.checks.check_raster` (which wants a DataArray and imports
rioxarray: a second of start-up that a one-shot registration of two arrays
does not need). The DataArray layer (:func:`coregister`) checks its rasters
with :func:`~satlearn.checks.check_raster`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["as_image", "as_mask", "with_finite"]


def as_image(array: Any, name: str) -> np.ndarray:
    """``array`` as a 2-D numeric numpy image of at least 4 x 4 pixels."""
    image = np.asarray(array)
    if image.ndim != 2:
        raise InvalidInputError(f"{name}: expected a 2-D image, got shape {image.shape}")
    if image.dtype.kind not in "uifb":
        raise InvalidInputError(f"{name}: expected a numeric image, got dtype {image.dtype}")
    if min(image.shape) < 4:
        raise InvalidInputError(f"{name}: image {image.shape} is too small (at least 4 x 4)")
    return image


def as_mask(mask: Any, shape: tuple[int, ...], name: str) -> np.ndarray | None:
    """A validity mask of ``shape`` as bool (None stays None: all valid)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise InvalidInputError(f"{name}: mask shape {mask.shape} differs from image {shape}")
    return mask.astype(bool, copy=False)


def with_finite(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """Add non-finite pixels of ``image`` to ``mask`` (None when all are valid)."""
    # A finite float64 sum means every pixel is finite: one cheap pass.
    if image.dtype.kind != "f" or np.isfinite(image.sum(dtype=np.float64)):
        return mask
    finite = np.isfinite(image)
    return finite if mask is None else mask & finite
