"""Local shifts on a grid of windows, and a smooth model of them.

:func:`shift_field` runs the phase correlation of :mod:`._phase` on a regular
grid of windows with batched real FFTs, for misalignment that is not one
translation (terrain, a rotation, a rubber sheet); :func:`fit_shift_field`
fits a polynomial in (y, x) to it by robust weighted least squares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.deprecation import renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.registration._arrays import as_image, as_mask, with_finite
from satlearn.ops.registration._peak import (
    EPS,
    check_cutoff,
    refine,
    second_peak,
    spectral_weights,
    wrap_peak,
)
from satlearn.ops.registration._windows import WindowName, check_window, mask_taper, window_2d

__all__ = ["ShiftField", "ShiftModel", "fit_shift_field", "shift_field"]


@dataclass(frozen=True)
class ShiftField:
    """Local shifts on a grid of windows, from :func:`shift_field`.

    Attributes
    ----------
    dy, dx : (rows, cols) float arrays
        Shift of each window (same convention as :func:`phase_correlation`);
        NaN where a window had too few valid pixels.
    confidence, peak : (rows, cols) float arrays
        As in :class:`PhaseCorrelation`; 0 where a window was skipped.
    y, x : 1-D float arrays
        Pixel coordinates (row, column) of the window centres.
    window_size : int
        Side of the square windows (px).
    """

    dy: np.ndarray
    dx: np.ndarray
    confidence: np.ndarray
    peak: np.ndarray
    y: np.ndarray
    x: np.ndarray
    window_size: int

    @property
    def shifts(self) -> np.ndarray:
        """A (rows, cols, 2) array of ``(dy, dx)``."""
        return np.stack([self.dy, self.dx], axis=-1)


@renamed_keywords(window_size="window_size_px", step="step_px")
def shift_field(
    reference: np.ndarray,
    moving: np.ndarray,
    *,
    window_size_px: int = 128,
    step_px: int | None = None,
    upsample: int = 20,
    window: WindowName = "hann",
    reference_mask: np.ndarray | None = None,
    moving_mask: np.ndarray | None = None,
    min_valid: float = 0.5,
    spectral_cutoff: float | None = 0.5,
    batch: int = 256,
) -> ShiftField:
    """Local shifts: phase correlation on a regular grid of windows.

    For misalignment that is not a single translation (terrain, a rotation, a
    rubber sheet). Windows are cut ``step_px`` apart, mean-removed and apodised,
    and their phase correlations computed with batched real FFTs; the
    sub-pixel refinement is that of :func:`phase_correlation`. In masked
    windows, invalid pixels are set to the valid mean and faded in by a cosine
    taper (no Padfield search per window); windows with less than
    ``min_valid`` valid pixels in either image are skipped (NaN).

    *Windowed, no halo*: each window is registered on its own; the images are
    numpy arrays in memory, cut ``batch`` windows at a time.

    Parameters
    ----------
    reference, moving : (H, W) array
        Images of the same shape.
    window_size_px : int
        Side of the square windows (px), at least 8. Shifts up to about a
        quarter of it are found reliably (``window_size`` until 0.2, still
        accepted with a warning).
    step_px : int, optional
        Distance (px) between window origins; default ``window_size_px // 2``
        (``step`` until 0.2).
    upsample : int
        Sub-pixel resolution, as in :func:`phase_correlation`.
    window : {"hann", "tukey", None}
        Apodisation of each window.
    reference_mask, moving_mask : (H, W) bool array, optional
        True where valid; non-finite pixels are invalid too.
    min_valid : float
        Least fraction of valid pixels for a window to be used.
    spectral_cutoff : float or None
        As in :func:`phase_correlation`.
    batch : int
        Windows transformed at once (bounds memory: ``batch * window_size_px**2``
        complex64 values).

    Returns
    -------
    ShiftField

    Examples
    --------
    >>> field = shift_field(reference, moving, window_size_px=64)  # doctest: +SKIP
    >>> model = fit_shift_field(field, degree=1)  # doctest: +SKIP
    """
    import scipy.fft  # here, not at import: the package face stays a numpy-only import

    reference = as_image(reference, "reference")
    moving = as_image(moving, "moving")
    if reference.shape != moving.shape:
        raise InvalidInputError(
            f"reference {reference.shape} and moving {moving.shape} differ in shape"
        )
    height, width = reference.shape
    step_px = window_size_px // 2 if step_px is None else step_px
    if window_size_px < 8 or window_size_px > min(height, width):
        raise InvalidInputError(
            f"window_size_px must be between 8 and the image's smaller side "
            f"{min(height, width)}, got {window_size_px}"
        )
    if step_px < 1:
        raise InvalidInputError(f"step_px must be a positive number of pixels, got {step_px}")
    if isinstance(upsample, bool) or not isinstance(upsample, int | np.integer) or upsample < 1:
        raise InvalidInputError(f"upsample must be a positive integer, got {upsample!r}")
    check_window(window)
    check_cutoff(spectral_cutoff)
    masks = []
    for image, mask, name in (
        (reference, reference_mask, "reference_mask"),
        (moving, moving_mask, "moving_mask"),
    ):
        mask = with_finite(image, as_mask(mask, image.shape, name))
        masks.append(np.ones(image.shape, bool) if mask is None else mask)

    origins_y = np.arange(0, height - window_size_px + 1, step_px)
    origins_x = np.arange(0, width - window_size_px + 1, step_px)
    grid = np.stack(np.meshgrid(origins_y, origins_x, indexing="ij"), axis=-1).reshape(-1, 2)
    size = (window_size_px, window_size_px)
    taper = window_2d(window, size) if window is not None else np.float32(1.0)
    spectral, weight_total = np.float32(1.0), float(window_size_px * window_size_px)
    if spectral_cutoff is not None:
        spectral, weight_total = spectral_weights(size, spectral_cutoff)
    dy = np.full(len(grid), np.nan)
    dx = np.full(len(grid), np.nan)
    confidence = np.zeros(len(grid))
    peak = np.zeros(len(grid))
    for start in range(0, len(grid), batch):
        origins = grid[start : start + batch]
        tiles, keep = _cut_windows((reference, moving), masks, origins, window_size_px, min_valid)
        if not keep.any():
            continue
        tiles = tiles[:, keep] * taper
        index = np.flatnonzero(keep) + start
        spectra = scipy.fft.rfft2(tiles, workers=-1)
        cross = spectra[0] * np.conjugate(spectra[1])
        cross /= np.maximum(np.abs(cross), EPS)
        cross *= spectral
        surfaces = scipy.fft.irfft2(cross, s=size, workers=-1)
        flat = surfaces.reshape(len(index), -1).argmax(axis=1)
        seeds = wrap_peak(np.stack(np.unravel_index(flat, size), axis=1), size)
        if upsample > 1:
            shifts, heights = refine(cross, size, seeds, int(upsample))
        else:
            shifts, heights = seeds, surfaces.reshape(len(index), -1).max(axis=1)
        for k, where in enumerate(index):
            integer = tuple(int(v) % window_size_px for v in seeds[k])
            second = second_peak(surfaces[k], integer)
            confidence[where] = np.clip(1 - second / heights[k], 0, 1) if heights[k] > 0 else 0
        dy[index] = np.round(shifts[:, 0] * upsample) / upsample
        dx[index] = np.round(shifts[:, 1] * upsample) / upsample
        peak[index] = np.clip(heights * window_size_px * window_size_px / weight_total, 0, 1)
    rows, cols = len(origins_y), len(origins_x)
    centre = (window_size_px - 1) / 2
    return ShiftField(
        dy=dy.reshape(rows, cols),
        dx=dx.reshape(rows, cols),
        confidence=confidence.reshape(rows, cols),
        peak=peak.reshape(rows, cols),
        y=origins_y + centre,
        x=origins_x + centre,
        window_size=window_size_px,
    )


def _cut_windows(
    images: tuple[np.ndarray, np.ndarray],
    masks: list[np.ndarray],
    origins: np.ndarray,
    size: int,
    min_valid: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-removed float32 windows (2, n, size, size) and which have enough valid pixels."""
    offsets = np.arange(size)
    rows = origins[:, 0, None, None] + offsets[None, :, None]
    cols = origins[:, 1, None, None] + offsets[None, None, :]
    tiles = np.empty((2, len(origins), size, size), dtype=np.float32)
    keep = np.ones(len(origins), bool)
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        tile = image[rows, cols].astype(np.float32)
        valid = mask[rows, cols]
        counts = valid.sum(axis=(1, 2))
        keep &= counts >= min_valid * size * size
        sums = np.where(valid, tile, 0).sum(axis=(1, 2), dtype=np.float64)
        means = (sums / np.maximum(counts, 1)).astype(np.float32)
        tiles[i] = np.where(valid, tile - means[:, None, None], 0)
        if not valid.all():
            for k in np.flatnonzero(~valid.all(axis=(1, 2)) & keep):
                tiles[i, k] *= mask_taper(valid[k])
    return tiles, keep


