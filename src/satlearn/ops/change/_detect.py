"""The op: :func:`detect_change` (detailed form) and :func:`change_mask` (short form).

Checks the two dates (:mod:`satlearn.checks`), turns stored values into
physical ones (:func:`satlearn.bands.reflectance`), pairs the bands, runs the
method's global fits on samples and its kernels blockwise, and decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.bands import reflectance
from satlearn.checks import check_raster, check_same_grid
from satlearn.deprecation import keyword_only, method_name, renamed_keywords
from satlearn.errors import (
    CRSMismatchError,
    GridMismatchError,
    InvalidInputError,
    NoValidDataError,
)
from satlearn.ops.change._blockwise import (
    compute,
    nan_mean_filter,
    neighbourhood,
    per_pixel,
    stride,
)
from satlearn.ops.change._irmad import fit_irmad, irmad_chi2
from satlearn.ops.change._magnitude import (
    cva,
    difference_magnitude,
    log_ratio_magnitude,
    ratio_magnitude,
)
from satlearn.ops.change._noise import noise_floor, ratio_noise, ratio_significance, signed_change
from satlearn.ops.change._pca_kmeans import fit_pca_kmeans_lazy, pca_kmeans_labels
from satlearn.ops.change._result import ChangeResult
from satlearn.ops.threshold import auto_threshold
from satlearn.raster import copy_grid

__all__ = ["DEFAULT_METHOD", "METHODS", "change_mask", "detect_change"]

#: The change-detection methods, by name.
METHODS = ("difference", "ratio", "log-ratio", "cva", "pca-kmeans", "irmad")
#: The method of both forms when none is given: an unsupervised magnitude on
#: standardised bands, the field's usual first choice.
DEFAULT_METHOD = "cva"
#: The automatic thresholds, by name (``"ki"`` is Kittler-Illingworth).
THRESHOLDS = ("otsu", "kittler-illingworth", "ki")

_F32 = np.float32
_DEFAULT_THRESHOLD = {"irmad": "kittler-illingworth"}
# The keywords that gained their unit in 0.2 (old -> new), for both forms.
_RENAMED = {"smooth": "smooth_px", "block_size": "block_px"}
# A method-spelling warning names the caller's line: past method_name, the
# op itself and the keyword_only and renamed_keywords wrappers.
_CALLER = 5


# --------------------------------------------------------------------------- options


def _check_threshold(method: str, threshold: Any) -> str | float | None:
    """The threshold as a known name or a finite float; refused when it does not apply."""
    if threshold is None:
        return None
    if isinstance(threshold, str):
        value: str | float = method_name(threshold, THRESHOLDS, what="threshold method")
    elif isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise InvalidInputError(
            f"threshold must be 'otsu', 'kittler-illingworth' or a number, got {threshold!r}"
        )
    elif not math.isfinite(float(threshold)):
        raise InvalidInputError(f"threshold must be a finite number, got {threshold!r}")
    else:
        value = float(threshold)
    if method == "pca-kmeans":
        raise InvalidInputError(
            f"pca-kmeans splits by k-means and takes no threshold (got {threshold!r}); "
            "leave the threshold out or choose another method"
        )
    return value


def _check_significance(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InvalidInputError(f"significance must be a number in (0, 0.5) or None, got {value!r}")
    if not 0 < float(value) < 0.5:
        raise InvalidInputError(f"significance must be in (0, 0.5), got {value!r}")
    return float(value)


def _positive_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- inputs


def _checked(da: Any, what: str) -> xr.DataArray:
    """``da`` as (band, y, x) numbers (:func:`satlearn.checks.check_raster`)."""
    if isinstance(da, xr.DataArray) and set(da.dims) in ({"band", "y", "x"}, {"y", "x"}):
        # Change detection has always taken these dims in any order; a
        # transpose is a view here (the band chunks are joined later anyway).
        da = da.transpose(*(d for d in ("band", "y", "x") if d in da.dims))
    # Booleans count as numbers: a 0/1 layer (a mask, a class map) can change too.
    return check_raster(da, what=what, kinds="uifb", expand_yx=True)


def _check_pair(before: xr.DataArray, after: xr.DataArray) -> None:
    """``after`` on the grid of ``before`` (:func:`satlearn.checks.check_same_grid`).

    The checks are check_same_grid's; the messages name the two dates, as they
    always have.
    """
    shape_b = (before.sizes["y"], before.sizes["x"])
    shape_a = (after.sizes["y"], after.sizes["x"])
    crs_b, crs_a = before.rio.crs, after.rio.crs
    crs_message = f"before and after must share one CRS: before is in {crs_b}, after in {crs_a}"
    try:
        check_same_grid(after.isel(band=0, drop=True), before, what="after")
    except CRSMismatchError as error:
        raise CRSMismatchError(crs_message) from error
    except GridMismatchError as error:
        if shape_b != shape_a:
            raise GridMismatchError(
                f"before and after must share one grid: before is {shape_b[0]} x {shape_b[1]} "
                f"pixels, after is {shape_a[0]} x {shape_a[1]} (reproject one onto the other)"
            ) from error
        t_b, t_a = before.rio.transform(), after.rio.transform()
        raise GridMismatchError(
            "before and after must share one grid: their transforms differ "
            f"(before {tuple(t_b)[:6]}, after {tuple(t_a)[:6]}); coregister them first"
        ) from error
    # check_same_grid compares CRSs only when both are known; two dates must
    # agree on having one, too (a date without one is not known to lie here).
    if (crs_b is None) != (crs_a is None):
        raise CRSMismatchError(crs_message)


def _valid_mask(valid: Any, before: xr.DataArray) -> Any:
    """The ``valid=`` layer as bool (numpy or dask), on the grid of ``before``."""
    values = check_same_grid(valid, before, what="valid mask")
    if values.dtype.kind not in "biu":
        raise InvalidInputError(f"valid mask must be boolean, got dtype {values.dtype}")
    if hasattr(values, "dask"):
        return values.astype(bool)
    return np.asarray(values, dtype=bool)


def _match_bands(
    before: xr.DataArray, after: xr.DataArray, match_bands: str
) -> tuple[xr.DataArray, xr.DataArray]:
    names_b = [str(v) for v in before["band"].values] if "band" in before.coords else []
    names_a = [str(v) for v in after["band"].values] if "band" in after.coords else []
    if match_bands == "position" or not names_b or not names_a:
        if before.sizes["band"] != after.sizes["band"]:
            raise InvalidInputError(
                f"before has {before.sizes['band']} bands, after has {after.sizes['band']}"
            )
        return before, after
    if match_bands != "name":
        raise InvalidInputError(f"match_bands must be 'name' or 'position', got {match_bands!r}")
    if sorted(names_b) != sorted(names_a) or len(set(names_b)) != len(names_b):
        raise InvalidInputError(
            f"before and after have different bands (before: {', '.join(names_b)}; "
            f"after: {', '.join(names_a)}); select common bands, or pass "
            "match_bands='position' to pair them in order"
        )
    if names_a != names_b:
        after = after.isel(band=[names_a.index(n) for n in names_b])
    return before, after


def _as_float(da: xr.DataArray) -> xr.DataArray:
    """float32 physical values, nodata as NaN (:func:`satlearn.bands.reflectance`), bare."""
    values = reflectance(da).reset_coords(drop=True)
    if values.chunks is not None:
        values = values.chunk({"band": -1})  # the kernels take every band of a pixel
    return values


def _sample(x: xr.DataArray, y: xr.DataArray, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(band, n) values of the pixels of a regular sub-grid that are valid in both dates."""
    step = stride((x.sizes["y"], x.sizes["x"]), max_samples)
    xs, ys = compute(
        x.data[:, ::step, ::step].reshape(x.shape[0], -1),
        y.data[:, ::step, ::step].reshape(y.shape[0], -1),
    )
    ok = np.isfinite(xs).all(axis=0) & np.isfinite(ys).all(axis=0)
    if not ok.any():
        where = "" if step == 1 else f" (sampled every {step} pixels)"
        raise NoValidDataError(
            f"before and after share no valid pixel{where}: every pixel is nodata, "
            "NaN or masked in one of them"
        )
    return xs[:, ok], ys[:, ok]


