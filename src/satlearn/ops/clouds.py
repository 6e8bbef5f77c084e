"""Clouds, thin cirrus, cloud shadows, snow and water in optical scenes.

Four cloud detectors sit behind one interface, :func:`cloud_mask` (``True`` =
cloud, thin cirrus included) and :func:`classify_clouds` (class codes):

``"rules"`` (default)
    Fmask-style potential-cloud-pixel tests (Zhu & Woodcock 2012) with the
    cirrus-band test of Zhu, Wang & Woodcock (2015). Needs ``blue``, ``green``,
    ``red``, ``nir``, ``swir16``, ``swir22`` and ``cirrus``, which Sentinel-2
    L1C and Landsat 8/9 both have. Thresholds are the published ones, not
    tuned on any scene here. The thermal (brightness-temperature) test and
    Fmask's scene-wide probability stage are left out, so one set of tests
    serves both sensors.
``"hollstein"``
    The decision tree of Hollstein et al. (2016, fig. 8, as distributed by
    Sentinel Hub's custom-scripts): Sentinel-2 only (needs ``coastal``,
    ``blue``, ``green``, ``rededge1..3``, ``nir08``, ``nir09``, ``cirrus``,
    ``swir16``); it classifies clear, cloud, cirrus, shadow, snow and water
    from band values alone.
``"s2cloudless"``
    Sentinel Hub's LightGBM pixel detector (the ``s2cloudless`` package, used
    as is) on the bands B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12 of
    Sentinel-2 L1C, with its defaults (probability > 0.4 after averaging over
    a disk of radius 1, then dilation by a disk of radius 1).
``"model:PATH"``
    A trained pixel classifier bundle (:class:`satlearn.ml.pixel.PixelClassifier`)
    read from PATH; its classes named ``cloud``, ``cirrus``, ``thin_cirrus`` or
    ``thick_cloud`` make the mask.

Class codes (:data:`CLASSES`)
-----------------------------
====  ===========  ============================================================
code  class        meaning
====  ===========  ============================================================
0     clear        none of the below
1     cloud        thick (opaque) cloud
2     cirrus       thin cirrus / semi-transparent cloud (a cloud in the mask)
3     shadow       cloud shadow (geometric projection of the clouds, dark)
4     snow         snow or ice
5     water        open water
255   nodata       any needed band is nodata or not finite
====  ===========  ============================================================

When classes compete the order is cloud > cirrus > shadow > snow > water.

Thresholds of the ``"rules"`` detector (top-of-atmosphere reflectance 0..1)
--------------------------------------------------------------------------
NDVI = (nir - red) / (nir + red), NDSI = (green - swir16) / (green + swir16),
mean_vis = (blue + green + red) / 3.

=============  ==================================================  ==========================
test           condition                                           source
=============  ==================================================  ==========================
basic          swir22 > 0.03 and NDSI < 0.8 and NDVI < 0.8         Zhu & Woodcock 2012, eq. 1
whiteness      sum(|b - mean_vis|) / mean_vis < 0.7 (b: B, G, R)   eq. 2
HOT            blue - 0.5 red - 0.08 > 0                           eq. 3 (Zhang et al. 2002)
NIR/SWIR       nir / swir16 > 0.75                                 eq. 4
cloud          basic and whiteness and HOT and NIR/SWIR            eq. 6 (potential cloud)
cirrus         cirrus > 0.01 (and not cloud)                       Zhu et al. 2015
water          (NDVI < 0.01 and nir < 0.11) or                     eq. 5
               (0 < NDVI < 0.1 and nir < 0.05)
snow           NDSI > 0.15 and nir > 0.11 and green > 0.1          eq. 20 (thermal test dropped)
dark           flood-fill depth of nir and of swir16 both > 0.02,  eq. 19
               borders filled with the 17.5th percentile P of
               clear pixels; or nir < P_nir and swir16 < P_swir16  (satlearn, see dark_pixels)
=============  ==================================================  ==========================

Thresholds of the ``"hollstein"`` tree (band ids of Sentinel-2)
----------------------------------------------------------------
::

    B03 < 0.319
      B8A < 0.166
        B03 - B07 < 0.027:  B09 - B11 < -0.097 ? clear : shadow
        else:               B09 - B11 <  0.021 ? water : shadow
      else
        B02 / B10 < 14.689: B02 / B09 < 0.788 ? clear : cirrus
        else:               clear
    else
      B05 / B11 < 4.33
        B11 - B10 < 0.255:  B06 - B07 < -0.016 ? cloud : cirrus
        else:               B01 < 0.3 ? clear : cloud
      else
        B03 < 0.525:        B01 / B05 < 1.184 ? clear : shadow
        else:               snow

Cloud shadows
-------------
:func:`cloud_shadow` projects the cloud mask away from the sun by
``height * tan(sun_zenith) / pixel_size`` pixels along the sun azimuth (a
north-up grid and a near-nadir view are assumed) and keeps the projected
pixels that are dark (the flood-fill test above). Without a cloud height it
searches one height for the whole scene over ``height_range`` (one-pixel
steps), keeping the height whose projection falls on the largest fraction of
dark pixels, as Fmask's shadow matching does per cloud object.

Data
----
Inputs are ``(band, y, x)`` DataArrays of top-of-atmosphere reflectance
(0..1 floats, or integers with ``scale``/``offset`` band coordinates as
:func:`satlearn.raster.open_raster` returns them). Bands are looked up by
satlearn band name; sensor ids (``"B02"``) are translated when
``da.attrs["sensor"]`` names the sensor. Pixels where any needed band is
nodata or not finite are never cloud (class 255); an all-nodata input gives an
empty mask, not an error. Dask-backed inputs stay lazy for ``"rules"``,
``"hollstein"`` and ``"s2cloudless"`` (per chunk, with a halo where
post-processing looks at neighbours); shadow matching is scene-wide, so it
computes the two bands it needs (``nir``, ``swir16``) and the cloud mask.

References
----------
Zhu, Z., & Woodcock, C. E. (2012). Object-based cloud and cloud shadow
detection in Landsat imagery. Remote Sensing of Environment, 118, 83-94.
https://doi.org/10.1016/j.rse.2011.10.028

Zhu, Z., Wang, S., & Woodcock, C. E. (2015). Improvement and expansion of the
Fmask algorithm: cloud, cloud shadow, and snow detection for Landsats 4-7, 8,
and Sentinel 2 images. Remote Sensing of Environment, 159, 269-277.
https://doi.org/10.1016/j.rse.2014.12.014

Hollstein, A., Segl, K., Guanter, L., Brell, M., & Enesco, M. (2016).
Ready-to-use methods for the detection of clouds, cirrus, snow, shadow, water
and clear sky pixels in Sentinel-2 MSI images. Remote Sensing, 8(8), 666.
https://doi.org/10.3390/rs8080666

Zupanc, A. (2017). Improving cloud detection with machine learning.
Sentinel Hub blog (s2cloudless). https://github.com/sentinel-hub/sentinel2-cloud-detector

Examples
--------
>>> from satlearn.synth import make_scene
>>> scene = make_scene(128, seed=3)
>>> image = scene.image.isel(time=0)
>>> mask = cloud_mask(image)                      # rules, True = cloud
>>> classes = classify_clouds(image)              # codes of CLASSES, shadows included
>>> mask.dtype, classes.dtype
(dtype('bool'), dtype('uint8'))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.bands import band_positions
from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.raster import nodata_value

__all__ = [
    "CLASSES",
    "METHODS",
    "NODATA_CLASS",
    "classify_clouds",
    "cloud_mask",
    "cloud_shadow",
    "dark_pixels",
    "hollstein_classes",
    "match_shadow",
    "project_mask",
    "rules_classes",
    "shadow_offset",
]

#: Class name -> code of :func:`classify_clouds`.
CLASSES: dict[str, int] = {"clear": 0, "cloud": 1, "cirrus": 2, "shadow": 3, "snow": 4, "water": 5}
#: Code of pixels where a needed band is nodata.
NODATA_CLASS = 255
#: The detectors :func:`cloud_mask` knows by name (plus ``"model:PATH"``).
METHODS: tuple[str, ...] = ("rules", "hollstein", "s2cloudless")

CLEAR, CLOUD, CIRRUS, SHADOW, SNOW, WATER = range(6)

#: Bands of each detector, in kernel order.
RULES_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22", "cirrus")
HOLLSTEIN_BANDS: tuple[str, ...] = (
    "coastal", "blue", "green", "rededge1", "rededge2", "rededge3",
    "nir08", "nir09", "cirrus", "swir16",
)  # fmt: skip
#: The s2cloudless model's bands B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12.
S2CLOUDLESS_BANDS: tuple[str, ...] = (
    "coastal", "blue", "red", "rededge1", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22",
)  # fmt: skip
SHADOW_BANDS: tuple[str, ...] = ("nir", "swir16")

_F32 = np.float32
_STRIP = 512  # rows per strip of the in-memory kernels: temporaries stay a few MB wide
_S2C_HALO = 2  # s2cloudless averages (radius 1) then dilates (radius 1)


# --------------------------------------------------------------------------- pure kernels


def _strips(func: Callable[..., np.ndarray], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Run an elementwise kernel over row strips so temporaries stay small."""
    height = arrays[0].shape[0]
    if height <= _STRIP:
        return func(*arrays)
    out = None
    for start in range(0, height, _STRIP):
        part = func(*(a[start : start + _STRIP] for a in arrays))
        if out is None:
            out = np.empty((height, *part.shape[1:]), dtype=part.dtype)
        out[start : start + _STRIP] = part
    assert out is not None
    return out


