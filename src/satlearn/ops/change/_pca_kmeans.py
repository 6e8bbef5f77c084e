"""Celik (2009): PCA of difference-image blocks, then k-means with k = 2.

The fit is *global* (:func:`fit_pca_kmeans`, :func:`fit_pca_kmeans_lazy`:
PCA on at most ``max_samples / h^2`` blocks, k-means on a sub-grid of at most
``max_samples`` pixels); the labelling is *blockwise with a halo* of ``h``
pixels (:func:`pca_kmeans_labels`, each pixel's h x h neighbourhood).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from satlearn.errors import NoValidDataError
from satlearn.ops.change._blockwise import compute, stride

__all__ = ["PCAKMeansFit", "fit_pca_kmeans", "fit_pca_kmeans_lazy", "pca_kmeans_labels"]

_F32 = np.float32


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
    import cv2  # a slow import, paid on first use only

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

    Global: PCA on every complete block, k-means on a sub-grid of at most
    ``max_samples`` pixels.

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
    step = stride(diff.shape, max_samples)
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

    Missing (NaN) pixels are False. A neighbourhood kernel: on dask blocks it
    needs a halo of ``fit.block_size`` pixels. See :func:`fit_pca_kmeans` for
    an example.
    """
    diff = np.asarray(diff, dtype=_F32)
    if fit.changed == -1:
        return np.zeros(diff.shape, dtype=bool)
    labels = _nearest(_features(diff, fit), fit.centres) == fit.changed
    return labels & np.isfinite(diff)


def fit_pca_kmeans_lazy(
    magnitude: xr.DataArray,
    h: int,
    variance: float,
    max_samples: int,
    seed: int,
    floor: float | None,
) -> PCAKMeansFit:
    """Celik's fit of a (y, x) magnitude from sampled blocks and pixel features.

    Global, on samples: at most ``max_samples / h^2`` blocks for the PCA and
    a sub-grid of at most ``max_samples`` pixels for k-means; for dask only
    those samples are computed (the feature planes run with a halo of ``h``).
    """
    data = magnitude.data
    rows, cols = data.shape[0] // h, data.shape[1] // h
    # At most max_samples / h^2 blocks: every k-th block row and column.
    keep = stride((rows, cols), max(max_samples // (h * h), 1))
    row_index = (np.arange(0, rows, keep)[:, None] * h + np.arange(h)).ravel()
    col_index = (np.arange(0, cols, keep)[:, None] * h + np.arange(h)).ravel()
    (sub,) = compute(data[row_index][:, col_index])
    fit = _fit_pca(_blocks(sub, h), h, variance)
    step = stride(data.shape, max_samples)
    if hasattr(data, "dask"):
        import dask.array as dsa

        # One lazy plane per eigenvector (map_overlap keeps a block's shape),
        # stacked; only the sub-grid of pixels is ever gathered.
        planes = [
            data.map_overlap(_feature_plane, depth=h, boundary="none", dtype=_F32, fit=fit, k=k)
            for k in range(len(fit.components))
        ]
        features_sample, diff_sample = compute(
            dsa.stack(planes)[:, ::step, ::step], data[::step, ::step]
        )
    else:
        features = _features(data, fit)
        features_sample, diff_sample = features[:, ::step, ::step], data[::step, ::step]
    return _fit_kmeans(fit, features_sample, diff_sample, seed, floor)