def _standardise(
    before: xr.DataArray, after: xr.DataArray, xs: np.ndarray, ys: np.ndarray
) -> tuple[xr.DataArray, xr.DataArray, dict[str, Any]]:
    """Each band of each date to zero mean, unit variance (statistics of the sample)."""
    stats: dict[str, Any] = {}
    out = []
    for name, da, sample in (("before", before, xs), ("after", after, ys)):
        mean = sample.mean(axis=1)
        std = sample.std(axis=1)
        std[~(std > 0)] = 1.0  # a constant band carries no change; leave it at zero
        stats[f"{name}_mean"], stats[f"{name}_std"] = mean, std
        coords = {"band": da["band"]} if "band" in da.coords else None
        mean_da = xr.DataArray(mean.astype(_F32), dims="band", coords=coords)
        std_da = xr.DataArray(std.astype(_F32), dims="band", coords=coords)
        out.append(((da - mean_da) / std_da).astype(_F32))
    return out[0], out[1], stats


# --------------------------------------------------------------------------- decision


def _decide(
    magnitude: xr.DataArray, method: str, threshold: str | float | None, floor: float
) -> tuple[xr.DataArray, float]:
    """Mask and threshold; an automatic threshold never goes below the noise floor."""
    if threshold is None:
        threshold = _DEFAULT_THRESHOLD.get(method, "otsu")
    if isinstance(threshold, str):
        # Otsu and Kittler-Illingworth always split, even a histogram of pure
        # noise; the floor keeps them from calling noise change.
        value = max(auto_threshold(magnitude.data, threshold), floor)
    else:
        value = float(threshold)
    return magnitude > value, value