def rules_classes(
    blue: np.ndarray,
    green: np.ndarray,
    red: np.ndarray,
    nir: np.ndarray,
    swir16: np.ndarray,
    swir22: np.ndarray,
    cirrus: np.ndarray,
) -> np.ndarray:
    """Fmask-style band tests: cloud, cirrus, snow, water or clear per pixel.

    A pure kernel on reflectance arrays of one shape (see the module's table
    of thresholds). Shadows need geometry and are not assigned here; pixels
    where a band is not finite get :data:`NODATA_CLASS`.

    Returns
    -------
    numpy.ndarray
        uint8 codes of :data:`CLASSES`.

    Examples
    --------
    >>> import numpy as np
    >>> bright = [np.array([v], np.float32) for v in (0.5, 0.5, 0.5, 0.5, 0.4, 0.3, 0.002)]
    >>> int(rules_classes(*bright)[0]) == CLASSES["cloud"]
    True
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
        ndsi = (green - swir16) / (green + swir16)
        mean_vis = (blue + green + red) / _F32(3.0)
        whiteness = (
            np.abs(blue - mean_vis) + np.abs(green - mean_vis) + np.abs(red - mean_vis)
        ) / (mean_vis)
        cloud = (swir22 > 0.03) & (ndsi < 0.8) & (ndvi < 0.8)  # basic test
        cloud &= whiteness < 0.7
        cloud &= (blue - _F32(0.5) * red - _F32(0.08)) > 0  # haze-optimised transform
        cloud &= nir > _F32(0.75) * swir16  # nir / swir16 > 0.75 without a division
        water = ((ndvi < 0.01) & (nir < 0.11)) | ((ndvi > 0) & (ndvi < 0.1) & (nir < 0.05))
        snow = (ndsi > 0.15) & (nir > 0.11) & (green > 0.1)
    out = np.full(blue.shape, CLEAR, dtype=np.uint8)
    out[water] = WATER
    out[snow] = SNOW
    out[cirrus > 0.01] = CIRRUS
    out[cloud] = CLOUD
    bad = ~np.isfinite(blue)
    for band in (green, red, nir, swir16, swir22, cirrus):
        bad |= ~np.isfinite(band)
    out[bad] = NODATA_CLASS
    return out


def hollstein_classes(
    coastal: np.ndarray,
    blue: np.ndarray,
    green: np.ndarray,
    rededge1: np.ndarray,
    rededge2: np.ndarray,
    rededge3: np.ndarray,
    nir08: np.ndarray,
    nir09: np.ndarray,
    cirrus: np.ndarray,
    swir16: np.ndarray,
) -> np.ndarray:
    """The Hollstein et al. (2016) decision tree for Sentinel-2 (see the module docstring).

    Every leaf is a boolean expression of the split tests, evaluated for all
    pixels at once (no per-pixel branching).

    Returns
    -------
    numpy.ndarray
        uint8 codes of :data:`CLASSES`; :data:`NODATA_CLASS` where a band is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> values = (0.6, 0.6, 0.7, 0.6, 0.6, 0.6, 0.6, 0.3, 0.01, 0.1)
    >>> snow = [np.array([v], np.float32) for v in values]
    >>> int(hollstein_classes(*snow)[0]) == CLASSES["snow"]
    True
    """
    b01, b02, b03, b05, b06, b07, b8a, b09, b10, b11 = (
        coastal, blue, green, rededge1, rededge2, rededge3, nir08, nir09, cirrus, swir16,
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        dark = b03 < 0.319
        low_nir = b8a < 0.166
        vis_re = (b03 - b07) < 0.027
        wv_swir = b09 - b11
        blue_cirrus = (b02 / b10) < 14.689
        blue_wv = (b02 / b09) < 0.788
        re_swir = (b05 / b11) < 4.33
        swir_cirrus = (b11 - b10) < 0.255
        re_slope = (b06 - b07) < -0.016
        coastal_re = (b01 / b05) < 1.184
    out = np.full(b01.shape, CLEAR, dtype=np.uint8)
    branch = dark & low_nir
    out[branch & vis_re & ~(wv_swir < -0.097)] = SHADOW
    out[branch & ~vis_re & (wv_swir < 0.021)] = WATER
    out[branch & ~vis_re & ~(wv_swir < 0.021)] = SHADOW
    out[dark & ~low_nir & blue_cirrus & ~blue_wv] = CIRRUS
    branch = ~dark & re_swir
    out[branch & swir_cirrus & re_slope] = CLOUD
    out[branch & swir_cirrus & ~re_slope] = CIRRUS
    out[branch & ~swir_cirrus & ~(b01 < 0.3)] = CLOUD
    branch = ~dark & ~re_swir
    out[branch & (b03 < 0.525) & ~coastal_re] = SHADOW
    out[branch & ~(b03 < 0.525)] = SNOW
    bad = ~np.isfinite(b01)
    for band in (b02, b03, b05, b06, b07, b8a, b09, b10, b11):
        bad |= ~np.isfinite(band)
    out[bad] = NODATA_CLASS
    return out


def shadow_offset(
    cloud_height_m: float, sun_azimuth: float, sun_zenith: float, pixel_size_m: float
) -> tuple[float, float]:
    """(rows, cols) displacement of a cloud's shadow from the cloud, in pixels.

    The shadow falls away from the sun on a north-up grid: with the sun in the
    south-east (azimuth 150 deg, clockwise from north) it lies to the
    north-west (negative rows and columns).

    Examples
    --------
    >>> dy, dx = shadow_offset(1000.0, 180.0, 45.0, 10.0)
    >>> round(dy, 6), round(dx, 6)
    (-100.0, -0.0)
    """
    length = cloud_height_m * math.tan(math.radians(sun_zenith)) / pixel_size_m
    azimuth = math.radians(sun_azimuth)
    return length * math.cos(azimuth), -length * math.sin(azimuth)


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


def _offsets(
    height_range: tuple[float, float], sun_azimuth: float, sun_zenith: float, pixel_size_m: float
) -> list[tuple[tuple[int, int], float]]:
    """Distinct whole-pixel offsets over a height range, one-pixel steps: [(offset, height)]."""
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


# --------------------------------------------------------------------------- DataArray layer


def _check_dataarray(da: Any, what: str) -> None:
    if not isinstance(da, xr.DataArray):
        raise InvalidInputError(f"{what} needs an xarray.DataArray, got {type(da).__name__}")
    if da.dims != ("band", "y", "x"):
        raise InvalidInputError(f"{what} needs dims ('band', 'y', 'x'), got {da.dims}")
    if da.dtype.kind not in "uif":
        raise InvalidInputError(f"{what} needs numeric bands, got dtype {da.dtype}")


def _positions(da: xr.DataArray, needed: Sequence[str], what: str) -> list[int]:
    lookup = band_positions(da)
    missing = [b for b in needed if b not in lookup]
    if missing:
        have = ", ".join(str(b) for b in da.coords["band"].values) if "band" in da.coords else ""
        raise UnknownBandError(
            f"{what} needs band(s) {', '.join(missing)}, which the raster lacks "
            f"(it has: {have or 'no band names'}; sensor ids such as B02 are translated "
            "when da.attrs['sensor'] is set)"
        )
    return [lookup[b] for b in needed]


def _scale_offset(da: xr.DataArray, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    scale = np.ones(len(positions))
    offset = np.zeros(len(positions))
    for key, target in (("scale", scale), ("offset", offset)):
        if key in da.coords and "band" in da.coords[key].dims:
            values = np.asarray(da.coords[key].values, dtype=np.float64)[list(positions)]
            target[:] = np.where(np.isfinite(values), values, target)
    return scale, offset


def _reflectance_stack(da: xr.DataArray, needed: Sequence[str], what: str) -> tuple[Any, Callable]:
    """(raw band stack, numpy function turning a block of it into float32 reflectance with NaN)."""
    positions = _positions(da, needed, what)
    scale, offset = _scale_offset(da, positions)
    if da.dtype.kind in "ui" and np.all(scale == 1.0) and np.all(offset == 0.0):
        raise InvalidInputError(
            f"{what} needs reflectance (0..1); the raster holds {da.dtype} values without a "
            "scale (give a float raster, e.g. da * 1e-4, or one with scale/offset coordinates)"
        )
    nodata = nodata_value(da)
    data = da.data[positions]

    def to_reflectance(block: np.ndarray) -> np.ndarray:
        out = block.astype(_F32)
        if nodata is not None and not math.isnan(nodata):
            out[block == nodata] = np.nan
        scaled = ~((scale == 1.0) & (offset == 0.0))
        for i in np.flatnonzero(scaled):
            out[i] *= _F32(scale[i])
            out[i] += _F32(offset[i])
        return out

    return data, to_reflectance


def _is_dask(data: Any) -> bool:
    return getattr(data, "chunks", None) is not None and not isinstance(data, np.ndarray)


def _yx_like(data: Any, da: xr.DataArray, name: str, attrs: Mapping[str, Any]) -> xr.DataArray:
    """Wrap a (y, x) array with ``da``'s coordinates and georeferencing."""
    coords = {k: v for k, v in da.coords.items() if set(v.dims) <= {"y", "x"}}
    out = xr.DataArray(data, dims=("y", "x"), coords=coords, name=name, attrs=dict(attrs))
    grid_mapping = da.rio.grid_mapping
    if grid_mapping in da.coords:
        out = out.assign_coords({grid_mapping: da.coords[grid_mapping]})
        out.rio.write_grid_mapping(grid_mapping, inplace=True)
    return out


