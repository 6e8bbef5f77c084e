"""The detectors behind one interface: cloud_mask, detect_clouds and classify_clouds.

The short form :func:`cloud_mask` returns the mask (True = cloud, thin cirrus
included); the detailed form :func:`detect_clouds` returns a
:class:`CloudResult` with the class codes, the mask, the shadows, scores and
features; :func:`classify_clouds` is the codes of the detailed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from satlearn.bands import band_positions
from satlearn.checks import check_raster
from satlearn.deprecation import keyword_only, method_name, renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.clouds._data import (
    CIRRUS,
    CLASSES,
    CLEAR,
    CLOUD,
    NODATA_CLASS,
    SHADOW,
    is_dask,
    isin,
    where,
    yx_like,
)
from satlearn.ops.clouds._model import model_codes
from satlearn.ops.clouds._rules import (
    HOLLSTEIN_BANDS,
    RULES_BANDS,
    elementwise_classes,
    hollstein_classes,
    rules_classes,
)
from satlearn.ops.clouds._s2cloudless import s2cloudless_codes
from satlearn.ops.clouds._shadow import DEFAULT_HEIGHT_RANGE_M, cloud_shadow, sun_geometry

if TYPE_CHECKING:
    from satlearn.metrics import BinaryScores

__all__ = [
    "METHODS",
    "CloudResult",
    "classify_clouds",
    "cloud_mask",
    "detect_clouds",
    "parse_method",
]

#: The detectors :func:`cloud_mask` knows by name (plus ``"model:PATH"``).
METHODS: tuple[str, ...] = ("rules", "hollstein", "s2cloudless")


def parse_method(method: Any) -> str:
    """The canonical name of a detector: one of :data:`METHODS`, or ``"model:PATH"`` as given.

    Raises
    ------
    InvalidInputError
        Not a string, or an unknown detector (the message lists them).
    """
    if not isinstance(method, str):
        raise InvalidInputError(f"method must be a string, got {type(method).__name__}")
    name = method.strip()
    if name.lower().startswith("model:") and name[6:].strip():
        return name  # a path: its spelling (case, underscores) is the file system's
    return method_name(name, (*METHODS, "model:PATH"), what="cloud detector")


def _detector_codes(da: xr.DataArray, method: str) -> tuple[Any, bool]:
    """(uint8 codes, whether they are full classes) for a parsed method.

    "rules" and "hollstein" give CLASSES codes; "s2cloudless" and models give
    1 (cloud) / 0 / 255.
    """
    if method == "rules":
        return elementwise_classes(da, RULES_BANDS, rules_classes, "the 'rules' detector"), True
    if method == "hollstein":
        return (
            elementwise_classes(da, HOLLSTEIN_BANDS, hollstein_classes, "the 'hollstein' tree"),
            True,
        )
    if method == "s2cloudless":
        return s2cloudless_codes(da), False
    return model_codes(da, method[6:].strip()), False


def _buffer(mask: Any, pixels: int) -> Any:
    """Dilate a boolean mask by a disk of ``pixels`` radius (per block with a halo for dask)."""
    if pixels == 0:
        return mask
    import cv2

    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))

    def dilate(block: np.ndarray) -> np.ndarray:
        return cv2.dilate(block.astype(np.uint8), disk).astype(bool)

    if is_dask(mask):
        return mask.map_overlap(dilate, depth=pixels, boundary="none", dtype=bool)
    return dilate(np.asarray(mask))


def _check_buffer(buffer_px: Any) -> int:
    if isinstance(buffer_px, bool) or not isinstance(buffer_px, int | np.integer) or buffer_px < 0:
        raise InvalidInputError(
            f"buffer must be a non-negative int (buffer_px, in pixels), got {buffer_px!r}"
        )
    return int(buffer_px)


@dataclass(frozen=True)
class CloudResult:
    """Clouds, thin cirrus, shadows, snow and water of a scene (:func:`detect_clouds`).

    Every layer derives from :attr:`classes`, so they always agree.

    Attributes
    ----------
    classes : xarray.DataArray
        uint8 ``(y, x)`` codes of :data:`CLASSES`, :data:`NODATA_CLASS` where a
        needed band is nodata, with the scene's coordinates and CRS; numpy- or
        dask-backed like the scene (numpy once shadows are projected).
        ``attrs``: ``method``, ``classes`` (the names in code order),
        ``nodata``, and where shadows were projected ``cloud_height_m``,
        ``offset_px`` and ``score``.
    """

    classes: xr.DataArray

    def _layer(self, data: Any, name: str) -> xr.DataArray:
        out = self.classes.copy(data=data).rename(name)
        out.attrs = {"method": self.method}
        return out

    @property
    def method(self) -> str:
        """The detector used (``"rules"``, ..., ``"model:PATH"``)."""
        return str(self.classes.attrs["method"])

    @property
    def mask(self) -> xr.DataArray:
        """bool ``(y, x)``: cloud or thin cirrus (False on nodata)."""
        return self._layer(isin(self.classes.data, [CLOUD, CIRRUS]), "cloud_mask")

    @property
    def shadow(self) -> xr.DataArray:
        """bool ``(y, x)``: cloud shadow (all False where shadows were not projected
        and the detector has no shadow class of its own)."""
        return self._layer(self.classes.data == SHADOW, "cloud_shadow")

    @property
    def valid(self) -> xr.DataArray:
        """bool ``(y, x)``: pixels where every band the detector needs has data."""
        return self._layer(self.classes.data != NODATA_CLASS, "valid")

    @property
    def cloud_height_m(self) -> float | None:
        """Cloud height used or found by the shadow projection; None without one."""
        height = self.classes.attrs.get("cloud_height_m")
        return None if height is None else float(height)

    @property
    def offset_px(self) -> tuple[int, int] | None:
        """(rows, cols) from the clouds to their shadows; None without a projection."""
        offset = self.classes.attrs.get("offset_px")
        return None if offset is None else (int(offset[0]), int(offset[1]))

    def compute(self) -> CloudResult:
        """The same result held in memory (computes a dask-backed one once)."""
        return CloudResult(self.classes.compute())

    def counts(self) -> dict[str, int]:
        """Pixels of each class (names of :data:`CLASSES`), nodata left out."""
        values = np.asarray(self.classes.values)
        counts = np.bincount(values[values != NODATA_CLASS], minlength=len(CLASSES))
        return {name: int(counts[code]) for name, code in CLASSES.items()}

    def coded_mask(self) -> xr.DataArray:
        """The mask as a uint8 layer for a file: 1 cloud, 0 clear, :data:`NODATA_CLASS` nodata.

        ``attrs``: ``method`` and ``classes`` (``"clear,cloud"``).
        """
        codes = self.classes.data
        data = where(codes != NODATA_CLASS, isin(codes, [CLOUD, CIRRUS]), NODATA_CLASS)
        out = self.classes.copy(data=data)
        out.attrs = {"method": self.method, "classes": "clear,cloud"}
        return out

    def scores(self, truth: Any, *, layer: str = "cloud", valid: Any = None) -> BinaryScores:
        """Agreement of :attr:`mask` (``layer="cloud"``) or :attr:`shadow` (``"shadow"``)
        with a truth mask, over :attr:`valid` (and ``valid``), by
        :func:`satlearn.metrics.binary_scores`."""
        from satlearn.metrics import binary_scores

        layers = {"cloud": self.mask, "shadow": self.shadow}
        if layer not in layers:
            raise InvalidInputError(f"layer must be 'cloud' or 'shadow', got {layer!r}")
        keep = self.valid if valid is None else self.valid & valid
        return binary_scores(layers[layer], truth, valid=keep)

    def to_features(
        self, *, shadows: bool = False, to_wgs84: bool = True, min_pixels: int = 1
    ) -> list[dict[str, Any]]:
        """One GeoJSON Feature per cloud (and, with ``shadows``, per shadow) region.

        Each feature's properties hold ``class`` (``"cloud"`` or ``"shadow"``)
        besides those of :func:`satlearn.vector.mask_to_features`.
        """
        from satlearn.vector import mask_to_features

        layers = [("cloud", self.mask)] + ([("shadow", self.shadow)] if shadows else [])
        return [
            feature
            for name, layer in layers
            for feature in mask_to_features(
                layer, properties={"class": name}, to_wgs84=to_wgs84, min_pixels=min_pixels
            )
        ]


def _detect(
    da: Any,
    *,
    method: str,
    buffer_px: int,
    shadows: bool | None,
    sun_azimuth: float | None,
    sun_zenith: float | None,
    cloud_height_m: float | None,
    height_range: Sequence[float],
    pixel_size_m: float | None,
    what: str,
) -> CloudResult:
    da = check_raster(da, what="scene")
    name = parse_method(method)
    pixels = _check_buffer(buffer_px)
    geometry = None if shadows is False else sun_geometry(da, sun_azimuth, sun_zenith, what)
    if shadows is True and geometry is None:
        raise InvalidInputError(
            f"{what}(shadows=True) needs the sun azimuth and zenith: pass sun_azimuth= and "
            "sun_zenith= or set da.attrs['sun_azimuth'] and da.attrs['sun_zenith']"
        )
    codes, full = _detector_codes(da, name)
    if not full:
        # Cloud from the detector; snow / water / nodata from the Fmask tests when possible.
        lookup = band_positions(da)
        if all(b in lookup for b in RULES_BANDS):
            base = elementwise_classes(da, RULES_BANDS, rules_classes, what)
            surface = where(isin(base, [CLOUD, CIRRUS]), CLEAR, base)
        else:
            surface = CLEAR
        codes = where(codes == 1, CLOUD, where(codes == NODATA_CLASS, NODATA_CLASS, surface))
    if pixels:
        grown = _buffer(isin(codes, [CLOUD, CIRRUS]), pixels)
        codes = where(grown & ~isin(codes, [CLOUD, CIRRUS, NODATA_CLASS]), CLOUD, codes)
    attrs: dict[str, Any] = {"method": name, "classes": ",".join(CLASSES), "nodata": NODATA_CLASS}
    if geometry is not None:
        codes = np.asarray(codes)
        if name == "hollstein":  # its spectral shadow leaves give way to the geometric ones
            codes = np.where(codes == SHADOW, CLEAR, codes).astype(np.uint8)
        thick = codes == CLOUD
        probe = yx_like(thick, da, "clouds", {})
        shadow = cloud_shadow(
            probe, da, sun_azimuth=geometry[0], sun_zenith=geometry[1],
            cloud_height_m=cloud_height_m, height_range=height_range, pixel_size_m=pixel_size_m,
        )  # fmt: skip
        codes = np.where(shadow.values & (codes != CIRRUS), SHADOW, codes).astype(np.uint8)
        attrs.update({k: shadow.attrs[k] for k in ("cloud_height_m", "offset_px", "score")})
    result = yx_like(codes, da, "cloud_classes", attrs)
    result.rio.write_nodata(NODATA_CLASS, encoded=False, inplace=True)
    return CloudResult(result)


@renamed_keywords(buffer="buffer_px")
@keyword_only("method")
def cloud_mask(da: xr.DataArray, *, method: str = "rules", buffer_px: int = 0) -> xr.DataArray:
    """Cloud mask of a scene: True = cloud, thin cirrus included.

    How it runs on chunks: *blockwise* for ``"rules"`` and ``"hollstein"``
    (per-pixel tests), *blockwise with a halo of 2 px* for ``"s2cloudless"``;
    ``buffer_px`` adds a halo of ``buffer_px`` px (the dilation). A
    ``"model:PATH"`` bundle runs as its ``predict`` does.

    Parameters
    ----------
    da : xarray.DataArray
        ``(band, y, x)`` top-of-atmosphere reflectance (see
        :mod:`satlearn.ops.clouds` for band names, scaling and nodata);
        numpy- or dask-backed.
    method : str
        ``"rules"`` (Fmask-style tests, Sentinel-2 or Landsat 8/9),
        ``"hollstein"`` (Sentinel-2 decision tree), ``"s2cloudless"``
        (Sentinel-2 L1C LightGBM detector) or ``"model:PATH"`` (a pixel
        classifier bundle from :mod:`satlearn.pixelml.pixel`). Keyword-only
        (positional use works for one release, with a warning).
    buffer_px : int
        Grow the mask by a disk of this radius in pixels (Fmask buffers by
        3). ``buffer=`` is its old spelling (one release, with a warning).

    Returns
    -------
    xarray.DataArray
        bool ``(y, x)`` with ``da``'s coordinates and CRS; lazy when ``da`` is
        (except model inference, which the model decides). Nodata pixels are
        False, unless ``buffer_px`` grows a cloud over them; an all-nodata
        scene gives an all-False mask.

    Raises
    ------
    UnknownBandError
        A band the detector needs is missing (the message names it).
    InvalidInputError
        Wrong dims, integer bands without a scale, an unknown method.
    satlearn.errors.BundleError
        ``model:PATH`` is not a readable model bundle.

    See Also
    --------
    detect_clouds : the detailed form (classes, shadows, scores, features).

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> image = make_scene(96, seed=1).image.isel(time=0)
    >>> float(cloud_mask(image).mean()) > 0
    True
    >>> mask = cloud_mask(image, method="hollstein", buffer_px=1)
    """
    da = check_raster(da, what="scene")
    name = parse_method(method)
    pixels = _check_buffer(buffer_px)
    codes, full = _detector_codes(da, name)
    mask = isin(codes, [CLOUD, CIRRUS]) if full else codes == 1
    mask = _buffer(mask, pixels)
    return yx_like(mask, da, "cloud_mask", {"method": name, "buffer": pixels})


def detect_clouds(
    da: xr.DataArray,
    *,
    method: str = "rules",
    buffer_px: int = 0,
    shadows: bool | None = None,
    sun_azimuth: float | None = None,
    sun_zenith: float | None = None,
    cloud_height_m: float | None = None,
    height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE_M,
    pixel_size_m: float | None = None,
) -> CloudResult:
    """Clouds, thin cirrus, shadows, snow and water of a scene, as a :class:`CloudResult`.

    The detailed form of :func:`cloud_mask`, with its defaults: its
    :attr:`~CloudResult.mask` is :func:`cloud_mask`'s, except that nodata
    pixels stay False when ``buffer_px`` grows clouds over them. The chosen
    detector gives the clouds ("rules" and "hollstein" also thin cirrus;
    "s2cloudless" and models mark every cloud as ``cloud``); snow and water
    come from the Fmask tests of the "rules" detector where its bands are
    present ("hollstein" uses its own leaves); shadows come from
    :func:`cloud_shadow` on the thick clouds.

    How it runs on chunks: as :func:`cloud_mask` (blockwise; s2cloudless
    with a halo of 2 px; ``buffer_px`` a halo of ``buffer_px`` px) while no
    shadow is projected; the shadow projection is *global* (one cloud height
    for the scene), so projecting shadows computes the classes.

    Parameters
    ----------
    da : xarray.DataArray
        ``(band, y, x)`` reflectance scene.
    method, buffer_px
        As in :func:`cloud_mask` (``buffer_px`` grows the cloud classes over
        clear, snow, water and shadow).
    shadows : bool, optional
        True: project shadows (sun geometry required); False: none; None
        (default): project them when the sun geometry is known (arguments or
        ``da.attrs``), else leave the "hollstein" tree's own shadow leaves
        (other detectors then report no shadow).
    sun_azimuth, sun_zenith, cloud_height_m, height_range, pixel_size_m
        As in :func:`cloud_shadow`.

    Returns
    -------
    CloudResult
        ``.classes`` (uint8 codes, 255 nodata), ``.mask``, ``.shadow``,
        ``.valid``, ``.scores(truth)``, ``.to_features()``.

    Raises
    ------
    InvalidInputError
        As :func:`cloud_mask`; ``shadows=True`` without a sun geometry.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> scene = make_scene(96, seed=1, n_dates=1)
    >>> result = detect_clouds(scene.image.isel(time=0))
    >>> result.classes.dtype, result.mask.dtype
    (dtype('uint8'), dtype('bool'))
    >>> truth = scene.cloud_mask[0] | scene.cirrus_mask[0]
    >>> float(result.scores(truth).recall) > 0.9
    True
    """
    return _detect(
        da, method=method, buffer_px=buffer_px, shadows=shadows, sun_azimuth=sun_azimuth,
        sun_zenith=sun_zenith, cloud_height_m=cloud_height_m, height_range=height_range,
        pixel_size_m=pixel_size_m, what="detect_clouds",
    )  # fmt: skip


@renamed_keywords(buffer="buffer_px")
@keyword_only("method")
def classify_clouds(
    da: xr.DataArray,
    *,
    method: str = "rules",
    shadows: bool | None = None,
    sun_azimuth: float | None = None,
    sun_zenith: float | None = None,
    cloud_height_m: float | None = None,
    height_range: tuple[float, float] = DEFAULT_HEIGHT_RANGE_M,
    pixel_size_m: float | None = None,
    buffer_px: int = 0,
) -> xr.DataArray:
    """Classify each pixel as clear, cloud, cirrus, shadow, snow or water (:data:`CLASSES`).

    The ``classes`` layer of :func:`detect_clouds` (same arguments, same
    chunking: blockwise unless shadows are projected, which is global).
    ``method`` is keyword-only and ``buffer=`` is spelt ``buffer_px=`` now
    (the old uses work for one release, with a warning).

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
    return _detect(
        da, method=method, buffer_px=buffer_px, shadows=shadows, sun_azimuth=sun_azimuth,
        sun_zenith=sun_zenith, cloud_height_m=cloud_height_m, height_range=height_range,
        pixel_size_m=pixel_size_m, what="classify_clouds",
    ).classes  # fmt: skip
