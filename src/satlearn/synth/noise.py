"""Random fields, resampling helpers, point-spread blur and sensor noise.

Every function takes a :class:`numpy.random.Generator` where it needs
randomness, works in float32 and is vectorised (FFT or whole-array slicing).

Examples
--------
>>> import numpy as np
>>> from satlearn.synth.noise import fractal_noise, upsample2, blockmean2
>>> field = fractal_noise((64, 96), np.random.default_rng(0), beta=3.0)
>>> field.shape, field.dtype, round(float(field.std()), 3)
((64, 96), dtype('float32'), 1.0)
>>> blockmean2(upsample2(field)).shape
(64, 96)
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import ndimage

__all__ = [
    "add_sensor_noise",
    "blockmean2",
    "blur_and_shift",
    "fractal_noise",
    "smoothstep",
    "upsample2",
    "upsample2_nearest",
]

_F32 = np.float32


def fractal_noise(
    shape: tuple[int, int],
    rng: np.random.Generator,
    beta: float = 3.0,
    *,
    max_wavelength: float | None = None,
    min_wavelength: float = 0.0,
) -> np.ndarray:
    """Gaussian random field with a ``1/f**beta`` power spectrum.

    The field is synthesised directly in the Fourier domain (one inverse real
    FFT), then normalised to zero mean and unit standard deviation.

    Parameters
    ----------
    shape : (int, int)
        Output shape.
    rng : numpy.random.Generator
        Source of randomness.
    beta : float
        Spectral slope of the power spectrum; 2 is rough, 3-4 is smooth.
    max_wavelength : float, optional
        Wavelengths longer than this (pixels) get no extra power (the spectrum
        is flat below the matching frequency), which keeps large features
        from dominating.
    min_wavelength : float
        Gaussian roll-off of wavelengths shorter than this (pixels).

    Returns
    -------
    numpy.ndarray
        float32 array of ``shape``.

    Examples
    --------
    >>> fractal_noise((32, 32), np.random.default_rng(1)).dtype
    dtype('float32')
    """
    h, w = shape
    fy = np.fft.fftfreq(h).astype(_F32)[:, None]
    fx = np.fft.rfftfreq(w).astype(_F32)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    fmin = 1.0 / max_wavelength if max_wavelength else 1.0 / max(h, w)
    amp = np.maximum(f, _F32(fmin)) ** _F32(-beta / 2.0)
    if min_wavelength > 0:
        amp *= np.exp(-((f * _F32(min_wavelength)) ** 2))
    amp[0, 0] = 0.0
    spec = np.empty(amp.shape, dtype=np.complex64)
    spec.real = rng.standard_normal(amp.shape, dtype=_F32) * amp
    spec.imag = rng.standard_normal(amp.shape, dtype=_F32) * amp
    out = scipy.fft.irfft2(spec, s=(h, w), workers=-1).astype(_F32, copy=False)
    out -= out.mean(dtype=np.float64)
    std = float(out.std(dtype=np.float64))
    if std > 0:
        out *= _F32(1.0 / std)
    return out


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Hermite smoothstep of ``x`` clipped to [0, 1] (float32)."""
    t = np.clip(x, 0.0, 1.0).astype(_F32, copy=False)
    return t * t * (_F32(3.0) - _F32(2.0) * t)


def upsample2(a: np.ndarray) -> np.ndarray:
    """Bilinear 2x upsampling on pixel centres (edges replicated).

    Output pixels ``(2i, 2j)`` .. ``(2i+1, 2j+1)`` are the four half-size
    pixels inside input pixel ``(i, j)``; the mean of the four equals the
    input value away from the edges up to the curvature of the field.
    """
    a = np.asarray(a, dtype=_F32)
    h, w = a.shape
    q = _F32(0.25)
    rows = np.empty((h, 2, w), dtype=_F32)
    for k, (dst, src) in enumerate(((slice(1, None), slice(None, -1)),
                                    (slice(None, -1), slice(1, None)))):  # fmt: skip
        np.multiply(a, _F32(0.75), out=rows[:, k])
        rows[dst, k] += q * a[src]
        edge = 0 if k == 0 else -1
        rows[edge, k] += q * a[edge]
    rows = rows.reshape(2 * h, w)
    out = np.empty((2 * h, w, 2), dtype=_F32)
    for k, (dst, src) in enumerate(((slice(1, None), slice(None, -1)),
                                    (slice(None, -1), slice(1, None)))):  # fmt: skip
        np.multiply(rows, _F32(0.75), out=out[:, :, k])
        out[:, dst, k] += q * rows[:, src]
        edge = 0 if k == 0 else -1
        out[:, edge, k] += q * rows[:, edge]
    return out.reshape(2 * h, 2 * w)