def _elementwise_classes(
    da: xr.DataArray, bands: Sequence[str], kernel: Callable[..., np.ndarray], what: str
) -> Any:
    data, to_reflectance = _reflectance_stack(da, bands, what)

    def block_kernel(block: np.ndarray) -> np.ndarray:
        refl = to_reflectance(block)
        return _strips(kernel, list(refl))

    if _is_dask(data):
        return data.rechunk({0: -1}).map_blocks(block_kernel, drop_axis=0, dtype=np.uint8)
    return block_kernel(np.asarray(data))


def _s2cloudless_detector() -> Any:
    # Imported on first use: the package pulls in sentinelhub (about 3 s).
    from s2cloudless import S2PixelCloudDetector

    return S2PixelCloudDetector(all_bands=False)


def _s2cloudless_block(block: np.ndarray, to_reflectance: Callable) -> np.ndarray:
    """s2cloudless mask of one block of the 10 model bands: uint8 1 cloud, 0 clear, 255 nodata."""
    refl = to_reflectance(block)
    bad = ~np.all(np.isfinite(refl), axis=0)
    if bad.all():
        return np.full(bad.shape, NODATA_CLASS, dtype=np.uint8)
    refl[:, bad] = 0.0
    detector = _s2cloudless_detector()
    probability = detector.get_cloud_probability_maps(np.moveaxis(refl, 0, -1)[None])
    mask = detector.get_mask_from_prob(probability)[0].astype(np.uint8)
    mask[bad] = NODATA_CLASS
    return mask


