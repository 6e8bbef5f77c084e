"""Land cover: unsupervised k-means that scales past memory, and supervised classification.

Unsupervised
------------
:func:`kmeans_landcover` clusters pixel features (bands, chosen spectral
indices, optional texture; :func:`satlearn.pixelml.features.pixel_features`) with
scikit-learn's ``MiniBatchKMeans``, fitted globally and applied blockwise:

1. one reduction over the blocks counts the valid pixels and draws a sample
   of at most ``sample_pixels`` of them by a seeded priority of each
   pixel's *global* index (bottom-k sampling), so the sample and its order
   do not depend on the chunking;
2. the sample is standardised (its float64 mean and standard deviation, so
   that reflectances and indices weigh alike) and ``passes`` passes of
   seeded mini-batches of ``batch_size`` rows feed ``partial_fit``;
3. the labelling is one lazy ``map_blocks`` of ``predict``.

Only one block of features (about 1 Mpx of a numpy image, or one dask chunk)
and the sample are in memory at a time, so the scene may be larger than
memory when it is dask-backed (``open_raster(..., chunks=...)``), and the
clusters are the same for any chunking. Plain ``KMeans`` on the whole
array is the peer in ``benchmarks/bench_landcover.py``.

:func:`score_clusters` names clusters after reference classes by Hungarian
matching (:func:`satlearn.metrics.match_clusters`) and scores the result.

Supervised
----------
:func:`classify_landcover` trains :func:`satlearn.pixelml.pixel.train_pixel_classifier`
(random forest by default, with balanced class weights because land-cover
classes are very unequal in size) on a label raster or labelled polygons,
with spectral indices and texture, and predicts the whole scene. ``extra=``
adds caller-supplied layers, such as a cloud-masked time series interpolated
in time onto a regular date grid
(:func:`satlearn.pixelml.features.interpolate_time`), as eo-learn's land-cover
pipeline classifies from.

Examples
--------
>>> from satlearn.synth import make_scene
>>> scene = make_scene(128, seed=3, clouds=False, ships=False)
>>> result = kmeans_landcover(scene.image.isel(time=0), k=5, indices=("ndvi",))
>>> result.clusters.shape, result.centres.shape
((128, 128), (5, 14))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.checks import check_valid_mask
from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import ClassScores, class_scores, match_clusters
from satlearn.pixelml.features import FeatureSpec, check_image, pixel_features
from satlearn.pixelml.pixel import PixelClassifier, train_pixel_classifier

__all__ = [
    "DEFAULT_INDICES",
    "LandcoverClassification",
    "LandcoverClusters",
    "classify_landcover",
    "kmeans_landcover",
    "score_clusters",
]

#: Indices used by :func:`classify_landcover` when the image's bands allow them:
#: vegetation, water, burn/bare soil and built-up contrasts.
DEFAULT_INDICES: tuple[str, ...] = ("NDVI", "NDWI", "NBR", "NDBI")
NODATA = -1


@dataclass(frozen=True, eq=False)
class LandcoverClusters:
    """The result of :func:`kmeans_landcover`.

    Attributes
    ----------
    clusters : xarray.DataArray
        int16 (y, x) cluster ids 0..k-1; -1 (nodata) where a feature is NaN
        or outside ``valid``. Lazy for a dask-backed image.
    centres : numpy.ndarray
        (k, n_features) cluster centres in feature units (reflectance, index
        values), not standardised.
    feature_names : list of str
        Names of the centre columns.
    mean, scale : numpy.ndarray
        The standardisation applied before clustering.
    model : sklearn.cluster.MiniBatchKMeans
        The fitted model (on standardised features).
    """

    clusters: xr.DataArray
    centres: np.ndarray
    feature_names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    model: Any


@dataclass(frozen=True, eq=False)
class LandcoverClassification:
    """The result of :func:`classify_landcover`: the class map and the classifier."""

    classes: xr.DataArray
    classifier: PixelClassifier


def _blocks(data: Any) -> list[tuple[Any, tuple[slice, slice]]]:
    """(delayed block, (row slice, col slice)) of a (feature, y, x) dask array."""
    starts = [np.concatenate([[0], np.cumsum(c)]) for c in data.chunks[1:]]
    delayed = data.to_delayed()
    out = []
    for i in range(len(data.chunks[1])):
        for j in range(len(data.chunks[2])):
            window = (
                slice(int(starts[0][i]), int(starts[0][i + 1])),
                slice(int(starts[1][j]), int(starts[1][j + 1])),
            )
            out.append((delayed[0, i, j], window))
    return out


def _priority(flat: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per global pixel index (splitmix64's finaliser).

    A bijection of the index, so no two pixels tie; it depends on where a
    pixel is in the image, never on which block holds it.
    """
    z = flat.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 1) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _smallest(
    n: int, priority: np.ndarray, rows: np.ndarray, limit: int
) -> tuple[int, np.ndarray, np.ndarray]:
    if priority.shape[0] > limit:
        keep = np.argpartition(priority, limit - 1)[:limit]
        priority, rows = priority[keep], rows[keep]
    return n, priority, rows


