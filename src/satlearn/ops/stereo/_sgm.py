"""Semi-global matching of one strip: SGBM, left-right check, sub-pixel step, filling.

OpenCV's :func:`cv2.StereoSGBM_create`, tuned, not rewritten (Hirschmüller
2008): 8-path full dynamic programming (``MODE_HH``), ``P1 = 8 * b**2``,
``P2 = 32 * b**2`` for blocks of side ``b`` (OpenCV's recommended smoothness
ratio). The images are padded on the left so that SGBM also answers for the
first columns. A second SGBM run on the mirrored, swapped images gives the
right-to-left disparity for the left-right check (``cv2.ximgproc`` is absent
from the headless wheels). SGBM's parabola fit locks towards whole pixels;
a Lucas-Kanade step on the unquantised float images removes the locking.
Holes are filled by :func:`cv2.inpaint` (Telea 2004) or along rows. ``cv2``
loads on the first call.

References
----------
.. [1] H. Hirschmüller, "Stereo processing by semiglobal matching and mutual
   information", IEEE TPAMI 30(2), 328-341 (2008). doi:10.1109/TPAMI.2007.1166
.. [2] A. Telea, "An image inpainting technique based on the fast marching
   method", J. Graphics Tools 9(1), 23-34 (2004).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DISP_SCALE", "SgbmSettings", "fill_rows", "match_strip", "sample_rows"]

# SGBM's fixed-point output: disparities in 1/16 px.
DISP_SCALE = 16


@dataclass(frozen=True)
class SgbmSettings:
    """The matching options of one :func:`compute_disparity` call, checked."""

    min_disparity: int
    num_disparities: int
    block_size: int
    uniqueness: int
    speckle_window: int
    speckle_range: int
    lr_tolerance: float | None
    subpixel: str
    fill: str | None
    refine_window: int


def _sgbm(left8: np.ndarray, right8: np.ndarray, s: SgbmSettings) -> np.ndarray:
    """One SGBM run, float32 disparity with NaN where SGBM gives none."""
    import cv2

    bs = s.block_size
    matcher = cv2.StereoSGBM_create(
        minDisparity=s.min_disparity,
        numDisparities=s.num_disparities,
        blockSize=bs,
        P1=8 * bs * bs,
        P2=32 * bs * bs,
        disp12MaxDiff=-1,  # the explicit left-right check below does this, both ways
        preFilterCap=63,
        uniquenessRatio=s.uniqueness,
        speckleWindowSize=s.speckle_window,
        speckleRange=s.speckle_range,
        mode=cv2.StereoSGBM_MODE_HH,
    )
    # SGBM answers only for columns [max_d, width + min(min_d, 0)); pad so the
    # whole image is answered (pixels whose match leaves the image are dropped later).
    max_d = s.min_disparity + s.num_disparities
    pad_l, pad_r = max(max_d, 0) + bs, max(-s.min_disparity, 0) + bs
    border = cv2.BORDER_REPLICATE
    lp = cv2.copyMakeBorder(left8, 0, 0, pad_l, pad_r, border)
    rp = cv2.copyMakeBorder(right8, 0, 0, pad_l, pad_r, border)
    raw = matcher.compute(lp, rp)[:, pad_l : pad_l + left8.shape[1]]
    disparity = raw.astype(np.float32)
    disparity *= np.float32(1.0 / DISP_SCALE)
    disparity[raw < s.min_disparity * DISP_SCALE] = np.nan  # SGBM's "invalid" value
    return disparity


def sample_rows(values: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values[y, cols[y, x]]`` with NaN where ``cols`` leaves the row."""
    width = values.shape[1]
    inside = (cols >= 0) & (cols < width)
    taken = np.take_along_axis(values, np.clip(cols, 0, width - 1), axis=1)
    return np.where(inside, taken, np.float32(np.nan))


def _box(image: np.ndarray, size: int) -> np.ndarray:
    """Sums over ``size`` x ``size`` windows (mirrored at the edges)."""
    import cv2

    return cv2.boxFilter(image, -1, (size, size), normalize=False, borderType=cv2.BORDER_REFLECT)