def _s2cloudless_classes(da: xr.DataArray) -> Any:
    data, to_reflectance = _reflectance_stack(da, S2CLOUDLESS_BANDS, "s2cloudless")
    if not _is_dask(data):
        return _s2cloudless_block(np.asarray(data), to_reflectance)
    import dask.array

    # The averaging and dilation disks (radius 1 each) look 2 pixels around;
    # a 2-pixel halo of real neighbours makes every block exact. At the scene
    # edges (boundary="none") OpenCV's own reflect border applies, as for a
    # whole-scene call.
    data = data.rechunk({0: -1})
    return dask.array.map_overlap(
        lambda b: _s2cloudless_block(b, to_reflectance)[None],
        data,
        depth={0: 0, 1: _S2C_HALO, 2: _S2C_HALO},
        boundary="none",
        dtype=np.uint8,
        trim=True,
    )[0]


def _model_mask(da: xr.DataArray, path: str) -> Any:
    """uint8 1 cloud / 0 clear / 255 nodata from a pixel-classifier bundle.

    Cloud classes are those named ``cloud``, ``cirrus``, ``thin_cirrus`` or
    ``thick_cloud`` in the bundle's class names.
    """
    from satlearn.ml.pixel import PixelClassifier

    model = PixelClassifier.load(path)
    names = getattr(model, "class_names", {}) or {}
    cloudy = [c for c in model.classes if _is_cloud_name(names.get(c, ""))]
    if not cloudy:
        raise InvalidInputError(
            f"model {path!r} has classes {names or list(model.classes)}; none is named "
            "cloud, cirrus, thin_cirrus or thick_cloud"
        )
    predicted = model.predict(da).data
    cloud = _isin(predicted, cloudy).astype(np.uint8)
    return _where(predicted < 0, NODATA_CLASS, cloud)


