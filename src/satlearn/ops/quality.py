"""Image-quality metrics for fused (pansharpened) images, and the Wald protocol.

Every metric is a pure numpy function ``metric(reference, fused, **options)``
on ``(band, y, x)`` arrays (a ``(y, x)`` array counts as one band), with
values as they are (no rescaling):

- :func:`ergas` — relative dimensionless global error (Wald 2002), 0 is best;
- :func:`sam` — mean spectral angle in degrees (Yuhas et al. 1992), 0 is best;
- :func:`uiqi` — universal image quality index Q (Wang & Bovik 2002), band mean, 1 is best;
- :func:`q2n` — Q4 / Q2^n, its hypercomplex extension over all bands at once
  (Alparone et al. 2004; Garzelli & Nencini 2009), 1 is best;
- :func:`ssim` — structural similarity (scikit-image), band mean, 1 is best;
- :func:`psnr` — peak signal-to-noise ratio in dB, higher is better.

:func:`wald_protocol` runs the reduced-resolution assessment in one call:
degrade the MS and the pan by the resolution ratio (MTF-like Gaussian blur,
then block averaging), fuse the degraded pair, and compare the result with
the original MS, which then plays the part of the unavailable reference.

References
----------
Wald, L., Ranchin, T., & Mangolini, M. (1997). Fusion of satellite images of
different spatial resolutions: assessing the quality of resulting images.
PE&RS, 63(6), 691-699.

Wald, L. (2002). Data Fusion: Definitions and Architectures. Presses de l'Ecole
des Mines, Paris. ISBN 2-911762-38-X.

Yuhas, R. H., Goetz, A. F. H., & Boardman, J. W. (1992). Discrimination among
semi-arid landscape endmembers using the spectral angle mapper (SAM)
algorithm. Summaries of the 3rd Annual JPL Airborne Geoscience Workshop, 147-149.

Wang, Z., & Bovik, A. C. (2002). A universal image quality index. IEEE Signal
Processing Letters, 9(3), 81-84. https://doi.org/10.1109/97.995823

Alparone, L., Baronti, S., Garzelli, A., & Nencini, F. (2004). A global
quality measurement of pan-sharpened multispectral imagery. IEEE GRSL, 1(4),
313-317. https://doi.org/10.1109/LGRS.2004.836784

Garzelli, A., & Nencini, F. (2009). Hypercomplex quality assessment of
multi/hyperspectral images. IEEE GRSL, 6(4), 662-665.
https://doi.org/10.1109/LGRS.2009.2022650

Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli, E. P. (2004). Image
quality assessment: from error visibility to structural similarity. IEEE TIP,
13(4), 600-612. https://doi.org/10.1109/TIP.2003.819861
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from scipy import ndimage

from satlearn.errors import InvalidInputError

__all__ = [
    "ergas",
    "psnr",
    "q2n",
    "quality_report",
    "sam",
    "ssim",
    "uiqi",
    "wald_degrade",
    "wald_protocol",
]


# --------------------------------------------------------------------------- metrics


def _pair(reference: Any, fused: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(fused, dtype=np.float64)
    if ref.ndim == 2:
        ref = ref[None]
        out = out[None] if out.ndim == 2 else out
    if ref.ndim != 3:
        raise InvalidInputError(f"reference must be (band, y, x) or (y, x), got shape {ref.shape}")
    if out.shape != ref.shape:
        raise InvalidInputError(f"fused shape {out.shape} differs from reference {ref.shape}")
    if ref.size == 0:
        raise InvalidInputError("reference is empty")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(out))):
        raise InvalidInputError("reference and fused must be finite (crop or fill nodata first)")
    return ref, out


def ergas(reference: Any, fused: Any, *, ratio: float) -> float:
    """ERGAS, ``100 / ratio * sqrt(mean_k (RMSE_k / mean_k)^2)``.

    Parameters
    ----------
    reference, fused : array_like, (band, y, x)
    ratio : float
        MS-to-pan pixel-size ratio (2 for Landsat 8 30 m / 15 m): ERGAS's
        ``h / l`` is ``1 / ratio``.

    Returns
    -------
    float
        0 for a perfect fusion.

    References
    ----------
    Wald (2002), Data Fusion: Definitions and Architectures, ISBN 2-911762-38-X.

    Examples
    --------
    >>> ref = np.full((2, 4, 4), 100.0)
    >>> round(ergas(ref, ref + 10, ratio=2), 6)
    5.0
    """
    ref, out = _pair(reference, fused)
    if not ratio > 0:
        raise InvalidInputError(f"ratio must be positive, got {ratio!r}")
    rmse = np.sqrt(np.mean((ref - out) ** 2, axis=(1, 2)))
    means = ref.mean(axis=(1, 2))
    if np.any(means == 0):
        raise InvalidInputError("ERGAS is undefined: a reference band has zero mean")
    return float(100.0 / ratio * np.sqrt(np.mean((rmse / means) ** 2)))


def sam(reference: Any, fused: Any) -> float:
    """Mean spectral angle, in degrees, between reference and fused pixel vectors.

    Pixels where either vector is zero are left out.

    References
    ----------
    Yuhas, Goetz & Boardman (1992), JPL Airborne Geoscience Workshop, 147-149.

    Examples
    --------
    >>> ref = np.stack([np.ones((2, 2)), np.zeros((2, 2))])
    >>> round(sam(ref, np.stack([np.ones((2, 2)), np.ones((2, 2))])), 6)
    45.0
    """
    ref, out = _pair(reference, fused)
    dot = np.einsum("bij,bij->ij", ref, out)
    norms = np.sqrt(np.einsum("bij,bij->ij", ref, ref) * np.einsum("bij,bij->ij", out, out))
    valid = norms > 0
    if not np.any(valid):
        raise InvalidInputError("SAM is undefined: every pixel vector is zero")
    cosine = np.clip(dot[valid] / norms[valid], -1.0, 1.0)
    return float(np.degrees(np.mean(np.arccos(cosine))))


def _window_moments(ref: np.ndarray, out: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Means, variances and covariance over every ``size`` x ``size`` window (valid part)."""

    def box(image: np.ndarray) -> np.ndarray:
        filtered = ndimage.uniform_filter(image, size=(1, size, size), mode="constant")
        # uniform_filter centres a window at size // 2; keep the windows that fit.
        start = size // 2
        stop_y = image.shape[1] - (size - 1 - start)
        stop_x = image.shape[2] - (size - 1 - start)
        return filtered[:, start:stop_y, start:stop_x]

    mu_r, mu_o = box(ref), box(out)
    var_r = box(ref * ref) - mu_r**2
    var_o = box(out * out) - mu_o**2
    cov = box(ref * out) - mu_r * mu_o
    return mu_r, mu_o, var_r, var_o, cov