def _sample_block(
    block: np.ndarray, r0: int, c0: int, width: int, valid: np.ndarray | None,
    seed: int, limit: int,
) -> tuple[int, np.ndarray, np.ndarray]:  # fmt: skip
    """(valid count, priorities, feature rows) of a block's ``limit`` lowest-priority pixels."""
    n_features, _, w = block.shape
    rows = block.reshape(n_features, -1).T
    keep = np.isfinite(rows).all(axis=1)
    if valid is not None:
        keep &= valid.reshape(-1)
    rr, cc = np.divmod(np.flatnonzero(keep), w)
    flat = (rr + r0).astype(np.uint64) * np.uint64(width) + (cc + c0).astype(np.uint64)
    return _smallest(int(keep.sum()), _priority(flat, seed), rows[keep], limit)


def _merge_samples(
    parts: list[tuple[int, np.ndarray, np.ndarray]], limit: int
) -> tuple[int, np.ndarray, np.ndarray]:
    n = sum(p[0] for p in parts)
    priority = np.concatenate([p[1] for p in parts])
    rows = np.concatenate([p[2] for p in parts])
    return _smallest(n, priority, rows, limit)


def _global_sample(
    data: Any, mask: np.ndarray | None, seed: int, limit: int
) -> tuple[int, np.ndarray]:
    """The valid pixel count and a chunking-independent sample of feature rows.

    Bottom-k sampling: every valid pixel gets a seeded priority from its
    global index (:func:`_priority`); each block keeps its ``limit`` lowest,
    and a tree reduction (fan-in 8) keeps the ``limit`` lowest of all. The
    sample and its order (by priority) are therefore the same for any
    chunking, which is what makes the fit chunk-invariant; only ``limit``
    rows ever travel to the caller.
    """
    import dask

    width = data.shape[2]
    sample_block = dask.delayed(_sample_block)
    parts = []
    for block, window in _blocks(data):
        valid = None if mask is None else mask[window]
        parts.append(
            sample_block(block, window[0].start, window[1].start, width, valid, seed, limit)
        )
    while len(parts) > 1:
        parts = [
            dask.delayed(_merge_samples)(parts[i : i + 8], limit) for i in range(0, len(parts), 8)
        ]
    n, priority, rows = dask.compute(parts[0])[0]
    return n, rows[np.argsort(priority, kind="stable")]


