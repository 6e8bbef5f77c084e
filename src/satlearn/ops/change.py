"""Change detection between two co-registered images of one place.

Each method turns a *before* and an *after* image (``(band, y, x)`` on one
grid) into a per-pixel **change magnitude** and a boolean **change mask**;
:meth:`ChangeResult.to_features` turns the mask into polygons of the changed
areas. Methods (``method=``):

``"difference"``
    Image differencing: the root mean square over bands of ``after - before``
    (for one band, ``|after - before|``). With ``index="ndvi"`` (any index of
    :func:`satlearn.ops.indices.compute_index`) this is index differencing.
``"ratio"``
    Image ratio for intensities such as SAR backscatter: per band the
    normalised ratio ``1 - min(a / b, b / a)`` in [0, 1] (Rignot & van Zyl
    1993), root mean square over bands. Non-positive values are invalid.
``"log-ratio"``
    ``|ln(after / before)|`` (root mean square over bands), which turns SAR's
    multiplicative speckle into additive noise (Bazi et al. 2005).
``"cva"``
    Change vector analysis on standardised bands (each band of each date
    scaled to zero mean and unit variance, a rough radiometric
    normalisation): magnitude ``||z_after - z_before||`` and a direction, the
    angle in [0, pi] between the change vector and the all-bands-equal
    diagonal (compressed CVA, Bovolo & Bruzzone 2007): near 0 all bands got
    brighter, near pi all darker, about pi/2 a change of spectral shape.
``"pca-kmeans"``
    Celik (2009): the difference image (the CVA magnitude above) is cut into
    non-overlapping h x h blocks, PCA of the blocks gives the eigenvectors
    that hold ``variance`` (90 %) of it, each pixel's h x h neighbourhood is
    projected onto them and k-means with k = 2 splits the projections; the
    cluster of the larger mean difference is "changed". No threshold.
``"irmad"``
    Iteratively reweighted multivariate alteration detection (Nielsen 2007):
    canonical correlation analysis of the two dates, the MAD variates (the
    differences of the canonical variates), and re-weighting of each pixel by
    its probability of no change until the canonical correlations settle.
    The magnitude is the length of the standardised MAD vector, the square
    root of the chi-square statistic ``sum_i (MAD_i / sigma_i)^2`` (its
    histogram is far less skewed than the chi-square's, so the automatic
    thresholds split it better). It is invariant to
    any linear (affine) radiometric difference between the dates, which is
    why it is the classic strong unsupervised method.

Thresholds (``threshold=``) are ``"otsu"`` (the default, but for ``irmad``),
``"kittler-illingworth"`` (``"ki"``; the default for ``irmad``: under no
change its magnitude follows a chi law, skewed with a long right tail, and
the changed class is small, the case of unequal classes Kittler-Illingworth's
two-Gaussian fit is made for) or a number, read by
:mod:`satlearn.ops.threshold` off the histogram of the valid magnitudes.
Automatic thresholds and k-means split any histogram in two, pure noise
included, so each is guarded (``significance=0.001``): the noise of every
band's change is estimated from the images (adjacent-pixel differences), an
automatic threshold never goes below the magnitude noise reaches with that
probability, the ratio methods test each pixel against an intensity-dependent
noise model, and k-means's upper cluster is change only when the two clusters
lie further apart than noise reaches. Identical dates give no change, dates
that differ by sensor noise alone next to none.
``smooth=3`` averages the magnitude over 3 x 3 valid neighbours before the
decision, which trades a little spatial detail for much less salt-and-pepper
noise (see ``docs/benchmarks.md``).

Validity: a pixel takes part when every band of both dates is finite and not
the input's nodata (and ``valid`` allows it); elsewhere the magnitude is NaN
and the mask False. Where no pixel is valid, :class:`NoValidDataError` is
raised (with one exception: dask input, a per-pixel method and a numeric
threshold run no global step and give an all-False mask).

Dask: numpy- and dask-backed inputs give the same result. Per-pixel steps
(scaling, differences, ratios, CVA, the MAD transform, smoothing, the PCA
projection and the k-means assignment) stay lazy, block by block
(``xarray.apply_ufunc``, ``dask.array.map_overlap``). Global steps are
estimated once and then applied lazily: band statistics, the IR-MAD fit and
the k-means fit use a regular sub-grid of at most ``max_samples`` pixels
(every pixel when the scene is smaller, so small scenes are exact); the PCA
uses at most ``max_samples / h^2`` blocks; thresholds use the histogram of
all valid magnitudes (two streaming passes, :mod:`satlearn.ops.threshold`).

Scores against a reference mask come from :mod:`satlearn.metrics`
(:func:`binary_scores`: precision, recall, F1, IoU, accuracy, Cohen's kappa);
:meth:`ChangeResult.scores` is a shortcut.

References
----------
Bazi, Y., Bruzzone, L., & Melgani, F. (2005). An unsupervised approach based
on the generalized Gaussian model to automatic change detection in
multitemporal SAR images. IEEE TGRS, 43(4), 874-887.
https://doi.org/10.1109/TGRS.2004.842441

Bovolo, F., & Bruzzone, L. (2007). A theoretical framework for unsupervised
change detection based on change vector analysis in the polar domain. IEEE
TGRS, 45(1), 218-236. https://doi.org/10.1109/TGRS.2006.885408

Celik, T. (2009). Unsupervised change detection in satellite images using
principal component analysis and k-means clustering. IEEE GRSL, 6(4),
772-776. https://doi.org/10.1109/LGRS.2009.2025059

Nielsen, A. A. (2007). The regularized iteratively reweighted MAD method for
change detection in multi- and hyperspectral data. IEEE TIP, 16(2), 463-478.
https://doi.org/10.1109/TIP.2006.888195

Rignot, E. J. M., & van Zyl, J. J. (1993). Change detection techniques for
ERS-1 SAR data. IEEE TGRS, 31(4), 896-906. https://doi.org/10.1109/36.239913

Examples
--------
>>> from satlearn.synth import make_scene
>>> from satlearn.ops.change import change_mask, detect_change
>>> scene = make_scene(128, seed=0)
>>> before, after = scene.image.isel(time=0), scene.image.isel(time=-1)
>>> mask = change_mask(before, after, method="cva")
>>> mask.dtype, mask.dims
(dtype('bool'), ('y', 'x'))
>>> result = detect_change(before, after, method="irmad")
>>> result.magnitude.dims, result.method
(('y', 'x'), 'irmad')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import scipy.linalg
import scipy.ndimage as ndi
import scipy.special
import xarray as xr

from satlearn.errors import CRSMismatchError, InvalidInputError, NoValidDataError
from satlearn.metrics import BinaryScores, binary_scores
from satlearn.ops.threshold import auto_threshold
from satlearn.raster import copy_grid

__all__ = [
    "METHODS",
    "BinaryScores",
    "ChangeResult",
    "IRMADFit",
    "NoiseFloor",
    "PCAKMeansFit",
    "binary_scores",
    "change_mask",
    "cva",
    "detect_change",
    "difference_magnitude",
    "fit_irmad",
    "fit_pca_kmeans",
    "irmad_chi2",
    "log_ratio_magnitude",
    "pca_kmeans_labels",
    "ratio_magnitude",
]

#: The change-detection methods, by name.
METHODS = ("difference", "ratio", "log-ratio", "cva", "pca-kmeans", "irmad")

_F32 = np.float32
_DEFAULT_THRESHOLD = {"irmad": "kittler-illingworth"}
_THRESHOLD_NAMES = {"otsu": "otsu", "kittler-illingworth": "kittler-illingworth", "ki": "ki"}
# The canonical variates have unit variance, so a MAD variate of variance
# below this is the two dates agreeing to rounding (identical bands): it
# carries no change and must not be blown up by 1 / variance.
_MAD_VARIANCE_FLOOR = 1e-8
# The noise estimate: adjacent-pixel pairs it uses, and the side of the
# simulated noise field whose magnitude quantile is the floor.
_NOISE_PAIRS = 40_000
_NOISE_SIDE = 256
# Intensity classes of the ratio methods' noise model.
_NOISE_BINS = 8
# Normal-consistent MAD: sigma = 1.4826 * median(|x - median(x)|).
_MAD_TO_SIGMA = 1.482602218505602


# --------------------------------------------------------------------------- pure kernels


def _rms_over_bands(values: np.ndarray) -> np.ndarray:
    """sqrt(mean over axis 0 of values**2) in float32, NaN if any band is NaN."""
    out = np.einsum("byx,byx->yx", values, values, dtype=_F32)
    out /= _F32(values.shape[0])
    return np.sqrt(out, out=out)


def difference_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Root mean square over bands of ``after - before``.

    Parameters
    ----------
    before, after : ndarray, shape (band, y, x)
        Float values on one grid; NaN marks missing pixels.

    Returns
    -------
    numpy.ndarray
        float32 (y, x); ``|after - before|`` for one band; NaN where any band
        of either date is NaN.

    Examples
    --------
    >>> difference_magnitude(np.array([[[1.0, 2.0]]]), np.array([[[1.5, 0.0]]]))
    array([[0.5, 2. ]], dtype=float32)
    """
    diff = np.subtract(after, before, dtype=_F32)
    return _rms_over_bands(diff)