def uiqi(reference: Any, fused: Any, *, block_size: int = 32) -> float:
    """Universal image quality index Q, averaged over sliding windows and bands.

    ``Q = 4 s_xy m_x m_y / ((s_x^2 + s_y^2)(m_x^2 + m_y^2))`` per window: the
    product of correlation, luminance and contrast similarity. A window where
    both images are constant and equal scores 1.

    Parameters
    ----------
    reference, fused : array_like, (band, y, x)
    block_size : int
        Window side; 32 is the pansharpening literature's usual choice (Wang &
        Bovik used 8). Windows slide by one pixel.

    References
    ----------
    Wang & Bovik (2002), https://doi.org/10.1109/97.995823

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.random((2, 40, 40))
    >>> uiqi(ref, ref, block_size=8)
    1.0
    """
    ref, out = _pair(reference, fused)
    size = _block(block_size, ref.shape)
    mu_r, mu_o, var_r, var_o, cov = _window_moments(ref, out, size)
    numerator = 4.0 * cov * mu_r * mu_o
    denominator = (var_r + var_o) * (mu_r**2 + mu_o**2)
    tiny = 1e-12 * max(float(np.max(mu_r**2)), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(denominator > tiny**2, numerator / denominator, np.nan)
        # Flat windows: only the luminance term is defined.
        flat = 2.0 * mu_r * mu_o / (mu_r**2 + mu_o**2)
    flat = np.where((mu_r**2 + mu_o**2) > 0, flat, 1.0)
    q = np.where(np.isnan(q), np.where((var_r + var_o) <= tiny, flat, 0.0), q)
    return float(np.clip(q.mean(), -1.0, 1.0))


def _block(block_size: int, shape: tuple[int, ...]) -> int:
    if not isinstance(block_size, int | np.integer) or block_size < 2:
        raise InvalidInputError(f"block_size must be an int >= 2, got {block_size!r}")
    if min(shape[1:]) < block_size:
        raise InvalidInputError(f"image {shape[1:]} is smaller than block_size {block_size}")
    return int(block_size)


def _cd_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cayley-Dickson product of hypercomplex numbers stored along axis 0 (2^n parts).

    ``(p, q)(r, s) = (p r - conj(s) q, s p + q conj(r))``: complex numbers for
    2 parts, Hamilton's quaternions for 4, octonions for 8.
    """
    n = a.shape[0]
    if n == 1:
        return a * b
    half = n // 2
    p, q, r, s = a[:half], a[half:], b[:half], b[half:]
    return np.concatenate(
        [_cd_product(p, r) - _cd_product(_conj(s), q), _cd_product(s, p) + _cd_product(q, _conj(r))]
    )


def _conj(a: np.ndarray) -> np.ndarray:
    out = -a
    out[0] = a[0]
    return out


def q2n(reference: Any, fused: Any, *, block_size: int = 32) -> float:
    """Q4 / Q2^n: the hypercomplex quality index over all bands at once.

    Each pixel's B band values form one hypercomplex number (B padded with
    zero bands to a power of two: 4 gives quaternions and Q4). On each
    ``block_size`` block (non-overlapping; a partial last row/column of
    blocks is dropped) both images are normalised by the reference's band
    means and standard deviations, as in the authors' toolbox, and
    ``|cov(z, z')| / (s_z s_z') * 2 s_z s_z' / (s_z^2 + s_z'^2) *
    2 |m_z| |m_z'| / (|m_z|^2 + |m_z'|^2)`` is computed; Q2n is the block
    mean. Unlike the band-wise Q, it penalises spectral distortion.

    References
    ----------
    Alparone et al. (2004), https://doi.org/10.1109/LGRS.2004.836784;
    Garzelli & Nencini (2009), https://doi.org/10.1109/LGRS.2009.2022650

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.random((4, 64, 64))
    >>> round(q2n(ref, ref), 6)
    1.0
    """
    ref, out = _pair(reference, fused)
    size = _block(block_size, ref.shape)
    bands = ref.shape[0]
    parts = 1 << max(bands - 1, 0).bit_length()
    ny, nx = ref.shape[1] // size, ref.shape[2] // size

    def blocks(image: np.ndarray) -> np.ndarray:
        cropped = image[:, : ny * size, : nx * size]
        padded = np.zeros((parts, ny * size, nx * size))
        padded[:bands] = cropped
        # (parts, ny, nx, size * size)
        return (
            padded.reshape(parts, ny, size, nx, size)
            .transpose(0, 1, 3, 2, 4)
            .reshape(parts, ny, nx, size * size)
        )

    z, w = blocks(ref), blocks(out)
    mean = z.mean(axis=-1, keepdims=True)
    std = z.std(axis=-1, keepdims=True)
    std = np.where(std == 0, 1.0, std)
    z = (z - mean) / std + 1.0
    w = (w - mean) / std + 1.0
    n = size * size
    unbias = n / (n - 1)
    mz, mw = z.mean(axis=-1), w.mean(axis=-1)
    mod_mz = np.sqrt(np.sum(mz**2, axis=0))
    mod_mw = np.sqrt(np.sum(mw**2, axis=0))
    var_z = unbias * (np.mean(np.sum(z**2, axis=0), axis=-1) - mod_mz**2)
    var_w = unbias * (np.mean(np.sum(w**2, axis=0), axis=-1) - mod_mw**2)
    cross = _cd_product(z, _conj(w)).mean(axis=-1) - _cd_product(mz, _conj(mw))
    mod_cov = unbias * np.sqrt(np.sum(cross**2, axis=0))
    mean_term = 2.0 * mod_mz * mod_mw / (mod_mz**2 + mod_mw**2)
    spread = var_z + var_w
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(spread > 0, 2.0 * mod_cov / spread * mean_term, mean_term)
    return float(q.mean())


def ssim(reference: Any, fused: Any, *, data_range: float | None = None) -> float:
    """Structural similarity (Gaussian-weighted, scikit-image), averaged over bands.

    ``data_range`` defaults to each reference band's max - min.

    References
    ----------
    Wang, Bovik, Sheikh & Simoncelli (2004), https://doi.org/10.1109/TIP.2003.819861

    Examples
    --------
    >>> ref = np.random.default_rng(0).random((2, 32, 32))
    >>> ssim(ref, ref)
    1.0
    """
    from skimage.metrics import structural_similarity

    ref, out = _pair(reference, fused)
    if min(ref.shape[1:]) < 11:  # the Gaussian window (sigma 1.5) spans 11 pixels
        raise InvalidInputError(f"SSIM needs at least 11 x 11 pixels, got {ref.shape[1:]}")
    scores = []
    for band_ref, band_out in zip(ref, out, strict=True):
        band_range = data_range if data_range is not None else float(np.ptp(band_ref))
        scores.append(
            structural_similarity(
                band_ref,
                band_out,
                data_range=band_range if band_range > 0 else 1.0,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
        )
    return float(np.mean(scores))


def psnr(reference: Any, fused: Any, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all bands, ``10 log10(range^2 / MSE)``.

    ``data_range`` defaults to the reference's max - min; identical images give inf.

    Examples
    --------
    >>> ref = np.zeros((1, 4, 4)); ref[0, 0, 0] = 1.0
    >>> round(psnr(ref, ref + 0.1), 3)
    20.0
    """
    ref, out = _pair(reference, fused)
    value_range = float(np.ptp(ref)) if data_range is None else float(data_range)
    if not value_range > 0:
        raise InvalidInputError("PSNR needs a positive data_range (the reference is constant)")
    mse = float(np.mean((ref - out) ** 2))
    if mse == 0:
        return math.inf
    return float(10.0 * math.log10(value_range**2 / mse))


