"""The disparity search range from SIFT matches, the way s2p bounds its search.

Used when the expected heights are not given: sparse matches that stay on
one row of the rectified pair give disparities whose percentiles bound
SGBM's search (de Franchis et al. 2014). ``cv2`` loads on the first call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError
from satlearn.ops.stereo._stretch import scale_to_8bit, valid_pixels

__all__ = ["SIFT_MAX_SIDE", "estimate_disparity_range", "range_from_sift"]

#: Largest side (px) of the images SIFT sees when the range is estimated.
SIFT_MAX_SIDE = 512
_SIFT_MIN_MATCHES = 12


def estimate_disparity_range(
    left8: np.ndarray, right8: np.ndarray, *, margin_px: float = 3.0
) -> tuple[int, int]:
    """``(min_disparity, num_disparities)`` from SIFT matches of an 8-bit pair.

    Matches (Lowe's ratio test 0.8) that stay on one row (|dy| <= 1 px, the
    pair is rectified) give sparse disparities ``x_left - x_right``; their 1st
    and 99th percentiles, widened by ``margin_px`` plus 10 % of the span, bound
    the search. Images larger than 512 px are downsampled first.
    *Global*: one range for the whole pair.

    Raises
    ------
    InvalidInputError
        Fewer than 12 matches: the images are too poor in texture, or not a
        pair; give the expected heights instead.
    """
    import cv2

    factor = max(1.0, max(left8.shape) / SIFT_MAX_SIDE)
    if factor > 1:
        size = (round(left8.shape[1] / factor), round(left8.shape[0] / factor))
        left8 = cv2.resize(left8, size, interpolation=cv2.INTER_AREA)
        right8 = cv2.resize(right8, size, interpolation=cv2.INTER_AREA)
    sift = cv2.SIFT_create(nfeatures=1000)
    kp_l, desc_l = sift.detectAndCompute(left8, None)
    kp_r, desc_r = sift.detectAndCompute(right8, None)
    disparities = np.empty(0)
    if desc_l is not None and desc_r is not None and len(kp_l) >= 2 and len(kp_r) >= 2:
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc_l, desc_r, k=2)
        good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
        if good:
            pl = np.array([kp_l[m.queryIdx].pt for m in good])
            pr = np.array([kp_r[m.trainIdx].pt for m in good])
            same_row = np.abs(pl[:, 1] - pr[:, 1]) <= 1.0
            disparities = (pl[same_row, 0] - pr[same_row, 0]) * factor
    if disparities.size < _SIFT_MIN_MATCHES:
        raise InvalidInputError(
            f"cannot estimate the disparity range: only {disparities.size} SIFT matches on "
            "the same rows (too little texture, or not a rectified pair); give the expected "
            "heights (height_range=, CLI --min-height/--max-height)"
        )
    low, high = np.percentile(disparities, [1, 99])
    margin = margin_px + 0.1 * (high - low)
    d_low = math.floor(low - margin)
    d_high = math.ceil(high + margin)
    return d_low, max(16, 16 * math.ceil((d_high - d_low + 1) / 16))


def range_from_sift(
    left: Any, right: Any, *, nodata: float | None, low: float, high: float
) -> tuple[int, int]:
    """``(min_disparity, num_disparities)`` of a full-size pair, from a strided subsample.

    The pair (numpy or dask) is read every ``step`` pixels so that SIFT sees at
    most :data:`SIFT_MAX_SIDE` pixels a side, stretched with the shared
    ``(low, high)``; the range is scaled back to full-size pixels.
    """
    height, width = left.shape
    step = max(1, math.ceil(max(height, width) / SIFT_MAX_SIDE))
    sl, sr = (np.asarray(a[::step, ::step]) for a in (left, right))
    small = [
        np.rint(scale_to_8bit(a, valid_pixels(a, nodata), low, high)).astype(np.uint8)
        for a in (sl, sr)
    ]
    min_disparity, num_disparities = estimate_disparity_range(*small)
    min_disparity *= step
    num_disparities = 16 * math.ceil(num_disparities * step / 16)
    return min_disparity, num_disparities