def upsample2_nearest(a: np.ndarray) -> np.ndarray:
    """Nearest-neighbour 2x upsampling (each pixel becomes a 2x2 block)."""
    h, w = a.shape
    out = np.empty((h, 2, w, 2), dtype=a.dtype)
    out[:] = a[:, None, :, None]
    return out.reshape(2 * h, 2 * w)


def blockmean2(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Mean over non-overlapping 2x2 blocks of the last two axes (float32)."""
    if out is None:
        out = a[..., 0::2, 0::2].astype(_F32, copy=True)
    else:
        out[...] = a[..., 0::2, 0::2]
    out += a[..., 1::2, 0::2]
    out += a[..., 0::2, 1::2]
    out += a[..., 1::2, 1::2]
    out *= _F32(0.25)
    return out


def blur_and_shift(
    img: np.ndarray,
    sigma: float,
    shift: tuple[float, float] = (0.0, 0.0),
    pad: int = 16,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Gaussian point-spread blur, optionally with a sub-pixel Fourier shift.

    With a zero shift this is :func:`scipy.ndimage.gaussian_filter`. With a
    non-zero ``shift = (dy, dx)`` the image is reflect-padded by ``pad`` pixels
    and multiplied in the Fourier domain by the Gaussian transfer function and
    the phase ramp of the shift, so that ``out[y, x] = blurred[y - dy, x - dx]``
    (the same sense as :func:`scipy.ndimage.shift`).
    """
    img = np.asarray(img, dtype=_F32)
    if shift == (0.0, 0.0) or (abs(shift[0]) < 1e-9 and abs(shift[1]) < 1e-9):
        if out is None:
            out = np.empty_like(img)
        ndimage.gaussian_filter(img, sigma, mode="reflect", truncate=3.5, output=out)
        return out
    h, w = img.shape
    ph = scipy.fft.next_fast_len(h + 2 * pad, real=True)
    pw = scipy.fft.next_fast_len(w + 2 * pad, real=True)
    padded = np.pad(img, ((pad, ph - h - pad), (pad, pw - w - pad)), mode="reflect")
    fy = np.fft.fftfreq(ph).astype(_F32)[:, None]
    fx = np.fft.rfftfreq(pw).astype(_F32)[None, :]
    spec = scipy.fft.rfft2(padded, workers=-1)
    k = _F32(-2.0 * np.pi**2 * sigma**2)
    gy = np.exp(k * fy * fy) * np.exp(np.complex64(-2j * np.pi * shift[0]) * fy)
    gx = np.exp(k * fx * fx) * np.exp(np.complex64(-2j * np.pi * shift[1]) * fx)
    spec *= gy
    spec *= gx
    res = scipy.fft.irfft2(spec, s=(ph, pw), workers=-1)[pad : pad + h, pad : pad + w]
    if out is None:
        return np.ascontiguousarray(res, dtype=_F32)
    out[...] = res
    return out


def add_sensor_noise(
    img: np.ndarray,
    rng: np.random.Generator,
    snr: float,
    ref: float = 0.1,
    work: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Add signal-dependent Gaussian noise in place and return ``img``.

    The noise standard deviation is ``ref / snr`` at reflectance ``ref`` and
    scales as ``0.4 + 0.6 * sqrt(x / ref)`` (dark current plus shot noise).
    ``work`` optionally supplies two float32 scratch arrays of ``img``'s shape.
    """
    if work is None:
        work = (np.empty(img.shape, _F32), np.empty(img.shape, _F32))
    sigma, level = work
    rng.standard_normal(dtype=_F32, out=sigma)
    np.maximum(img, _F32(0.0), out=level)
    level *= _F32(1.0 / ref)
    np.sqrt(level, out=level)
    level *= _F32(0.6)
    level += _F32(0.4)
    sigma *= level
    sigma *= _F32(ref / snr)
    img += sigma
    return img
