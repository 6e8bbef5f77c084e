"""Clouds, thin cirrus, cloud shadows, snow and water in optical scenes.

Four cloud detectors sit behind one interface: the short form
:func:`cloud_mask` (``True`` = cloud, thin cirrus included), the detailed
form :func:`detect_clouds` (a :class:`CloudResult`: class codes, ``.mask``,
``.shadow``, ``.scores(truth)``, ``.to_features()``) and
:func:`classify_clouds` (its class codes). ``method`` is keyword-only:
``cloud_mask(image, method="hollstein")``.

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
    A trained pixel classifier bundle (:class:`satlearn.pixelml.pixel.PixelClassifier`)
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

Data and chunks
---------------
Inputs are ``(band, y, x)`` DataArrays of top-of-atmosphere reflectance
(0..1 floats, or integers with ``scale``/``offset`` band coordinates as
:func:`satlearn.raster.open_raster` returns them). Bands are looked up by
satlearn band name; sensor ids (``"B02"``) are translated when
``da.attrs["sensor"]`` names the sensor. Pixels where any needed band is
nodata or not finite are never cloud (class 255); an all-nodata input gives an
empty mask, not an error. Stored values become reflectance through
:func:`satlearn.bands.reflectance` and the scene is checked by
:func:`satlearn.checks.check_raster`, as in every op.

Dask-backed inputs stay lazy for ``"rules"`` and ``"hollstein"``
(*blockwise*), ``"s2cloudless"`` (*blockwise with a halo of 2 px*) and
``buffer_px`` (a halo of ``buffer_px`` px); shadow matching is *global*
(one cloud height for the scene), so it computes the two bands it needs
(``nir``, ``swir16``) and the cloud mask.

Layout
------
``_data`` (class codes, reflectance of a detector's bands, ``(y, x)``
wrapping), ``_rules`` (the Fmask-style rules and the Hollstein tree),
``_s2cloudless``, ``_model`` (``"model:PATH"``), ``_shadow`` (geometry,
dark pixels, the height search, :func:`cloud_shadow`), ``_mask``
(:func:`cloud_mask`, :func:`detect_clouds`, :func:`classify_clouds`,
:class:`CloudResult`). The shadow geometry is :func:`satlearn.sun.shadow_offset`,
shared with the synthetic scenes.

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
>>> result = detect_clouds(image, method="rules", buffer_px=1)
>>> bool(result.mask.sum() >= mask.sum()), result.cloud_height_m is not None
(True, True)
"""

from __future__ import annotations

from satlearn.ops.clouds._data import (
    CIRRUS,
    CLASSES,
    CLEAR,
    CLOUD,
    NODATA_CLASS,
    SHADOW,
    SNOW,
    WATER,
)
from satlearn.ops.clouds._mask import (
    METHODS,
    CloudResult,
    classify_clouds,
    cloud_mask,
    detect_clouds,
)
from satlearn.ops.clouds._rules import (
    HOLLSTEIN_BANDS,
    RULES_BANDS,
    hollstein_classes,
    rules_classes,
)
from satlearn.ops.clouds._s2cloudless import S2CLOUDLESS_BANDS
from satlearn.ops.clouds._shadow import (
    SHADOW_BANDS,
    cloud_shadow,
    dark_pixels,
    match_shadow,
    project_mask,
    shadow_offset,
)

__all__ = [
    "CIRRUS",
    "CLASSES",
    "CLEAR",
    "CLOUD",
    "HOLLSTEIN_BANDS",
    "METHODS",
    "NODATA_CLASS",
    "RULES_BANDS",
    "S2CLOUDLESS_BANDS",
    "SHADOW",
    "SHADOW_BANDS",
    "SNOW",
    "WATER",
    "CloudResult",
    "classify_clouds",
    "cloud_mask",
    "cloud_shadow",
    "dark_pixels",
    "detect_clouds",
    "hollstein_classes",
    "match_shadow",
    "project_mask",
    "rules_classes",
    "shadow_offset",
]
