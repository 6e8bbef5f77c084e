"""Terrain: a fractal digital elevation model, hill shading and a stereo pair.

Stereo convention
-----------------
The pair is rectified (epipolar lines are image rows). ``disparity[y, x]``
is defined on the grid of the *left* image and satisfies::

    right[y, x - disparity[y, x]] == left[y, x]

and heights follow ``dem - dem.min() == disparity * resolution / base_to_height``.
Disparity grows with height and its gradient along rows stays below 0.8, so
the mapping is monotonic and the pair has no occlusions.

Examples
--------
>>> import numpy as np
>>> from satlearn.synth.terrain import make_dem
>>> rng = np.random.default_rng(0)
>>> dem = make_dem((64, 64), rng, 10.0, np.full((64, 64), 50.0, np.float32))
>>> bool(dem.min() >= 100.0), dem.dtype
(True, dtype('float32'))
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from satlearn.synth.noise import fractal_noise, smoothstep

__all__ = ["hillshade", "make_dem", "stereo_pair"]

_F32 = np.float32
BASE_ELEVATION_M = 100.0
#: Steepest terrain slope along rows, in pixels of height per pixel: 0.75 / 0.6,
#: so that a base-to-height ratio of 0.6 keeps the disparity gradient < 0.8.
MAX_SLOPE_PX = 1.25


def make_dem(
    shape: tuple[int, int], rng: np.random.Generator, resolution: float, water_dist: np.ndarray
) -> np.ndarray:
    """Fractal, partly ridged terrain in metres, flat and lowest on water.

    Relief is ``min(500, 0.1 * scene extent)`` metres above a 100 m base, so a
    2048-pixel 10 m scene spans about 100-600 m; it is reduced where needed so
    that no slope along rows exceeds :data:`MAX_SLOPE_PX` (about 51°). ``water_dist`` is a signed
    distance to the nearest water in pixels (negative inside water); the
    terrain is carved into a valley towards the water and is exactly
    :data:`BASE_ELEVATION_M` on it.
    """
    h, w = shape
    smooth = fractal_noise(shape, rng, beta=3.4)
    ridge = fractal_noise(shape, rng, beta=3.2)
    ridge = -np.sqrt(ridge * ridge + _F32(0.05))  # smooth "1 - |n|" ridges
    base = _F32(0.65) * smooth + _F32(0.35) * (ridge - ridge.mean())
    base -= base.min()
    base *= _F32(1.0 / max(float(base.max()), 1e-6))
    base = ndimage.gaussian_filter(base, 1.5)
    relief = float(np.clip(0.1 * min(h, w) * resolution, 5.0, 500.0))
    valley = smoothstep(water_dist * _F32(1.0 / max(0.12 * min(h, w), 4.0)))
    dem = base * valley
    # cap the steepest slope along rows (MAX_SLOPE_PX pixels of height per pixel)
    steep = float(np.abs(np.diff(dem, axis=1)).max()) * relief / resolution
    dem *= _F32(relief * min(1.0, MAX_SLOPE_PX / max(steep, 1e-9)))
    dem += _F32(BASE_ELEVATION_M)
    return dem.astype(_F32, copy=False)


def hillshade(dem: np.ndarray, resolution: float, azimuth: float, zenith: float) -> np.ndarray:
    """Relative illumination ``cos(incidence) / cos(zenith)`` (1 on flat ground).

    Azimuth is clockwise from grid north, zenith from the vertical, degrees.
    """
    dz_row, dz_col = np.gradient(dem.astype(_F32), resolution)
    dz_e, dz_n = dz_col, -dz_row
    norm = np.sqrt(dz_e * dz_e + dz_n * dz_n + 1.0)
    az, zen = np.radians(azimuth), np.radians(zenith)
    sun = (np.sin(zen) * np.sin(az), np.sin(zen) * np.cos(az), np.cos(zen))
    cos_i = (-dz_e * _F32(sun[0]) - dz_n * _F32(sun[1]) + _F32(sun[2])) / norm
    return np.clip(cos_i / _F32(np.cos(zen)), 0.3, 1.8).astype(_F32, copy=False)


def stereo_pair(
    texture: np.ndarray,
    dem: np.ndarray,
    resolution: float,
    rng: np.random.Generator,
    base_to_height: float = 0.6,
    noise_std: float = 0.002,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Render a rectified stereo pair from a texture and a DEM.

    Returns
    -------
    left, right, disparity : numpy.ndarray
        float32 images (y, x); see the module docstring for the convention.
    base_to_height : float
        The ratio used: ``base_to_height`` unless the terrain is so steep that
        it had to be reduced to keep the disparity gradient below 0.8.
    """
    h, w = texture.shape
    rel = dem.astype(_F32) - _F32(dem.min())
    disp = rel * _F32(base_to_height / resolution)
    steep = float(np.abs(np.diff(disp, axis=1)).max()) if w > 1 else 0.0
    if steep > 0.8:
        base_to_height *= 0.8 / steep
        disp = rel * _F32(base_to_height / resolution)
    # right[y, xr] = left[y, x] where x - disp(x) = xr. Along a row
    # x -> x - disp(x) is strictly increasing, so its inverse is a linear
    # interpolation of (x - disp, x): one np.interp per row (vectorised inside).
    cols = np.arange(w, dtype=np.float64)
    x = np.empty((h, w), dtype=_F32)
    for i in range(h):
        x[i] = np.interp(cols, cols - disp[i], cols)
    rows = np.broadcast_to(np.arange(h, dtype=_F32)[:, None], (h, w))
    right = ndimage.map_coordinates(texture, [rows, x], order=3, mode="nearest").astype(_F32)
    left = texture.astype(_F32, copy=True)
    left += rng.standard_normal((h, w), dtype=_F32) * _F32(noise_std)
    right += rng.standard_normal((h, w), dtype=_F32) * _F32(noise_std)
    return left, right, disp.astype(_F32, copy=False), float(base_to_height)