def _is_cloud_name(name: Any) -> bool:
    return str(name).strip().lower() in {"cloud", "cirrus", "thin_cirrus", "thick_cloud"}


def _isin(values: Any, labels: Sequence[Any]) -> Any:
    if _is_dask(values):
        return values.map_blocks(np.isin, np.asarray(labels), dtype=bool)
    return np.isin(np.asarray(values), np.asarray(labels))


def _parse_method(method: Any) -> str:
    if not isinstance(method, str):
        raise InvalidInputError(f"method must be a string, got {type(method).__name__}")
    name = method.strip()
    if name.lower() in METHODS:
        return name.lower()
    if name.lower().startswith("model:") and name[6:].strip():
        return name
    raise InvalidInputError(
        f"unknown cloud detector {method!r}; choose one of {', '.join(METHODS)} or model:PATH"
    )


def _detector_classes(da: xr.DataArray, method: str) -> tuple[Any, bool]:
    """(uint8 codes, whether they are full classes) for a parsed method.

    "rules" and "hollstein" give CLASSES codes; "s2cloudless" and models give
    1 (cloud) / 0 / 255.
    """
    if method == "rules":
        return _elementwise_classes(da, RULES_BANDS, rules_classes, "the 'rules' detector"), True
    if method == "hollstein":
        return (
            _elementwise_classes(da, HOLLSTEIN_BANDS, hollstein_classes, "the 'hollstein' tree"),
            True,
        )
    if method == "s2cloudless":
        return _s2cloudless_classes(da), False
    return _model_mask(da, method[6:].strip()), False


