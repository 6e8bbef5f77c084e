"""Automatic thresholds of a bimodal histogram: Otsu and Kittler-Illingworth.

Change magnitudes, water indices and cloud scores are split into two classes
by a threshold read off their histogram. Both methods here work on a
histogram, so a dask-backed array costs one pass (``dask.array.histogram``)
and no full-scene copy; NaN (nodata) is ignored.

* Otsu (1979) maximises the between-class variance. It is scikit-image's
  ``threshold_otsu`` applied to the histogram (``hist=`` argument), so the
  arithmetic is the field's reference one.
* Kittler & Illingworth (1986), "minimum error thresholding", fits two
  Gaussians and minimises the classification error criterion
  ``J(t) = 1 + 2 (P1 ln s1 + P2 ln s2) - 2 (P1 ln P1 + P2 ln P2)``. It suits
  classes of very different sizes and spreads (a small changed area in a
  large unchanged one) better than Otsu. Neither scikit-image nor OpenCV has
  it, hence the few lines below, vectorised over all candidate thresholds.

References
----------
Otsu, N. (1979). A threshold selection method from gray-level histograms.
IEEE Trans. Systems, Man, and Cybernetics, 9(1), 62-66.

Kittler, J., & Illingworth, J. (1986). Minimum error thresholding. Pattern
Recognition, 19(1), 41-47.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> values = np.concatenate([rng.normal(0, 1, 9000), rng.normal(8, 1, 1000)])
>>> 2 < otsu_threshold(values) < 6
True
>>> 2 < kittler_illingworth_threshold(values) < 6
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.filters import threshold_otsu

from satlearn.errors import InvalidInputError, NoValidDataError

__all__ = ["THRESHOLD_METHODS", "auto_threshold", "kittler_illingworth_threshold", "otsu_threshold"]

THRESHOLD_METHODS = ("otsu", "kittler-illingworth")


def _histogram(values: Any, valid: Any, bins: int) -> tuple[np.ndarray, np.ndarray] | float:
    """Counts and bin centres of the finite (and valid) values, or the single value."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InvalidInputError(f"bins must be an int >= 2, got {bins!r}")
    data = getattr(values, "data", values)  # DataArray -> ndarray or dask array
    if valid is not None:
        mask = getattr(valid, "data", valid)
        if np.shape(mask) != np.shape(data):
            raise InvalidInputError(
                f"valid mask has shape {np.shape(mask)}, the values have shape {np.shape(data)}"
            )
    if hasattr(data, "dask"):
        import dask.array as dsa

        finite = dsa.isfinite(data)
        if valid is not None:
            finite = finite & dsa.asarray(mask).astype(bool)
        count, low, high = dsa.compute(
            finite.sum(),
            dsa.where(finite, data, np.inf).min(),
            dsa.where(finite, data, -np.inf).max(),
        )
    else:
        data = np.asarray(data)
        if data.dtype.kind not in "biuf":
            raise InvalidInputError(f"values must be numeric, got dtype {data.dtype}")
        finite = np.isfinite(data)
        if valid is not None:
            finite &= np.asarray(mask, dtype=bool)
        data = data[finite]
        count = data.size
        low, high = (data.min(), data.max()) if count else (np.nan, np.nan)
    if count == 0:
        raise NoValidDataError("no valid value to threshold (all NaN, nodata or masked)")
    if low == high:
        return float(low)
    edges = np.linspace(float(low), float(high), bins + 1)
    if hasattr(data, "dask"):
        # Weights rather than boolean indexing: dask cannot size data[finite].
        filled = dsa.where(finite, data, low)
        counts = dsa.histogram(filled, bins=edges, weights=finite.astype(np.int64))[0].compute()
    else:
        counts = np.histogram(data, bins=edges)[0]
    return counts, (edges[:-1] + edges[1:]) / 2