def quality_report(
    reference: Any, fused: Any, *, ratio: float, block_size: int = 32
) -> dict[str, float]:
    """All six metrics at once: ``{"ergas", "sam", "q", "q2n", "ssim", "psnr"}``.

    Examples
    --------
    >>> ref = np.random.default_rng(0).random((4, 64, 64)) + 1
    >>> quality_report(ref, ref, ratio=2)["q2n"]
    1.0
    """
    return {
        "ergas": ergas(reference, fused, ratio=ratio),
        "sam": sam(reference, fused),
        "q": uiqi(reference, fused, block_size=block_size),
        "q2n": q2n(reference, fused, block_size=block_size),
        "ssim": ssim(reference, fused),
        "psnr": psnr(reference, fused),
    }


# --------------------------------------------------------------------------- Wald protocol


def _as_georeferenced(ms: Any, pan: Any, ratio: int | None) -> tuple[xr.DataArray, xr.DataArray]:
    """DataArrays as they are; plain arrays get nested grids (pan pixel = 1, MS pixel = ratio)."""
    if isinstance(ms, xr.DataArray) and isinstance(pan, xr.DataArray):
        return ms, pan
    if isinstance(ms, xr.DataArray) or isinstance(pan, xr.DataArray):
        raise InvalidInputError("give ms and pan both as DataArrays or both as numpy arrays")
    if ratio is None:
        raise InvalidInputError("ratio= is needed when ms and pan are plain arrays")
    ms = np.asarray(ms)
    pan = np.asarray(pan)
    if ms.ndim != 3 or pan.ndim not in (2, 3):
        raise InvalidInputError(
            f"ms must be (band, y, x) and pan (y, x); got {ms.shape}, {pan.shape}"
        )
    pan = pan.reshape(pan.shape[-2:]) if pan.ndim == 3 else pan
    height = pan.shape[0]
    ms_da = xr.DataArray(ms, dims=("band", "y", "x"), coords={"band": np.arange(ms.shape[0])})
    pan_da = xr.DataArray(pan, dims=("y", "x"))
    ms_da = ms_da.rio.write_transform(Affine(ratio, 0, 0, 0, -ratio, height))
    pan_da = pan_da.rio.write_transform(Affine(1, 0, 0, 0, -1, height))
    return ms_da, pan_da


