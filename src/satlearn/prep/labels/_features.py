"""GeoJSON features as the label tools take them: Feature dicts, their CRS and geometries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from rasterio.crs import CRS
from rasterio.errors import CRSError

from satlearn.errors import InvalidInputError

WGS84 = CRS.from_epsg(4326)
Feature = dict[str, Any]
GEOMETRY_TYPES = frozenset(
    {
        "Polygon",
        "MultiPolygon",
        "LineString",
        "MultiLineString",
        "Point",
        "MultiPoint",
        "GeometryCollection",
    }
)


def to_crs(value: Any, what: str) -> CRS | None:
    if value is None:
        return None
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (CRSError, ValueError) as err:
        raise InvalidInputError(f"{what}: not a CRS GDAL understands: {value!r} ({err})") from err


def collection_crs(collection: Mapping[str, Any]) -> CRS | None:
    """The CRS a GeoJSON FeatureCollection declares (legacy ``crs`` member), if any."""
    member = collection.get("crs")
    if not isinstance(member, Mapping):
        return None
    properties = member.get("properties")
    name = properties.get("name") if isinstance(properties, Mapping) else None
    if not name:
        return None
    text = str(name)
    # "urn:ogc:def:crs:EPSG::32633" -> "EPSG:32633"; OGC CRS84 is lon/lat WGS 84.
    if text.upper().endswith("CRS84"):
        return WGS84
    if text.lower().startswith("urn:ogc:def:crs:"):
        parts = [p for p in text.split(":")[4:] if p]
        if len(parts) >= 2:
            text = f"{parts[0]}:{parts[-1]}"
    return to_crs(text, "GeoJSON crs member")


def as_feature_list(features: Any) -> tuple[list[Feature], CRS | None]:
    """Features as a list of Feature dicts, and the CRS their collection declares."""
    declared = None
    if isinstance(features, Mapping):
        if features.get("type") == "FeatureCollection":
            declared = collection_crs(features)
            features = features.get("features") or []
        elif features.get("type") == "Feature":
            features = [features]
        else:  # a bare geometry
            features = [{"type": "Feature", "geometry": features, "properties": {}}]
    if isinstance(features, (str, bytes)) or not isinstance(features, Iterable):
        raise InvalidInputError(f"features: expected a list of Features, got {type(features)}")
    out = []
    for i, feature in enumerate(features):
        if isinstance(feature, shapely.Geometry) or (
            isinstance(feature, Mapping)
            and isinstance(feature.get("type"), str)  # a list would be unhashable
            and feature.get("type") in GEOMETRY_TYPES
        ):
            feature = {"type": "Feature", "geometry": feature, "properties": {}}
        if not isinstance(feature, Mapping) or "geometry" not in feature:
            raise InvalidInputError(f"feature {i} is not a GeoJSON Feature with a geometry")
        out.append(dict(feature))
    return out, declared


def as_geometry(value: Any) -> shapely.Geometry | None:
    if value is None:
        return None
    if isinstance(value, shapely.Geometry):
        return value
    return shapely.geometry.shape(value)


def features_bounds(features: Sequence[Feature]) -> tuple[float, float, float, float] | None:
    """``(minx, miny, maxx, maxy)`` of the features' geometries, None when all are empty."""
    geometries = np.array([as_geometry(f.get("geometry")) for f in features], dtype=object)
    geometries = geometries[~shapely.is_missing(geometries)] if geometries.size else geometries
    if geometries.size == 0:
        return None
    bounds = shapely.total_bounds(geometries)
    return None if np.isnan(bounds).any() else tuple(float(b) for b in bounds)  # type: ignore[return-value]
