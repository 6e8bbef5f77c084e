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
``smooth_px=3`` averages the magnitude over 3 x 3 valid neighbours before the
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

Calling convention
------------------
``before`` and ``after`` positional, every option keyword-only
(``method=`` positional still works for one release, with a warning); one
default method for both forms, ``"cva"``; method names with hyphens
(``"pca_kmeans"`` works for one release, with a warning); pixel sizes in
``smooth_px`` and ``block_px`` (``smooth`` and ``block_size`` still work for
one release, with a warning). :func:`change_mask` returns the mask,
:func:`detect_change` a :class:`ChangeResult` (``.mask``, ``.magnitude``,
``.direction``, ``.valid``, ``.scores(truth)``, ``.to_features()``,
``.compute()``, ``.coded_mask()``).

Layout
------
``_magnitude`` (differencing, ratios, CVA: per-pixel kernels), ``_irmad``
(the IR-MAD fit and statistic), ``_pca_kmeans`` (Celik's fit and labels),
``_noise`` (the noise floor and the ratios' per-pixel test), ``_blockwise``
(samples, kernels and halos on numpy and dask), ``_result``
(:class:`ChangeResult`) and ``_detect`` (:func:`detect_change`,
:func:`change_mask`: the checks, the pairing of bands, the decision). Every
name loads on first use, so importing this package costs nothing and the
command line's ``--help`` stays fast.

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

import importlib
from typing import Any

# name -> the module that defines it, loaded on first use (PEP 562): the
# methods need scipy, scikit-learn, OpenCV and dask, which importing the
# package (and ``satlearn change --help``) should not pay for.
_FACE = {
    **dict.fromkeys(("DEFAULT_METHOD", "METHODS", "change_mask", "detect_change"), "_detect"),
    "ChangeResult": "_result",
    **dict.fromkeys(("IRMADFit", "fit_irmad", "irmad_chi2"), "_irmad"),
    **dict.fromkeys(
        ("cva", "difference_magnitude", "log_ratio_magnitude", "ratio_magnitude"), "_magnitude"
    ),
    "NoiseFloor": "_noise",
    **dict.fromkeys(("PCAKMeansFit", "fit_pca_kmeans", "pca_kmeans_labels"), "_pca_kmeans"),
    # Re-exported since 0.1 (the scores of a ChangeResult); they live in metrics.
    **dict.fromkeys(("BinaryScores", "binary_scores"), "satlearn.metrics"),
}

__all__ = sorted(_FACE)


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = f"{__name__}.{module}" if module.startswith("_") else module
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FACE})