def _integer_ratio(ms: xr.DataArray, pan: xr.DataArray, ratio: int | None) -> int:
    ms_res = abs(ms.rio.transform(recalc=False).a)
    pan_res = abs(pan.rio.transform(recalc=False).a)
    measured = ms_res / pan_res
    if ratio is None:
        ratio = round(measured)
        if ratio < 2 or abs(measured - ratio) > 1e-3 * ratio:
            raise InvalidInputError(
                f"the MS / pan pixel-size ratio {measured:.4f} is not an integer >= 2; "
                "the Wald protocol needs one"
            )
    if not isinstance(ratio, int | np.integer) or ratio < 2:
        raise InvalidInputError(f"ratio must be an integer >= 2, got {ratio!r}")
    return int(ratio)


def _sampled_gaussian_gain(sigma: float, frequency: float) -> float:
    """Response at ``frequency`` of scipy's sampled, normalised, 4-sigma-truncated Gaussian."""
    radius = int(4.0 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (taps / sigma) ** 2)
    return float(np.sum(weights * np.cos(2 * np.pi * frequency * taps)) / weights.sum())


def _degrade(image: np.ndarray, ratio: int, mtf_gain: float) -> np.ndarray:
    """Gaussian blur, then r x r block mean: together ``mtf_gain`` at the coarse Nyquist."""
    from scipy.optimize import brentq

    if not 0 < mtf_gain < 1:
        raise InvalidInputError(f"MTF gains must lie in (0, 1), got {mtf_gain!r}")
    nyquist = 1.0 / (2 * ratio)
    # Response of an r-sample mean at the coarse Nyquist frequency, per axis.
    box_gain = 1.0 / (ratio * math.sin(math.pi / (2 * ratio)))
    target = mtf_gain / box_gain
    blurred = image
    if target < 1:
        # Solved on the sampled kernel: for small sigma it differs from the continuous one.
        sigma = brentq(
            lambda s: _sampled_gaussian_gain(s, nyquist) - target, 0.05, 4.0 * ratio, xtol=1e-6
        )
        blurred = ndimage.gaussian_filter(image, (0, sigma, sigma), mode="reflect")
    bands, height, width = image.shape
    ny, nx = height // ratio, width // ratio
    cropped = blurred[:, : ny * ratio, : nx * ratio]
    return cropped.reshape(bands, ny, ratio, nx, ratio).mean(axis=(2, 4))


