"""Masks to polygons and GeoJSON files.

Changed areas, water bodies, ships and (later) predicted objects leave
satlearn as vector features. :func:`mask_to_features` turns each connected
region of a mask into one GeoJSON Feature: the polygon traced by GDAL's
polygonizer (``rasterio.features.shapes``, exact pixel edges), its pixel
count and area, and the caller's properties. :func:`write_geojson` writes a
FeatureCollection atomically.

Coordinates follow RFC 7946 by default in this release: features are
reprojected to WGS 84 longitude/latitude (``to_wgs84=True``). With
``to_wgs84=False`` they stay in the raster's CRS, and :func:`write_geojson`
records that CRS in the legacy ``crs`` member, as GDAL does, so QGIS and GDAL
place them correctly.

The default changes to ``to_wgs84=False`` in 0.3.0, to agree with
:func:`satlearn.prep.labels.vectorize_mask` and with
``rasterio.features.shapes``: tracing polygons keeps the raster's CRS, and
reprojecting is a separate, explicit step (the ops' ``.to_features()`` ask for
longitude/latitude explicitly). Until then a call that leaves ``to_wgs84``
unset on a mask in another CRS gets a :class:`FutureWarning`; passing it
either way silences it.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> mask = np.zeros((4, 4), dtype=bool)
>>> mask[1:3, 1:3] = True
>>> [f] = mask_to_features(mask, transform=Affine(10, 0, 500000, 0, -10, 4e6),
...                        crs="EPSG:32633", to_wgs84=False)
>>> f["properties"]["pixels"], f["properties"]["area_m2"]
(4, 400.0)
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.features
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage

from satlearn.atomic import atomic_output
from satlearn.errors import InvalidInputError

__all__ = ["mask_to_features", "write_geojson"]

_WGS84 = CRS.from_epsg(4326)


def _grid(mask: Any, transform: Affine | None, crs: Any) -> tuple[np.ndarray, Affine, CRS | None]:
    """The mask as a 2-D bool array with its transform and CRS."""
    if hasattr(mask, "rio"):  # a georeferenced DataArray
        if transform is None:
            transform = mask.rio.transform()
        if crs is None:
            crs = mask.rio.crs
        mask = mask.values
    values = np.asarray(mask)
    if values.ndim != 2:
        raise InvalidInputError(f"mask must be 2-D (y, x), got shape {values.shape}")
    if values.dtype.kind not in "biuf":
        raise InvalidInputError(f"mask must be boolean or numeric, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=0.0)
    return values != 0, transform or Affine.identity(), CRS.from_user_input(crs) if crs else None


def _pixel_area_m2(transform: Affine, crs: CRS | None) -> float | None:
    """Area of one pixel in square metres, when the CRS is projected in metres."""
    if crs is None or not crs.is_projected:
        return None
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return abs(transform.determinant) * factor**2


def mask_to_features(
    mask: Any,
    *,
    transform: Affine | None = None,
    crs: Any = None,
    properties: Mapping[str, Any] | None = None,
    min_pixels: int = 1,
    connectivity: int = 8,
    to_wgs84: bool | None = None,
) -> list[dict[str, Any]]:
    """One GeoJSON Feature per connected region of ``mask``.

    Parameters
    ----------
    mask : array_like or DataArray, shape (y, x)
        Nonzero = inside. A georeferenced DataArray brings its own transform
        and CRS.
    transform : affine.Affine, optional
        Pixel-to-map transform (default: the DataArray's, else identity).
    crs : str or CRS, optional
        The mask's CRS (default: the DataArray's).
    properties : mapping, optional
        Copied into every feature's properties.
    min_pixels : int
        Regions with fewer pixels are dropped.
    connectivity : {4, 8}
        Pixel neighbourhood that joins a region.
    to_wgs84 : bool, optional
        Reproject to longitude/latitude (RFC 7946). Needs a CRS. Unset means
        True in this release, with a :class:`FutureWarning` when the mask is
        in another CRS: the default becomes False (keep the mask's CRS) in
        0.3.0.

    Returns
    -------
    list of dict
        Features with properties ``id`` (1, 2, ... in raster order),
        ``pixels``, ``area_m2`` (None without a projected CRS) and the given
        properties. Empty when the mask is empty.
    """
    if connectivity not in (4, 8):
        raise InvalidInputError(f"connectivity must be 4 or 8, got {connectivity!r}")
    inside, transform, crs = _grid(mask, transform, crs)
    if to_wgs84 is None:
        if crs is not None and crs != _WGS84:
            # Warn only where the coming default would give other coordinates.
            warnings.warn(
                "mask_to_features: to_wgs84 defaults to False (keep the mask's CRS, as "
                "vectorize_mask and rasterio.features.shapes do) from satlearn 0.3.0; pass "
                "to_wgs84=True to keep longitude/latitude, or to_wgs84=False",
                FutureWarning,
                stacklevel=2,
            )
        to_wgs84 = True
    if to_wgs84 and crs is None:
        raise InvalidInputError("to_wgs84=True needs the mask's CRS (give crs= or to_wgs84=False)")
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    labels, count = ndimage.label(inside, structure=structure)
    if count == 0:
        return []
    labels = labels.astype(np.int32, copy=False)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)
    keep = pixels >= max(1, int(min_pixels))
    keep[0] = False
    pixel_area = _pixel_area_m2(transform, crs)
    # One polygon per region: polygonize the region labels, not the bare mask,
    # so two regions touching only at a corner under 4-connectivity stay apart.
    rings: dict[int, list[dict[str, Any]]] = {}
    for geometry, value in rasterio.features.shapes(
        labels, mask=keep[labels], connectivity=connectivity, transform=transform
    ):
        rings.setdefault(int(value), []).append(geometry)
    features = []
    for number, region in enumerate(sorted(rings), start=1):
        parts = rings[region]
        if len(parts) == 1:
            geometry = parts[0]
        else:  # pragma: no cover - GDAL traces one polygon per region and connectivity
            geometry = {"type": "MultiPolygon", "coordinates": [p["coordinates"] for p in parts]}
        if to_wgs84 and crs != _WGS84:
            geometry = rasterio.warp.transform_geom(crs, _WGS84, geometry)
        count_here = int(pixels[region])
        area = None if pixel_area is None else count_here * pixel_area
        props = {"id": number, "pixels": count_here, "area_m2": area, **dict(properties or {})}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return features


def _json_ready(value: Any) -> Any:
    """NumPy scalars and arrays as plain JSON values; NaN as null."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_geojson(
    features: Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
) -> Path:
    """Write ``features`` as a GeoJSON FeatureCollection, atomically.

    Parameters
    ----------
    features : iterable of mapping
        GeoJSON Feature dicts (NumPy values in properties are converted).
    path : str or path-like
        Output file (``.geojson``); written under a temporary name and
        renamed.
    crs : str or CRS, optional
        The features' CRS when it is not WGS 84 (recorded in the ``crs``
        member GDAL reads).

    Examples
    --------
    >>> write_geojson([], "empty.geojson")  # doctest: +SKIP
    PosixPath('empty.geojson')
    """
    collection: dict[str, Any] = {"type": "FeatureCollection"}
    if crs is not None:
        crs = CRS.from_user_input(crs)
        if crs != _WGS84:
            authority = crs.to_authority()
            name = f"urn:ogc:def:crs:{authority[0]}::{authority[1]}" if authority else crs.to_wkt()
            collection["crs"] = {"type": "name", "properties": {"name": name}}
    features = list(features)
    for i, feature in enumerate(features):
        if feature.get("type") != "Feature" or "geometry" not in feature:
            raise InvalidInputError(f"feature {i} is not a GeoJSON Feature with a geometry")
    collection["features"] = _json_ready(features)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(collection, allow_nan=False) + "\n", encoding="utf-8")
    return Path(os.fspath(path))