def _buffer(mask: Any, pixels: int) -> Any:
    """Dilate a boolean mask by a disk of ``pixels`` radius (per block with a halo for dask)."""
    if pixels == 0:
        return mask
    import cv2

    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))

    def dilate(block: np.ndarray) -> np.ndarray:
        return cv2.dilate(block.astype(np.uint8), disk).astype(bool)

    if _is_dask(mask):
        return mask.map_overlap(dilate, depth=pixels, boundary="none", dtype=bool)
    return dilate(np.asarray(mask))


def _check_buffer(buffer: Any) -> int:
    if isinstance(buffer, bool) or not isinstance(buffer, int | np.integer) or buffer < 0:
        raise InvalidInputError(f"buffer must be a non-negative int (pixels), got {buffer!r}")
    return int(buffer)


def cloud_mask(da: xr.DataArray, method: str = "rules", *, buffer: int = 0) -> xr.DataArray:
    """Cloud mask of a scene: True = cloud, thin cirrus included.

    Parameters
    ----------
    da : xarray.DataArray
        ``(band, y, x)`` top-of-atmosphere reflectance (see the module
        docstring for band names, scaling and nodata); numpy- or dask-backed.
    method : str
        ``"rules"`` (Fmask-style tests, Sentinel-2 or Landsat 8/9),
        ``"hollstein"`` (Sentinel-2 decision tree), ``"s2cloudless"``
        (Sentinel-2 L1C LightGBM detector) or ``"model:PATH"`` (a pixel
        classifier bundle from :mod:`satlearn.ml.pixel`).
    buffer : int
        Grow the mask by a disk of this radius in pixels (Fmask buffers by 3).

    Returns
    -------
    xarray.DataArray
        bool ``(y, x)`` with ``da``'s coordinates and CRS; lazy when ``da`` is
        (except model inference, which the model decides). Nodata pixels are
        False; an all-nodata scene gives an all-False mask.

    Raises
    ------
    UnknownBandError
        A band the detector needs is missing (the message names it).
    InvalidInputError
        Wrong dims, integer bands without a scale, an unknown method.
    satlearn.errors.BundleError
        ``model:PATH`` is not a readable model bundle.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> image = make_scene(96, seed=1).image.isel(time=0)
    >>> float(cloud_mask(image).mean()) > 0
    True
    >>> mask = cloud_mask(image, "hollstein", buffer=1)
    """
    _check_dataarray(da, "cloud_mask")
    name = _parse_method(method)
    pixels = _check_buffer(buffer)
    codes, full = _detector_classes(da, name)
    mask = _isin(codes, [CLOUD, CIRRUS]) if full else codes == 1
    mask = _buffer(mask, pixels)
    return _yx_like(mask, da, "cloud_mask", {"method": name, "buffer": pixels})


