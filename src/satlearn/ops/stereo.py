"""Stereo DEM: disparity of a rectified pair by semi-global matching, then heights.

The pipeline, for a pair already rectified so that epipolar lines are image
rows (as :func:`satlearn.synth.make_scene` renders it):

1. **Scaling** (:func:`stretch_pair`): float reflectance or uint16 DN become
   8-bit with one robust percentile stretch shared by both images (SGBM wants
   8-bit, and a shared stretch keeps equal radiances equal).
2. **Disparity range** from the expected heights and the base-to-height ratio
   (:func:`disparity_range`), or, when the heights are unknown, from SIFT
   matches between the two images (:func:`estimate_disparity_range`, the way
   s2p bounds its search).
3. **Matching** with OpenCV's :func:`cv2.StereoSGBM_create`, tuned, not
   rewritten: 8-path full dynamic programming (``MODE_HH``), 5 x 5 blocks,
   ``P1 = 8 * 5**2``, ``P2 = 32 * 5**2`` (OpenCV's recommended smoothness
   ratio), uniqueness 10 %, speckle filter (100 px, 2 px). The images are
   padded on the left so that SGBM also answers for the first columns.
4. **Left-right consistency**: a second SGBM run on the mirrored, swapped
   images gives the right-to-left disparity (``cv2.ximgproc`` is absent from
   the headless wheels); a left pixel is kept when the right image's disparity
   at its match agrees within ``lr_tolerance`` pixels.
5. **Sub-pixel refinement**: SGBM already fits a parabola to its aggregated
   cost (1/16 px output), which locks towards whole pixels. A Lucas-Kanade
   step on the unquantised float images (``subpixel="lk"``) moves each
   disparity to where the window's photometric residual is least, with a
   first-order correction for the disparity slope inside the window.
   ``benchmarks/bench_stereo.py`` measures both.
6. **Hole filling** (``fill="inpaint"``: :func:`cv2.inpaint`, Telea; or
   ``"rows"``: the lower of the nearest valid neighbours along the row, since
   occlusions hide the lower ground behind a slope; or ``None``).
7. **Heights**: ``h = reference_height + disparity * pixel_size / (B/H)``,
   the convention of :mod:`satlearn.synth.terrain`:
   ``right[y, x - d] == left[y, x]``, disparity grows with height, and zero
   disparity is the reference height.

Large scenes are matched in row strips with a halo of overlapping rows: SGBM's
``MODE_HH`` holds two int16 cost volumes, about ``4 * width * rows *
num_disparities`` bytes, so the strip height is chosen to keep one strip
under ``memory_mb``; only the strips' cores are kept (:func:`stereo_dem`).

Examples
--------
>>> from satlearn.synth import make_scene
>>> from satlearn.ops.stereo import stereo_dem, dem_accuracy
>>> scene = make_scene(128, seed=3, n_dates=1, clouds=False, ships=False)
>>> dem = stereo_dem(scene.stereo_left, scene.stereo_right,
...                  base_to_height=scene.base_to_height,
...                  reference_height=float(scene.dem.min()))
>>> metres_per_px = scene.pixel_size_m / scene.base_to_height  # 16.7 m
>>> bool(dem_accuracy(dem, scene.dem).nmad < 0.3 * metres_per_px)
True

References
----------
.. [1] H. Hirschmüller, "Stereo processing by semiglobal matching and mutual
   information", IEEE TPAMI 30(2), 328-341 (2008). doi:10.1109/TPAMI.2007.1166
.. [2] C. de Franchis, E. Meinhardt-Llopis, J. Michel, J.-M. Morel and G.
   Facciolo, "An automatic and modular stereo pipeline for pushbroom
   images", ISPRS Annals II-3, 49-56 (2014). doi:10.5194/isprsannals-II-3-49-2014
.. [3] J. Höhle and M. Höhle, "Accuracy assessment of digital elevation
   models by means of robust statistical methods", ISPRS J. Photogramm. 64(4),
   398-406 (2009). doi:10.1016/j.isprsjprs.2009.02.003
.. [4] A. Telea, "An image inpainting technique based on the fast marching
   method", J. Graphics Tools 9(1), 23-34 (2004).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.errors import CRSMismatchError, InvalidInputError, NoValidDataError

__all__ = [
    "DemAccuracy",
    "Disparity",
    "compute_disparity",
    "dem_accuracy",
    "disparity_range",
    "disparity_to_height",
    "estimate_disparity_range",
    "stereo_dem",
    "stretch_pair",
]

FillMethod = Literal["inpaint", "rows"] | None
SubpixelMethod = Literal["lk", "sgbm"]

#: Percentiles of the shared 8-bit stretch.
STRETCH_PERCENTILES = (1.0, 99.0)
#: Default memory bound (MiB) of one strip's SGBM cost volumes.
DEFAULT_MEMORY_MB = 1024
# SGBM's fixed-point output: disparities in 1/16 px.
_DISP_SCALE = 16
# Pixels sampled at most for the stretch percentiles (a strided subsample).
_STRETCH_SAMPLE = 1_000_000
# Largest side (px) of the images SIFT sees when the range is estimated.
_SIFT_MAX_SIDE = 512
_SIFT_MIN_MATCHES = 12


# =========================================================================== kernels


def _check_pair(left: Any, right: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for array, name in zip((left, right), names, strict=True):
        if np.ndim(array) != 2:
            raise InvalidInputError(f"{name}: expected a 2-D image, got shape {np.shape(array)}")
        if np.asarray(array[:1, :1]).dtype.kind not in "uif":
            raise InvalidInputError(f"{name}: expected a numeric image, got dtype {array.dtype}")
        arrays.append(array)
    if tuple(left.shape) != tuple(right.shape):
        raise InvalidInputError(
            f"{names[0]} has shape {tuple(left.shape)} but {names[1]} has shape "
            f"{tuple(right.shape)}; a rectified pair must share one grid"
        )
    if min(left.shape) < 16:
        raise InvalidInputError(f"{names[0]}: image {tuple(left.shape)} is too small (16 x 16)")
    return arrays[0], arrays[1]


def _valid(image: np.ndarray, nodata: float | None) -> np.ndarray:
    valid = np.isfinite(image) if image.dtype.kind == "f" else np.ones(image.shape, bool)
    if nodata is not None and not np.isnan(nodata):
        valid &= image != nodata
    return valid


def stretch_pair(
    left: Any,
    right: Any,
    *,
    nodata: float | None = None,
    percentiles: tuple[float, float] = STRETCH_PERCENTILES,
) -> tuple[float, float]:
    """The shared robust stretch ``(low, high)`` of a stereo pair.

    The percentiles are taken over the valid pixels of both images together
    (a strided subsample of at most a million pixels for large scenes), so
    one radiance maps to one 8-bit level in both images.

    Parameters
    ----------
    left, right : array-like (y, x)
        numpy or dask arrays, float reflectance or integer DN.
    nodata : float, optional
        Value marking invalid pixels (NaN always does).
    percentiles : (float, float)
        Lower and upper percentiles mapped to 0 and 255.

    Returns
    -------
    (float, float)

    Raises
    ------
    NoValidDataError
        Neither image holds a valid pixel.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, 1, 10000).reshape(100, 100)
    >>> [round(v, 2) for v in stretch_pair(a, a)]
    [0.01, 0.99]
    """
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise InvalidInputError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}"
        )
    step = max(1, math.ceil(math.sqrt(left.shape[0] * left.shape[1] / _STRETCH_SAMPLE)))
    samples = []
    for image in (left, right):
        sample = np.asarray(image[::step, ::step], dtype=np.float64)
        samples.append(sample[_valid(sample, nodata)])
    values = np.concatenate(samples)
    if values.size == 0:
        raise NoValidDataError("left and right images hold no valid pixel (all nodata or NaN)")
    low, high = np.percentile(values, [lo_p, hi_p])
    if not high > low:
        high = low + 1.0  # a flat pair: any non-zero span will do, matching fails anyway
    return float(low), float(high)


def _scale(image: np.ndarray, valid: np.ndarray, low: float, high: float) -> np.ndarray:
    """float32 in [0, 255] (clipped), invalid pixels set to mid-grey (no false edges)."""
    out = np.asarray(image, dtype=np.float32) - np.float32(low)
    out *= np.float32(255.0 / (high - low))
    np.clip(out, 0, 255, out=out)
    out[~valid] = 127.5
    return out


def disparity_range(
    height_range: tuple[float, float],
    *,
    pixel_size: float,
    base_to_height: float,
    reference_height: float = 0.0,
    margin_px: float = 2.0,
) -> tuple[int, int]:
    """SGBM's ``(min_disparity, num_disparities)`` for the expected heights.

    ``d = (h - reference_height) * (B/H) / pixel_size``; the range is widened
    by ``margin_px`` on each side and ``num_disparities`` rounded up to a
    multiple of 16 as SGBM requires.

    Examples
    --------
    >>> disparity_range((100.0, 600.0), pixel_size=10.0, base_to_height=0.6,
    ...                 reference_height=100.0)
    (-2, 48)
    """
    _check_geometry(pixel_size, base_to_height)
    low, high = (float(v) for v in height_range)
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise InvalidInputError(
            f"height_range must be (low, high) with low <= high, got {height_range}"
        )
    scale = base_to_height / pixel_size
    d_low = math.floor((low - reference_height) * scale - margin_px)
    d_high = math.ceil((high - reference_height) * scale + margin_px)
    return d_low, max(16, 16 * math.ceil((d_high - d_low + 1) / 16))


def _check_geometry(pixel_size: float, base_to_height: float) -> None:
    if not (np.isfinite(pixel_size) and pixel_size > 0):
        raise InvalidInputError(f"pixel_size must be a positive number of metres, got {pixel_size}")
    if not (np.isfinite(base_to_height) and base_to_height > 0):
        raise InvalidInputError(f"base_to_height must be positive, got {base_to_height}")


def estimate_disparity_range(
    left8: np.ndarray, right8: np.ndarray, *, margin_px: float = 3.0
) -> tuple[int, int]:
    """``(min_disparity, num_disparities)`` from SIFT matches of an 8-bit pair.

    Matches (Lowe's ratio test 0.8) that stay on one row (|dy| <= 1 px, the
    pair is rectified) give sparse disparities ``x_left - x_right``; their 1st
    and 99th percentiles, widened by ``margin_px`` plus 10 % of the span, bound
    the search. Images larger than 512 px are downsampled first.

    Raises
    ------
    InvalidInputError
        Fewer than 12 matches: the images are too poor in texture, or not a
        pair; give the expected heights instead.
    """
    factor = max(1.0, max(left8.shape) / _SIFT_MAX_SIDE)
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


@dataclass(frozen=True)
class _Settings:
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


def _sgbm(left8: np.ndarray, right8: np.ndarray, s: _Settings) -> np.ndarray:
    """One SGBM run, float32 disparity with NaN where SGBM gives none."""
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
    disparity *= np.float32(1.0 / _DISP_SCALE)
    disparity[raw < s.min_disparity * _DISP_SCALE] = np.nan  # SGBM's "invalid" value
    return disparity


def _sample_rows(values: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``values[y, cols[y, x]]`` with NaN where ``cols`` leaves the row."""
    width = values.shape[1]
    inside = (cols >= 0) & (cols < width)
    taken = np.take_along_axis(values, np.clip(cols, 0, width - 1), axis=1)
    return np.where(inside, taken, np.float32(np.nan))