@dataclass(frozen=True)
class ShiftModel:
    """A polynomial model of a shift field, from :func:`fit_shift_field`.

    Call it with pixel coordinates ``(y, x)`` (arrays broadcast) to get
    ``(dy, dx)``. ``coefficients`` is (n_terms, 2), for the terms
    ``y**i * x**j`` with ``i + j <= degree`` in the order of ``terms``, on
    coordinates divided by ``scale``.
    """

    coefficients: np.ndarray
    terms: tuple[tuple[int, int], ...]
    scale: float
    rms: float
    n_used: int

    def __call__(self, y: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=np.float64) / self.scale
        x = np.asarray(x, dtype=np.float64) / self.scale
        y, x = np.broadcast_arrays(y, x)
        design = np.stack([y**i * x**j for i, j in self.terms], axis=-1)
        values = design @ self.coefficients
        return values[..., 0], values[..., 1]


def fit_shift_field(
    field: ShiftField, *, degree: int = 1, min_confidence: float = 0.3
) -> ShiftModel:
    """Fit a smooth polynomial model (degree 1: affine) to a shift field.

    Weighted least squares on the windows with ``confidence >=
    min_confidence`` (weights: the confidence), then once more without the
    windows whose residual exceeds 3 robust standard deviations (median
    absolute deviation), which drops the odd mismatched window.

    Parameters
    ----------
    field : ShiftField
    degree : int
        Polynomial degree in (y, x): 0 a translation, 1 affine, 2 quadratic ...
    min_confidence : float
        Windows below this confidence are left out.

    Returns
    -------
    ShiftModel

    Raises
    ------
    InvalidInputError
        Fewer usable windows than the model has terms.

    Examples
    --------
    >>> model = fit_shift_field(shift_field(reference, moving), degree=1)  # doctest: +SKIP
    >>> dy, dx = model(100.0, 250.0)  # doctest: +SKIP
    """
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
        raise InvalidInputError(f"degree must be a non-negative integer, got {degree!r}")
    terms = tuple((i, total - i) for total in range(degree + 1) for i in range(total, -1, -1))
    yy, xx = np.meshgrid(field.y, field.x, indexing="ij")
    usable = np.isfinite(field.dy) & np.isfinite(field.dx) & (field.confidence >= min_confidence)
    if usable.sum() < len(terms):
        raise InvalidInputError(
            f"only {int(usable.sum())} windows with confidence >= {min_confidence}; a degree-"
            f"{degree} model needs at least {len(terms)}"
        )
    scale = float(max(field.y.max(), field.x.max(), 1.0))
    ys, xs = yy[usable] / scale, xx[usable] / scale
    design = np.stack([ys**i * xs**j for i, j in terms], axis=1)
    targets = np.stack([field.dy[usable], field.dx[usable]], axis=1)
    weights = np.sqrt(field.confidence[usable])
    keep = np.ones(len(targets), bool)
    for _ in range(2):
        coefficients = np.linalg.lstsq(
            design[keep] * weights[keep, None], targets[keep] * weights[keep, None], rcond=None
        )[0]
        residuals = np.hypot(*(design @ coefficients - targets).T)
        spread = 1.4826 * np.median(np.abs(residuals[keep] - np.median(residuals[keep])))
        # A floor of 0.1 px: sub-pixel scatter is noise, not an outlier.
        limit = np.median(residuals[keep]) + max(3 * spread, 0.1)
        trimmed = residuals <= limit
        if trimmed.sum() < len(terms) or (trimmed == keep).all():
            break
        keep = trimmed
    rms = float(np.sqrt(np.mean(residuals[keep] ** 2)))
    return ShiftModel(coefficients, terms, scale, rms, int(keep.sum()))
