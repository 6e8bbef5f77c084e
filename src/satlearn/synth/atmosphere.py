"""Atmosphere: path radiance, transmittance, clouds, cirrus and cloud shadows.

Top-of-atmosphere reflectance of band ``b`` is built as::

    toa = path_b + trans_b * surface * (1 - shadow_k_b * shadow_opacity)
    toa += cirrus_b * cirrus_opacity
    toa = (1 - opacity) * toa + opacity * cloud_b * (0.85 + 0.15 * opacity)

``path_b`` is Rayleigh plus a little aerosol path reflectance (blue-heavy),
``trans_b`` a two-way transmittance with the water-vapour bands at 0.94,
1.14, 1.38 and 1.87 µm. The 1.38 µm band is saturated: the vapour below the
cirrus level absorbs both the ground's signal and the path radiance made
beneath it, so a clear sky reads about 0.001 in the cirrus band (Sentinel-2
B10, Landsat 8/9 B9), as real scenes do, and cirrus stands out above it.
``cloud_b`` the reflectance of a thick water cloud (0.65-0.75 in the visible
and NIR, lower in the SWIR), ``cirrus_b`` large in the cirrus band and faint
elsewhere. Thermal bands (scaled brightness temperature) see clouds as cold.

The cirrus truth (:func:`cirrus_visible`) marks thin cloud (the cirrus layer
and the semi-transparent edges of thick clouds) where it adds more than
:data:`CIRRUS_DETECTABLE` (0.01, the published cirrus-band test of Fmask,
Zhu, Wang & Woodcock 2015) to the 1.375 µm reflectance, i.e. where a real
cirrus-band detector could see it; thinner cirrus is invisible in every band
(it adds less than 0.001 in the visible).

Thick clouds are thresholded fractal noise with a soft edge: the opacity is a
smoothstep of the noise around the threshold and the cloud mask is
``opacity > 0.5``. Shadows are the cloud opacity translated by
``cloud_height * tan(sun_zenith) / resolution`` pixels away from the sun
(rounded to whole pixels); the shadow mask excludes cloud pixels. Clouds are
generated on a grid padded by that offset, so clouds just outside the scene
cast shadows into it.

Examples
--------
>>> from satlearn.synth.atmosphere import band_params
>>> p = band_params([(0.4924, 0.066), (1.3735, 0.031)])
>>> bool(p["path"][0] > 0.03 and p["trans"][1] < 0.05)
True
"""

from __future__ import annotations

import numpy as np

from satlearn import sun
from satlearn.synth.noise import fractal_noise, smoothstep
from satlearn.synth.spectra import THERMAL_SCALE

__all__ = [
    "CIRRUS_DETECTABLE",
    "CIRRUS_PEAK",
    "band_params",
    "cirrus_visible",
    "cloud_layers",
    "shadow_offset",
]

_F32 = np.float32
_CLOUD_WL = np.array([0.40, 0.70, 1.00, 1.20, 1.35, 1.40, 1.50, 1.65, 1.80, 2.00, 2.20, 2.40])
_CLOUD_R = np.array([0.72, 0.72, 0.70, 0.66, 0.55, 0.50, 0.52, 0.55, 0.40, 0.35, 0.42, 0.35])
_VAPOUR = ((0.94, 0.025, 0.45), (1.14, 0.03, 0.5), (1.87, 0.06, 0.99))
#: Cirrus-band reflectance added per unit of cirrus opacity at 1.375 µm.
CIRRUS_PEAK = 0.30
#: Cirrus-band reflectance above which cirrus counts as detectable: the
#: ``cirrus > 0.01`` test of Fmask (Zhu, Wang & Woodcock 2015, Remote Sens.
#: Environ. 159, 269-277), over a clear-sky level of about 0.001.
CIRRUS_DETECTABLE = 0.01


def _cirrus_absorption(wl: np.ndarray) -> np.ndarray:
    """Fraction of the ground signal and low path radiance left at 1.36-1.39 µm.

    The 1.38 µm water-vapour band is saturated across the whole cirrus band,
    hence the flat-topped profile (a Gaussian would let the band edges see the
    ground). Its depth gives a clear-sky cirrus-band TOA reflectance of about
    0.001 over vegetated land: Gao, Goetz & Wiscombe (1993, Geophys. Res. Lett.
    20, 301-304) show near-zero 1.38 µm reflectance without cirrus, and real
    Sentinel-2 L1C reads 0.001-0.002 there (median B10 of the clear pixels of
    ../shared/data/s2cloudless-testinputs: 0.0019; eo-learn's
    REFERENCE_SCENES, 4 dates of 5: 0.0010-0.0022).
    """
    return 1 - 0.996 * np.exp(-(((wl - 1.375) / 0.045) ** 6))


def _transmittance(wl: np.ndarray) -> np.ndarray:
    tau_r = 0.0088 * wl**-4.05
    t = np.exp(-0.8 * tau_r) * _cirrus_absorption(wl)
    for centre, width, depth in _VAPOUR:
        t = t * (1 - depth * np.exp(-(((wl - centre) / width) ** 2)))
    return t


def _path(wl: np.ndarray) -> np.ndarray:
    # Rayleigh + aerosol path reflectance. In the saturated 1.38 µm band the
    # aerosol term (made in the boundary layer, under the vapour) is absorbed
    # and the Rayleigh term (molecules, mostly above the vapour) remains: it is
    # the ~0.0007 floor that keeps clear water off 0 in the cirrus band.
    rayleigh = 0.3 * 0.0088 * wl**-4.05
    return rayleigh + 0.012 * (0.55 / wl) ** 1.3 * _cirrus_absorption(wl)