def _refine_lk(
    left: np.ndarray, right: np.ndarray, disparity: np.ndarray, window: int
) -> np.ndarray:
    """One Lucas-Kanade step along rows on float images, by hand (OpenCV has no 1-D LK).

    With ``R_w(x) = right(x - d(x))`` and ``G`` its x-gradient, the update
    minimising the window's squared residual, assuming the disparity varies
    linearly inside the window (first-order correction ``G^2 (d(x') - d(x))``)
    is ``d_new = (sum G (R_w - L) + sum G^2 d) / sum G^2``. The step is clipped to
    +-1 px, and textureless windows (tiny ``sum G^2``) keep SGBM's value.
    """
    import cv2

    height, width = left.shape
    map_x = np.arange(width, dtype=np.float32)[None, :] - disparity
    map_y = np.broadcast_to(np.arange(height, dtype=np.float32)[:, None], (height, width))
    map_y = np.ascontiguousarray(map_y)
    grad = cv2.Sobel(right, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)  # central difference
    warped = cv2.remap(right, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    g = cv2.remap(grad, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    g2 = g * g
    warped -= left
    warped *= g
    numerator = _box(warped, window)
    numerator += _box(g2 * disparity, window)
    denominator = _box(g2, window)
    textured = denominator > np.float32(window * window)  # mean |G| above ~1 grey level
    with np.errstate(divide="ignore", invalid="ignore"):
        step = numerator / denominator - disparity
    np.clip(step, -1, 1, out=step)
    return np.where(textured, disparity + step, disparity)


def fill_rows(disparity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The lower of the nearest valid values to the left and right along each row."""
    width = disparity.shape[1]
    cols = np.arange(width)
    left_idx = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(valid, cols, width)[:, ::-1], axis=1)[:, ::-1]
    from_left = sample_rows(disparity, left_idx)
    from_right = sample_rows(disparity, right_idx)
    filled = np.fmin(from_left, from_right)  # fmin: a NaN side gives the other side
    return np.where(valid, disparity, filled)


def _fill(disparity: np.ndarray, valid: np.ndarray, method: str | None) -> np.ndarray:
    """Holes filled by ``method``: ``"inpaint"`` (Telea), ``"rows"`` or None (left NaN)."""
    if method is None or valid.all() or not valid.any():
        return disparity
    if method == "rows":
        return fill_rows(disparity, valid)
    import cv2

    holes = (~valid).astype(np.uint8)
    source = np.where(valid, disparity, np.float32(0))
    return cv2.inpaint(source, holes, 3, cv2.INPAINT_TELEA)


def match_strip(
    left: np.ndarray,
    right: np.ndarray,
    valid_l: np.ndarray,
    valid_r: np.ndarray,
    s: SgbmSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Disparity (refined, filled) and validity before filling, for one strip."""
    left8 = np.rint(left).astype(np.uint8)
    right8 = np.rint(right).astype(np.uint8)
    disparity = _sgbm(left8, right8, s)
    width = left.shape[1]
    cols = np.arange(width, dtype=np.float32)[None, :]
    match = np.rint(cols - np.nan_to_num(disparity, nan=-1e6)).astype(np.int64)
    valid = np.isfinite(disparity) & valid_l
    # the match must land inside the right image, on a valid pixel
    valid &= (match >= 0) & (match < width)
    valid &= np.take_along_axis(valid_r, np.clip(match, 0, width - 1), axis=1)
    if s.lr_tolerance is not None:
        # Right-to-left disparity: SGBM on the mirrored pair with the roles swapped.
        back = _sgbm(right8[:, ::-1].copy(), left8[:, ::-1].copy(), s)[:, ::-1]
        seen = sample_rows(back, match)
        with np.errstate(invalid="ignore"):
            valid &= np.abs(seen - disparity) <= s.lr_tolerance
    disparity = np.where(valid, disparity, np.float32(np.nan))
    if s.subpixel == "lk" and valid.any():
        # refine with holes temporarily filled, so windows at hole edges stay sane
        provisional = fill_rows(disparity, valid)
        provisional = np.where(np.isfinite(provisional), provisional, np.float32(0))
        refined = _refine_lk(left, right, provisional.astype(np.float32), s.refine_window)
        disparity = np.where(valid, refined, disparity)
        # a refined match may step out of the right image at its edges
        with np.errstate(invalid="ignore"):
            inside = (cols - disparity >= -0.5) & (cols - disparity < width - 0.5)
        valid &= inside
        disparity[~valid] = np.nan
    disparity = _fill(disparity, valid, s.fill)
    disparity = np.where(valid_l, disparity, np.float32(np.nan)).astype(np.float32, copy=False)
    return disparity, valid
