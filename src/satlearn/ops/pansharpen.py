"""Pansharpening: fuse a multispectral image with a sharper panchromatic band.

Six methods, each a pure numpy kernel ``(ms_on_pan_grid (B, H, W), pan (H, W),
**options) -> (B, H, W)``:

``"brovey"``
    Brovey transform as GDAL and rio-pansharpen compute it: a pseudo-pan
    ``I = sum_k w_k MS_k`` and ``out_k = MS_k * PAN / I`` (Gillespie et al.
    1987). Keeps each pixel's spectral angle of the resampled MS.
``"mean"``
    Simple mean, ``(MS_k + PAN) / 2`` (rio-pansharpen's ``simple_mean``).
``"ihs"``
    Fast (generalised) IHS: ``out_k = MS_k + (PAN' - I)`` with ``PAN'`` the pan
    matched in mean and standard deviation to ``I`` (Tu et al. 2001).
``"gram_schmidt"``
    Gram-Schmidt spectral sharpening (Laben & Brower 2000) in its
    component-substitution form: ``out_k = MS_k + g_k (PAN' - I)`` with
    ``g_k = cov(MS_k, I) / var(I)`` (Aiazzi et al. 2007). ``weights="auto"``
    gives GS-Adaptive (GSA): ``I`` weights regressed from the low-passed pan.
``"pca"``
    Principal-component substitution: the first principal component is
    replaced by the matched pan (Chavez et al. 1991), i.e. substitution with
    ``w = g = v_1``, the leading eigenvector of the MS covariance.
``"hpf"``
    High-pass filter fusion (Chavez et al. 1991) with an MTF-matched Gaussian
    low-pass: ``out_k = MS_k + g_k (PAN - PAN_low)``; gains regressed in a
    small moving window (``injection="local"``, the default: context-adaptive
    injection, Aiazzi et al. 2002), once for the image (``"global"``), or
    ``MS_k / PAN_low`` per pixel (``"modulation"``, high-pass modulation).

Two-pass design
---------------
Methods whose parameters depend on the whole image (IHS, Gram-Schmidt and PCA
need the mean and covariance of the MS bands and the pan; "auto" weights,
HPF's global gains and its local-gain regularisation need the regression of
the low-passed pan on the MS bands) first
estimate one joint mean/covariance of ``[MS_1..MS_B, PAN, PAN_low]``
(:func:`estimate_statistics`) — on every pixel when the scene has at most
``sample_pixels`` pixels, otherwise on a subset of evenly spread dask blocks
(or a strided sample of a numpy array) of about that many pixels. The second
pass applies the kernel block by block (``dask.array.map_blocks``; HPF, whose
low-pass and local windows reach past a block's edge, goes through
``map_overlap`` so blocks see their neighbours). Brovey with fixed weights,
the simple mean and HPF's modulation need no first pass.

Resampling of the MS onto the pan grid honours both grids' transforms
(pixel-is-area; the grids may differ in origin, as Landsat 8's do), block by
block for dask inputs: each output block reads only the MS window it covers,
plus a margin for the kernel. Nearest, bilinear and cubic (the default, as in
GDAL's own pansharpening) on north-up grids use GDAL's kernels (Keys cubic,
a = -0.5) applied axis by axis in one compiled float32 pass (numba), which is
faster than GDAL's general warper and thread-safe; other resamplings, and
rotated grids, go through :func:`rasterio.warp.reproject`. At the outermost
two MS pixels the two differ slightly (edge pixels are repeated here).

References
----------
Gillespie, A. R., Kahle, A. B., & Walker, R. E. (1987). Color enhancement of
highly correlated images. II. Remote Sensing of Environment, 22(3), 343-365.
https://doi.org/10.1016/0034-4257(87)90088-5

Chavez, P. S., Sides, S. C., & Anderson, J. A. (1991). Comparison of three
different methods to merge multiresolution and multispectral data.
Photogrammetric Engineering & Remote Sensing, 57(3), 295-303.

Laben, C. A., & Brower, B. V. (2000). Process for enhancing the spatial
resolution of multispectral imagery using pan-sharpening. US Patent 6,011,875.

Tu, T.-M., Su, S.-C., Shyu, H.-C., & Huang, P. S. (2001). A new look at
IHS-like image fusion methods. Information Fusion, 2(3), 177-186.
https://doi.org/10.1016/S1566-2535(01)00036-7

Aiazzi, B., Baronti, S., & Selva, M. (2007). Improving component substitution
pansharpening through multivariate regression of MS+Pan data. IEEE TGRS,
45(10), 3230-3239. https://doi.org/10.1109/TGRS.2007.901007

Vivone, G., et al. (2015). A critical comparison among pansharpening
algorithms. IEEE TGRS, 53(5), 2565-2586. https://doi.org/10.1109/TGRS.2014.2361734
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from scipy import ndimage
from scipy.optimize import nnls

from satlearn.errors import CRSMismatchError, InvalidInputError

__all__ = [
    "METHODS",
    "FusionStatistics",
    "brovey",
    "component_substitution",
    "estimate_statistics",
    "fast_ihs",
    "gdal_pansharpen",
    "gram_schmidt",
    "hpf",
    "method_parameters",
    "mtf_sigma",
    "pansharpen",
    "pca",
    "resample_to_pan",
    "simple_mean",
]

#: The method names :func:`pansharpen` accepts.
METHODS: tuple[str, ...] = ("brovey", "mean", "ihs", "gram_schmidt", "pca", "hpf")
_ALIASES = {
    "gs": "gram_schmidt",
    "gramschmidt": "gram_schmidt",
    "simple_mean": "mean",
    "fast_ihs": "ihs",
    "gihs": "ihs",
    "high_pass": "hpf",
}
_RESAMPLINGS = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average")
# Extra MS pixels read around each block: cubic and lanczos reach 2-3 source pixels.
_WARP_MARGIN = 4
_F32 = np.float32
_WARP_LOCK = threading.Lock()
# Resamplings done without GDAL's warper on north-up grids (see _separable_resample).
_SEPARABLE = frozenset({"nearest", "bilinear", "cubic"})
_WARP_THREADS = max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- kernels


def _as_float(ms: np.ndarray, pan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ms = np.asarray(ms)
    pan = np.asarray(pan)
    if ms.ndim != 3:
        raise InvalidInputError(f"ms must be a (band, y, x) array, got shape {ms.shape}")
    if pan.ndim == 3 and pan.shape[0] == 1:
        pan = pan[0]
    if pan.shape != ms.shape[1:]:
        raise InvalidInputError(
            f"pan shape {pan.shape} does not match the MS grid {ms.shape[1:]}; "
            "resample the MS onto the pan grid first (resample_to_pan)"
        )
    dtype = np.result_type(ms.dtype, pan.dtype, _F32)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return ms.astype(dtype, copy=False), pan.astype(dtype, copy=False)


def _band_vector(values: Any, count: int, what: str) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float64).ravel()
    if vector.shape != (count,):
        raise InvalidInputError(f"{what} needs {count} values (one per MS band), got {vector.size}")
    if not np.all(np.isfinite(vector)):
        raise InvalidInputError(f"{what} must be finite, got {vector.tolist()}")
    return vector


def _intensity(ms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # tensordot keeps the temporary to one (H, W) plane.
    return np.tensordot(weights.astype(ms.dtype), ms, axes=1)


def brovey(
    ms: np.ndarray, pan: np.ndarray, *, weights: Sequence[float] | None = None
) -> np.ndarray:
    """Brovey fusion: ``out_k = MS_k * PAN / sum_j w_j MS_j``.

    Parameters
    ----------
    ms : ndarray, shape (B, H, W)
        Multispectral bands already on the pan grid.
    pan : ndarray, shape (H, W)
        Panchromatic band.
    weights : sequence of B floats, optional
        Weights of the pseudo-pan; default ``1/B`` each (GDAL's default).

    Returns
    -------
    ndarray, shape (B, H, W)
        Where the pseudo-pan is zero the output is zero, as in GDAL.

    References
    ----------
    Gillespie, Kahle & Walker (1987), https://doi.org/10.1016/0034-4257(87)90088-5

    Examples
    --------
    >>> ms = np.full((2, 2, 2), 10.0)
    >>> brovey(ms, np.full((2, 2), 30.0))[0, 0, 0]
    np.float64(30.0)
    """
    ms, pan = _as_float(ms, pan)
    count = ms.shape[0]
    w = np.full(count, 1.0 / count) if weights is None else _band_vector(weights, count, "weights")
    intensity = _intensity(ms, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(intensity != 0, pan / intensity, 0).astype(ms.dtype, copy=False)
    return ms * ratio


def simple_mean(ms: np.ndarray, pan: np.ndarray) -> np.ndarray:
    """Simple mean fusion, ``(MS_k + PAN) / 2``, as in rio-pansharpen.

    Examples
    --------
    >>> simple_mean(np.ones((1, 1, 1)), np.full((1, 1), 3.0))[0, 0, 0]
    np.float64(2.0)
    """
    ms, pan = _as_float(ms, pan)
    return (ms + pan) * ms.dtype.type(0.5)


def component_substitution(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Sequence[float],
    gains: Sequence[float],
    pan_gain: float = 1.0,
    pan_offset: float = 0.0,
) -> np.ndarray:
    """The component-substitution kernel ``out_k = MS_k + g_k (a PAN + b - sum_j w_j MS_j)``.

    IHS (``g = 1``), Gram-Schmidt (``g_k = cov(MS_k, I)/var(I)``) and PCA
    (``w = g = v_1``) are this kernel with different parameters; ``a`` and
    ``b`` match the pan to the intensity ``I`` in mean and spread.

    References
    ----------
    Tu et al. (2001), https://doi.org/10.1016/S1566-2535(01)00036-7;
    Aiazzi, Baronti & Selva (2007), https://doi.org/10.1109/TGRS.2007.901007

    Examples
    --------
    >>> ms = np.ones((2, 1, 1))
    >>> component_substitution(ms, np.full((1, 1), 2.0), weights=[0.5, 0.5], gains=[1, 1])
    array([[[2.]],
    <BLANKLINE>
           [[2.]]])
    """
    ms, pan = _as_float(ms, pan)
    count = ms.shape[0]
    w = _band_vector(weights, count, "weights")
    g = _band_vector(gains, count, "gains").astype(ms.dtype)
    detail = pan * ms.dtype.type(pan_gain) + ms.dtype.type(pan_offset)
    detail -= _intensity(ms, w)
    return ms + g[:, None, None] * detail


def hpf(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    sigma: float,
    injection: str = "local",
    gains: Sequence[float] | None = None,
    window: int = 5,
    regularization: float | None = None,
) -> np.ndarray:
    """High-pass filter fusion: inject ``PAN - G_sigma * PAN`` into each band.

    Parameters
    ----------
    ms, pan : ndarray
        (B, H, W) MS on the pan grid and the (H, W) pan.
    sigma : float
        Standard deviation, in pan pixels, of the Gaussian low-pass
        (:func:`mtf_sigma` gives one matched to the MS sensor's MTF).
    injection : {"local", "global", "modulation"}
        How much detail each band gets. ``"local"``: gains regressed in a
        ``window`` x ``window`` neighbourhood, ``cov(MS_k, PAN_low) /
        (var(PAN_low) + regularization)``, so that a band anti-correlated
        with the pan (NIR over vegetation) gets the detail with the right
        sign — the context-adaptive injection of Aiazzi et al. (2002).
        ``"global"``: one gain per band (``gains``, default the whole-array
        regression). ``"modulation"``: high-pass modulation, ``out_k = MS_k
        * PAN / PAN_low``.
    gains : sequence of B floats, optional
        Global gains (``injection="global"``).
    window : int
        Side of the local-regression window, in pan pixels (odd).
    regularization : float, optional
        Added to the local variance of ``PAN_low``; default 1 % of its
        global variance, which keeps flat areas from getting huge gains.

    References
    ----------
    Chavez, Sides & Anderson (1991), PE&RS 57(3):295-303; Aiazzi, B.,
    Alparone, L., Baronti, S., & Garzelli, A. (2002). Context-driven fusion
    of high spatial and spectral resolution images based on oversampled
    multiresolution analysis. IEEE TGRS, 40(10), 2300-2312.
    https://doi.org/10.1109/TGRS.2002.803623

    Examples
    --------
    >>> flat = hpf(np.ones((1, 8, 8)), np.full((8, 8), 5.0), sigma=1.0)
    >>> float(flat.max())
    1.0
    """
    ms, pan = _as_float(ms, pan)
    pan_low = ndimage.gaussian_filter(pan, sigma, mode="reflect")
    if injection == "modulation":
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pan_low != 0, pan / pan_low, 0).astype(ms.dtype, copy=False)
        return ms * ratio
    detail = pan - pan_low
    if injection == "global":
        if gains is None:
            stats = _moments(ms, pan, pan_low)
            gains = stats.cov[: stats.count, -1] / max(stats.cov[-1, -1], 1e-24)
        g = _band_vector(gains, ms.shape[0], "gains").astype(ms.dtype)
        return ms + g[:, None, None] * detail
    if injection != "local":
        raise InvalidInputError(
            f"injection must be 'local', 'global' or 'modulation', got {injection!r}"
        )
    if not isinstance(window, int | np.integer) or window < 1:
        raise InvalidInputError(f"window must be a positive int, got {window!r}")
    if regularization is None:
        regularization = 0.01 * float(np.nanvar(pan_low))

    def box(image: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(image, int(window), mode="reflect")

    mean_low = box(pan_low)
    var_low = box(pan_low * pan_low) - mean_low * mean_low
    var_low += ms.dtype.type(max(regularization, 1e-24))
    out = np.empty_like(ms)
    for k in range(ms.shape[0]):  # one band at a time keeps temporaries to a few planes
        cov = box(ms[k] * pan_low) - box(ms[k]) * mean_low
        out[k] = ms[k] + cov / var_low * detail
    return out


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class FusionStatistics:
    """Joint mean and covariance of ``[MS_1..MS_B, PAN, PAN_low]`` over valid pixels.

    Attributes
    ----------
    mean : ndarray, shape (B + 2,)
    cov : ndarray, shape (B + 2, B + 2)
    n_pixels : int
        Number of pixels the moments were estimated on.
    """

    mean: np.ndarray
    cov: np.ndarray
    n_pixels: int

    @property
    def count(self) -> int:
        """Number of MS bands."""
        return self.mean.size - 2


def _moments(ms: np.ndarray, pan: np.ndarray, pan_low: np.ndarray) -> FusionStatistics:
    stack = np.concatenate(
        [ms.reshape(ms.shape[0], -1), pan.reshape(1, -1), pan_low.reshape(1, -1)]
    ).astype(np.float64)
    stack = stack[:, np.all(np.isfinite(stack), axis=0)]
    if stack.shape[1] < 2:
        raise InvalidInputError("pansharpen: fewer than 2 valid pixels where MS and pan overlap")
    return FusionStatistics(stack.mean(axis=1), np.cov(stack), int(stack.shape[1]))


def estimate_statistics(ms: np.ndarray, pan: np.ndarray, *, sigma: float) -> FusionStatistics:
    """Mean and covariance of the MS bands, the pan and the low-passed pan.

    Parameters
    ----------
    ms, pan : ndarray
        (B, H, W) MS on the pan grid and (H, W) pan; NaN marks nodata.
    sigma : float
        Gaussian low-pass of the pan, in pan pixels (:func:`mtf_sigma`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stats = estimate_statistics(rng.random((3, 16, 16)), rng.random((16, 16)), sigma=1.0)
    >>> stats.cov.shape
    (5, 5)
    """
    ms, pan = _as_float(ms, pan)
    return _moments(ms, pan, _nan_gaussian(pan, sigma))


def _nan_gaussian(pan: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(pan, sigma, mode="reflect")


def mtf_sigma(ratio: float, *, mtf_gain: float = 0.3) -> float:
    """Gaussian sigma (fine pixels) whose response at the coarse Nyquist is ``mtf_gain``.

    A Gaussian of standard deviation ``s`` pixels has the frequency response
    ``exp(-2 pi^2 s^2 f^2)``; setting it to ``mtf_gain`` at ``f = 1 / (2 ratio)``
    gives ``s = ratio sqrt(-2 ln mtf_gain) / pi``. 0.3 is typical of MS sensors.

    References
    ----------
    Aiazzi, B., Alparone, L., Baronti, S., Garzelli, A., & Selva, M. (2006).
    MTF-tailored multiscale fusion of high-resolution MS and Pan imagery.
    PE&RS, 72(5), 591-596. https://doi.org/10.14358/PERS.72.5.591

    Examples
    --------
    >>> round(mtf_sigma(4, mtf_gain=0.3), 3)
    1.976
    """
    if not 0 < mtf_gain < 1:
        raise InvalidInputError(f"mtf_gain must lie in (0, 1), got {mtf_gain!r}")
    if not ratio > 0:
        raise InvalidInputError(f"ratio must be positive, got {ratio!r}")
    return float(ratio * math.sqrt(-2.0 * math.log(mtf_gain)) / math.pi)


def _auto_weights(stats: FusionStatistics) -> np.ndarray:
    """Non-negative least-squares weights of ``PAN_low ~ sum_k w_k MS_k + c``, from moments."""
    b = stats.count
    c_mm = stats.cov[:b, :b] + np.eye(b) * 1e-9 * max(np.trace(stats.cov[:b, :b]) / b, 1e-30)
    c_mp = stats.cov[:b, -1]
    # min w'Cw - 2c'w s.t. w >= 0 is nnls(L', L^-1 c) with C = L L'.
    chol = np.linalg.cholesky(c_mm)
    w, _ = nnls(chol.T, np.linalg.solve(chol, c_mp))
    if not np.any(w > 0):
        return np.full(b, 1.0 / b)
    return w


def _resolve_weights(weights: Any, stats: FusionStatistics | None, count: int) -> np.ndarray:
    if weights is None:
        return np.full(count, 1.0 / count)
    if isinstance(weights, str):
        if weights != "auto":
            raise InvalidInputError(f"weights must be a sequence or 'auto', got {weights!r}")
        assert stats is not None  # the caller estimates statistics for "auto"
        return _auto_weights(stats)
    vector = _band_vector(weights, count, "weights")
    if not np.any(vector != 0):
        raise InvalidInputError("weights are all zero")
    return vector


def _matching(stats: FusionStatistics, weights: np.ndarray) -> tuple[float, float, float]:
    """(pan_gain, pan_offset, var_I): match the pan to ``I = w . MS`` in mean and spread.

    The spread of the low-passed pan is used, as in Vivone et al.'s toolbox,
    because ``I`` is built from bands that carry no pan-scale detail.
    """
    b = stats.count
    mean_i = float(weights @ stats.mean[:b])
    var_i = float(weights @ stats.cov[:b, :b] @ weights)
    std_low = math.sqrt(max(stats.cov[-1, -1], 1e-24))
    gain = math.sqrt(max(var_i, 0.0)) / std_low
    return gain, mean_i - gain * float(stats.mean[b]), var_i


def method_parameters(
    method: str,
    stats: FusionStatistics | None,
    *,
    count: int,
    weights: Any = None,
    sigma: float = 1.0,
    injection: str = "local",
    window: int = 5,
) -> dict[str, Any]:
    """The keyword options of ``method``'s kernel, given the first-pass statistics."""
    method = _method_name(method)
    if method == "mean":
        return {}
    if method == "brovey":
        return {"weights": _resolve_weights(weights, stats, count)}
    if method == "hpf" and injection == "modulation":
        return {"sigma": sigma, "injection": injection}
    if stats is None:
        raise InvalidInputError(f"method {method!r} needs image statistics")
    if method == "hpf":
        options: dict[str, Any] = {"sigma": sigma, "injection": injection}
        if injection == "global":
            options["gains"] = stats.cov[:count, -1] / max(stats.cov[-1, -1], 1e-24)
        elif injection == "local":
            options["window"] = window
            options["regularization"] = 0.01 * float(stats.cov[-1, -1])
        else:
            raise InvalidInputError(
                f"injection must be 'local', 'global' or 'modulation', got {injection!r}"
            )
        return options
    if method == "pca":
        _values, vectors = np.linalg.eigh(stats.cov[:count, :count])
        first = vectors[:, -1]
        # Orient PC1 so that it grows with the pan (and with the bands).
        if first @ stats.cov[:count, count] < 0:
            first = -first
        w = first
    else:
        w = _resolve_weights(weights, stats, count)
    pan_gain, pan_offset, var_i = _matching(stats, w)
    if method == "ihs":
        gains = np.ones(count)
    elif method == "pca":
        gains = w
    else:  # gram_schmidt
        gains = stats.cov[:count, :count] @ w / max(var_i, 1e-24)
    return {"weights": w, "gains": gains, "pan_gain": pan_gain, "pan_offset": pan_offset}


def _method_name(method: str) -> str:
    name = str(method).lower().replace("-", "_")
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise InvalidInputError(f"unknown pansharpening method {method!r}; choose one of {METHODS}")
    return name


def _needs_statistics(method: str, weights: Any, injection: str = "local") -> bool:
    if method == "brovey":
        return isinstance(weights, str)
    if method == "hpf":
        return injection != "modulation"
    return method != "mean"


def _run_kernel(method: str, ms: np.ndarray, pan: np.ndarray, options: dict[str, Any]):
    if method == "brovey":
        return brovey(ms, pan, **options)
    if method == "mean":
        return simple_mean(ms, pan)
    if method == "hpf":
        return hpf(ms, pan, **options)
    return component_substitution(ms, pan, **options)


def _whole_array_method(
    method: str, ms: np.ndarray, pan: np.ndarray, weights: Any, ratio: float, mtf_gain: float
) -> np.ndarray:
    ms, pan = _as_float(ms, pan)
    sigma = mtf_sigma(ratio, mtf_gain=mtf_gain)
    stats = estimate_statistics(ms, pan, sigma=sigma)
    options = method_parameters(method, stats, count=ms.shape[0], weights=weights, sigma=sigma)
    return _run_kernel(method, ms, pan, options)


def fast_ihs(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Any = None,
    ratio: float = 2.0,
    mtf_gain: float = 0.3,
) -> np.ndarray:
    """Fast IHS on whole in-memory arrays (statistics from these arrays).

    ``out_k = MS_k + (PAN' - I)``, ``I = w . MS`` (default equal weights;
    ``"auto"``: regressed), ``PAN'`` the pan matched to ``I``.

    References
    ----------
    Tu et al. (2001), https://doi.org/10.1016/S1566-2535(01)00036-7

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> fast_ihs(rng.random((3, 8, 8)), rng.random((8, 8))).shape
    (3, 8, 8)
    """
    return _whole_array_method("ihs", ms, pan, weights, ratio, mtf_gain)


def gram_schmidt(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Any = None,
    ratio: float = 2.0,
    mtf_gain: float = 0.3,
) -> np.ndarray:
    """Gram-Schmidt (``weights="auto"``: GS-Adaptive) on whole in-memory arrays.

    References
    ----------
    Laben & Brower (2000), US Patent 6,011,875; Aiazzi, Baronti & Selva
    (2007), https://doi.org/10.1109/TGRS.2007.901007

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> gram_schmidt(rng.random((3, 8, 8)), rng.random((8, 8)), weights="auto").shape
    (3, 8, 8)
    """
    return _whole_array_method("gram_schmidt", ms, pan, weights, ratio, mtf_gain)


def pca(
    ms: np.ndarray, pan: np.ndarray, *, ratio: float = 2.0, mtf_gain: float = 0.3
) -> np.ndarray:
    """PCA substitution on whole in-memory arrays.

    References
    ----------
    Chavez, Sides & Anderson (1991), PE&RS 57(3):295-303.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pca(rng.random((3, 8, 8)), rng.random((8, 8))).shape
    (3, 8, 8)
    """
    return _whole_array_method("pca", ms, pan, None, ratio, mtf_gain)


# --------------------------------------------------------------------------- grids


def pan_plane(pan: xr.DataArray) -> xr.DataArray:
    if not isinstance(pan, xr.DataArray):
        raise InvalidInputError(f"pan must be an xarray.DataArray, got {type(pan).__name__}")
    if pan.ndim == 3 and pan.dims[0] == "band" and pan.sizes["band"] == 1:
        pan = pan.isel(band=0, drop=True)
    if pan.ndim == 3 and "band" in pan.dims:
        raise InvalidInputError(
            f"pan must have dims (y, x) or (1, y, x), got {pan.sizes['band']} bands "
            f"{dict(pan.sizes)}; a panchromatic band is one band (were ms and pan swapped?)"
        )
    if pan.ndim != 2 or set(pan.dims) != {"y", "x"}:
        raise InvalidInputError(f"pan must have dims (y, x) or (1, y, x), got {dict(pan.sizes)}")
    return pan.transpose("y", "x")


def ms_bands(ms: xr.DataArray) -> xr.DataArray:
    if not isinstance(ms, xr.DataArray):
        raise InvalidInputError(f"ms must be an xarray.DataArray, got {type(ms).__name__}")
    if ms.ndim != 3 or set(ms.dims) != {"band", "y", "x"}:
        raise InvalidInputError(f"ms must have dims (band, y, x), got {dict(ms.sizes)}")
    if ms.sizes["y"] < 2 or ms.sizes["x"] < 2:
        raise InvalidInputError(f"ms is too small to resample: {dict(ms.sizes)}")
    return ms.transpose("band", "y", "x")


def check_same_crs(ms: xr.DataArray, pan: xr.DataArray) -> Any:
    ms_crs, pan_crs = ms.rio.crs, pan.rio.crs
    if (ms_crs is None) != (pan_crs is None):
        which = "ms" if ms_crs is None else "pan"
        raise CRSMismatchError(f"{which} has no CRS while the other has one; set both or neither")
    if ms_crs is not None and ms_crs != pan_crs:
        raise CRSMismatchError(
            f"ms CRS {ms_crs.to_string()} differs from pan CRS {pan_crs.to_string()}; "
            "reproject one of them first"
        )
    # GDAL's warper needs a CRS; an identical placeholder on both sides is an identity warp.
    return ms_crs if ms_crs is not None else rasterio.crs.CRS.from_epsg(3857)


def _bounds(transform: Affine, height: int, width: int) -> tuple[float, float, float, float]:
    xs, ys = zip(
        *(transform @ (c, r) for c, r in ((0, 0), (width, 0), (0, height), (width, height))),
        strict=True,
    )
    return min(xs), min(ys), max(xs), max(ys)


def _resolution(transform: Affine) -> float:
    return math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))


def _as_float_nan(data: Any, nodata: Any) -> Any:
    """float32 copy of ``data`` with ``nodata`` turned into NaN (numpy or dask)."""
    out = data.astype(_F32)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        out = _where_nodata(out, nodata)
    return out


def _where_nodata(data: Any, nodata: float) -> Any:
    if hasattr(data, "dask"):
        import dask.array as dsa

        return dsa.where(data == _F32(nodata), _F32(np.nan), data)
    return np.where(data == _F32(nodata), _F32(np.nan), data)


def _keys_weights(t: np.ndarray) -> np.ndarray:
    """Keys (a = -0.5) cubic-convolution weights of the taps at -1, 0, 1, 2 for offsets t."""
    t2, t3 = t * t, t * t * t
    return np.stack(
        [
            -0.5 * t3 + t2 - 0.5 * t,
            1.5 * t3 - 2.5 * t2 + 1.0,
            -1.5 * t3 + 2.0 * t2 + 0.5 * t,
            0.5 * t3 - 0.5 * t2,
        ],
        axis=1,
    )


def _axis_taps(
    n_dst: int, n_src: int, scale: float, offset: float, resampling: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taps (n_dst, k) int64 and float32 weights along one axis, and the rows inside the source.

    Destination pixel centres map to source pixel-centre coordinates ``u``;
    taps beyond the source edge repeat the edge pixel, as GDAL's RasterIO does.
    """
    u = (np.arange(n_dst) + 0.5) * scale + offset - 0.5
    inside = (u >= -0.5) & (u <= n_src - 0.5)
    if resampling == "nearest":
        taps = np.floor(u + 0.5)[:, None]
        weights = np.ones_like(taps)
    else:
        base = np.floor(u)
        t = u - base
        if resampling == "bilinear":
            taps = base[:, None] + np.arange(2)
            weights = np.stack([1.0 - t, t], axis=1)
        else:
            taps = base[:, None] + np.arange(-1, 3)
            weights = _keys_weights(t)
    taps = np.ascontiguousarray(np.clip(taps, 0, n_src - 1), dtype=np.int64)
    return taps, np.ascontiguousarray(weights, dtype=_F32), inside


def _separable_loop(src, row_taps, row_weights, col_taps, col_weights, out):  # pragma: no cover
    """One pass over every (band, output row): the row taps on whole source rows, then the columns.

    Compiled with numba (the coverage tracer does not see inside). Accumulates
    in float32 in the order of the taps, zero weights included so that NaN
    (nodata) spreads over the kernel's whole reach, as a matrix product would.
    """
    bands = src.shape[0]
    width = src.shape[2]
    height_out = row_taps.shape[0]
    width_out = col_taps.shape[1]
    for index in numba.prange(bands * height_out):
        band = index // height_out
        i = index % height_out
        line = np.zeros(width, dtype=np.float32)
        for k in range(row_taps.shape[1]):
            source_row = src[band, row_taps[i, k]]
            weight = row_weights[i, k]
            for c in range(width):
                line[c] += weight * source_row[c]
        target = out[band, i]
        target[:] = 0.0
        # Tap by tap along the whole row (taps and weights stored (k, n)): contiguous, vectorised.
        for k in range(col_taps.shape[0]):
            taps = col_taps[k]
            weights = col_weights[k]
            for j in range(width_out):
                target[j] += weights[j] * line[taps[j]]


# The numba module, imported on first use (importing it costs a fraction of a second that
# most callers of this module never need); the compiled loop resolves ``numba.prange`` here.
numba: Any = None
_COMPILED: dict[bool, Any] = {}
_COMPILE_LOCK = threading.Lock()
# numba's default (workqueue) threading layer is not reentrant: one parallel launch at a time.
_PARALLEL_LOCK = threading.Lock()


def _separable_kernel(parallel: bool) -> Any:
    """The compiled loop: parallel over rows for one whole-array call, serial (GIL released) for
    dask blocks, which dask already runs in parallel. Cached on disk, so only the first process
    ever pays the compilation."""
    with _COMPILE_LOCK:
        if parallel not in _COMPILED:
            global numba
            import numba as module

            numba = module
            _COMPILED[parallel] = numba.njit(
                parallel=parallel, nogil=True, cache=True, fastmath=False, error_model="numpy"
            )(_separable_loop)
        return _COMPILED[parallel]


def _separable_resample(
    ms_block: np.ndarray,
    src_transform: Affine,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    resampling: str,
    *,
    parallel: bool = False,
) -> np.ndarray:
    """Resample north-up grids axis by axis in one compiled float32 pass over all bands.

    The same kernels as GDAL (nearest, bilinear, Keys cubic with a = -0.5),
    without GDAL's warper: faster for the 2x-4x upsampling of pansharpening,
    and free to run in many dask threads at once. Rows first, then columns,
    each output row written once, contiguously.
    """
    row_taps, row_weights, row_inside = _axis_taps(
        dst_shape[0],
        ms_block.shape[1],
        dst_transform.e / src_transform.e,
        (dst_transform.f - src_transform.f) / src_transform.e,
        resampling,
    )
    col_taps, col_weights, col_inside = _axis_taps(
        dst_shape[1],
        ms_block.shape[2],
        dst_transform.a / src_transform.a,
        (dst_transform.c - src_transform.c) / src_transform.a,
        resampling,
    )
    col_taps = np.ascontiguousarray(col_taps.T)
    col_weights = np.ascontiguousarray(col_weights.T)
    out = np.empty((ms_block.shape[0], *dst_shape), dtype=_F32)
    src = np.ascontiguousarray(ms_block, dtype=_F32)
    kernel = _separable_kernel(parallel)
    if parallel:
        with _PARALLEL_LOCK:
            kernel(src, row_taps, row_weights, col_taps, col_weights, out)
    else:
        kernel(src, row_taps, row_weights, col_taps, col_weights, out)
    out[:, ~row_inside, :] = np.nan
    out[:, :, ~col_inside] = np.nan
    return out


def _north_up(transform: Affine) -> bool:
    return transform.b == 0 and transform.d == 0


def _warp_block(
    ms_block: np.ndarray,
    src_transform: Affine,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    crs: Any,
    resampling: Resampling,
    parallel: bool = False,
) -> np.ndarray:
    dst = np.full((ms_block.shape[0], *dst_shape), np.nan, dtype=_F32)
    if ms_block.size == 0:
        return dst
    if resampling.name in _SEPARABLE and _north_up(src_transform) and _north_up(dst_transform):
        return _separable_resample(
            ms_block, src_transform, dst_transform, dst_shape, resampling.name, parallel=parallel
        )
    # rasterio wraps its in-memory datasets in warnings.catch_warnings(), which is not
    # thread-safe: concurrent calls from dask threads let NotGeoreferencedWarning escape.
    # One warp at a time, each multi-threaded by GDAL itself.
    with _WARP_LOCK:
        rasterio.warp.reproject(
            np.ascontiguousarray(ms_block, dtype=_F32),
            dst,
            src_transform=src_transform,
            src_crs=crs,
            dst_transform=dst_transform,
            dst_crs=crs,
            resampling=resampling,
            src_nodata=np.nan,
            dst_nodata=np.nan,
            num_threads=_WARP_THREADS,
        )
    return dst


def _source_window(
    ms_transform: Affine,
    ms_shape: tuple[int, int],
    dst_transform: Affine,
    dst_shape: tuple[int, int],
) -> tuple[slice, slice]:
    """Rows/cols of the MS that cover a destination block, plus the kernel margin."""
    left, bottom, right, top = _bounds(dst_transform, *dst_shape)
    inverse = ~ms_transform
    cols, rows = zip(
        *(
            inverse @ (x, y)
            for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
        ),
        strict=True,
    )
    r0 = max(math.floor(min(rows)) - _WARP_MARGIN, 0)
    r1 = min(math.ceil(max(rows)) + _WARP_MARGIN, ms_shape[0])
    c0 = max(math.floor(min(cols)) - _WARP_MARGIN, 0)
    c1 = min(math.ceil(max(cols)) + _WARP_MARGIN, ms_shape[1])
    return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def resample_to_pan(
    ms: xr.DataArray, pan: xr.DataArray, *, resampling: str = "cubic"
) -> xr.DataArray:
    """Resample the MS bands onto the pan grid (GDAL's warper, pixel-is-area).

    Numpy inputs are warped in one call; when the pan is dask-backed, each pan
    block gets its own warp of the MS window it covers, so the MS is never
    loaded whole. Pixels outside the MS footprint, and MS nodata, become NaN.

    Parameters
    ----------
    ms : xarray.DataArray
        (band, y, x) multispectral image.
    pan : xarray.DataArray
        (y, x) or (1, y, x) panchromatic band defining the output grid.
    resampling : {"cubic", "bilinear", "nearest", "cubic_spline", "lanczos", "average"}

    Returns
    -------
    xarray.DataArray
        float32 (band, y, x) on the pan grid, chunked like the pan.

    Raises
    ------
    CRSMismatchError
        The two CRSs differ.
    InvalidInputError
        Bad dims, or the two footprints do not overlap.

    Examples
    --------
    >>> up = resample_to_pan(ms, pan, resampling="bilinear")  # doctest: +SKIP
    """
    ms = ms_bands(ms)
    pan = pan_plane(pan)
    if resampling not in _RESAMPLINGS:
        raise InvalidInputError(f"unknown resampling {resampling!r}; choose one of {_RESAMPLINGS}")
    crs = check_same_crs(ms, pan)
    ms_transform = ms.rio.transform(recalc=False)
    pan_transform = pan.rio.transform(recalc=False)
    ms_shape = (ms.sizes["y"], ms.sizes["x"])
    pan_shape = (pan.sizes["y"], pan.sizes["x"])
    ml, mb, mr, mt = _bounds(ms_transform, *ms_shape)
    pl, pb, pr, pt = _bounds(pan_transform, *pan_shape)
    if min(mr, pr) <= max(ml, pl) or min(mt, pt) <= max(mb, pb):
        raise InvalidInputError(
            f"ms bounds {(ml, mb, mr, mt)} and pan bounds {(pl, pb, pr, pt)} do not overlap"
        )
    method = Resampling[resampling]
    source = _as_float_nan(ms.data, ms.rio.nodata)
    if pan.chunks is None:
        data = _warp_block(
            np.asarray(source), ms_transform, pan_transform, pan_shape, crs, method, parallel=True
        )
    else:
        data = _warp_lazily(source, ms_transform, ms_shape, pan_transform, pan.chunks, crs, method)
    out = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": ms.coords["band"].values, "y": pan.y.values, "x": pan.x.values},
        attrs={k: v for k, v in ms.attrs.items() if k in ("sensor",)},
    )
    out = out.rio.write_crs(ms.rio.crs) if ms.rio.crs is not None else out
    out = out.rio.write_transform(pan_transform)
    return out.rio.write_nodata(np.nan)


def _warp_lazily(
    source: Any,
    ms_transform: Affine,
    ms_shape: tuple[int, int],
    pan_transform: Affine,
    pan_chunks: tuple[tuple[int, ...], tuple[int, ...]],
    crs: Any,
    method: Resampling,
) -> Any:
    import dask
    import dask.array as dsa

    count = source.shape[0]
    rows: list[list[Any]] = []
    r_start = 0
    for height in pan_chunks[0]:
        row: list[Any] = []
        c_start = 0
        for width in pan_chunks[1]:
            dst_transform = pan_transform @ Affine.translation(c_start, r_start)
            ys, xs = _source_window(ms_transform, ms_shape, dst_transform, (height, width))
            src_transform = ms_transform @ Affine.translation(xs.start, ys.start)
            block = dask.delayed(_warp_block)(
                source[:, ys, xs], src_transform, dst_transform, (height, width), crs, method
            )
            row.append(dsa.from_delayed(block, shape=(count, height, width), dtype=_F32))
            c_start += width
        rows.append(row)
        r_start += height
    return dsa.block(rows)


# --------------------------------------------------------------------------- public layer


def pansharpen(
    ms: xr.DataArray,
    pan: xr.DataArray,
    *,
    method: str = "brovey",
    weights: Sequence[float] | str | None = None,
    resampling: str = "cubic",
    injection: str = "local",
    window: int | None = None,
    mtf_gain: float = 0.3,
    sample_pixels: int = 4_000_000,
    chunks: int | None = None,
) -> xr.DataArray:
    """Pansharpen a multispectral image with a panchromatic band.

    Parameters
    ----------
    ms : xarray.DataArray
        (band, y, x) multispectral image, georeferenced (``ms.rio``).
    pan : xarray.DataArray
        (y, x) or (1, y, x) panchromatic band of finer resolution, in the
        same CRS. Its grid is the output grid.
    method : {"brovey", "mean", "ihs", "gram_schmidt", "pca", "hpf"}
        Fusion method (see the module docstring); aliases ``"gs"``,
        ``"simple_mean"``, ``"fast_ihs"``.
    weights : sequence of floats or "auto", optional
        Intensity weights for Brovey, IHS and Gram-Schmidt (default equal,
        ``1/B``, like GDAL); ``"auto"`` regresses them (non-negative least
        squares) from the low-passed pan, which suits sensors whose pan does
        not cover every MS band (Landsat 8's pan misses the NIR).
    resampling : str
        How the MS is resampled onto the pan grid (default cubic, as GDAL).
    injection : {"local", "global", "modulation"}
        HPF only: local regression gains (default), one gain per band, or
        high-pass modulation (see :func:`hpf`).
    window : int, optional
        HPF local-gain window in pan pixels; default ``2 * ratio + 1``.
    mtf_gain : float
        MS MTF gain at Nyquist, sets the pan low-pass of HPF and of the
        statistics (:func:`mtf_sigma`).
    sample_pixels : int
        Pixel budget of the first (statistics) pass on large scenes.
    chunks : int, optional
        Process numpy inputs block by block with dask in ``chunks`` x
        ``chunks`` pan blocks (dask inputs keep the pan's chunks).

    Returns
    -------
    xarray.DataArray
        float32 (band, y, x) on the pan grid with the MS band names; dask
        backed when an input is (or ``chunks`` is given); NaN where there is
        no data (``rio.nodata`` is NaN).

    Raises
    ------
    CRSMismatchError
        The MS and pan CRSs differ.
    InvalidInputError
        Bad dims, method, weights or options; footprints do not overlap.

    Examples
    --------
    >>> sharp = pansharpen(ms, pan, method="gram_schmidt", weights="auto")  # doctest: +SKIP
    >>> sharp.sizes == {"band": ms.sizes["band"], **pan.sizes}  # doctest: +SKIP
    True
    """
    name = _method_name(method)
    if injection not in ("local", "global", "modulation"):
        raise InvalidInputError(
            f"injection must be 'local', 'global' or 'modulation', got {injection!r}"
        )
    ms = ms_bands(ms)
    pan = pan_plane(pan)
    if chunks is not None:
        if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 16:
            raise InvalidInputError(f"chunks must be an int >= 16, got {chunks!r}")
        pan = pan.chunk({"y": chunks, "x": chunks})
    elif ms.chunks is not None and pan.chunks is None:
        pan = pan.chunk({"y": 2048, "x": 2048})
    count = ms.sizes["band"]
    if weights is not None and not isinstance(weights, str):
        _band_vector(weights, count, "weights")
    ms_res = _resolution(ms.rio.transform(recalc=False))
    pan_res = _resolution(pan.rio.transform(recalc=False))
    # The pan must be the finer image: a coarser "pan" means the two were
    # swapped, and fusing them would write the MS at the coarse grid.
    if pan_res > ms_res * (1 + 1e-6):
        raise InvalidInputError(
            f"pan pixels ({pan_res:.6g}) are coarser than the MS pixels ({ms_res:.6g}): "
            "the panchromatic band must have the finer pixels; were ms and pan swapped? "
            "(ms is the first argument, pan the second)"
        )
    ratio = ms_res / pan_res
    ms_up = resample_to_pan(ms, pan, resampling=resampling)
    sigma = mtf_sigma(ratio, mtf_gain=mtf_gain)
    if window is None:
        window = 2 * max(round(ratio), 1) + 1
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InvalidInputError(f"window must be a positive int, got {window!r}")
    pan_data = _as_float_nan(pan.data, pan.rio.nodata)
    lazy = pan.chunks is not None
    stats = None
    if _needs_statistics(name, weights, injection):
        pan_low = _low_pass(pan_data, sigma, lazy)
        stats = _sample_statistics(ms_up.data, pan_data, pan_low, sample_pixels, lazy)
    options = method_parameters(
        name,
        stats,
        count=count,
        weights=weights,
        sigma=sigma,
        injection=injection,
        window=window,
    )
    data = _apply(name, ms_up.data, pan_data, options, lazy)
    out = ms_up.copy(data=data)
    out.attrs = {**ms_up.attrs, "pansharpen_method": name}
    return out


def _low_pass(pan: Any, sigma: float, lazy: bool) -> Any:
    if not lazy:
        return _nan_gaussian(pan, sigma)
    import dask.array as dsa

    depth = int(4 * sigma + 0.5) + 1  # scipy truncates the Gaussian at 4 sigma
    depth = min(depth, *(min(c) for c in pan.chunks))
    return dsa.map_overlap(
        _nan_gaussian, pan, depth=depth, boundary="reflect", dtype=_F32, sigma=sigma
    )


def _sample_statistics(
    ms_up: Any, pan: Any, pan_low: Any, sample_pixels: int, lazy: bool
) -> FusionStatistics:
    """First pass: moments on every pixel, or on a spread-out sample of ~``sample_pixels``."""
    height, width = pan.shape
    if not lazy:
        step = max(1, math.ceil(math.sqrt(height * width / max(sample_pixels, 1))))
        return _moments(ms_up[:, ::step, ::step], pan[::step, ::step], pan_low[::step, ::step])
    import dask

    ny, nx = pan.numblocks
    block_pixels = max(height * width / (ny * nx), 1)
    wanted = min(ny * nx, max(1, math.ceil(sample_pixels / block_pixels)))
    picks = np.unique(np.linspace(0, ny * nx - 1, wanted).round().astype(int))
    parts = [
        (
            ms_up.blocks[0, i // nx, i % nx],
            pan.blocks[i // nx, i % nx],
            pan_low.blocks[i // nx, i % nx],
        )
        for i in picks
    ]
    computed = dask.compute(*parts)
    ms_s = np.concatenate([m.reshape(m.shape[0], -1) for m, _, _ in computed], axis=1)
    pan_s = np.concatenate([p.ravel() for _, p, _ in computed])
    low_s = np.concatenate([q.ravel() for _, _, q in computed])
    return _moments(ms_s, pan_s, low_s)


def _apply_block(
    ms_block: np.ndarray, pan_block: np.ndarray, *, method: str, options: dict[str, Any]
) -> np.ndarray:
    return _run_kernel(method, ms_block, pan_block[0], options).astype(_F32, copy=False)


def _apply(method: str, ms_up: Any, pan: Any, options: dict[str, Any], lazy: bool) -> Any:
    if not lazy:
        return _run_kernel(method, ms_up, pan, options).astype(_F32, copy=False)
    import dask.array as dsa

    if method != "hpf":
        return dsa.map_blocks(
            _apply_block,
            ms_up,
            pan[None],
            dtype=_F32,
            chunks=ms_up.chunks,
            method=method,
            options=options,
        )
    # The low-pass (scipy truncates at 4 sigma) and the local window reach past a block.
    reach = int(4 * options["sigma"] + 0.5) + int(options.get("window", 1)) // 2 + 1
    reach = min(reach, *(min(c) for c in ms_up.chunks[1:]))
    return dsa.map_overlap(
        _apply_block,
        ms_up,
        pan[None],
        depth={0: 0, 1: reach, 2: reach},
        boundary="reflect",
        dtype=_F32,
        method=method,
        options=options,
    )


# --------------------------------------------------------------------------- GDAL peer


def _gdal_vrt_xml(
    pan_path: str,
    ms_path: str,
    count: int,
    weights: np.ndarray,
    resampling: str,
    dtype: str,
    threads: str,
) -> str:
    bands = "".join(
        f'  <VRTRasterBand dataType="{dtype}" band="{i}" subClass="VRTPansharpenedRasterBand"/>\n'
        for i in range(1, count + 1)
    )
    spectral = "".join(
        f'    <SpectralBand dstBand="{i}">\n'
        f'      <SourceFilename relativeToVRT="0">{escape(ms_path)}</SourceFilename>\n'
        f"      <SourceBand>{i}</SourceBand>\n"
        "    </SpectralBand>\n"
        for i in range(1, count + 1)
    )
    weight_text = ",".join(f"{w:.17g}" for w in weights)
    return (
        '<VRTDataset subClass="VRTPansharpenedDataset">\n'
        f"{bands}"
        "  <PansharpeningOptions>\n"
        "    <Algorithm>WeightedBrovey</Algorithm>\n"
        f"    <AlgorithmOptions><Weights>{weight_text}</Weights></AlgorithmOptions>\n"
        f"    <Resampling>{resampling}</Resampling>\n"
        f"    <NumThreads>{threads}</NumThreads>\n"
        "    <SpatialExtentAdjustment>NoneWithoutWarning</SpatialExtentAdjustment>\n"
        "    <PanchroBand>\n"
        f'      <SourceFilename relativeToVRT="0">{escape(pan_path)}</SourceFilename>\n'
        "      <SourceBand>1</SourceBand>\n"
        "    </PanchroBand>\n"
        f"{spectral}"
        "  </PansharpeningOptions>\n"
        "</VRTDataset>\n"
    )


def gdal_pansharpen(
    ms: str | os.PathLike[str],
    pan: str | os.PathLike[str],
    *,
    weights: Sequence[float] | None = None,
    resampling: str = "cubic",
    dtype: str = "Float32",
    threads: int | str = "ALL_CPUS",
) -> xr.DataArray:
    """GDAL's own weighted Brovey (a ``VRTPansharpenedDataset``), read with rasterio.

    The reference satlearn's ``"brovey"`` is checked against, and the peer of
    the benchmark. The VRT XML lives in a temporary file while it is read.

    Parameters
    ----------
    ms, pan : path
        Multispectral (all bands used, in order) and panchromatic rasters.
    weights : sequence of floats, optional
        Pseudo-pan weights; default ``1/B``.
    resampling : str
        GDAL's resampling of the MS (``cubic`` is GDAL's default).
    dtype : str
        GDAL data type of the output bands (``"Float32"``, ``"UInt16"``...).
    threads : int or "ALL_CPUS"
        GDAL's ``NumThreads`` for the fusion.

    Returns
    -------
    xarray.DataArray
        (band, y, x) on the pan grid.

    Examples
    --------
    >>> ref = gdal_pansharpen("ms.tif", "pan.tif", weights=[0.3, 0.3, 0.4])  # doctest: +SKIP
    """
    from satlearn.raster import open_raster

    ms_path, pan_path = os.path.abspath(os.fspath(ms)), os.path.abspath(os.fspath(pan))
    for label, path in (("ms", ms_path), ("pan", pan_path)):
        if not Path(path).is_file():
            raise InvalidInputError(f"{label} {path}: no such file")
    with rasterio.open(ms_path) as src:
        count = src.count
    w = np.full(count, 1.0 / count) if weights is None else _band_vector(weights, count, "weights")
    xml = _gdal_vrt_xml(pan_path, ms_path, count, w, resampling, dtype, str(threads))
    with tempfile.TemporaryDirectory(prefix="satlearn-pansharpen-") as tmp:
        vrt = Path(tmp) / "pansharpened.vrt"
        vrt.write_text(xml)
        out = open_raster(vrt)
    return out