def band_params(bands: list[tuple[float, float]]) -> dict[str, np.ndarray]:
    """Per-band atmospheric parameters for bands given as (centre, fwhm) in µm.

    Returns float32 arrays ``path``, ``trans``, ``cloud``, ``cirrus``,
    ``shadow_k`` (shadow darkening, 0.5 in the blue to 0.7 in the SWIR) and
    ``snr`` (signal-to-noise ratio at reflectance 0.1, growing with width).
    """
    keys = ("path", "trans", "cloud", "cirrus", "shadow_k", "snr")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for centre, fwhm in bands:
        snr = float(np.clip(160 * np.sqrt(fwhm / 0.04), 60, 300))
        if centre > 3.0:  # thermal: scaled brightness temperature
            off, scale = THERMAL_SCALE
            vals = (0.0, 1.0, (255.0 - off) / scale, -0.05, 0.05, snr)
        else:
            wl = np.linspace(centre - fwhm / 2, centre + fwhm / 2, 9)
            cirrus = 0.02 + (CIRRUS_PEAK - 0.02) * np.exp(-(((wl - 1.375) / 0.04) ** 2))
            vals = (
                float(_path(wl).mean()),
                float(_transmittance(wl).mean()),
                float(np.interp(wl, _CLOUD_WL, _CLOUD_R).mean()),
                float(cirrus.mean()),
                float(np.clip(0.5 + 0.12 * (centre - 0.45), 0.5, 0.7)),
                snr,
            )
        for k, v in zip(keys, vals, strict=True):
            out[k].append(v)
    return {k: np.asarray(v, dtype=_F32) for k, v in out.items()}


def shadow_offset(
    cloud_height_m: float, sun_azimuth: float, sun_zenith: float, resolution: float
) -> tuple[int, int]:
    """Whole-pixel (rows, cols) displacement of a cloud's shadow from the cloud.

    The shadow falls away from the sun: with the sun in the south-east
    (azimuth 150°) it lies north-west of the cloud (negative rows and cols).
    This is :func:`satlearn.sun.shadow_offset` (``resolution`` is its
    ``pixel_size_m``) rounded to whole pixels, the geometry the cloud-shadow
    search of :mod:`satlearn.ops.clouds` uses too.
    """
    rows, cols = sun.shadow_offset(cloud_height_m, sun_azimuth, sun_zenith, resolution)
    return round(rows), round(cols)


def cirrus_visible(
    cirrus_opacity: np.ndarray, cloud_opacity: np.ndarray | None = None
) -> np.ndarray:
    """Where thin cloud is detectable in the 1.375 µm band (bool).

    True where the cirrus layer, plus the semi-transparent edge of a thick
    cloud when ``cloud_opacity`` is given, adds more than
    :data:`CIRRUS_DETECTABLE` to the cirrus-band reflectance
    (``cirrus * CIRRUS_PEAK + cloud * R_cloud(1.375 µm) > 0.01``). This is the
    definition of ``SyntheticScene.cirrus_mask``, less the thick-cloud pixels
    (``cloud_opacity > 0.5``): a thick cloud's soft edge (opacity 0.02-0.5) is
    semi-transparent cloud, bright in every band, and a real mask should flag
    it too.

    Examples
    --------
    >>> cirrus_visible(np.array([0.0, 0.02, 0.05, 0.3])).tolist()
    [False, False, True, True]
    >>> cirrus_visible(np.zeros(2), np.array([0.01, 0.1])).tolist()
    [False, True]
    """
    added = np.asarray(cirrus_opacity, dtype=_F32) * _F32(CIRRUS_PEAK)
    if cloud_opacity is not None:
        cloud_r = _F32(np.interp(1.375, _CLOUD_WL, _CLOUD_R))
        added = added + np.asarray(cloud_opacity, dtype=_F32) * cloud_r
    return added > _F32(CIRRUS_DETECTABLE)


def cloud_layers(
    shape: tuple[int, int],
    rng: np.random.Generator,
    cover: float,
    cirrus_cover: float,
    offset: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cloud opacity, shadow opacity and cirrus opacity (float32, scene grid).

    ``cover`` is the fraction of the padded grid under thick cloud
    (``opacity > 0.5``), ``cirrus_cover`` the fraction with cirrus, ``offset``
    the shadow displacement from :func:`shadow_offset`.
    """
    h, w = shape
    oy, ox = abs(offset[0]), abs(offset[1])
    ph, pw = h + 2 * oy, w + 2 * ox
    n = min(h, w)
    field = fractal_noise((ph, pw), rng, beta=3.3, max_wavelength=max(n / 3, 16))
    thr = float(np.quantile(field[::2, ::2], 1.0 - cover))
    opacity_p = smoothstep((field - _F32(thr)) * _F32(2.5) + _F32(0.5))
    opacity = np.ascontiguousarray(opacity_p[oy : oy + h, ox : ox + w])
    sy, sx = oy - offset[0], ox - offset[1]
    shadow = np.ascontiguousarray(opacity_p[sy : sy + h, sx : sx + w])
    del field, opacity_p
    cir = fractal_noise((h, w), rng, beta=3.6, max_wavelength=max(n / 2, 16))
    cthr = float(np.quantile(cir[::2, ::2], 1.0 - cirrus_cover))
    cirrus = np.clip((cir - _F32(cthr)) * _F32(0.8) + _F32(0.2), 0.0, 0.6).astype(_F32)
    return opacity, shadow, cirrus