def _box(image: np.ndarray, size: int) -> np.ndarray:
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


def _fill_rows(disparity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The lower of the nearest valid values to the left and right along each row."""
    width = disparity.shape[1]
    cols = np.arange(width)
    left_idx = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(valid, cols, width)[:, ::-1], axis=1)[:, ::-1]
    from_left = _sample_rows(disparity, left_idx)
    from_right = _sample_rows(disparity, right_idx)
    filled = np.fmin(from_left, from_right)  # fmin: a NaN side gives the other side
    return np.where(valid, disparity, filled)


def _fill(disparity: np.ndarray, valid: np.ndarray, method: str | None) -> np.ndarray:
    if method is None or valid.all() or not valid.any():
        return disparity
    if method == "rows":
        return _fill_rows(disparity, valid)
    holes = (~valid).astype(np.uint8)
    source = np.where(valid, disparity, np.float32(0))
    return cv2.inpaint(source, holes, 3, cv2.INPAINT_TELEA)


def _match_strip(
    left: np.ndarray,
    right: np.ndarray,
    valid_l: np.ndarray,
    valid_r: np.ndarray,
    s: _Settings,
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
        seen = _sample_rows(back, match)
        with np.errstate(invalid="ignore"):
            valid &= np.abs(seen - disparity) <= s.lr_tolerance
    disparity = np.where(valid, disparity, np.float32(np.nan))
    if s.subpixel == "lk" and valid.any():
        # refine with holes temporarily filled, so windows at hole edges stay sane
        provisional = _fill_rows(disparity, valid)
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


def _strips(height: int, rows: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """``(read_start, read_stop, core_start, core_stop)`` of row strips covering ``height``."""
    for core_start in range(0, height, rows):
        core_stop = min(core_start + rows, height)
        yield max(0, core_start - halo), min(height, core_stop + halo), core_start, core_stop


def _strip_rows(width: int, num_disparities: int, block_size: int, memory_mb: float) -> int:
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
    left, right = _check_pair(left, right, names)
    height, width = left.shape
    if not (isinstance(block_size, int) and block_size % 2 == 1 and 1 <= block_size <= 11):
        raise InvalidInputError(f"block_size must be an odd integer in 1..11, got {block_size!r}")
    if subpixel not in ("lk", "sgbm"):
        raise InvalidInputError(f"subpixel must be 'lk' or 'sgbm', got {subpixel!r}")
    if fill not in ("inpaint", "rows", None):
        raise InvalidInputError(f"fill must be 'inpaint', 'rows' or None, got {fill!r}")
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
        step = max(1, math.ceil(max(height, width) / _SIFT_MAX_SIDE))
        sl, sr = (np.asarray(a[::step, ::step]) for a in (left, right))
        small = [
            np.rint(_scale(a, _valid(a, nodata), low, high)).astype(np.uint8) for a in (sl, sr)
        ]
        min_disparity, num_disparities = estimate_disparity_range(*small)
        min_disparity *= step
        num_disparities = 16 * math.ceil(num_disparities * step / 16)
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
    settings = _Settings(
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
    rows = strip_rows or _strip_rows(width, num_disparities, block_size, memory_mb)
    disparity = np.empty((height, width), dtype=np.float32)
    valid = np.empty((height, width), dtype=bool)
    any_valid = False
    for r0, r1, c0, c1 in _strips(height, rows, halo):
        strip_l = np.asarray(left[r0:r1])
        strip_r = np.asarray(right[r0:r1])
        valid_l, valid_r = _valid(strip_l, nodata), _valid(strip_r, nodata)
        any_valid |= bool(valid_l.any() and valid_r.any())
        d, v = _match_strip(
            _scale(strip_l, valid_l, low, high), _scale(strip_r, valid_r, low, high),
            valid_l, valid_r, settings,
        )  # fmt: skip
        disparity[c0:c1] = d[c0 - r0 : c1 - r0]
        valid[c0:c1] = v[c0 - r0 : c1 - r0]
    if not any_valid:  # pragma: no cover - stretch_pair already refused an all-nodata pair
        raise NoValidDataError(f"{names[0]} and {names[1]} share no valid pixel")
    return Disparity(disparity, valid, min_disparity, num_disparities)


def disparity_to_height(
    disparity: Any,
    *,
    pixel_size: float,
    base_to_height: float,
    reference_height: float = 0.0,
) -> np.ndarray:
    """Heights (m) from disparities (px): ``reference_height + d * pixel_size / (B/H)``.

    Zero disparity is the reference height (``dem.min()`` for a synthetic
    pair; a stereo pair alone measures relative heights).

    Examples
    --------
    >>> disparity_to_height([0.0, 6.0], pixel_size=10.0, base_to_height=0.6)
    array([  0., 100.], dtype=float32)
    """
    _check_geometry(pixel_size, base_to_height)
    d = np.asarray(disparity, dtype=np.float32)
    return (d * np.float32(pixel_size / base_to_height) + np.float32(reference_height)).astype(
        np.float32, copy=False
    )


# =========================================================================== accuracy


@dataclass(frozen=True)
class DemAccuracy:
    """Errors of a DEM against a reference, metres (estimate - reference).

    ``nmad = 1.4826 * median(|e - median(e)|)`` is the robust spread
    photogrammetry reports (Höhle & Höhle 2009); ``rmse`` is pulled by
    blunders; ``le90`` is the 90th percentile of ``|e|``.
    """

    rmse: float
    nmad: float
    bias: float
    median: float
    le90: float
    max_abs: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def dem_accuracy(estimate: Any, reference: Any, *, valid: Any = None) -> DemAccuracy:
    """RMSE, NMAD, bias and LE90 of ``estimate`` against ``reference``.

    Pixels where either is NaN, or ``valid`` is False, are left out.

    Raises
    ------
    InvalidInputError
        Shapes differ.
    NoValidDataError
        No pixel to compare.

    Examples
    --------
    >>> import numpy as np
    >>> dem_accuracy(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])).max_abs
    1.0
    """
    est = np.asarray(estimate, dtype=np.float64).squeeze()
    ref = np.asarray(reference, dtype=np.float64).squeeze()
    if est.shape != ref.shape:
        raise InvalidInputError(f"estimate has shape {est.shape} but reference has {ref.shape}")
    keep = np.isfinite(est) & np.isfinite(ref)
    if valid is not None:
        keep &= np.asarray(valid, dtype=bool).squeeze()
    if not keep.any():
        raise NoValidDataError("no pixel where both the estimate and the reference are valid")
    errors = est[keep] - ref[keep]
    median = float(np.median(errors))
    return DemAccuracy(
        rmse=float(np.sqrt(np.mean(errors**2))),
        nmad=float(1.4826 * np.median(np.abs(errors - median))),
        bias=float(errors.mean()),
        median=median,
        le90=float(np.percentile(np.abs(errors), 90)),
        max_abs=float(np.abs(errors).max()),
        n=int(errors.size),
    )


# =========================================================================== DataArray layer


def _single_band(da: xr.DataArray, band: str | int | None, name: str) -> xr.DataArray:
    if da.ndim == 2 and set(da.dims) == {"y", "x"}:
        return da.transpose("y", "x")
    if da.ndim != 3 or set(da.dims) != {"band", "y", "x"}:
        raise InvalidInputError(f"{name}: expected dims (band, y, x) or (y, x), got {da.dims}")
    bands = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    if da.sizes["band"] == 1 and band is None:
        return da.isel(band=0).transpose("y", "x")
    if band is None:
        raise InvalidInputError(
            f"{name} has {da.sizes['band']} bands ({', '.join(bands)}); stereo matches one: "
            "choose it with band= (CLI --band)"
        )
    if isinstance(band, str) and not band.isdigit():
        if band not in bands:
            raise InvalidInputError(f"{name}: no band named {band!r}; bands are {', '.join(bands)}")
        return da.isel(band=bands.index(band)).transpose("y", "x")
    index = int(band)
    if not 1 <= index <= da.sizes["band"]:
        raise InvalidInputError(
            f"{name}: band index {index} out of range 1..{da.sizes['band']} (1-based)"
        )
    return da.isel(band=index - 1).transpose("y", "x")


def _label(da: xr.DataArray, default: str) -> str:
    source = da.attrs.get("source")
    return f"{default} ({source})" if source else default


def _pixel_size_m(da: xr.DataArray, name: str) -> float:
    transform = da.rio.transform(recalc=False)
    # Real products carry sides such as 300.0379 x 300.0418 m: square to 1e-3.
    if not math.isclose(abs(transform.a), abs(transform.e), rel_tol=1e-3):
        raise InvalidInputError(
            f"{name}: pixels are not square ({abs(transform.a)} x {abs(transform.e)}); "
            "give pixel_size= (satlearn stereo --pixel-size) in metres"
        )
    size = 0.5 * (abs(transform.a) + abs(transform.e))
    crs = da.rio.crs
    if crs is not None and crs.is_geographic:
        raise InvalidInputError(
            f"{name}: CRS is geographic (degrees); give pixel_size= "
            "(satlearn stereo --pixel-size) in metres"
        )
    if crs is not None and crs.linear_units_factor is not None:
        size *= float(crs.linear_units_factor[1])
    return size


def stereo_dem(
    left: xr.DataArray,
    right: xr.DataArray,
    *,
    base_to_height: float,
    height_range: tuple[float, float] | None = None,
    reference_height: float = 0.0,
    pixel_size: float | None = None,
    band: str | int | None = None,
    **options: Any,
) -> xr.DataArray:
    """A DEM (float32 metres, nodata NaN) from a rectified stereo pair.

    Parameters
    ----------
    left, right : xarray.DataArray
        Single-band ``(band, y, x)`` or ``(y, x)`` rasters on the same grid
        (shape, transform, CRS), numpy- or dask-backed; nodata from ``da.rio``.
    base_to_height : float
        The pair's base-to-height ratio B/H.
    height_range : (float, float), optional
        Expected lowest and highest heights (m, in the output's datum), which
        bound the disparity search; default: estimated from SIFT matches.
    reference_height : float
        The height of zero disparity (the output is relative heights when 0).
    pixel_size : float, optional
        Ground sampling distance in metres; default: from the transform and
        the CRS's linear unit.
    band : str or int, optional
        The band to match, by name or 1-based index, when the inputs have
        several (they are refused otherwise).
    **options
        Passed to :func:`compute_disparity` (``fill``, ``subpixel``,
        ``lr_tolerance``, ``block_size``, ``memory_mb``, ``strip_rows``,
        ``halo``, ...).

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` with one band ``"height"`` on the left image's grid,
        CRS and transform; nodata NaN (input nodata, or holes when
        ``fill=None``). Attributes: ``units``, ``base_to_height``,
        ``reference_height``, ``valid_fraction`` (matched before filling),
        ``min_disparity``, ``num_disparities``.

    Raises
    ------
    InvalidInputError
        Multi-band without ``band=``, different shapes or transforms, a
        disparity range that cannot fit.
    CRSMismatchError
        The CRSs differ.
    NoValidDataError
        All nodata.

    Examples
    --------
    >>> dem = stereo_dem(left, right, base_to_height=0.6)  # doctest: +SKIP
    >>> save_cog(dem, "dem.tif", nodata=float("nan"))  # doctest: +SKIP
    """
    for da, name in ((left, "left"), (right, "right")):
        if not isinstance(da, xr.DataArray):
            kind = type(da).__name__
            raise InvalidInputError(f"{name}: expected an xarray.DataArray, got {kind}")
    names = (_label(left, "left"), _label(right, "right"))
    left2 = _single_band(left, band, names[0])
    right2 = _single_band(right, band, names[1])
    if left2.shape != right2.shape:
        raise InvalidInputError(
            f"{names[0]} has shape {left2.shape} but {names[1]} has shape {right2.shape}; "
            "a rectified pair must share one grid"
        )
    crs_l, crs_r = left2.rio.crs, right2.rio.crs
    if (crs_l is None) != (crs_r is None) or (crs_l is not None and crs_l != crs_r):
        raise CRSMismatchError(f"{names[0]} is in {crs_l} but {names[1]} is in {crs_r}")
    t_l, t_r = left2.rio.transform(recalc=False), right2.rio.transform(recalc=False)
    tol = 1e-6 * abs(t_l.a)
    same_coords = all(
        np.allclose(left2.coords[c].values, right2.coords[c].values, rtol=0, atol=tol)
        for c in ("y", "x")
        if c in left2.coords and c in right2.coords
    )
    if not same_coords or not np.allclose(tuple(t_l)[:6], tuple(t_r)[:6], rtol=0, atol=tol):
        raise InvalidInputError(
            f"{names[0]} and {names[1]} are on different grids (transforms "
            f"{tuple(t_l)[:6]} and {tuple(t_r)[:6]}); resample one onto the other first"
        )
    size = float(pixel_size) if pixel_size is not None else _pixel_size_m(left2, names[0])
    _check_geometry(size, base_to_height)
    nodata_l, nodata_r = left2.rio.nodata, right2.rio.nodata
    if nodata_l is not None and nodata_r is not None and nodata_l != nodata_r:
        raise InvalidInputError(
            f"{names[0]} has nodata {nodata_l} but {names[1]} has nodata {nodata_r}"
        )
    nodata = nodata_l if nodata_l is not None else nodata_r
    if height_range is not None:
        d_min, n_d = disparity_range(
            height_range, pixel_size=size, base_to_height=base_to_height,
            reference_height=reference_height,
        )  # fmt: skip
        options = {"min_disparity": d_min, "num_disparities": n_d, **options}
    result = compute_disparity(left2.data, right2.data, nodata=nodata, names=names, **options)
    heights = disparity_to_height(
        result.disparity, pixel_size=size, base_to_height=base_to_height,
        reference_height=reference_height,
    )  # fmt: skip
    dem = xr.DataArray(
        heights[None],
        dims=("band", "y", "x"),
        coords={"band": ["height"], "y": left2.coords["y"], "x": left2.coords["x"]},
        attrs={
            "units": "m",
            "base_to_height": float(base_to_height),
            "reference_height": float(reference_height),
            "pixel_size_m": size,
            "valid_fraction": result.valid_fraction,
            "min_disparity": result.min_disparity,
            "num_disparities": result.num_disparities,
        },
        name="height",
    )
    if crs_l is not None:
        dem = dem.rio.write_crs(crs_l)
    dem = dem.rio.write_transform(t_l)
    return dem.rio.write_nodata(np.nan)
