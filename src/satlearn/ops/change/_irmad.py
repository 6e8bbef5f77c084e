"""IR-MAD: iteratively reweighted multivariate alteration detection (Nielsen 2007).

:func:`fit_irmad` is *global*: one fit on a sample of pixels (at most
``max_samples`` of them, see :func:`satlearn.ops.change.detect_change`);
:func:`irmad_chi2` and :func:`irmad_variates` then run *blockwise* (pixel by
pixel, no halo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["IRMADFit", "fit_irmad", "irmad_chi2", "irmad_variates"]

_F32 = np.float32
# The canonical variates have unit variance, so a MAD variate of variance
# below this is the two dates agreeing to rounding (identical bands): it
# carries no change and must not be blown up by 1 / variance.
MAD_VARIANCE_FLOOR = 1e-8


@dataclass(frozen=True)
class IRMADFit:
    """An IR-MAD transform fitted on two dates (Nielsen 2007).

    ``MAD = (after - mean_after) @ b - (before - mean_before) @ a`` per pixel
    (band vectors); ``chi2 = sum(MAD**2 / variance)``.

    Attributes
    ----------
    mean_before, mean_after : ndarray (band,)
        Weighted means (weights = probability of no change).
    a, b : ndarray (band, band)
        Canonical vectors as columns, in ascending canonical correlation, so
        the first MAD variate holds the most change (Nielsen's order).
    variance : ndarray (band,)
        Weighted variance of each MAD variate. A variate of variance below
        1e-8 (the two dates agree to rounding in it) counts as no change.
    rho : ndarray (band,)
        Canonical correlations, ascending.
    iterations : int
        Reweighting iterations run.
    converged : bool
        Whether the largest weight change fell below the tolerance.
    """

    mean_before: np.ndarray
    mean_after: np.ndarray
    a: np.ndarray
    b: np.ndarray
    variance: np.ndarray
    rho: np.ndarray
    iterations: int
    converged: bool


def fit_irmad(
    before: np.ndarray,
    after: np.ndarray,
    *,
    max_iterations: int = 30,
    tolerance: float = 1e-3,
    regularisation: float = 1e-6,
) -> IRMADFit:
    """Fit the iteratively reweighted MAD transform on pixel samples.

    Global: every iteration uses all ``n`` pixels given (a sample of the scene).

    Parameters
    ----------
    before, after : ndarray, shape (band, n)
        The same n valid pixels of both dates (finite values).
    max_iterations : int
        Most reweighting iterations.
    tolerance : float
        Stop when no canonical correlation changes by more than this between
        two iterations (the criterion of Canty & Nielsen's implementation).
    regularisation : float
        Ridge added to the covariance matrices, relative to their mean
        variance, so nearly collinear bands (13 Sentinel-2 bands) keep the
        generalised eigenproblem well posed (Nielsen 2007, section III).

    Returns
    -------
    IRMADFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(3, 2000))
    >>> y = 2.0 * x + 1.0 + rng.normal(scale=0.05, size=x.shape)
    >>> fit = fit_irmad(x, y)
    >>> bool(fit.rho.min() > 0.99)
    True
    """
    # Imported here: scipy is slow to import, which importing the
    # package (and ``satlearn change --help``) should not pay.
    import scipy.linalg
    import scipy.special

    # Hand-written: neither scikit-learn's CCA (no sample weights, iterative
    # PLS) nor any other kept library has IR-MAD; this is Nielsen's
    # algorithm, a weighted covariance and one symmetric generalised
    # eigenproblem (scipy.linalg.eigh) per iteration.
    p = before.shape[0]
    # Both dates side by side, (n, 2p): one matrix product per iteration gives
    # every weighted second moment, another all MAD variates (skinny products
    # are memory-bound, so fewer passes over the pixels is what counts).
    z = np.concatenate([before, after]).astype(np.float64)  # (2p, n), pixels contiguous
    weights = np.ones(z.shape[1])
    ridge = np.eye(p) * regularisation
    converged = False
    iteration = 0
    previous = None
    for iteration in range(1, max_iterations + 1):  # noqa: B007  (reported below)
        total = weights.sum()
        mean = z @ weights / total
        root = z * np.sqrt(weights)
        cov = root @ root.T / total - np.outer(mean, mean)
        sxx, syy, sxy = cov[:p, :p], cov[p:, p:], cov[:p, p:]
        sxx = sxx + ridge * max(np.trace(sxx) / p, 1e-30)
        syy = syy + ridge * max(np.trace(syy) / p, 1e-30)
        # Sxy Syy^-1 Syx a = rho^2 Sxx a; eigh sorts ascending.
        lhs = sxy @ np.linalg.solve(syy, sxy.T)
        rho2, a = scipy.linalg.eigh((lhs + lhs.T) / 2, sxx)
        b = np.linalg.solve(syy, sxy.T @ a)
        b /= np.sqrt(np.maximum(np.einsum("ij,ij->j", b, syy @ b), 1e-300))
        b *= np.where(np.einsum("ij,ij->j", a, sxy @ b) < 0, -1.0, 1.0)
        projection = np.concatenate([-a, b]).T
        mad = projection @ z
        mad -= (projection @ mean)[:, None]
        np.square(mad, out=mad)
        variance = mad @ weights / total
        kept = variance >= MAD_VARIANCE_FLOOR
        chi2 = np.where(kept, 1.0 / np.where(kept, variance, 1.0), 0.0) @ mad
        # P(chi2_p > chi2): the probability of no change (scipy.stats.chi2.sf
        # without its per-call argument checking), over the variates kept.
        new_weights = scipy.special.gammaincc(max(int(kept.sum()), 1) / 2.0, chi2 / 2.0)
        rho = np.sqrt(np.clip(rho2, 0.0, 1.0))
        change = np.inf if previous is None else float(np.max(np.abs(rho - previous)))
        previous = rho
        if new_weights.sum() <= p:  # every pixel looks changed: keep the last weights
            break
        weights = new_weights
        if change < tolerance:
            converged = True
            break
    mean_x, mean_y = mean[:p], mean[p:]
    return IRMADFit(mean_x, mean_y, a, b, variance, rho, iteration, converged)


def irmad_chi2(before: np.ndarray, after: np.ndarray, fit: IRMADFit) -> np.ndarray:
    """The IR-MAD chi-square change statistic of every pixel.

    Blockwise: pixel by pixel, no halo.

    Parameters
    ----------
    before, after : ndarray, shape (band, y, x)
    fit : IRMADFit

    Returns
    -------
    numpy.ndarray
        float32 (y, x), ``sum_i MAD_i^2 / variance_i``. Under no change it
        is roughly chi-square with ``band`` degrees of freedom (somewhat
        larger: the variances are weighted towards the most stable pixels).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=(2, 50, 50))
    >>> y = x + rng.normal(scale=0.1, size=x.shape)
    >>> y[:, :5, :5] += 3.0
    >>> fit = fit_irmad(x.reshape(2, -1), y.reshape(2, -1))
    >>> chi2 = irmad_chi2(x, y, fit)
    >>> bool(chi2[:5, :5].min() > chi2[10:, 10:].max())
    True
    """
    mad = irmad_variates(before, after, fit)
    return np.einsum("k...,k...->...", mad, mad)


def irmad_variates(before: np.ndarray, after: np.ndarray, fit: IRMADFit) -> np.ndarray:
    """Standardised MAD variates (k, ...) of (band, ...) values; negligible ones are 0.

    Blockwise (pixel by pixel); :func:`irmad_chi2` is their squared length.
    """
    kept = fit.variance >= MAD_VARIANCE_FLOOR
    scale = np.where(kept, 1.0 / np.sqrt(np.where(kept, fit.variance, 1.0)), 0.0)
    a = (fit.a * scale).astype(_F32)
    b = (fit.b * scale).astype(_F32)
    offset = ((fit.mean_after @ fit.b - fit.mean_before @ fit.a) * scale).astype(_F32)
    after = np.asarray(after, dtype=_F32)
    before = np.asarray(before, dtype=_F32)
    mad = np.tensordot(b.T, after, axes=1)
    mad -= np.tensordot(a.T, before, axes=1)
    mad -= offset.reshape(-1, *([1] * (mad.ndim - 1)))
    return mad
