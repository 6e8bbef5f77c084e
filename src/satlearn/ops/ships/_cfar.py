"""CFAR statistics and ship candidates of one window (pure kernels on arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.segmentation import felzenszwalb

from satlearn.ops.morphology import disc

__all__ = [
    "MIN_RING",
    "ShipParams",
    "cfar_background",
    "cfar_candidates",
    "cfar_contrast",
    "felzenszwalb_candidates",
    "search_area",
]

MIN_RING = 32  # least background pixels in a CFAR ring (narrow rivers have few)


@dataclass(frozen=True)
class ShipParams:
    method: str
    k: float
    min_contrast: float
    guard_px: int
    window_px: int
    shore_px: int
    closing_px: int
    min_ring: int
    min_pixels: int
    max_pixels: int
    max_length_px: float
    felzenszwalb_scale: float
    chip_px: int
    confirm_threshold: float
    max_cloud_ratio: float | None


def cfar_background(
    image: np.ndarray, background: np.ndarray, *, guard_px: int, window_px: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation and count of background pixels in each pixel's CFAR ring.

    The ring is the ``window_px`` square minus the ``guard_px`` square, both
    centred on the pixel (odd sizes). Sums of ``x``, ``x^2`` and the count
    over both squares come from ``cv2.boxFilter`` (running sums, constant
    zero border: outside the array there is no background).

    Parameters
    ----------
    image : ndarray, shape (y, x)
        The band (NaN allowed where ``background`` is False).
    background : ndarray of bool, shape (y, x)
        Pixels that may enter the statistics.
    guard_px, window_px : int
        Side lengths (odd, ``guard_px < window_px``).

    Returns
    -------
    mean, std, count : ndarray of float64
        NaN mean/std where the ring holds no background.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 2.0)
    >>> img[4, 4] = 10.0  # a target in the guard window does not bias its background
    >>> mean, std, count = cfar_background(img, np.ones((9, 9), bool), guard_px=3, window_px=7)
    >>> float(mean[4, 4]), float(std[4, 4]), float(count[4, 4])
    (2.0, 0.0, 40.0)
    """
    w = background.astype(np.float64)
    # Subtract the background median first: E[x^2] - E[x]^2 loses digits when
    # the spread is small against the level.
    level = float(np.median(image[background])) if background.any() else 0.0
    x = np.where(background, image - level, 0.0)
    sums = []
    for values in (w, x, x * x):
        big = cv2.boxFilter(
            values, cv2.CV_64F, (window_px, window_px), normalize=False,
            borderType=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        small = cv2.boxFilter(
            values, cv2.CV_64F, (guard_px, guard_px), normalize=False,
            borderType=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        sums.append(big - small)
    count, sx, sxx = sums
    count = np.rint(count)  # running sums leave ~1e-12 residues
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sx / count
        var = sxx / count - mean * mean
    std = np.sqrt(np.clip(var, 0.0, None))
    empty = count <= 0
    mean[empty] = np.nan
    std[empty] = np.nan
    return mean + level, std, count


def cfar_contrast(
    image: np.ndarray, background: np.ndarray, params: ShipParams
) -> tuple[np.ndarray, np.ndarray]:
    """Contrast ``x - mean`` and its threshold ``max(k std, min_contrast)`` (NaN: no ring)."""
    mean, std, count = cfar_background(
        image, background, guard_px=params.guard_px, window_px=params.window_px
    )
    enough = count >= params.min_ring
    contrast = image - mean
    limit = np.maximum(params.k * std, params.min_contrast)
    limit[~enough] = np.nan
    return contrast, limit


def search_area(water: np.ndarray, params: ShipParams) -> np.ndarray:
    """Where ships may be: the water closed over ship-wide gaps, minus a shore rim.

    A ship is bright, so it is not water itself; where it lies near a shore or
    a cloud, its hole in the water mask opens onto them and is not filled. A
    closing with a disc wider than the widest ship puts every ship inside the
    water whatever its neighbours; land narrower than that (piers, spits)
    becomes searchable too.
    """
    search = water.view(np.uint8)
    if params.closing_px > 0:
        search = cv2.morphologyEx(search, cv2.MORPH_CLOSE, disc(params.closing_px))
    if params.shore_px > 0:
        # constant border 1: the window's edge is not a shore
        search = cv2.erode(
            search, disc(params.shore_px), borderType=cv2.BORDER_CONSTANT, borderValue=1
        )
    return search.view(bool)


def cfar_candidates(
    image: np.ndarray, search: np.ndarray, contrast: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return search & (contrast > limit)


def felzenszwalb_candidates(
    image: np.ndarray,
    search: np.ndarray,
    contrast: np.ndarray,
    limit: np.ndarray,
    params: ShipParams,
) -> np.ndarray:
    """Segments inside the search area whose mean contrast exceeds the CFAR limit."""
    if not search.any():
        return np.zeros_like(search)
    rows, cols = np.nonzero(search)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    sub = search[r0:r1, c0:c1]
    # Outside the search area the band is set to the area's median, so land does
    # not pull segments across the shore.
    values = np.where(sub, image[r0:r1, c0:c1], np.nan)
    fill = float(np.nanmedian(values))
    values = np.where(sub, values, fill)
    segments = felzenszwalb(
        values.astype(np.float64), scale=params.felzenszwalb_scale, sigma=0.5, min_size=2
    )
    n = int(segments.max()) + 1
    flat = segments.ravel()
    inside = sub.ravel()
    with np.errstate(invalid="ignore"):
        c = np.nan_to_num(contrast[r0:r1, c0:c1].ravel(), nan=0.0)
        lim = np.nan_to_num(limit[r0:r1, c0:c1].ravel(), nan=np.inf)
    pixels = np.bincount(flat, weights=inside, minlength=n)
    total = np.bincount(flat, minlength=n)
    mean_contrast = np.bincount(flat, weights=c * inside, minlength=n)
    mean_limit = np.bincount(flat, weights=np.where(np.isfinite(lim), lim, 0.0), minlength=n)
    unbounded = np.bincount(flat, weights=~np.isfinite(lim), minlength=n) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_contrast /= pixels
        mean_limit /= total
    # a ship segment lies wholly in the search area and is small
    keep = (pixels == total) & (pixels <= params.max_pixels) & ~unbounded
    keep &= mean_contrast > mean_limit
    out = np.zeros_like(search)
    out[r0:r1, c0:c1] = keep[segments] & sub
    return out