def kmeans_landcover(
    image: xr.DataArray,
    k: int = 6,
    *,
    bands: Sequence[str] | None = None,
    indices: Iterable[str] = (),
    texture: bool = False,
    valid: Any = None,
    seed: int = 0,
    batch_size: int = 8192,
    passes: int = 2,
    sample_pixels: int = 250_000,
) -> LandcoverClusters:
    """Unsupervised land-cover clusters by mini-batch k-means, global fit, blockwise labels.

    Global (a fit on a sample) then blockwise (the labelling): the result is
    the same for any chunking of the image.

    Parameters
    ----------
    image : xarray.DataArray
        (band, y, x) or (time, band, y, x), numpy- or dask-backed.
    k : int
        Number of clusters.
    bands : sequence of str, optional
        Bands to use; default all.
    indices : iterable of str
        Spectral indices to add (``("ndvi", "ndwi")``).
    texture : bool
        Add local mean / std features (see :mod:`satlearn.pixelml.features`).
    valid : array_like of bool (y, x), optional
        Pixels to cluster (e.g. cloud-free); others get -1.
    seed : int
        Seed of initialisation and block order.
    batch_size : int
        Pixels per ``partial_fit`` call.
    passes : int
        Passes of mini-batches over the sample.
    sample_pixels : int
        Most valid pixels the fit draws (all of them in a smaller image).

    Returns
    -------
    LandcoverClusters

    Raises
    ------
    NoValidDataError
        Fewer valid pixels than ``k`` in the whole image (wherever they lie:
        the fit does not need ``k`` of them in one block).
    UnknownBandError
        A band (or one an index needs) is missing.

    Examples
    --------
    >>> result = kmeans_landcover(scene, k=6, indices=("ndvi", "ndwi"))  # doctest: +SKIP
    >>> result.clusters.plot()  # doctest: +SKIP
    """
    from sklearn.cluster import MiniBatchKMeans

    check_image(image)
    least_sample = max(k, 2) if isinstance(k, int) else 2
    checked = (("k", k, 2), ("batch_size", batch_size, 16), ("passes", passes, 1),
               ("sample_pixels", sample_pixels, least_sample))  # fmt: skip
    for name, value, low in checked:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise InvalidInputError(f"{name} must be an int >= {low}, got {value!r}")
    mask = None
    if valid is not None:
        mask = check_valid_mask(valid, (image.sizes["y"], image.sizes["x"]))
    spec = FeatureSpec.from_image(image, bands=bands, indices=indices, texture=texture)
    stack = pixel_features(image, spec)

    # One reduction gathers the valid count and a sample drawn by global pixel
    # index, so the fit below sees the same rows in the same order whatever
    # the chunking (the labels are then a blockwise predict).
    n, sample = _global_sample(stack.data, mask, seed, sample_pixels)
    if n < k:
        raise NoValidDataError(f"only {n} valid pixel(s) to cluster into k={k} clusters")
    sample64 = sample.astype(np.float64)
    mean = sample64.mean(axis=0)
    scale = sample64.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature carries no information; avoid 0/0
    rows_all = ((sample64 - mean) / scale).astype(np.float32)

    rng = np.random.default_rng(seed)
    model = MiniBatchKMeans(
        n_clusters=k, random_state=seed, batch_size=batch_size, n_init=3,
        init_size=max(3 * k, min(3 * batch_size, rows_all.shape[0])),
    )  # fmt: skip
    first = True
    for _ in range(passes):
        rows = rows_all[rng.permutation(rows_all.shape[0])]
        # The first call initialises (k-means++ on init_size rows), so it gets a larger batch.
        step = model.init_size if first else batch_size
        for start in range(0, rows.shape[0], step):
            batch = rows[start : start + step]
            if first and batch.shape[0] < k:
                continue
            model.partial_fit(batch)
            first = False
            step = batch_size

    mean32, scale32 = mean.astype(np.float32), scale.astype(np.float32)

    def label_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        _, h, w = block.shape
        rows = block.reshape(block.shape[0], -1).T
        keep = np.isfinite(rows).all(axis=1)
        if mask is not None and block_info is not None:
            (r0, r1), (c0, c1) = block_info[0]["array-location"][1:]
            keep &= mask[r0:r1, c0:c1].reshape(-1)
        out = np.full(h * w, NODATA, dtype=np.int16)
        if keep.any():
            out[keep] = model.predict((rows[keep] - mean32) / scale32)
        return out.reshape(h, w)

    data = stack.data.map_blocks(label_block, drop_axis=0, dtype=np.int16)
    clusters = xr.DataArray(
        data, dims=("y", "x"), coords={"y": stack.y, "x": stack.x}, name="cluster"
    )
    grid_mapping = image.rio.grid_mapping
    if grid_mapping in image.coords:
        clusters = clusters.assign_coords({grid_mapping: image.coords[grid_mapping]})
        clusters.rio.write_grid_mapping(grid_mapping, inplace=True)
    if image.chunks is None:
        clusters = clusters.compute(scheduler="threads")
    clusters = clusters.rio.write_nodata(NODATA)
    centres = model.cluster_centers_ * scale + mean
    return LandcoverClusters(
        clusters=clusters,
        centres=centres,
        feature_names=spec.names(),
        mean=mean,
        scale=scale,
        model=model,
    )


