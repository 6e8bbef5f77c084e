"""Disparity of a rectified pair, strip by strip: :func:`compute_disparity`.

Large scenes are matched in row strips with a halo of overlapping rows:
SGBM's ``MODE_HH`` holds two int16 cost volumes, about ``4 * width * rows *
num_disparities`` bytes, so the strip height is chosen to keep one strip
under ``memory_mb``; only the strips' cores are kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import numpy as np

from satlearn.deprecation import method_name
from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.ops.stereo._range import range_from_sift
from satlearn.ops.stereo._sgm import SgbmSettings, match_strip
from satlearn.ops.stereo._stretch import check_pair, scale_to_8bit, stretch_pair, valid_pixels

__all__ = [
    "DEFAULT_MEMORY_MB",
    "FILL_METHODS",
    "SUBPIXEL_METHODS",
    "Disparity",
    "FillMethod",
    "SubpixelMethod",
    "compute_disparity",
    "rows_per_strip",
    "strips",
]

FillMethod = Literal["inpaint", "rows"] | None
SubpixelMethod = Literal["lk", "sgbm"]
#: The ``fill=`` methods of :func:`compute_disparity` (or None: no filling).
FILL_METHODS = ("inpaint", "rows")
#: The ``subpixel=`` methods of :func:`compute_disparity`.
SUBPIXEL_METHODS = ("lk", "sgbm")

#: Default memory bound (MiB) of one strip's SGBM cost volumes.
DEFAULT_MEMORY_MB = 1024


class Disparity(NamedTuple):
    """The answer of :func:`compute_disparity`.

    Attributes
    ----------
    disparity : numpy.ndarray
        float32 (y, x) disparity on the left grid, px (``right[y, x - d] ==
        left[y, x]``), holes filled as asked; NaN where the left image has no
        data or filling was off.
    valid : numpy.ndarray
        bool (y, x): matched and left-right consistent, before filling.
    min_disparity, num_disparities : int
        The SGBM search range used.
    """

    disparity: np.ndarray
    valid: np.ndarray
    min_disparity: int
    num_disparities: int

    @property
    def valid_fraction(self) -> float:
        """Fraction of pixels matched before filling."""
        return float(self.valid.mean())


def strips(height: int, rows: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """``(read_start, read_stop, core_start, core_stop)`` of row strips covering ``height``."""
    for core_start in range(0, height, rows):
        core_stop = min(core_start + rows, height)
        yield max(0, core_start - halo), min(height, core_stop + halo), core_start, core_stop


def rows_per_strip(width: int, num_disparities: int, block_size: int, memory_mb: float) -> int:
    """Rows of a strip whose SGBM cost volumes stay under ``memory_mb`` MiB (at least 16)."""
    if isinstance(memory_mb, bool) or not (
        isinstance(memory_mb, int | float) and math.isfinite(memory_mb) and memory_mb > 0
    ):
        raise InvalidInputError(f"memory_mb must be a positive number of MiB, got {memory_mb!r}")
    # MODE_HH keeps two int16 volumes (cost and aggregated cost) of
    # padded_width x rows x num_disparities, plus per-row buffers.
    padded = width + 2 * (num_disparities + block_size)
    per_row = 4 * padded * num_disparities + 64 * padded
    return max(16, int(memory_mb * 2**20 // per_row))


def compute_disparity(
    left: Any,
    right: Any,
    *,
    min_disparity: int | None = None,
    num_disparities: int | None = None,
    nodata: float | None = None,
    block_size: int = 5,
    uniqueness: int = 10,
    speckle_window: int = 100,
    speckle_range: int = 2,
    lr_tolerance: float | None = 1.0,
    subpixel: SubpixelMethod = "lk",
    refine_window: int = 7,
    fill: FillMethod = "inpaint",
    memory_mb: float = DEFAULT_MEMORY_MB,
    strip_rows: int | None = None,
    halo: int = 64,
    names: tuple[str, str] = ("left", "right"),
) -> Disparity:
    """Disparity of a rectified pair by OpenCV semi-global matching.

    *Row strips with a halo of* ``halo`` *rows* (64): each strip of
    ``strip_rows`` rows (set by ``memory_mb``) is matched with the rows above
    and below it and only its core is kept; the 8-bit stretch and the SIFT
    search range (when not given) are *global*, from a strided sample of the
    whole pair. numpy or dask input; the output is numpy.

    Parameters
    ----------
    left, right : array-like (y, x)
        The rectified pair on one grid, numpy or dask (read strip by strip),
        float reflectance or integer DN.
    min_disparity, num_disparities : int, optional
        SGBM's search range (``num_disparities`` is rounded up to a multiple of
        16); see :func:`disparity_range`. Default: estimated from SIFT matches
        (:func:`estimate_disparity_range`).
    nodata : float, optional
        Value marking invalid input pixels (NaN always does).
    block_size : int
        Odd matching block size (3..11).
    uniqueness, speckle_window, speckle_range : int
        SGBM's ``uniquenessRatio`` (%), ``speckleWindowSize`` (px, 0: off) and
        ``speckleRange`` (px).
    lr_tolerance : float or None
        Left-right consistency tolerance in px; None skips the check (and its
        second SGBM run).
    subpixel : {"lk", "sgbm"}
        ``"lk"`` refines SGBM's 1/16 px parabola with a Lucas-Kanade step
        (window ``refine_window``) on the float images; ``"sgbm"`` keeps SGBM's.
    fill : {"inpaint", "rows"} or None
        How holes (unmatched or inconsistent pixels) are filled.
    memory_mb : float
        Bound on one strip's SGBM cost volumes; sets the strip height.
    strip_rows : int, optional
        Rows per strip, overriding ``memory_mb``.
    halo : int
        Rows of overlap read above and below each strip and discarded.
    names : (str, str)
        How the inputs are named in error messages.

    Returns
    -------
    Disparity

    Raises
    ------
    InvalidInputError
        Not 2-D, different shapes, a bad option, or a disparity range that
        cannot fit the image width.
    NoValidDataError
        No valid pixel in the pair.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> scene = make_scene(128, seed=3, n_dates=1, clouds=False, ships=False)
    >>> result = compute_disparity(scene.stereo_left.values, scene.stereo_right.values,
    ...                            min_disparity=-2, num_disparities=16)
    >>> result.valid_fraction > 0.9
    True
    """
    left, right = check_pair(left, right, names)
    height, width = left.shape
    if not (isinstance(block_size, int) and block_size % 2 == 1 and 1 <= block_size <= 11):
        raise InvalidInputError(f"block_size must be an odd integer in 1..11, got {block_size!r}")
    subpixel = method_name(subpixel, SUBPIXEL_METHODS, what="subpixel method")  # type: ignore[assignment]
    if fill is not None:
        fill = method_name(fill, FILL_METHODS, what="fill method")  # type: ignore[assignment]
    if not (isinstance(refine_window, int) and refine_window % 2 == 1 and refine_window >= 3):
        raise InvalidInputError(f"refine_window must be an odd integer >= 3, got {refine_window!r}")
    if lr_tolerance is not None and not lr_tolerance >= 0:
        raise InvalidInputError(f"lr_tolerance must be >= 0 or None, got {lr_tolerance!r}")
    if halo < 0 or (strip_rows is not None and strip_rows < 1):
        raise InvalidInputError(f"halo must be >= 0 and strip_rows >= 1, got {halo}, {strip_rows}")
    low, high = stretch_pair(left, right, nodata=nodata)

    if (min_disparity is None) != (num_disparities is None):
        raise InvalidInputError("give both min_disparity and num_disparities, or neither")
    if min_disparity is None:
        min_disparity, num_disparities = range_from_sift(
            left, right, nodata=nodata, low=low, high=high
        )
    min_disparity = int(min_disparity)
    num_disparities = 16 * math.ceil(int(num_disparities) / 16)
    if num_disparities < 16:
        raise InvalidInputError(f"num_disparities must be positive, got {num_disparities}")
    span = max(abs(min_disparity), abs(min_disparity + num_disparities))
    if num_disparities >= width or span >= width:
        raise InvalidInputError(
            f"disparity range [{min_disparity}, {min_disparity + num_disparities}) px does not "
            f"fit {names[0]}'s width of {width} px; check the heights and base-to-height ratio"
        )
    settings = SgbmSettings(
        min_disparity=min_disparity,
        num_disparities=num_disparities,
        block_size=block_size,
        uniqueness=int(uniqueness),
        speckle_window=int(speckle_window),
        speckle_range=int(speckle_range),
        lr_tolerance=None if lr_tolerance is None else float(lr_tolerance),
        subpixel=subpixel,
        fill=fill,
        refine_window=refine_window,
    )
    rows = strip_rows or rows_per_strip(width, num_disparities, block_size, memory_mb)
    disparity = np.empty((height, width), dtype=np.float32)
    valid = np.empty((height, width), dtype=bool)
    any_valid = False
    for r0, r1, c0, c1 in strips(height, rows, halo):
        strip_l = np.asarray(left[r0:r1])
        strip_r = np.asarray(right[r0:r1])
        valid_l, valid_r = valid_pixels(strip_l, nodata), valid_pixels(strip_r, nodata)
        any_valid |= bool(valid_l.any() and valid_r.any())
        d, v = match_strip(
            scale_to_8bit(strip_l, valid_l, low, high), scale_to_8bit(strip_r, valid_r, low, high),
            valid_l, valid_r, settings,
        )  # fmt: skip
        disparity[c0:c1] = d[c0 - r0 : c1 - r0]
        valid[c0:c1] = v[c0 - r0 : c1 - r0]
    if not any_valid:  # pragma: no cover - stretch_pair already refused an all-nodata pair
        raise NoValidDataError(f"{names[0]} and {names[1]} share no valid pixel")
    return Disparity(disparity, valid, min_disparity, num_disparities)
