"""Cloud shadows: the clouds projected away from the sun onto dark pixels.

The geometry (:func:`shadow_offset`) is :func:`satlearn.sun.shadow_offset`,
the one the synthetic scenes cast their shadows with. :func:`cloud_shadow`
is *global*: the dark-pixel test flood-fills the whole scene and the height
search scores every candidate offset over the whole scene, so it computes the
two bands it needs (``nir``, ``swir16``) and the cloud mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.checks import check_raster, check_same_grid
from satlearn.checks import pixel_size_m as grid_pixel_size_m
from satlearn.errors import InvalidInputError
from satlearn.ops.clouds._data import scene_reflectance, yx_like
from satlearn.sun import shadow_offset

__all__ = [
    "DEFAULT_HEIGHT_RANGE_M",
    "SHADOW_BANDS",
    "cloud_shadow",
    "dark_pixels",
    "match_shadow",
    "project_mask",
    "shadow_offset",
    "shadow_offsets",
    "sun_geometry",
]

SHADOW_BANDS: tuple[str, ...] = ("nir", "swir16")
#: Cloud heights (metres) searched when none is given.
DEFAULT_HEIGHT_RANGE_M: tuple[float, float] = (200.0, 12000.0)


def project_mask(mask: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Translate a boolean mask by whole pixels ``(rows, cols)``; what leaves the grid is lost.

    Examples
    --------
    >>> import numpy as np
    >>> project_mask(np.eye(3, dtype=bool), (0, 1)).astype(int)
    array([[0, 1, 0],
           [0, 0, 1],
           [0, 0, 0]])
    """
    dy, dx = int(offset[0]), int(offset[1])
    h, w = mask.shape
    out = np.zeros_like(mask)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src = mask[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def _fill_depth(band: np.ndarray, background: float) -> np.ndarray:
    """Depth of each pixel below the flood-filled band (Fmask eq. 19).

    Morphological reconstruction by erosion from the borders fills every dark
    basin up to its spill level; the borders stand at ``background`` so that
    basins touching the edge fill as well.
    """
    from skimage.morphology import reconstruction

    padded = np.pad(band, 1, constant_values=background)
    top = float(np.max(padded))
    seed = np.full_like(padded, top)
    seed[0, :], seed[-1, :], seed[:, 0], seed[:, -1] = (background,) * 4
    filled = reconstruction(seed, padded, method="erosion")
    return (filled - padded)[1:-1, 1:-1]


def dark_pixels(
    nir: np.ndarray,
    swir16: np.ndarray | None = None,
    *,
    clear: np.ndarray | None = None,
    depth: float = 0.02,
) -> np.ndarray:
    """Potential shadow pixels: Fmask's flood-fill test, or dark outright.

    Each band is flood-filled (morphological reconstruction) with the image
    borders at the 17.5th percentile of the ``clear`` pixels (Zhu & Woodcock
    2012); a pixel is dark when it lies more than ``depth`` below the filled
    surface in ``nir`` and, when given, in ``swir16`` -- or, satlearn's
    addition, when it is below that 17.5th percentile in every given band:
    a shadow wider than the dark basins around it (a large cloud's shadow
    over a varied landscape) is no closed basin, and the fill test alone
    misses most of it.

    Global: the percentile and the flood fill see the whole array (numpy).

    Parameters
    ----------
    nir, swir16 : numpy.ndarray
        2-D reflectance; non-finite pixels are treated as bright (never dark).
    clear : numpy.ndarray of bool, optional
        Clear pixels for the border level; default every finite pixel.
    depth : float
        Minimum fill depth (reflectance).

    Examples
    --------
    >>> import numpy as np
    >>> nir = np.full((9, 9), 0.3, np.float32); nir[3:6, 3:6] = 0.1
    >>> int(dark_pixels(nir).sum())
    9
    """
    basin = None
    low = None
    for band in (nir, swir16):
        if band is None:
            continue
        finite = np.isfinite(band)
        pool = finite if clear is None else finite & clear
        if not pool.any():
            pool = finite
        if not pool.any():
            return np.zeros(band.shape, dtype=bool)
        background = float(np.percentile(band[pool], 17.5))
        values = np.where(finite, band, np.float32(np.max(band[finite]))).astype(np.float64)
        in_basin = _fill_depth(values, background) > depth
        below = finite & (values < background)
        basin = in_basin if basin is None else basin & in_basin
        low = below if low is None else low & below
    assert basin is not None and low is not None
    return basin | low


def shadow_offsets(
    height_range: tuple[float, float], sun_azimuth: float, sun_zenith: float, pixel_size_m: float
) -> list[tuple[tuple[int, int], float]]:
    """Distinct whole-pixel offsets over a height range, one-pixel steps: [(offset, height)].

    The first height giving each offset is kept, lowest first.
    """
    low, high = height_range
    length_per_m = math.tan(math.radians(sun_zenith)) / pixel_size_m
    n = max(2, math.ceil((high - low) * length_per_m) + 1)
    seen: dict[tuple[int, int], float] = {}
    for height in np.linspace(low, high, n):
        dy, dx = shadow_offset(float(height), sun_azimuth, sun_zenith, pixel_size_m)
        seen.setdefault((round(dy), round(dx)), float(height))
    return list(seen.items())


def match_shadow(
    cloud: np.ndarray,
    dark: np.ndarray,
    valid: np.ndarray,
    candidates: Sequence[tuple[tuple[int, int], float]],
) -> tuple[np.ndarray, float, float]:
    """Best projection of ``cloud`` onto ``dark`` among candidate offsets.

    The score of an offset is the fraction of projected pixels (outside
    clouds, valid) that are dark. Returns (shadow mask, height, score).
    A pure kernel on whole-scene numpy masks (global).
    """
    target = valid & ~cloud
    best: tuple[float, int] = (-1.0, 0)
    for i, (offset, _height) in enumerate(candidates):
        projected = project_mask(cloud, offset)
        projected &= target
        count = int(np.count_nonzero(projected))
        if count == 0:
            continue
        score = np.count_nonzero(projected & dark) / count
        if score > best[0]:
            best = (score, i)
    score, index = best
    offset, height = candidates[index]
    shadow = project_mask(cloud, offset) & target & dark
    return shadow, height, max(score, 0.0)


def _attr_float(da: xr.DataArray | None, *keys: str) -> float | None:
    if da is None:
        return None
    for key in keys:
        if key in da.attrs:
            try:
                return float(da.attrs[key])
            except (TypeError, ValueError):
                return None
    return None


def sun_geometry(
    da: xr.DataArray, sun_azimuth: float | None, sun_zenith: float | None, what: str
) -> tuple[float, float] | None:
    """(azimuth, zenith) in degrees from the arguments, else ``da.attrs``; None if unknown.

    The zenith may come as ``attrs["sun_elevation"]`` (90 - elevation).

    Raises
    ------
    InvalidInputError
        A zenith outside [0, 89) degrees or a non-finite azimuth.
    """
    azimuth = sun_azimuth if sun_azimuth is not None else _attr_float(da, "sun_azimuth")
    zenith = sun_zenith if sun_zenith is not None else _attr_float(da, "sun_zenith")
    if zenith is None:
        elevation = _attr_float(da, "sun_elevation")
        zenith = None if elevation is None else 90.0 - elevation
    if azimuth is None or zenith is None:
        return None
    azimuth, zenith = float(azimuth), float(zenith)
    if not (math.isfinite(azimuth) and math.isfinite(zenith)) or not 0.0 <= zenith < 89.0:
        raise InvalidInputError(
            f"{what}: sun zenith must be in [0, 89) degrees and azimuth finite, got "
            f"azimuth={azimuth!r}, zenith={zenith!r}"
        )
    return azimuth, zenith


def _pixel_size(da: xr.DataArray, pixel_size_m: float | None, what: str) -> float:
    size = pixel_size_m if pixel_size_m is not None else _attr_float(da, "pixel_size_m")
    if size is None and da.rio.crs is not None and da.rio.crs.is_projected:
        # The grid measure every op shares (square to 1e-3, GridMismatchError otherwise).
        size = grid_pixel_size_m(da, what=what)
    if size is None or not math.isfinite(size) or size <= 0:
        raise InvalidInputError(
            f"{what} needs the pixel size in metres: pass pixel_size_m= (the raster has "
            "no projected CRS and no attrs['pixel_size_m'])"
        )
    return float(size)


def _check_heights(height_range: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in height_range)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"height_range must be (low, high) in metres, got {height_range!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or not 0 <= low < high:
        raise InvalidInputError(f"height_range must have 0 <= low < high, got {height_range!r}")
    return low, high


def cloud_shadow(
    clouds: xr.DataArray | np.ndarray,
    da: xr.DataArray,
    *,
    sun_azimuth: float | None = None,
    sun_zenith: float | None = None,
    cloud_height_m: float | None = None,
    height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE_M,
    pixel_size_m: float | None = None,
) -> xr.DataArray:
    """Cloud shadows: the cloud mask projected away from the sun onto dark pixels.

    Global: the dark-pixel test and the height search see the whole scene,
    so a dask scene's ``nir`` and ``swir16`` bands and the mask are computed.

    Parameters
    ----------
    clouds : DataArray or ndarray
        Boolean ``(y, x)`` cloud mask on ``da``'s grid (thin cirrus may be
        left out: it casts little shadow).
    da : xarray.DataArray
        The ``(band, y, x)`` reflectance scene; needs ``nir`` and ``swir16``.
    sun_azimuth, sun_zenith : float, optional
        Degrees (azimuth clockwise from north). Default:
        ``da.attrs["sun_azimuth"]`` and ``da.attrs["sun_zenith"]`` (or
        ``90 - da.attrs["sun_elevation"]``).
    cloud_height_m : float, optional
        Cloud height in metres. Default: searched over ``height_range`` (one
        height for the scene; see the module docstring).
    height_range : (float, float)
        Heights searched when ``cloud_height_m`` is not given.
    pixel_size_m : float, optional
        Pixel size in metres. Default: ``da.attrs["pixel_size_m"]``, else the
        resolution of a projected CRS.

    Returns
    -------
    xarray.DataArray
        bool ``(y, x)``, never True on a cloud or nodata pixel; attrs hold
        ``cloud_height_m`` (used or found), ``offset_px`` (rows, cols) and
        ``score`` (fraction of the projection that is dark).

    Raises
    ------
    InvalidInputError
        No sun geometry or pixel size, a mask of another shape, a bad range.
    UnknownBandError
        ``da`` lacks ``nir`` or ``swir16``.

    Examples
    --------
    >>> from satlearn.ops.clouds import cloud_mask
    >>> from satlearn.synth import make_scene
    >>> scene = make_scene(128, seed=4)
    >>> image = scene.image.isel(time=0)
    >>> shadow = cloud_shadow(cloud_mask(image), image)  # sun geometry from image.attrs
    >>> shadow.attrs["cloud_height_m"] > 0
    True
    """
    what = "cloud_shadow"
    da = check_raster(da, what="scene")
    geometry = sun_geometry(da, sun_azimuth, sun_zenith, what)
    if geometry is None:
        raise InvalidInputError(
            f"{what} needs the sun azimuth and zenith: pass sun_azimuth= and sun_zenith= "
            "or set da.attrs['sun_azimuth'] and da.attrs['sun_zenith']"
        )
    azimuth, zenith = geometry
    size = _pixel_size(da, pixel_size_m, what)
    cloud = np.asarray(check_same_grid(clouds, da, what=f"{what}: the cloud mask"))
    if cloud.dtype != bool:
        raise InvalidInputError(f"{what}: the cloud mask must be boolean, got {cloud.dtype}")
    refl = np.asarray(scene_reflectance(da, SHADOW_BANDS, what))
    valid = np.all(np.isfinite(refl), axis=0)
    if cloud_height_m is not None:
        height = float(cloud_height_m)
        if not math.isfinite(height) or height < 0:
            raise InvalidInputError(f"cloud_height_m must be >= 0, got {cloud_height_m!r}")
        dy, dx = shadow_offset(height, azimuth, zenith, size)
        candidates = [((round(dy), round(dx)), height)]
    else:
        candidates = shadow_offsets(_check_heights(height_range), azimuth, zenith, size)
    if not valid.any() or not cloud.any():
        shadow, height, score = np.zeros(cloud.shape, dtype=bool), candidates[0][1], 0.0
        offset = candidates[0][0]
    else:
        dark = dark_pixels(refl[0], refl[1], clear=valid & ~cloud)
        dark &= valid
        shadow, height, score = match_shadow(cloud, dark, valid, candidates)
        offset = next(o for o, h in candidates if h == height)
    attrs = {"cloud_height_m": height, "offset_px": list(offset), "score": float(score)}
    return yx_like(shadow, da, "cloud_shadow", attrs)