def ratio_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Normalised image ratio ``1 - min(a/b, b/a)``, root mean square over bands.

    0 means no change, values near 1 a large relative change in either
    direction. Pixels where a value is not positive are NaN.

    Examples
    --------
    >>> ratio_magnitude(np.array([[[1.0, 2.0, 0.0]]]), np.array([[[1.0, 1.0, 3.0]]]))
    array([[0. , 0.5, nan]], dtype=float32)
    """
    a = np.asarray(before, dtype=_F32)
    b = np.asarray(after, dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 1.0 - np.minimum(a, b) / np.maximum(a, b)
    ratio[~((a > 0) & (b > 0))] = np.nan
    return _rms_over_bands(ratio)


def log_ratio_magnitude(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``|ln(after / before)|``, root mean square over bands.

    Pixels where a value is not positive are NaN.

    Examples
    --------
    >>> out = log_ratio_magnitude(np.array([[[1.0, 1.0]]]), np.array([[[np.e, 1.0]]]))
    >>> np.round(out, 4)
    array([[1., 0.]], dtype=float32)
    """
    a = np.asarray(before, dtype=_F32)
    b = np.asarray(after, dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(b) - np.log(a)
    log_ratio[~((a > 0) & (b > 0))] = np.nan
    return _rms_over_bands(log_ratio)


def cva(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Change vector analysis: magnitude and direction of ``after - before``.

    Parameters
    ----------
    before, after : ndarray, shape (band, y, x)
        Comparable (e.g. standardised) values; NaN marks missing pixels.

    Returns
    -------
    magnitude : numpy.ndarray
        float32 (y, x), the Euclidean norm of the change vector.
    direction : numpy.ndarray
        float32 (y, x), radians in [0, pi]: the angle between the change
        vector and the diagonal (1, ..., 1) (Bovolo & Bruzzone 2007). NaN
        where the vector is zero or a value is missing.

    Examples
    --------
    >>> magnitude, direction = cva(np.zeros((2, 1, 2)), np.array([[[3.0, 1.0]], [[4.0, -1.0]]]))
    >>> magnitude
    array([[5.       , 1.4142135]], dtype=float32)
    >>> np.round(np.degrees(direction), 1)
    array([[ 8.1, 90. ]], dtype=float32)
    """
    diff = np.subtract(after, before, dtype=_F32)
    magnitude = np.sqrt(np.einsum("byx,byx->yx", diff, diff, dtype=_F32))
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = diff.sum(axis=0, dtype=_F32) / (_F32(math.sqrt(diff.shape[0])) * magnitude)
    direction = np.arccos(np.clip(cosine, -1.0, 1.0, out=cosine), out=cosine)
    return magnitude, direction


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
        kept = variance >= _MAD_VARIANCE_FLOOR
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
    mad = _irmad_variates(before, after, fit)
    return np.einsum("k...,k...->...", mad, mad)


def _irmad_variates(before: np.ndarray, after: np.ndarray, fit: IRMADFit) -> np.ndarray:
    """Standardised MAD variates (k, ...) of (band, ...) values; negligible ones are 0."""
    kept = fit.variance >= _MAD_VARIANCE_FLOOR
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


@dataclass(frozen=True)
class PCAKMeansFit:
    """A Celik (2009) PCA + k-means model of a difference image.

    Attributes
    ----------
    block_size : int
        h, the side of the blocks and neighbourhoods.
    mean : ndarray (h*h,)
        Mean block.
    components : ndarray (S, h*h)
        The S leading eigenvectors of the block covariance.
    centres : ndarray (2, S)
        k-means centres of the projected neighbourhoods.
    changed : int
        Index of the centre whose pixels have the larger mean difference, or
        -1 when no cluster is change: the difference image is constant, or
        the two cluster means are not separated by more than the noise
        floor (see :func:`fit_pca_kmeans`).
    fill : float
        Value standing in for missing pixels in neighbourhoods.
    """

    block_size: int
    mean: np.ndarray
    components: np.ndarray
    centres: np.ndarray
    changed: int
    fill: float


def _features(diff: np.ndarray, fit: PCAKMeansFit) -> np.ndarray:
    """(S, y, x) projections of each pixel's h x h neighbourhood onto the eigenvectors."""
    h = fit.block_size
    image = np.where(np.isfinite(diff), diff, _F32(fit.fill)).astype(_F32)
    # Projecting every neighbourhood onto an eigenvector is one correlation of
    # the image with that eigenvector as an h x h kernel, so no (y, x, h*h)
    # array of neighbourhoods is ever built; OpenCV's filter2D is the fast
    # correlation, BORDER_REFLECT mirrors the edge pixels (scipy's "reflect").
    offsets = fit.components @ fit.mean
    out = np.empty((len(fit.components), *diff.shape), dtype=_F32)
    for k, component in enumerate(fit.components):
        kernel = component.reshape(h, h).astype(_F32)
        cv2.filter2D(
            image, cv2.CV_32F, kernel, dst=out[k], anchor=(h // 2, h // 2),
            borderType=cv2.BORDER_REFLECT,
        )  # fmt: skip
        out[k] -= _F32(offsets[k])
    return out


def _feature_plane(diff: np.ndarray, fit: PCAKMeansFit, k: int) -> np.ndarray:
    """Projection onto eigenvector ``k`` alone (a (y, x) plane, for dask blocks)."""
    one = PCAKMeansFit(
        fit.block_size, fit.mean, fit.components[k : k + 1], fit.centres, 0, fit.fill
    )
    return _features(diff, one)[0]


def _blocks(diff: np.ndarray, h: int) -> np.ndarray:
    """Non-overlapping h x h blocks of ``diff`` as rows, those without NaN."""
    rows, cols = diff.shape[0] // h, diff.shape[1] // h
    blocks = diff[: rows * h, : cols * h].reshape(rows, h, cols, h).swapaxes(1, 2)
    blocks = blocks.reshape(-1, h * h)
    return blocks[np.isfinite(blocks).all(axis=1)]


def _pca(blocks: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and leading components (those explaining ``variance``) of ``blocks``."""
    # scikit-learn's PCA: the field's kept implementation (a full SVD here,
    # h*h is small), and it gives the explained-variance ratios Celik's
    # choice of S needs.
    from sklearn.decomposition import PCA

    pca = PCA(svd_solver="full").fit(blocks.astype(np.float64))
    ratios = np.nan_to_num(pca.explained_variance_ratio_, nan=0.0)
    count = int(np.searchsorted(np.cumsum(ratios), variance - 1e-9) + 1)
    count = min(max(count, 1), len(pca.components_))
    return pca.mean_, pca.components_[:count]


def _kmeans(features: np.ndarray, seed: int) -> np.ndarray:
    """Two k-means centres of ``features`` (n, S)."""
    # scikit-learn's KMeans: k-means++ seeding and several restarts, the
    # reference implementation; only the fit runs there, the assignment of
    # every pixel is a nearest-centre test done block by block below.
    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=2, n_init=3, random_state=seed).fit(features)
    return kmeans.cluster_centers_


def fit_pca_kmeans(
    diff: np.ndarray,
    *,
    block_size: int = 5,
    variance: float = 0.9,
    max_samples: int = 250_000,
    seed: int = 0,
    floor: float | None = None,
) -> PCAKMeansFit:
    """Fit Celik's PCA + k-means change model on a difference image.

    Parameters
    ----------
    diff : ndarray, shape (y, x)
        Difference image (larger = more different); NaN = missing.
    block_size : int
        h, at least 2.
    variance : float
        Share of the block variance the kept eigenvectors explain (Celik: 0.9).
    max_samples : int
        Most pixels whose features k-means is fitted on (a regular sub-grid).
    seed : int
        Seed of k-means.
    floor : float, optional
        The difference that noise alone reaches (e.g. ``details["noise"].floor``
        of :func:`detect_change`). K-means always splits, even pure noise, so
        the upper cluster is "changed" only when its mean difference exceeds
        the lower cluster's by more than ``floor``; otherwise nothing is.

    Returns
    -------
    PCAKMeansFit
        ``changed`` is -1 when no cluster is change.

    Raises
    ------
    NoValidDataError
        No complete block or no valid pixel.

    Examples
    --------
    >>> diff = np.zeros((60, 60), dtype="float32")
    >>> diff[20:40, 20:40] = 5.0
    >>> fit = fit_pca_kmeans(diff + np.random.default_rng(0).random(diff.shape), block_size=3)
    >>> labels = pca_kmeans_labels(diff, fit)
    >>> bool(labels[25:35, 25:35].all()), bool(labels[:10].any())
    (True, False)
    """
    diff = np.asarray(diff, dtype=_F32)
    fit = _fit_pca(_blocks(diff, block_size), block_size, variance)
    step = _stride(diff.shape, max_samples)
    features = _features(diff, fit)[:, ::step, ::step]
    return _fit_kmeans(fit, features, diff[::step, ::step], seed, floor)


def _fit_pca(blocks: np.ndarray, h: int, variance: float) -> PCAKMeansFit:
    if len(blocks) < 2:
        raise NoValidDataError(
            f"pca-kmeans: fewer than two {h}x{h} blocks without missing pixels; "
            "use a smaller block_size or more valid data"
        )
    fill = float(blocks.mean())
    if not np.ptp(blocks) > 0:
        # A constant difference image (identical dates): no variance for PCA
        # to explain, nothing to split, no change.
        components = np.zeros((1, h * h))
        return PCAKMeansFit(h, blocks[0].astype(np.float64), components, np.zeros((2, 1)), -1, fill)
    mean, components = _pca(blocks, variance)
    return PCAKMeansFit(h, mean, components, np.zeros((2, len(components))), 0, fill)


def _fit_kmeans(
    fit: PCAKMeansFit,
    features: np.ndarray,
    diff: np.ndarray,
    seed: int,
    floor: float | None = None,
) -> PCAKMeansFit:
    """Finish ``fit`` with k-means on sampled features (S, ...) and their differences."""
    ok = np.isfinite(diff)
    samples = features[:, ok].T
    if len(samples) < 2:
        raise NoValidDataError("pca-kmeans: fewer than two valid pixels to cluster")
    none = PCAKMeansFit(fit.block_size, fit.mean, fit.components, fit.centres, -1, fit.fill)
    if fit.changed == -1 or not np.ptp(samples, axis=0).max() > 0:
        return none  # every neighbourhood alike: one cluster, no change
    centres = _kmeans(samples, seed)
    labels = _nearest(samples.T, centres)
    values = diff[ok]
    if not (np.any(labels == 0) and np.any(labels == 1)):
        return none
    means = np.array([values[labels == k].mean() for k in (0, 1)])
    changed = int(np.argmax(means))
    # k-means splits pure noise too: the split is change only when the
    # clusters' mean differences lie further apart than noise reaches.
    if floor is not None and not means[changed] - means[1 - changed] > floor:
        return PCAKMeansFit(fit.block_size, fit.mean, fit.components, centres, -1, fit.fill)
    return PCAKMeansFit(fit.block_size, fit.mean, fit.components, centres, changed, fit.fill)


def _nearest(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index (0 or 1) of the nearer centre; features (S, ...)."""
    # |f - c1|^2 < |f - c0|^2  <=>  f . (c1 - c0) > (|c1|^2 - |c0|^2) / 2: one dot product.
    normal = (centres[1] - centres[0]).astype(_F32)
    bias = _F32((centres[1] @ centres[1] - centres[0] @ centres[0]) / 2)
    score = np.tensordot(normal, features, axes=(0, 0))
    return (score > bias).astype(np.uint8)


def pca_kmeans_labels(diff: np.ndarray, fit: PCAKMeansFit) -> np.ndarray:
    """Changed (True) / unchanged pixels of ``diff`` under a fitted Celik model.

    Missing (NaN) pixels are False. See :func:`fit_pca_kmeans` for an example.
    """
    diff = np.asarray(diff, dtype=_F32)
    if fit.changed == -1:
        return np.zeros(diff.shape, dtype=bool)
    labels = _nearest(_features(diff, fit), fit.centres) == fit.changed
    return labels & np.isfinite(diff)


# --------------------------------------------------------------------------- DataArray layer


@dataclass(frozen=True)
class ChangeResult:
    """What :func:`detect_change` found.

    Attributes
    ----------
    magnitude : xarray.DataArray
        float32 (y, x) change magnitude (method-specific units, larger = more
        change); NaN where a pixel is not valid. For ``pca-kmeans`` it is the
        (smoothed) difference image that was clustered.
    mask : xarray.DataArray
        bool (y, x), True = changed; False where not valid.
    valid : xarray.DataArray
        bool (y, x), the pixels that took part.
    method : str
    threshold : float or None
        The magnitude threshold (``mask = magnitude > threshold``); None for
        ``pca-kmeans``, which clusters instead.
    direction : xarray.DataArray or None
        ``cva`` only: float32 (y, x) change direction in radians, [0, pi].
    details : dict
        Method-specific fit: band statistics, the IR-MAD fit, the PCA size...
    """

    magnitude: xr.DataArray
    mask: xr.DataArray
    valid: xr.DataArray
    method: str
    threshold: float | None
    direction: xr.DataArray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_features(
        self, *, min_pixels: int = 1, connectivity: int = 8, to_wgs84: bool = True
    ) -> list[dict[str, Any]]:
        """Polygons of the changed areas, one GeoJSON Feature per connected region.

        Properties: ``id``, ``pixels``, ``area_m2`` (see
        :func:`satlearn.vector.mask_to_features`), ``method`` and
        ``mean_magnitude``.

        Examples
        --------
        >>> features = result.to_features(min_pixels=4)  # doctest: +SKIP
        >>> features[0]["properties"]["method"]  # doctest: +SKIP
        'cva'
        """
        from satlearn.vector import mask_to_features

        mask = self.mask.compute()
        features = mask_to_features(
            mask,
            min_pixels=min_pixels,
            connectivity=connectivity,
            to_wgs84=to_wgs84 and mask.rio.crs is not None,
            properties={"method": self.method},
        )
        if features:
            structure = ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)
            labels, count = ndi.label(mask.values, structure=structure)
            magnitude = np.nan_to_num(self.magnitude.values, nan=0.0)
            sums = np.bincount(labels.ravel(), weights=magnitude.ravel(), minlength=count + 1)
            sizes = np.bincount(labels.ravel(), minlength=count + 1)
            # mask_to_features numbers the kept regions in raster (label) order.
            kept = [r for r in range(1, count + 1) if sizes[r] >= max(1, int(min_pixels))]
            for feature, region in zip(features, kept, strict=True):
                feature["properties"]["mean_magnitude"] = float(sums[region] / sizes[region])
        return features

    def scores(self, reference: Any, *, valid: Any = None) -> BinaryScores:
        """Precision, recall, F1, IoU, accuracy and Cohen's kappa against ``reference``.

        Only pixels that are valid here (and in ``valid``, e.g. the labelled
        pixels of a partial reference) count.

        Examples
        --------
        >>> result.scores(scene.change_mask).f1  # doctest: +SKIP
        0.41
        """
        counted = self.valid.values
        if valid is not None:
            counted = counted & np.asarray(getattr(valid, "values", valid), dtype=bool)
        return binary_scores(self.mask.values, reference, valid=counted)


def _check_input(da: Any, name: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise InvalidInputError(f"{name} must be an xarray.DataArray, got {type(da).__name__}")
    if da.ndim == 2 and set(da.dims) == {"y", "x"}:
        da = da.expand_dims(band=[str(da.name) if da.name is not None else "b1"])
    if da.ndim != 3 or set(da.dims) != {"band", "y", "x"}:
        raise InvalidInputError(f"{name} must have dims (band, y, x) or (y, x), got {da.dims}")
    if da.dtype.kind not in "uifb":
        raise InvalidInputError(f"{name} must hold numbers, got dtype {da.dtype}")
    da = da.transpose("band", "y", "x")
    if 0 in da.shape:
        raise InvalidInputError(f"{name} is empty (shape {da.shape})")
    return da


def _transform(da: xr.DataArray) -> Any:
    try:
        return da.rio.transform()
    except Exception:  # no spatial coordinates: nothing to compare
        return None


def _check_grids(before: xr.DataArray, after: xr.DataArray) -> None:
    shape_b = (before.sizes["y"], before.sizes["x"])
    shape_a = (after.sizes["y"], after.sizes["x"])
    if shape_b != shape_a:
        raise InvalidInputError(
            f"before and after must share one grid: before is {shape_b[0]} x {shape_b[1]} "
            f"pixels, after is {shape_a[0]} x {shape_a[1]} (reproject one onto the other)"
        )
    crs_b, crs_a = before.rio.crs, after.rio.crs
    if crs_b != crs_a:
        raise CRSMismatchError(
            f"before and after must share one CRS: before is in {crs_b}, after in {crs_a}"
        )
    t_b, t_a = _transform(before), _transform(after)
    if t_b is not None and t_a is not None and not t_b.almost_equals(t_a, precision=1e-6):
        raise InvalidInputError(
            "before and after must share one grid: their transforms differ "
            f"(before {tuple(t_b)[:6]}, after {tuple(t_a)[:6]}); coregister them first"
        )


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
    """float32 values with scale/offset applied and nodata as NaN (lazy for dask)."""
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    values = da.astype(_F32)
    if nodata is not None and not np.isnan(nodata):
        values = values.where(da != nodata)
    if "scale" in da.coords and "band" in da.coords["scale"].dims:
        values = values * da.coords["scale"].astype(_F32)
    if "offset" in da.coords and "band" in da.coords["offset"].dims:
        values = values + da.coords["offset"].astype(_F32)
    values = values.reset_coords(drop=True)
    if values.chunks is not None:
        values = values.chunk({"band": -1})
    return values.astype(_F32)


def _stride(shape: tuple[int, int], max_samples: int) -> int:
    return max(1, math.ceil(math.sqrt(shape[0] * shape[1] / max(int(max_samples), 1))))


def _compute(*arrays: Any) -> list[np.ndarray]:
    if any(getattr(a, "chunks", None) is not None for a in arrays):
        import dask

        return [np.asarray(a) for a in dask.compute(*arrays)]
    return [np.asarray(a) for a in arrays]


def _per_pixel(func: Any, *inputs: xr.DataArray, n_out: int = 1) -> Any:
    """Apply a (band, y, x)... -> (y, x) kernel block by block."""

    def kernel(*arrays: np.ndarray) -> Any:
        # apply_ufunc puts the core dim last; the kernels want it first.
        return func(*(np.moveaxis(a, -1, 0) for a in arrays))

    return xr.apply_ufunc(
        kernel,
        *inputs,
        input_core_dims=[["band"]] * len(inputs),
        output_core_dims=[[]] * n_out,
        dask="parallelized",
        output_dtypes=[_F32] * n_out,
    )


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


def _nan_mean_filter(values: np.ndarray, size: int) -> np.ndarray:
    """Mean of the finite values in each size x size window (NaN stays NaN)."""
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0).astype(_F32)
    total = cv2.blur(filled, (size, size), borderType=cv2.BORDER_REFLECT)
    count = cv2.blur(finite.astype(_F32), (size, size), borderType=cv2.BORDER_REFLECT)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = total / count
    out[~finite] = np.nan
    return out


def _neighbourhood(func: Any, da: xr.DataArray, depth: int, dtype: Any, **kwargs: Any) -> Any:
    """Apply a (y, x) -> (y, x) neighbourhood kernel; dask blocks overlap by ``depth``."""
    data = da.data
    if hasattr(data, "dask"):
        # boundary="none": at the scene's edges the kernel's own reflect border
        # applies, as on a whole numpy array, so both give the same values.
        data = data.map_overlap(func, depth=depth, boundary="none", dtype=dtype, **kwargs)
    else:
        data = func(data, **kwargs)
    return da.copy(data=data)


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


def _valid_mask(valid: Any, shape: tuple[int, int]) -> Any:
    values = valid.data if isinstance(valid, xr.DataArray) else np.asarray(valid)
    if np.shape(values) != shape:
        raise InvalidInputError(
            f"valid mask has shape {np.shape(values)}, before and after are {shape[0]} x {shape[1]}"
        )
    if values.dtype.kind not in "biu":
        raise InvalidInputError(f"valid mask must be boolean, got dtype {values.dtype}")
    if hasattr(values, "dask"):
        return values.astype(bool)
    return np.asarray(values, dtype=bool)


@dataclass(frozen=True)
class NoiseFloor:
    """The change magnitude that noise alone reaches, estimated from the images.

    Attributes
    ----------
    sigma : ndarray (band,)
        Noise standard deviation of each per-band change variable (the band
        difference, signed ratio, log ratio, standardised difference or MAD
        variate): the MAD of the differences of horizontally adjacent pixels,
        divided by sqrt(2). Scene structure and real change are smooth at
        that scale, so the estimate is the pixel-to-pixel noise.
    floor : float
        The magnitude noise exceeds with probability ``significance``: the
        ``1 - significance`` quantile of the magnitude (smoothed as the
        decision smooths it) of independent Gaussian noise of these sigmas,
        from a fixed-seed simulation of 256 x 256 pixels. 0 when the
        differences are exactly constant (identical dates).
    significance : float
        The false-alarm probability the floor is set for.
    curve : (intensity, sigma), optional
        ``ratio`` and ``log-ratio``: the noise of one date as a function of
        intensity, per band at 8 intensity classes (arrays (band, 8)). A ratio
        is relative, so additive sensor noise makes the darkest pixels' ratios
        noisy while speckle is alike at all intensities; the test is per
        pixel, ``sum_b ln(after/before)^2 / (s(a)^2/a^2 + s(b)^2/b^2)``
        against ``floor``, the ``1 - significance`` quantile of that
        statistic (chi-square with one degree per band, smoothed as the
        magnitude is). ``sigma`` is then the median of the curve.
    """

    sigma: np.ndarray
    floor: float
    significance: float
    curve: tuple[np.ndarray, np.ndarray] | None = None


def _signed_change(method: str, fit: IRMADFit | None) -> tuple[Any, bool]:
    """Per-band change variables (band, ...) of a method, and whether it takes an RMS.

    Not for the ratio methods, whose noise depends on intensity (_ratio_noise).
    """
    if method == "difference":
        return (lambda a, b: np.subtract(b, a, dtype=_F32)), True
    if method == "irmad":
        return (lambda a, b: _irmad_variates(a, b, fit)), False
    return (lambda a, b: np.subtract(b, a, dtype=_F32)), False  # cva, pca-kmeans (standardised)


def _neighbour_pairs(x: xr.DataArray, y: xr.DataArray, max_samples: int) -> list[np.ndarray]:
    """Both dates at a sub-grid of pixels and at their right-hand neighbours, (band, n) each."""
    height, width = x.sizes["y"], x.sizes["x"]
    # 40,000 pairs put the median within about 1 % of its value.
    step = _stride((height, width), min(max_samples, _NOISE_PAIRS))
    rows = slice(None, None, step)
    if width >= 2:
        first, second = (rows, slice(0, width - 1, step)), (rows, slice(1, width, step))
    else:  # a one-column scene: vertical neighbours
        first, second = (slice(0, height - 1, step), rows), (slice(1, height, step), rows)
    parts = _compute(
        *(da.data[(slice(None), *where)] for da in (x, y) for where in (first, second))
    )
    return [p.reshape(p.shape[0], -1) for p in parts]  # x1, x2, y1, y2


def _robust_sigma(delta: np.ndarray) -> np.ndarray:
    """Noise sigma of a variable from the differences of neighbours, along the last axis."""
    spread = np.abs(delta - np.median(delta, axis=-1, keepdims=True))
    sigma = _MAD_TO_SIGMA * np.median(spread, axis=-1)
    # Quantised, sparse noise (most neighbours equal) zeroes the median; the
    # mean absolute deviation (sigma = sqrt(pi/2) E|x|) still sees it.
    sigma = np.where(sigma > 0, sigma, math.sqrt(math.pi / 2) * spread.mean(axis=-1))
    return sigma / math.sqrt(2.0)  # the difference of two pixels has twice the variance


def _simulated_quantile(
    sigma: np.ndarray, rms: bool, smooth: int, significance: float, squared: bool = False
) -> float:
    """``1 - significance`` quantile of the magnitude of Gaussian noise, smoothed like the data."""
    # Simulated: the squared magnitude is a weighted chi-square and the
    # smoothing averages it, so there is no closed form (fixed seed: stable).
    rng = np.random.default_rng(0)
    side = _NOISE_SIDE
    noise = rng.standard_normal((len(sigma), side, side), dtype=_F32)
    noise *= sigma.astype(_F32)[:, None, None]
    magnitude = np.einsum("byx,byx->yx", noise, noise)
    if rms:
        magnitude /= _F32(len(sigma))
    if not squared:
        np.sqrt(magnitude, out=magnitude)
    if smooth > 1:
        magnitude = _nan_mean_filter(magnitude, smooth)
    return float(np.quantile(magnitude, 1.0 - significance))


def _noise_floor(
    x: xr.DataArray,
    y: xr.DataArray,
    signed: Any,
    rms: bool,
    max_samples: int,
    significance: float,
    smooth: int,
) -> NoiseFloor:
    """Noise of the change variables from adjacent-pixel differences, and its floor."""
    x1, x2, y1, y2 = _neighbour_pairs(x, y, max_samples)
    delta = np.asarray(signed(x1, y1), dtype=_F32) - signed(x2, y2)
    delta = delta[:, np.isfinite(delta).all(axis=0)]
    if delta.shape[1] == 0:  # no two valid neighbours: no estimate, no floor
        return NoiseFloor(np.full(delta.shape[0], np.nan), 0.0, significance)
    sigma = _robust_sigma(delta)
    if not (sigma > 0).any():
        return NoiseFloor(sigma, 0.0, significance)
    return NoiseFloor(sigma, _simulated_quantile(sigma, rms, smooth, significance), significance)


def _ratio_noise(
    x: xr.DataArray, y: xr.DataArray, max_samples: int, significance: float, smooth: int
) -> NoiseFloor:
    """Noise of each date as a function of intensity, for the ratio methods."""
    x1, x2, y1, y2 = _neighbour_pairs(x, y, max_samples)
    delta = (y1 - x1) - (y2 - x2)  # neighbours' band differences: the sensor noise
    level = (x1 + x2 + y1 + y2) / 4
    count = delta.shape[0]
    intensity = np.full((count, _NOISE_BINS), np.nan)
    sigma = np.zeros((count, _NOISE_BINS))
    for band in range(count):  # a few bands; each a vectorised sort
        ok = np.isfinite(delta[band]) & np.isfinite(level[band])
        if ok.sum() < 2 * _NOISE_BINS:
            continue
        order = np.argsort(level[band, ok])
        for k, part in enumerate(np.array_split(order, _NOISE_BINS)):
            intensity[band, k] = np.median(level[band, ok][part])
            # Per date: the band difference holds the noise of two dates.
            sigma[band, k] = _robust_sigma(delta[band, ok][part]) / math.sqrt(2.0)
    ones = np.ones(count)
    quantile = _simulated_quantile(ones, False, smooth, significance, squared=True)
    return NoiseFloor(np.nanmedian(sigma, axis=1), quantile, significance, (intensity, sigma))


def _ratio_significance(before: np.ndarray, after: np.ndarray, noise: NoiseFloor) -> np.ndarray:
    """Sum over bands of (ln after - ln before)^2 / its noise variance: (y, x) float32."""
    intensity, sigma = noise.curve
    total = np.zeros(before.shape[1:], dtype=_F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for band in range(before.shape[0]):
            a, b = before[band], after[band]
            if not np.isfinite(intensity[band]).all():
                continue  # too few pixels to model this band's noise
            # var(ln b - ln a) ~ sigma(a)^2 / a^2 + sigma(b)^2 / b^2 (first order):
            # additive noise makes dark pixels noisy, speckle is the same everywhere.
            s_a = np.interp(a, intensity[band], sigma[band]).astype(_F32)
            s_b = np.interp(b, intensity[band], sigma[band]).astype(_F32)
            variance = (s_a / a) ** 2 + (s_b / b) ** 2
            log_ratio = np.log(b) - np.log(a)
            term = np.where(
                variance > 0, log_ratio**2 / variance, np.where(log_ratio != 0, np.inf, 0)
            )
            total += term.astype(_F32)
    return total


def _check_threshold(method: str, threshold: Any) -> str | float | None:
    """The threshold as a known name or a finite float; refused when it does not apply."""
    if threshold is None:
        return None
    if isinstance(threshold, str):
        key = threshold.lower().replace("_", "-")
        if key not in _THRESHOLD_NAMES:
            raise InvalidInputError(
                f"unknown threshold method {threshold!r}; known: otsu, kittler-illingworth "
                "(ki), or a number"
            )
        value: str | float = _THRESHOLD_NAMES[key]
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


def detect_change(
    before: xr.DataArray,
    after: xr.DataArray,
    method: str = "cva",
    *,
    index: str | Sequence[str] | None = None,
    threshold: str | float | None = None,
    valid: Any = None,
    smooth: int = 1,
    block_size: int = 5,
    variance: float = 0.9,
    match_bands: str = "name",
    max_samples: int = 250_000,
    seed: int = 0,
    significance: float | None = 0.001,
) -> ChangeResult:
    """Detect change between two images: magnitude, mask and the method's details.

    Parameters
    ----------
    before, after : xarray.DataArray
        Dims ``(band, y, x)`` or ``(y, x)``, numpy- or dask-backed, on one
        grid (shape, CRS, transform). Nodata (``da.rio.nodata``) and NaN mark
        missing pixels; ``scale``/``offset`` band coordinates are applied.
    method : str
        One of :data:`METHODS` (see the module docstring).
    index : str or sequence of str, optional
        Spectral indices (:func:`satlearn.ops.indices.compute_index`) that
        replace the bands, e.g. ``index="ndvi"`` for NDVI differencing.
    threshold : {"otsu", "kittler-illingworth", "ki"} or float, optional
        How the magnitude is split (default: Otsu, Kittler-Illingworth for
        ``irmad``). A number is used as given. ``pca-kmeans`` clusters and
        refuses a threshold.
    valid : array_like or DataArray of bool (y, x), optional
        Pixels allowed to take part (e.g. cloud- and shadow-free in both
        dates). Clouds are not change: leave them out here.
    smooth : int
        Side of a mean filter over the valid magnitudes before the decision
        (1: none).
    block_size : int
        ``pca-kmeans``: h, the block and neighbourhood side (Celik used 3-9).
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
        Inputs that are not (band, y, x) numbers, grids of different shapes
        or transforms, different bands, a bad option.
    CRSMismatchError
        The inputs have different CRSs.
    NoValidDataError
        No pixel is valid in both dates (see the module docstring for the
        one lazy exception).
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
    >>> result = detect_change(before, after, "irmad", valid=clear)  # doctest: +SKIP
    >>> result.threshold, result.details["irmad"].rho  # doctest: +SKIP
    >>> ndvi = detect_change(before, after, "difference", index="ndvi")  # doctest: +SKIP
    """
    if method not in METHODS:
        raise InvalidInputError(f"unknown change method {method!r}; known: {', '.join(METHODS)}")
    before = _check_input(before, "before")
    after = _check_input(after, "after")
    _check_grids(before, after)
    smooth = _positive_int(smooth, "smooth", 1)
    max_samples = _positive_int(max_samples, "max_samples", 2)
    threshold = _check_threshold(method, threshold)
    significance = _check_significance(significance)
    if method == "pca-kmeans":
        block_size = _positive_int(block_size, "block_size", 2)
        if not 0 < variance <= 1:
            raise InvalidInputError(f"variance must be in (0, 1], got {variance!r}")
    if index is not None:
        from satlearn.ops.indices import compute_index

        names = [index] if isinstance(index, str) else list(index)
        before = _check_input(compute_index(before, names), "before")
        after = _check_input(compute_index(after, names), "after")
    else:
        before, after = _match_bands(before, after, match_bands)
        if "band" in before.coords:
            # Paired bands carry one set of labels, so arithmetic aligns them.
            after = after.assign_coords(band=before["band"].values)
    shape = (before.sizes["y"], before.sizes["x"])
    x, y = _as_float(before), _as_float(after)
    if valid is not None:
        allowed = xr.DataArray(_valid_mask(valid, shape), dims=("y", "x"))
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
    if significance is not None and automatic and method in ("ratio", "log-ratio"):
        noise = details["noise"] = _ratio_noise(x, y, max_samples, significance, smooth)
        statistic = _per_pixel(lambda a, b: _ratio_significance(a, b, noise), x, y)
        if smooth > 1:
            statistic = _neighbourhood(
                _nan_mean_filter, statistic, smooth // 2 + 1, _F32, size=smooth
            )
        significant = statistic > noise.floor
    elif significance is not None and automatic:
        signed, rms = _signed_change(method, fit)
        details["noise"] = _noise_floor(x, y, signed, rms, max_samples, significance, smooth)
        floor = details["noise"].floor
    if method == "difference":
        magnitude = _per_pixel(difference_magnitude, x, y)
    elif method == "ratio":
        magnitude = _per_pixel(ratio_magnitude, x, y)
    elif method == "log-ratio":
        magnitude = _per_pixel(log_ratio_magnitude, x, y)
    elif method == "irmad":
        details["irmad"] = fit
        magnitude = _per_pixel(lambda a, b: np.sqrt(irmad_chi2(a, b, fit)), x, y)
    else:  # cva, pca-kmeans
        magnitude, direction = _per_pixel(cva, x, y, n_out=2)
    magnitude = magnitude.astype(_F32)
    if smooth > 1:
        magnitude = _neighbourhood(_nan_mean_filter, magnitude, smooth // 2 + 1, _F32, size=smooth)
    valid_out = np.isfinite(magnitude)
    if method == "pca-kmeans":
        fit_pk = _fit_pca_kmeans_lazy(
            magnitude,
            block_size,
            variance,
            max_samples,
            seed,
            floor if "noise" in details else None,
        )
        details["pca_kmeans"] = fit_pk
        mask = _neighbourhood(pca_kmeans_labels, magnitude, block_size, bool, fit=fit_pk)
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


def _sample(x: xr.DataArray, y: xr.DataArray, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(band, n) values of the pixels of a regular sub-grid that are valid in both dates."""
    step = _stride((x.sizes["y"], x.sizes["x"]), max_samples)
    xs, ys = _compute(
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


def _fit_pca_kmeans_lazy(
    magnitude: xr.DataArray,
    h: int,
    variance: float,
    max_samples: int,
    seed: int,
    floor: float | None,
) -> PCAKMeansFit:
    """Celik's fit from sampled blocks and sampled pixel features; dask stays lazy."""
    data = magnitude.data
    rows, cols = data.shape[0] // h, data.shape[1] // h
    # At most max_samples / h^2 blocks: every k-th block row and column.
    keep = _stride((rows, cols), max(max_samples // (h * h), 1))
    row_index = (np.arange(0, rows, keep)[:, None] * h + np.arange(h)).ravel()
    col_index = (np.arange(0, cols, keep)[:, None] * h + np.arange(h)).ravel()
    (sub,) = _compute(data[row_index][:, col_index])
    fit = _fit_pca(_blocks(sub, h), h, variance)
    step = _stride(data.shape, max_samples)
    if hasattr(data, "dask"):
        import dask.array as dsa

        # One lazy plane per eigenvector (map_overlap keeps a block's shape),
        # stacked; only the sub-grid of pixels is ever gathered.
        planes = [
            data.map_overlap(_feature_plane, depth=h, boundary="none", dtype=_F32, fit=fit, k=k)
            for k in range(len(fit.components))
        ]
        features_sample, diff_sample = _compute(
            dsa.stack(planes)[:, ::step, ::step], data[::step, ::step]
        )
    else:
        features = _features(data, fit)
        features_sample, diff_sample = features[:, ::step, ::step], data[::step, ::step]
    return _fit_kmeans(fit, features_sample, diff_sample, seed, floor)


def change_mask(
    before: xr.DataArray, after: xr.DataArray, method: str = "difference", **kwargs: Any
) -> xr.DataArray:
    """Boolean change mask (True = changed) between two images.

    The short form of :func:`detect_change` (same keyword arguments), which
    returns the magnitude, threshold and fit as well.

    Parameters
    ----------
    before, after : xarray.DataArray
        ``(band, y, x)`` (or ``(y, x)``) on one grid, numpy- or dask-backed.
    method : str
        ``"difference"``, ``"cva"``, ``"pca-kmeans"``, ``"ratio"``,
        ``"log-ratio"`` or ``"irmad"``.
    **kwargs
        ``index``, ``threshold``, ``valid``, ``smooth``, ... as for
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
    return detect_change(before, after, method, **kwargs).mask