def _georeferenced(result: xr.DataArray, source: xr.DataArray, name: str) -> xr.DataArray:
    return copy_grid(result.rename(name), source)


# --------------------------------------------------------------------------- the op


@renamed_keywords(**_RENAMED)
@keyword_only("method")
def detect_change(
    before: xr.DataArray,
    after: xr.DataArray,
    *,
    method: str = DEFAULT_METHOD,
    index: str | Sequence[str] | None = None,
    threshold: str | float | None = None,
    valid: Any = None,
    smooth_px: int = 1,
    block_px: int = 5,
    variance: float = 0.9,
    match_bands: str = "name",
    max_samples: int = 250_000,
    seed: int = 0,
    significance: float | None = 0.001,
) -> ChangeResult:
    """Detect change between two images: magnitude, mask and the method's details.

    How it runs on chunks: the per-pixel steps (scaling, differences,
    ratios, CVA, the MAD transform) are *blockwise*; smoothing is blockwise
    with a halo of ``smooth_px // 2 + 1`` pixels and the ``pca-kmeans``
    labelling with a halo of ``block_px`` pixels; the fits are *global*
    (band statistics, IR-MAD, PCA and k-means on a sub-grid of at most
    ``max_samples`` pixels, the noise floor on neighbour pairs, automatic
    thresholds on the histogram of every valid magnitude), computed once and
    then applied blockwise.

    Parameters
    ----------
    before, after : xarray.DataArray
        Dims ``(band, y, x)`` or ``(y, x)``, numpy- or dask-backed, on one
        grid (shape, CRS, transform). Nodata (``da.rio.nodata``) and NaN mark
        missing pixels; ``scale``/``offset`` band coordinates are applied.
    method : str
        One of :data:`METHODS` (see :mod:`satlearn.ops.change`); default
        ``"cva"``, as for :func:`change_mask`. Keyword-only (positional use
        works for one release, with a warning).
    index : str or sequence of str, optional
        Spectral indices (:func:`satlearn.ops.indices.compute_index`) that
        replace the bands, e.g. ``index="ndvi"`` for NDVI differencing.
    threshold : {"otsu", "kittler-illingworth", "ki"} or float, optional
        How the magnitude is split (default: Otsu, Kittler-Illingworth for
        ``irmad``). A number is used as given. ``pca-kmeans`` clusters and
        refuses a threshold.
    valid : array_like or DataArray of bool (y, x), optional
        Pixels allowed to take part (e.g. cloud- and shadow-free in both
        dates), on the grid of ``before``. Clouds are not change: leave them
        out here.
    smooth_px : int
        Side in pixels of a mean filter over the valid magnitudes before the
        decision (1: none). Was ``smooth``.
    block_px : int
        ``pca-kmeans``: h, the block and neighbourhood side in pixels (Celik
        used 3-9). Was ``block_size``.
    variance : float
        ``pca-kmeans``: share of block variance the kept eigenvectors explain.
    match_bands : {"name", "position"}
        Pair the bands of the two dates by name (reordering ``after`` if
        needed) or in order (for files whose band names carry the date).
    max_samples : int
        Most pixels the global fits (band statistics, IR-MAD, k-means) use.
    seed : int
        Seed of k-means.
    significance : float or None
        The guard against insignificant change (default 0.001): the noise of
        each band's change is estimated from the images (adjacent-pixel
        differences, :class:`NoiseFloor`, in ``details["noise"]``) and an
        automatic threshold is never below the magnitude noise exceeds with
        this probability; ``pca-kmeans`` calls its upper cluster changed only
        when the cluster means lie further apart than that. So identical or
        noise-only dates give (almost) no change, which Otsu,
        Kittler-Illingworth and k-means, splitting any histogram in two,
        would not. None turns the guard off.

    Returns
    -------
    ChangeResult

    Raises
    ------
    InvalidInputError
        A bad option. Its subclasses: :class:`~satlearn.errors.DimensionError`
        for inputs that are not (band, y, x) numbers,
        :class:`~satlearn.errors.GridMismatchError` for grids of different
        shapes or transforms (and a ``valid`` mask off the grid),
        :class:`~satlearn.errors.NoValidDataError` when no pixel is valid in
        both dates (see :mod:`satlearn.ops.change` for the one lazy
        exception); different bands.
    CRSMismatchError
        The inputs have different CRSs.
    UnknownBandError
        ``index`` needs bands the inputs lack.

    Notes
    -----
    Every pixel whose change the noise explains is unchanged, whatever the
    method: for identical dates the magnitude is 0 everywhere and nothing is
    changed; for dates differing by sensor noise only, about
    ``significance`` of the pixels at most.

    Examples
    --------
    >>> result = detect_change(before, after, method="irmad", valid=clear)  # doctest: +SKIP
    >>> result.threshold, result.details["irmad"].rho  # doctest: +SKIP
    >>> ndvi = detect_change(before, after, method="difference", index="ndvi")  # doctest: +SKIP
    """
    method = method_name(method, METHODS, what="change method", stacklevel=_CALLER)
    before = _checked(before, "before")
    after = _checked(after, "after")
    _check_pair(before, after)
    smooth_px = _positive_int(smooth_px, "smooth_px", 1)
    max_samples = _positive_int(max_samples, "max_samples", 2)
    threshold = _check_threshold(method, threshold)
    significance = _check_significance(significance)
    if method == "pca-kmeans":
        block_px = _positive_int(block_px, "block_px", 2)
        if not 0 < variance <= 1:
            raise InvalidInputError(f"variance must be in (0, 1], got {variance!r}")
    if index is not None:
        from satlearn.ops.indices import compute_index

        names = [index] if isinstance(index, str) else list(index)
        before = _checked(compute_index(before, names), "before")
        after = _checked(compute_index(after, names), "after")
    else:
        before, after = _match_bands(before, after, match_bands)
        if "band" in before.coords:
            # Paired bands carry one set of labels, so arithmetic aligns them.
            after = after.assign_coords(band=before["band"].values)
    x, y = _as_float(before), _as_float(after)
    if valid is not None:
        allowed = xr.DataArray(_valid_mask(valid, before), dims=("y", "x"))
        x, y = x.where(allowed), y.where(allowed)
    lazy = x.chunks is not None or y.chunks is not None
    details: dict[str, Any] = {}
    direction = None

    automatic = isinstance(threshold, str | None)
    global_step = method in ("cva", "pca-kmeans", "irmad") or automatic
    if global_step or not lazy:
        xs, ys = _sample(x, y, max_samples)
    if method in ("cva", "pca-kmeans"):
        x, y, details["standardisation"] = _standardise(x, y, xs, ys)
    fit = fit_irmad(xs, ys) if method == "irmad" else None
    floor = 0.0
    significant = None
    halo = smooth_px // 2 + 1
    if significance is not None and automatic and method in ("ratio", "log-ratio"):
        noise = details["noise"] = ratio_noise(x, y, max_samples, significance, smooth_px)
        statistic = per_pixel(lambda a, b: ratio_significance(a, b, noise), x, y)
        if smooth_px > 1:
            statistic = neighbourhood(nan_mean_filter, statistic, halo, _F32, size=smooth_px)
        significant = statistic > noise.floor
    elif significance is not None and automatic:
        signed, rms = signed_change(method, fit)
        details["noise"] = noise_floor(x, y, signed, rms, max_samples, significance, smooth_px)
        floor = details["noise"].floor
    if method == "difference":
        magnitude = per_pixel(difference_magnitude, x, y)
    elif method == "ratio":
        magnitude = per_pixel(ratio_magnitude, x, y)
    elif method == "log-ratio":
        magnitude = per_pixel(log_ratio_magnitude, x, y)
    elif method == "irmad":
        details["irmad"] = fit
        magnitude = per_pixel(lambda a, b: np.sqrt(irmad_chi2(a, b, fit)), x, y)
    else:  # cva, pca-kmeans
        magnitude, direction = per_pixel(cva, x, y, n_out=2)
    magnitude = magnitude.astype(_F32)
    if smooth_px > 1:
        magnitude = neighbourhood(nan_mean_filter, magnitude, halo, _F32, size=smooth_px)
    valid_out = np.isfinite(magnitude)
    if method == "pca-kmeans":
        fit_pk = fit_pca_kmeans_lazy(
            magnitude,
            block_px,
            variance,
            max_samples,
            seed,
            floor if "noise" in details else None,
        )
        details["pca_kmeans"] = fit_pk
        mask = neighbourhood(pca_kmeans_labels, magnitude, block_px, bool, fit=fit_pk)
        value = None
        direction = None
    else:
        mask, value = _decide(magnitude, method, threshold, floor)
        if significant is not None:  # ratios: the noise is tested pixel by pixel
            mask = mask & significant
    template = before.isel(band=0, drop=True)
    coords = {k: v for k, v in template.coords.items() if set(v.dims) <= {"y", "x"}}

    def finish(da: xr.DataArray, name: str) -> xr.DataArray:
        da = da.assign_coords(coords)
        return _georeferenced(da, template, name)

    magnitude = finish(magnitude, "change_magnitude")
    magnitude.rio.write_nodata(np.nan, encoded=False, inplace=True)
    mask = finish(mask & valid_out, "change_mask")
    mask.attrs.update({"method": method, "threshold": "none" if value is None else value})
    if direction is not None:
        direction = finish(direction.astype(_F32), "change_direction")
        direction.rio.write_nodata(np.nan, encoded=False, inplace=True)
    return ChangeResult(
        magnitude=magnitude,
        mask=mask,
        valid=finish(valid_out, "valid"),
        method=method,
        threshold=value,
        direction=direction,
        details=details,
    )