def otsu_threshold(values: Any, *, valid: Any = None, bins: int = 256) -> float:
    """Otsu's threshold of the finite values.

    Parameters
    ----------
    values : array_like, DataArray or dask array
        Any shape; NaN and inf are ignored.
    valid : array_like of bool, optional
        Only these pixels count.
    bins : int
        Histogram bins between the smallest and largest value.

    Returns
    -------
    float
        Values strictly above it belong to the upper class. For constant
        input, that constant.

    Raises
    ------
    NoValidDataError
        No finite valid value.

    Examples
    --------
    >>> t = otsu_threshold(np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.2, np.nan]))
    >>> 0.2 <= t < 5.0
    True
    """
    histogram = _histogram(values, valid, bins)
    if isinstance(histogram, float):
        return histogram
    counts, centres = histogram
    return _upper_edge(threshold_otsu(hist=(counts, centres)), centres)


def _upper_edge(centre: float, centres: np.ndarray) -> float:
    # scikit-image returns the centre of the last bin of the lower class; the
    # values of that bin reach up to its upper edge, which is the split.
    return float(centre + (centres[1] - centres[0]) / 2)


def kittler_illingworth_threshold(values: Any, *, valid: Any = None, bins: int = 256) -> float:
    """Kittler-Illingworth minimum-error threshold of the finite values.

    Parameters and return value as for :func:`otsu_threshold`. Where the
    criterion is undefined everywhere (a class of one bin, zero spread), the
    Otsu threshold is returned instead.

    Examples
    --------
    >>> values = np.r_[np.linspace(0, 1, 900), np.linspace(9, 10, 100)]
    >>> 1 < kittler_illingworth_threshold(values) < 9
    True
    """
    histogram = _histogram(values, valid, bins)
    if isinstance(histogram, float):
        return histogram
    counts, centres = histogram
    p = counts / counts.sum()
    # Class statistics for "value <= centre[t]" against the rest, for every t.
    p1 = np.cumsum(p)
    m1 = np.cumsum(p * centres)
    s1 = np.cumsum(p * centres**2)
    p2 = 1.0 - p1
    m2 = m1[-1] - m1
    s2 = s1[-1] - s1
    with np.errstate(divide="ignore", invalid="ignore"):
        mu1, mu2 = m1 / p1, m2 / p2
        var1 = s1 / p1 - mu1**2
        var2 = s2 / p2 - mu2**2
        criterion = (
            1 + p1 * np.log(var1) + p2 * np.log(var2) - 2 * (p1 * np.log(p1) + p2 * np.log(p2))
        )
    # Degenerate splits (an empty class, zero variance) are not candidates.
    spread = (centres[1] - centres[0]) ** 2 / 12.0
    usable = (p1 > 0) & (p2 > 0) & (var1 > spread) & (var2 > spread) & np.isfinite(criterion)
    if not usable.any():
        return _upper_edge(threshold_otsu(hist=(counts, centres)), centres)
    return _upper_edge(centres[int(np.argmin(np.where(usable, criterion, np.inf)))], centres)


def auto_threshold(
    values: Any, method: str = "otsu", *, valid: Any = None, bins: int = 256
) -> float:
    """Threshold ``values`` by ``method`` (``"otsu"`` or ``"kittler-illingworth"``).

    ``"ki"`` is accepted for Kittler-Illingworth.

    Examples
    --------
    >>> values = np.array([0.0, 0.0, 1.0, 1.0])
    >>> 0.0 <= auto_threshold(values, "otsu") < 1.0
    True
    """
    key = str(method).lower().replace("_", "-")
    if key == "otsu":
        return otsu_threshold(values, valid=valid, bins=bins)
    if key in {"kittler-illingworth", "ki"}:
        return kittler_illingworth_threshold(values, valid=valid, bins=bins)
    raise InvalidInputError(
        f"unknown threshold method {method!r}; known: {', '.join(THRESHOLD_METHODS)}"
    )