# --------------------------------------------------------------------------- shadows


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


def _sun_geometry(
    da: xr.DataArray, sun_azimuth: float | None, sun_zenith: float | None, what: str
) -> tuple[float, float] | None:
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
        factor = da.rio.crs.linear_units_factor[1]
        xres, yres = da.rio.resolution()
        if abs(abs(xres) - abs(yres)) > 1e-6 * abs(xres):
            raise InvalidInputError(f"{what}: pixels are not square ({xres} x {yres})")
        size = abs(float(xres)) * float(factor)
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
    height_range: tuple[float, float] = (200.0, 12000.0),
    pixel_size_m: float | None = None,
) -> xr.DataArray:
    """Cloud shadows: the cloud mask projected away from the sun onto dark pixels.

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
    >>> from satlearn.synth import make_scene
    >>> scene = make_scene(128, seed=4)
    >>> image = scene.image.isel(time=0)
    >>> shadow = cloud_shadow(cloud_mask(image), image)  # sun geometry from image.attrs
    >>> shadow.attrs["cloud_height_m"] > 0
    True
    """
    what = "cloud_shadow"
    _check_dataarray(da, what)
    geometry = _sun_geometry(da, sun_azimuth, sun_zenith, what)
    if geometry is None:
        raise InvalidInputError(
            f"{what} needs the sun azimuth and zenith: pass sun_azimuth= and sun_zenith= "
            "or set da.attrs['sun_azimuth'] and da.attrs['sun_zenith']"
        )
    azimuth, zenith = geometry
    size = _pixel_size(da, pixel_size_m, what)
    cloud = np.asarray(getattr(clouds, "values", clouds))
    if cloud.shape != da.shape[1:]:
        raise InvalidInputError(
            f"{what}: the cloud mask has shape {cloud.shape}, the scene {da.shape[1:]}"
        )
    if cloud.dtype != bool:
        raise InvalidInputError(f"{what}: the cloud mask must be boolean, got {cloud.dtype}")
    data, to_reflectance = _reflectance_stack(da, SHADOW_BANDS, what)
    refl = to_reflectance(np.asarray(data))
    valid = np.all(np.isfinite(refl), axis=0)
    if cloud_height_m is not None:
        height = float(cloud_height_m)
        if not math.isfinite(height) or height < 0:
            raise InvalidInputError(f"cloud_height_m must be >= 0, got {cloud_height_m!r}")
        dy, dx = shadow_offset(height, azimuth, zenith, size)
        candidates = [((round(dy), round(dx)), height)]
    else:
        candidates = _offsets(_check_heights(height_range), azimuth, zenith, size)
    if not valid.any() or not cloud.any():
        shadow, height, score = np.zeros(cloud.shape, dtype=bool), candidates[0][1], 0.0
        offset = candidates[0][0]
    else:
        dark = dark_pixels(refl[0], refl[1], clear=valid & ~cloud)
        dark &= valid
        shadow, height, score = match_shadow(cloud, dark, valid, candidates)
        offset = next(o for o, h in candidates if h == height)
    attrs = {"cloud_height_m": height, "offset_px": list(offset), "score": float(score)}
    return _yx_like(shadow, da, "cloud_shadow", attrs)


# --------------------------------------------------------------------------- classification


