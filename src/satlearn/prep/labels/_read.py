"""Vector label files read as Feature dicts in the raster's CRS."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import shapely
from rasterio._err import CPLE_BaseError  # rasterio has no public base class for GDAL errors
from rasterio.crs import CRS

from satlearn.errors import DatasetError, InvalidInputError
from satlearn.prep.labels._features import (
    WGS84,
    Feature,
    as_feature_list,
    as_geometry,
    features_bounds,
    to_crs,
)


def _read_geojson(path: Path) -> tuple[list[Feature], CRS, list[str] | None]:
    # GeoJSON is plain JSON: read it without GDAL (faster, and an error names the line).
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:  # also not UTF-8, ints past 4300 digits, deep
        raise DatasetError(f"{path}: not valid JSON ({type(err).__name__}: {err})") from err
    if not isinstance(data, Mapping) or data.get("type") not in (
        "FeatureCollection",
        "Feature",
    ):
        raise DatasetError(f"{path}: not a GeoJSON Feature or FeatureCollection")
    try:
        features, declared = as_feature_list(data)
    except InvalidInputError as err:
        raise DatasetError(f"{path}: {err}") from err
    _check_features(features, path)
    # RFC 7946: without a crs member, coordinates are WGS 84 longitude/latitude.
    return features, declared or WGS84, None


def _check_features(features: list[Feature], path: Path) -> None:
    """Raise DatasetError naming the feature when its geometry or properties are not GeoJSON."""
    for i, feature in enumerate(features):
        geometry, props = feature.get("geometry"), feature.get("properties")
        if props is not None and not isinstance(props, Mapping):
            raise DatasetError(f"{path}: feature {i} has properties that are not an object")
        if geometry is None:
            continue
        if not isinstance(geometry, Mapping):
            raise DatasetError(f"{path}: feature {i} has a geometry that is not an object")
        try:
            shape = shapely.geometry.shape(geometry)
            coords = shapely.get_coordinates(shape)
        # shapely's shape() lets any of these through on a malformed mapping.
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
            raise DatasetError(
                f"{path}: feature {i} has an invalid geometry ({type(err).__name__}: {err})"
            ) from err
        except shapely.errors.ShapelyError as err:
            raise DatasetError(f"{path}: feature {i} has an invalid geometry ({err})") from err
        if not np.isfinite(coords).all():
            raise DatasetError(f"{path}: feature {i} has NaN or infinite coordinates")


def _read_ogr(path: Path) -> tuple[list[Feature], CRS | None, list[str]]:
    import pyogrio.errors
    import pyogrio.raw

    try:
        with warnings.catch_warnings():
            # GDAL's notes on what it repairs (an unclosed ring it closes) come as
            # RuntimeWarnings from inside its error handler; the geometries are checked below.
            warnings.simplefilter("ignore", RuntimeWarning)
            meta, _fids, wkb, fields = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        raise DatasetError(f"{path}: not a vector file GDAL can read ({err})") from err
    except UnboundLocalError as err:
        # pyogrio 0.13's get_crs on a CRS that is not UTF-8 (a shapefile's .prj): its
        # UnicodeDecodeError leaves a local unset, and that is what escapes.
        raise DatasetError(f"{path}: a CRS (.prj) that is not UTF-8 text ({err})") from err
    names = [str(n) for n in meta["fields"]]
    geometries = shapely.from_wkb(wkb, on_invalid="ignore")
    for i, (geometry, blob) in enumerate(zip(geometries, wkb, strict=True)):
        if geometry is None and blob is not None:
            raise DatasetError(f"{path}: feature {i} has an invalid geometry (GEOS refuses it)")
    columns = [np.asarray(column, dtype=object) for column in fields]
    features = []
    for i, geometry in enumerate(geometries):
        props = {name: _plain(column[i]) for name, column in zip(names, columns, strict=True)}
        mapped = None if geometry is None else shapely.geometry.mapping(geometry)
        features.append({"type": "Feature", "geometry": mapped, "properties": props})
    crs = to_crs(meta.get("crs"), str(path)) if meta.get("crs") else None
    return features, crs, names


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON and class maps expect."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_vector_labels(
    path: str | os.PathLike[str],
    *,
    attribute: str | None = None,
    crs: Any = None,
    like: Any = None,
) -> list[Feature]:
    """Read vector labels as GeoJSON Feature dicts in the raster's CRS.

    Parameters
    ----------
    path : str or path-like
        A GeoJSON (``.geojson`` / ``.json``, read as JSON), GeoPackage,
        shapefile or any vector format GDAL reads (through pyogrio).
    attribute : str, optional
        The class attribute the labels must carry: every feature must have it,
        with a non-null value.
    crs : CRS-like, optional
        Reproject the features to this CRS (default: ``like``'s, else keep
        the file's).
    like : DataArray, optional
        The raster the labels belong to: gives ``crs``, and labels lying
        entirely outside its bounds are an error.

    Returns
    -------
    list of dict
        Features (geometry as a GeoJSON mapping, properties as plain Python
        values) in file order.

    Raises
    ------
    DatasetError
        The file is missing or unreadable, lacks ``attribute`` (or a feature
        has no value for it: the message names the row), or its features lie
        entirely outside ``like``.

    Examples
    --------
    >>> features = read_vector_labels("buildings.gpkg", attribute="class",
    ...                               like=scene)  # doctest: +SKIP
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise DatasetError(f"{path}: vector labels not found")
    if path.suffix.lower() in (".geojson", ".json"):
        features, file_crs, names = _read_geojson(path)
    else:
        features, file_crs, names = _read_ogr(path)
    if attribute is not None:
        if names is not None and attribute not in names:
            raise DatasetError(
                f"{path}: no attribute {attribute!r} (fields: {', '.join(names) or 'none'})"
            )
        for i, feature in enumerate(features):
            props = feature.get("properties") or {}
            if props.get(attribute) is None:
                what = "lacks" if attribute not in props else "has a null"
                known = ", ".join(sorted(props)) or "none"
                raise DatasetError(
                    f"{path}: feature {i} {what} attribute {attribute!r} (its properties: {known})"
                )
    target = to_crs(crs, "crs") if crs is not None else None
    if target is None and like is not None:
        target = like.rio.crs
    if target is not None and file_crs is not None and target != file_crs:
        present = [i for i, f in enumerate(features) if f.get("geometry") is not None]
        if present:
            try:
                moved = rasterio.warp.transform_geom(
                    file_crs, target, [features[i]["geometry"] for i in present]
                )
            except (CPLE_BaseError, ValueError, TypeError) as err:
                # ValueError, TypeError: OGR refuses a geometry GEOS took (a ring of two
                # points, coordinates as strings, "geometries": null).
                # PROJ refuses coordinates that cannot be in the declared CRS, e.g.
                # metres in a GeoJSON without a crs member (read as lon/lat).
                raise DatasetError(
                    f"{path}: labels in {file_crs} cannot be reprojected to {target} ({err}); "
                    "are they in another, undeclared CRS?"
                ) from err
            for i, geometry in zip(present, moved, strict=True):
                features[i] = {**features[i], "geometry": dict(geometry)}
    if like is not None:
        _check_overlap(features, like, path)
    return features


def _check_overlap(features: list[Feature], like: Any, path: Path) -> None:
    """Raise when no feature intersects the raster's footprint."""
    left, bottom, right, top = like.rio.bounds()
    footprint = shapely.box(left, bottom, right, top)
    geometries = np.array([as_geometry(f.get("geometry")) for f in features], dtype=object)
    if geometries.size and shapely.intersects(geometries, footprint).any():
        return
    source = like.attrs.get("source", "the raster")
    extent = features_bounds(features)
    where = "no geometry" if extent is None else f"bounds {tuple(round(v, 3) for v in extent)}"
    raise DatasetError(
        f"{path}: labels ({len(features)} features, {where}) lie entirely outside {source} "
        f"(bounds {tuple(round(v, 3) for v in (left, bottom, right, top))}, CRS {like.rio.crs})"
    )
