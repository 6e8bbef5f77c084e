"""Stereo geometry: disparity range from heights, and heights from disparities.

The convention of :mod:`satlearn.synth.terrain`: ``right[y, x - d] ==
left[y, x]``, disparity grows with height, ``h = reference_height + d *
pixel_size_m / (B/H)``, and zero disparity is the reference height.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from satlearn.deprecation import renamed_keywords
from satlearn.errors import InvalidInputError

__all__ = ["check_geometry", "disparity_range", "disparity_to_height"]


@renamed_keywords(pixel_size="pixel_size_m")
def disparity_range(
    height_range: tuple[float, float],
    *,
    pixel_size_m: float,
    base_to_height: float,
    reference_height: float = 0.0,
    margin_px: float = 2.0,
) -> tuple[int, int]:
    """SGBM's ``(min_disparity, num_disparities)`` for the expected heights.

    ``d = (h - reference_height) * (B/H) / pixel_size_m``; the range is widened
    by ``margin_px`` on each side and ``num_disparities`` rounded up to a
    multiple of 16 as SGBM requires.

    Parameters
    ----------
    height_range : (float, float)
        Lowest and highest expected heights (m).
    pixel_size_m : float
        Ground sampling distance (m); ``pixel_size`` until 0.2, still
        accepted with a warning.
    base_to_height : float
        The pair's base-to-height ratio B/H.
    reference_height : float
        The height (m) of zero disparity.
    margin_px : float
        Widening of the range on each side (px).

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> disparity_range((100.0, 600.0), pixel_size_m=10.0, base_to_height=0.6,
    ...                 reference_height=100.0)
    (-2, 48)
    """
    check_geometry(pixel_size_m, base_to_height)
    low, high = (float(v) for v in height_range)
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise InvalidInputError(
            f"height_range must be (low, high) with low <= high, got {height_range}"
        )
    scale = base_to_height / pixel_size_m
    d_low = math.floor((low - reference_height) * scale - margin_px)
    d_high = math.ceil((high - reference_height) * scale + margin_px)
    return d_low, max(16, 16 * math.ceil((d_high - d_low + 1) / 16))


def check_geometry(pixel_size_m: float, base_to_height: float) -> None:
    """Raise :class:`InvalidInputError` unless the pixel size and B/H are positive."""
    if not (np.isfinite(pixel_size_m) and pixel_size_m > 0):
        raise InvalidInputError(
            f"pixel_size_m must be a positive number of metres, got {pixel_size_m}"
        )
    if not (np.isfinite(base_to_height) and base_to_height > 0):
        raise InvalidInputError(f"base_to_height must be positive, got {base_to_height}")


@renamed_keywords(pixel_size="pixel_size_m")
def disparity_to_height(
    disparity: Any,
    *,
    pixel_size_m: float,
    base_to_height: float,
    reference_height: float = 0.0,
) -> np.ndarray:
    """Heights (m) from disparities (px): ``reference_height + d * pixel_size_m / (B/H)``.

    Zero disparity is the reference height (``dem.min()`` for a synthetic
    pair; a stereo pair alone measures relative heights). ``pixel_size_m``
    (m) was ``pixel_size`` until 0.2 (still accepted, with a warning).
    *Blockwise* arithmetic on a numpy array.

    Examples
    --------
    >>> disparity_to_height([0.0, 6.0], pixel_size_m=10.0, base_to_height=0.6)
    array([  0., 100.], dtype=float32)
    """
    check_geometry(pixel_size_m, base_to_height)
    d = np.asarray(disparity, dtype=np.float32)
    return (d * np.float32(pixel_size_m / base_to_height) + np.float32(reference_height)).astype(
        np.float32, copy=False
    )