def classify_clouds(
    da: xr.DataArray,
    method: str = "rules",
    *,
    shadows: bool | None = None,
    sun_azimuth: float | None = None,
    sun_zenith: float | None = None,
    cloud_height_m: float | None = None,
    height_range: tuple[float, float] = (200.0, 12000.0),
    pixel_size_m: float | None = None,
    buffer: int = 0,
) -> xr.DataArray:
    """Classify each pixel as clear, cloud, cirrus, shadow, snow or water (:data:`CLASSES`).

    The chosen detector gives the clouds ("rules" and "hollstein" also thin
    cirrus; "s2cloudless" and models mark every cloud as ``cloud``); snow and
    water come from the Fmask tests of the "rules" detector where its bands
    are present ("hollstein" uses its own leaves); shadows come from
    :func:`cloud_shadow` on the thick clouds.

    Parameters
    ----------
    da : xarray.DataArray
        ``(band, y, x)`` reflectance scene.
    method : str
        As in :func:`cloud_mask`.
    shadows : bool, optional
        True: project shadows (sun geometry required); False: none; None
        (default): project them when the sun geometry is known (arguments or
        ``da.attrs``), else leave the "hollstein" tree's own shadow leaves
        (other detectors then report no shadow).
    sun_azimuth, sun_zenith, cloud_height_m, height_range, pixel_size_m
        As in :func:`cloud_shadow`.
    buffer : int
        Grow the cloud classes by this many pixels (over clear, snow, water and shadow).

    Returns
    -------
    xarray.DataArray
        uint8 ``(y, x)`` codes, 255 on nodata; ``attrs["classes"]`` lists the
        names in code order. Lazy for dask input unless shadows are projected.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> image = make_scene(96, seed=1).image.isel(time=0)
    >>> codes = classify_clouds(image)
    >>> sorted(set(codes.attrs["classes"].split(",")))[:3]
    ['cirrus', 'clear', 'cloud']
    """
    what = "classify_clouds"
    _check_dataarray(da, what)
    name = _parse_method(method)
    pixels = _check_buffer(buffer)
    geometry = None if shadows is False else _sun_geometry(da, sun_azimuth, sun_zenith, what)
    if shadows is True and geometry is None:
        raise InvalidInputError(
            f"{what}(shadows=True) needs the sun azimuth and zenith: pass sun_azimuth= and "
            "sun_zenith= or set da.attrs['sun_azimuth'] and da.attrs['sun_zenith']"
        )
    codes, full = _detector_classes(da, name)
    if not full:
        # Cloud from the detector; snow / water / nodata from the Fmask tests when possible.
        lookup = band_positions(da)
        if all(b in lookup for b in RULES_BANDS):
            base = _elementwise_classes(da, RULES_BANDS, rules_classes, what)
            surface = _where(_isin(base, [CLOUD, CIRRUS]), CLEAR, base)
        else:
            surface = CLEAR
        codes = _where(codes == 1, CLOUD, _where(codes == NODATA_CLASS, NODATA_CLASS, surface))
    if pixels:
        grown = _buffer(_isin(codes, [CLOUD, CIRRUS]), pixels)
        codes = _where(grown & ~_isin(codes, [CLOUD, CIRRUS, NODATA_CLASS]), CLOUD, codes)
    attrs: dict[str, Any] = {"method": name, "classes": ",".join(CLASSES), "nodata": NODATA_CLASS}
    if geometry is not None:
        codes = np.asarray(codes)
        if name == "hollstein":  # its spectral shadow leaves give way to the geometric ones
            codes = np.where(codes == SHADOW, CLEAR, codes).astype(np.uint8)
        thick = codes == CLOUD
        probe = _yx_like(thick, da, "clouds", {})
        shadow = cloud_shadow(
            probe, da, sun_azimuth=geometry[0], sun_zenith=geometry[1],
            cloud_height_m=cloud_height_m, height_range=height_range, pixel_size_m=pixel_size_m,
        )  # fmt: skip
        codes = np.where(shadow.values & (codes != CIRRUS), SHADOW, codes).astype(np.uint8)
        attrs.update({k: shadow.attrs[k] for k in ("cloud_height_m", "offset_px", "score")})
    result = _yx_like(codes, da, "cloud_classes", attrs)
    result.rio.write_nodata(NODATA_CLASS, encoded=False, inplace=True)
    return result


def _where(condition: Any, a: Any, b: Any) -> Any:
    if _is_dask(condition) or _is_dask(a) or _is_dask(b):
        import dask.array

        return dask.array.where(condition, a, b).astype(np.uint8)
    return np.where(condition, a, b).astype(np.uint8)