def score_clusters(
    clusters: Any, reference: Any, *, valid: Any = None, ignore: int | None = 0
) -> tuple[np.ndarray, ClassScores]:
    """Name clusters after reference classes (Hungarian matching) and score the map.

    Parameters
    ----------
    clusters : DataArray or ndarray (y, x)
        Cluster ids (-1 = nodata, left out).
    reference : DataArray or ndarray (y, x)
        Reference class ids.
    valid : array_like of bool, optional
        Pixels to use for matching and scoring.
    ignore : int or None
        Reference value meaning "unlabelled" (left out).

    Returns
    -------
    (numpy.ndarray, ClassScores)
        ``mapping[cluster] = class`` and the scores of ``mapping[clusters]``.

    Examples
    --------
    >>> mapping, scores = score_clusters(result.clusters, scene.landcover, ignore=None)
    ... # doctest: +SKIP
    """
    c = np.asarray(getattr(clusters, "values", clusters)).astype(np.int64)
    r = np.asarray(getattr(reference, "values", reference)).astype(np.int64)
    if c.shape != r.shape:
        raise InvalidInputError(f"clusters have shape {c.shape}, the reference {r.shape}")
    keep = (c >= 0) & (r >= 0)
    if ignore is not None:
        keep &= r != ignore
    if valid is not None:
        keep &= np.asarray(getattr(valid, "values", valid)).astype(bool)
    if not keep.any():
        raise NoValidDataError("no pixel both clustered and labelled to score")
    # Match against the classes present only (ids compacted to 0..m-1): with
    # sparse ids (LULC codes 1, 2, 3, 4, 8) an absent id would otherwise take
    # a cluster in the one-to-one assignment and score it as all wrong.
    present, compact = np.unique(r[keep], return_inverse=True)
    reference_compact = np.zeros(r.shape, np.int64)
    reference_compact[keep] = compact
    mapping = present[match_clusters(np.where(keep, c, 0), reference_compact, valid=keep)]
    named = mapping[np.where(keep, c, 0)]
    n_classes = int(max(r[keep].max(), mapping.max())) + 1
    return mapping, class_scores(named, r, valid=keep, n_classes=n_classes)


def classify_landcover(
    image: xr.DataArray,
    labels: Any,
    *,
    model: str = "random-forest",
    indices: Iterable[str] | None = None,
    texture: bool = True,
    extra: xr.DataArray | None = None,
    **options: Any,
) -> LandcoverClassification:
    """Supervised land cover: train a pixel classifier on labels, map the scene.

    Parameters
    ----------
    image : xarray.DataArray
        (band, y, x) or (time, band, y, x); a series gives per-date features
        plus temporal statistics.
    labels : DataArray, ndarray, GeoJSON dict / list / path
        A label raster (0 = unlabelled unless ``ignore=`` says otherwise) or
        labelled polygons (see :mod:`satlearn.pixelml.pixel`).
    model : str
        ``"random-forest"`` (default, with ``class_weight="balanced_subsample"``
        unless given) or any of :data:`satlearn.pixelml.pixel.MODELS`.
    indices : iterable of str, optional
        Default: those of :data:`DEFAULT_INDICES` the image's bands allow.
    texture : bool
        Add local mean / std features (default True).
    extra : xarray.DataArray, optional
        (feature, y, x) layers added as features, e.g. a cloud-masked
        series interpolated onto a regular date grid
        (:func:`satlearn.pixelml.features.interpolate_time`, flattened by
        :func:`~satlearn.pixelml.features.series_layers`), which carries the
        phenology a few dates cannot; the classifier then needs them to
        predict (``result.classifier.predict(image, extra)``).
    **options
        Passed to :func:`satlearn.pixelml.pixel.train_pixel_classifier` (``valid``,
        ``ignore``, ``max_samples``, ``seed``, estimator parameters).

    Returns
    -------
    LandcoverClassification
        ``classes`` (int16 (y, x), -1 nodata) and the ``classifier`` (save it
        with ``.classifier.save(path)``).

    Examples
    --------
    >>> result = classify_landcover(scene, "fields.geojson")  # doctest: +SKIP
    >>> result.classifier.save("models/landcover/1")  # doctest: +SKIP
    >>> from satlearn.pixelml.features import interpolate_time, series_layers
    >>> ndvi = interpolate_time(ndvi_series, ~cloud_mask, step_days=16)  # doctest: +SKIP
    >>> result = classify_landcover(scene, labels, extra=series_layers(ndvi, "NDVI"))
    ... # doctest: +SKIP
    """
    from satlearn.ops.indices import available_indices

    check_image(image)
    if indices is None:
        allowed = set(available_indices(image))
        indices = tuple(i for i in DEFAULT_INDICES if i in allowed)
    if model == "random-forest":
        options.setdefault("class_weight", "balanced_subsample")
    classifier = train_pixel_classifier(
        image, labels, model=model, indices=indices, texture=texture, extra=extra, **options
    )
    return LandcoverClassification(classes=classifier.predict(image, extra), classifier=classifier)