def wald_degrade(
    ms: xr.DataArray,
    pan: xr.DataArray,
    *,
    ratio: int | None = None,
    mtf_gain: float = 0.3,
    pan_mtf_gain: float = 0.15,
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """The reduced-resolution pair of the Wald protocol, and its reference.

    The pan is first put on the grid nested in the MS grid (MS pixel = ratio
    x ratio pan pixels; resampled with cubic convolution when the two grids
    are offset, as Landsat 8's are), then both images are blurred with a
    Gaussian whose response, together with the ``ratio`` x ``ratio`` block
    mean that follows, is ``mtf_gain`` (MS) / ``pan_mtf_gain`` (pan) at the
    coarse Nyquist frequency (Aiazzi et al. 2006), and block-averaged. The
    degraded pan lands exactly on the (cropped) MS grid.

    Returns
    -------
    (ms_low, pan_low, reference)
        float64 DataArrays: MS at ``ratio`` times the MS pixel size; pan at
        the MS pixel size; the MS cropped to ``ratio`` multiples (the target).
    """
    ms, pan = _as_georeferenced(ms, pan, ratio)
    from satlearn.ops.pansharpen import check_same_crs, ms_bands, pan_plane

    ms = ms_bands(ms)
    pan = pan_plane(pan)
    crs = check_same_crs(ms, pan)
    r = _integer_ratio(ms, pan, ratio)
    ms_transform = ms.rio.transform(recalc=False)
    height, width = (ms.sizes["y"] // r) * r, (ms.sizes["x"] // r) * r
    if height < 2 * r or width < 2 * r:
        raise InvalidInputError(f"ms {dict(ms.sizes)} is too small for ratio {r}")
    fine_transform = ms_transform @ Affine.scale(1.0 / r)
    fine = np.full((height * r, width * r), np.nan, dtype=np.float64)
    pan_values = np.asarray(pan.values, dtype=np.float64)
    if pan.rio.nodata is not None:
        pan_values = np.where(pan_values == pan.rio.nodata, np.nan, pan_values)
    rasterio.warp.reproject(
        pan_values,
        fine,
        src_transform=pan.rio.transform(recalc=False),
        src_crs=crs,
        dst_transform=fine_transform,
        dst_crs=crs,
        resampling=Resampling.cubic,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    ms_values = np.asarray(ms.values[:, :height, :width], dtype=np.float64)
    if ms.rio.nodata is not None:
        ms_values = np.where(ms_values == ms.rio.nodata, np.nan, ms_values)
    ms_low = _degrade(ms_values, r, mtf_gain)
    pan_low = _degrade(fine[None], r, pan_mtf_gain)[0]

    def wrap(
        data: np.ndarray, transform: Affine, dims: tuple[str, ...], bands: Any
    ) -> xr.DataArray:
        ys = transform.f + transform.e * (np.arange(data.shape[-2]) + 0.5)
        xs = transform.c + transform.a * (np.arange(data.shape[-1]) + 0.5)
        coords: dict[str, Any] = {"y": ys, "x": xs}
        if bands is not None:
            coords["band"] = bands
        da = xr.DataArray(data, dims=dims, coords=coords)
        if ms.rio.crs is not None:
            da = da.rio.write_crs(ms.rio.crs)
        return da.rio.write_transform(transform).rio.write_nodata(np.nan)

    bands = ms.coords["band"].values
    coarse = ms_transform @ Affine.scale(r)
    return (
        wrap(ms_low, coarse, ("band", "y", "x"), bands),
        wrap(pan_low, ms_transform, ("y", "x"), None),
        wrap(ms_values, ms_transform, ("band", "y", "x"), bands),
    )


def _valid_crop(reference: np.ndarray, fused: np.ndarray, border: int) -> tuple[np.ndarray, ...]:
    ref = reference[:, border : reference.shape[1] - border, border : reference.shape[2] - border]
    out = fused[:, border : fused.shape[1] - border, border : fused.shape[2] - border]
    valid = np.all(np.isfinite(ref), axis=0) & np.all(np.isfinite(out), axis=0)
    rows = np.flatnonzero(valid.all(axis=1))
    cols = np.flatnonzero(valid.all(axis=0))
    if rows.size == 0 or cols.size == 0:
        raise InvalidInputError("no valid pixels left to compare after fusion")
    keep = np.ix_(np.arange(ref.shape[0]), rows, cols)
    return ref[keep], out[keep]


def wald_protocol(
    ms: xr.DataArray | np.ndarray,
    pan: xr.DataArray | np.ndarray,
    *,
    method: str | Callable[[xr.DataArray, xr.DataArray], xr.DataArray] = "brovey",
    ratio: int | None = None,
    border: int | None = None,
    block_size: int = 32,
    mtf_gain: float = 0.3,
    pan_mtf_gain: float = 0.15,
    **options: Any,
) -> dict[str, float]:
    """Reduced-resolution quality of a pansharpening method (Wald's protocol).

    Degrade the MS and the pan by the resolution ratio (:func:`wald_degrade`),
    fuse the degraded pair, and compare the fusion with the original MS.

    Parameters
    ----------
    ms : xarray.DataArray or ndarray
        (band, y, x) MS. Plain arrays are taken as nested grids, ``ratio`` needed.
    pan : xarray.DataArray or ndarray
        (y, x) or (1, y, x) pan in the same CRS.
    method : str or callable
        A :func:`satlearn.ops.pansharpen.pansharpen` method name, or a
        function ``(ms_low, pan_low) -> fused`` (DataArrays; fused on the
        ``pan_low`` grid) to assess another implementation.
    ratio : int, optional
        MS / pan pixel-size ratio; default from the transforms.
    border : int, optional
        MS pixels left out along each edge (default ``2 * ratio``); rows and
        columns holding NaN are left out as well.
    block_size : int
        Window of Q and Q2n.
    mtf_gain, pan_mtf_gain : float
        Gains at the coarse Nyquist frequency of the simulated MS and pan MTFs.
    **options
        Passed to ``pansharpen`` (``weights=``, ``resampling=``...).

    Returns
    -------
    dict
        ``ergas``, ``sam`` (degrees), ``q``, ``q2n``, ``ssim``, ``psnr``,
        ``ratio`` and ``n_pixels`` (pixels compared).

    References
    ----------
    Wald, Ranchin & Mangolini (1997), PE&RS 63(6), 691-699; Vivone et al.
    (2015), https://doi.org/10.1109/TGRS.2014.2361734

    Examples
    --------
    >>> scores = wald_protocol(ms, pan, method="gram_schmidt", weights="auto")  # doctest: +SKIP
    >>> sorted(scores)  # doctest: +SKIP
    ['ergas', 'n_pixels', 'psnr', 'q', 'q2n', 'ratio', 'sam', 'ssim']
    """
    ms_low, pan_low, reference = wald_degrade(
        ms, pan, ratio=ratio, mtf_gain=mtf_gain, pan_mtf_gain=pan_mtf_gain
    )
    r = round(abs(ms_low.rio.transform(recalc=False).a / pan_low.rio.transform(recalc=False).a))
    if callable(method):
        fused = method(ms_low, pan_low)
    else:
        from satlearn.ops.pansharpen import pansharpen

        fused = pansharpen(ms_low, pan_low, method=method, **options)
    fused_values = np.asarray(fused.values, dtype=np.float64)
    if fused_values.shape != reference.shape:
        raise InvalidInputError(
            f"the fusion has shape {fused_values.shape}, the reference {reference.shape}"
        )
    edge = 2 * r if border is None else int(border)
    ref, out = _valid_crop(reference.values, fused_values, edge)
    scores = quality_report(ref, out, ratio=r, block_size=min(block_size, *ref.shape[1:]))
    return {**scores, "ratio": float(r), "n_pixels": float(ref.shape[1] * ref.shape[2])}