@renamed_keywords(**_RENAMED)
@keyword_only("method")
def change_mask(
    before: xr.DataArray,
    after: xr.DataArray,
    *,
    method: str = DEFAULT_METHOD,
    **options: Any,
) -> xr.DataArray:
    """Boolean change mask (True = changed) between two images.

    The short form of :func:`detect_change`, with its defaults (``"cva"``)
    and keyword arguments; that one returns the magnitude, threshold and fit
    as well. Runs as :func:`detect_change` does: global fits on samples,
    then blockwise (with a halo of ``smooth_px // 2 + 1`` pixels when
    smoothing, ``block_px`` for ``pca-kmeans``).

    Parameters
    ----------
    before, after : xarray.DataArray
        ``(band, y, x)`` (or ``(y, x)``) on one grid, numpy- or dask-backed.
    method : str
        ``"cva"`` (the default), ``"difference"``, ``"pca-kmeans"``,
        ``"ratio"``, ``"log-ratio"`` or ``"irmad"``. Keyword-only
        (positional use works for one release, with a warning).
    **options
        ``index``, ``threshold``, ``valid``, ``smooth_px``, ... as for
        :func:`detect_change`.

    Returns
    -------
    xarray.DataArray
        bool ``(y, x)``, georeferenced like ``before``; False where a pixel is
        not valid in both dates.

    Examples
    --------
    >>> mask = change_mask(before, after, method="pca-kmeans")  # doctest: +SKIP
    >>> int(mask.sum())  # doctest: +SKIP
    1834
    """
    method = method_name(method, METHODS, what="change method", stacklevel=_CALLER)
    return detect_change(before, after, method=method, **options).mask
