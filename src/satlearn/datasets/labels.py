"""Vector labels to masks in a raster's grid, and masks back to polygons.

Labels in the field arrive as polygons (GeoJSON, GeoPackage, shapefiles) with
a class attribute; models want masks on the scene's pixel grid. This module
does both directions:

:func:`read_vector_labels`
    Read a vector file as GeoJSON Feature dicts, reprojected to the raster's
    CRS, checking the class attribute and that the labels touch the raster.
:func:`rasterize_features`
    Burn features into a mask on a raster's grid (class values, an attribute,
    or instance ids), with a documented burn order and the all-touched rule.
:func:`vectorize_mask`
    Turn a class (or binary) mask back into georeferenced polygons, one per
    connected region, with the class id and an optional simplification that
    keeps neighbouring polygons' shared edges shared.

The round trip is exact: ``rasterize_features(vectorize_mask(m), like=m,
attribute="class")`` equals ``m`` when nothing is simplified, because the
polygons follow pixel edges and GDAL burns a pixel whose centre lies inside.

Examples
--------
>>> import numpy as np
>>> from affine import Affine
>>> mask = np.zeros((6, 6), dtype=np.uint8)
>>> mask[1:3, 1:4] = 2
>>> t = Affine(10, 0, 500000, 0, -10, 4e6)
>>> features = vectorize_mask(mask, transform=t, crs="EPSG:32633")
>>> [f["properties"]["class"] for f in features]
[2]
>>> back = rasterize_features(features, transform=t, shape=(6, 6), attribute="class")
>>> bool((back == mask).all())
True
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio.features
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import shapely
from affine import Affine
from rasterio._err import CPLE_BaseError  # rasterio has no public base class for GDAL errors
from rasterio.crs import CRS
from rasterio.errors import CRSError
from scipy import ndimage

from satlearn.datasets.base import DatasetError
from satlearn.errors import InvalidInputError
from satlearn.vector import mask_to_features

__all__ = [
    "features_bounds",
    "rasterize_features",
    "read_vector_labels",
    "vectorize_mask",
]

_WGS84 = CRS.from_epsg(4326)
Feature = dict[str, Any]
_GEOMETRY_TYPES = frozenset(
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


def _to_crs(value: Any, what: str) -> CRS | None:
    if value is None:
        return None
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (CRSError, ValueError) as err:
        raise InvalidInputError(f"{what}: not a CRS GDAL understands: {value!r} ({err})") from err


def _collection_crs(collection: Mapping[str, Any]) -> CRS | None:
    """The CRS a GeoJSON FeatureCollection declares (legacy ``crs`` member), if any."""
    member = collection.get("crs")
    if not isinstance(member, Mapping):
        return None
    name = (member.get("properties") or {}).get("name")
    if not name:
        return None
    text = str(name)
    # "urn:ogc:def:crs:EPSG::32633" -> "EPSG:32633"; OGC CRS84 is lon/lat WGS 84.
    if text.upper().endswith("CRS84"):
        return _WGS84
    if text.lower().startswith("urn:ogc:def:crs:"):
        parts = [p for p in text.split(":")[4:] if p]
        if len(parts) >= 2:
            text = f"{parts[0]}:{parts[-1]}"
    return _to_crs(text, "GeoJSON crs member")


def _as_feature_list(features: Any) -> tuple[list[Feature], CRS | None]:
    """Features as a list of Feature dicts, and the CRS their collection declares."""
    declared = None
    if isinstance(features, Mapping):
        if features.get("type") == "FeatureCollection":
            declared = _collection_crs(features)
            features = features.get("features") or []
        elif features.get("type") == "Feature":
            features = [features]
        else:  # a bare geometry
            features = [{"type": "Feature", "geometry": features, "properties": {}}]
    out = []
    for i, feature in enumerate(features):
        if isinstance(feature, shapely.Geometry) or (
            isinstance(feature, Mapping) and feature.get("type") in _GEOMETRY_TYPES
        ):
            feature = {"type": "Feature", "geometry": feature, "properties": {}}
        if not isinstance(feature, Mapping) or "geometry" not in feature:
            raise InvalidInputError(f"feature {i} is not a GeoJSON Feature with a geometry")
        out.append(dict(feature))
    return out, declared


def _geometry(value: Any) -> shapely.Geometry | None:
    if value is None:
        return None
    if isinstance(value, shapely.Geometry):
        return value
    return shapely.geometry.shape(value)


def _grid(
    like: Any, transform: Affine | None, shape: Sequence[int] | None, crs: Any
) -> tuple[Affine, tuple[int, int], CRS | None]:
    """Transform, (height, width) and CRS of the target grid."""
    if like is not None:
        if not hasattr(like, "rio"):
            raise InvalidInputError(
                f"like= must be a georeferenced DataArray, got {type(like).__name__}"
            )
        transform = transform or like.rio.transform()
        shape = shape or (like.sizes["y"], like.sizes["x"])
        crs = crs if crs is not None else like.rio.crs
    if transform is None or shape is None:
        raise InvalidInputError("rasterize_features needs like= or both transform= and shape=")
    if len(shape) != 2 or min(int(s) for s in shape) <= 0:
        raise InvalidInputError(f"shape must be (height, width) > 0, got {tuple(shape)!r}")
    return transform, (int(shape[0]), int(shape[1])), _to_crs(crs, "crs")


def burn_values(
    features: list[Feature],
    attribute: str | None,
    class_map: Mapping[Any, int] | None,
    instances: bool,
) -> np.ndarray:
    """The value each feature burns (float64, cast to the output dtype later)."""
    n = len(features)
    if instances:
        return np.arange(1, n + 1, dtype=np.float64)
    if attribute is None:
        if class_map is not None:
            raise InvalidInputError("class_map= needs attribute= (the property it maps)")
        return np.ones(n, dtype=np.float64)
    values = np.empty(n, dtype=np.float64)
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        if attribute not in props:
            known = ", ".join(sorted(props)) or "none"
            raise DatasetError(
                f"feature {i} has no attribute {attribute!r} (its properties: {known})"
            )
        raw = props[attribute]
        if class_map is not None:
            if raw not in class_map:
                raise DatasetError(
                    f"feature {i}: {attribute}={raw!r} is not in class_map "
                    f"({', '.join(map(repr, class_map))})"
                )
            raw = class_map[raw]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DatasetError(
                f"feature {i}: {attribute}={raw!r} is not a number; give class_map= "
                "to map class names to ids"
            ) from None
        if not math.isfinite(value):
            raise DatasetError(f"feature {i}: {attribute}={raw!r} is not a finite number")
        values[i] = value
    return values


def _output_dtype(values: np.ndarray, fill: float) -> np.dtype:
    """The smallest dtype holding every burn value and the fill exactly."""
    everything = np.append(values, fill)
    if not np.all(everything == np.round(everything)):
        return np.dtype("float32")
    low, high = everything.min(), everything.max()
    for dtype in ("uint8", "uint16", "int16", "int32"):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype)
    return np.dtype("float64")


def rasterize_features(
    features: Any,
    *,
    like: Any = None,
    transform: Affine | None = None,
    shape: Sequence[int] | None = None,
    crs: Any = None,
    features_crs: Any = None,
    attribute: str | None = None,
    class_map: Mapping[Any, int] | None = None,
    all_touched: bool = False,
    instances: bool = False,
    order: Literal["area-desc", "as-is"] = "area-desc",
    fill: float = 0,
    dtype: Any = None,
) -> np.ndarray:
    """Burn GeoJSON features into a mask on a raster's pixel grid.

    Parameters
    ----------
    features : list of Feature dicts, FeatureCollection, or geometries (GeoJSON or shapely)
        The labels. They are taken to be in ``crs`` (the grid's) unless
        ``features_crs`` is given or a FeatureCollection declares a ``crs``
        member, in which case they are reprojected to the grid's CRS.
        Features with a null or empty geometry burn nothing.
    like : DataArray, optional
        A georeferenced raster giving ``transform``, ``shape`` and ``crs``.
    transform, shape, crs : optional
        The grid, when ``like`` is not given (``shape`` is ``(height, width)``).
    features_crs : CRS-like, optional
        CRS of the features, when not the grid's.
    attribute : str, optional
        Property whose value each feature burns (a number, or a key of
        ``class_map``). Default: every feature burns 1.
    class_map : mapping, optional
        Attribute value -> class id, e.g. ``{"building": 1, "road": 2}``.
    all_touched : bool
        Burn every pixel a polygon touches, not only those whose centre lies
        inside (GDAL's ``ALL_TOUCHED``). Thin features survive; areas grow.
    instances : bool
        Burn instance ids 1..n in the order of ``features`` (so id ``k`` is
        feature ``k - 1``), instead of class values.
    order : {"area-desc", "as-is"}
        Burn order where features overlap (the last burned wins).
        ``"area-desc"`` burns the largest first and the smallest last, so a
        small object on top of a large one (a car on a car park) stays
        visible; ``"as-is"`` burns in the given order (the last feature wins).
    fill : number
        Value of pixels no feature covers.
    dtype : dtype, optional
        Output dtype. Default: the smallest of uint8, uint16, int16, int32
        that holds every value (float32 for non-integer values).

    Returns
    -------
    numpy.ndarray, shape (height, width)

    Raises
    ------
    InvalidInputError
        No grid, a bad ``order``, or a feature that is not a Feature.
    DatasetError
        A feature lacks ``attribute``, its value is not a number and not in
        ``class_map``.

    Examples
    --------
    >>> from affine import Affine
    >>> square = {"type": "Polygon", "coordinates": [[(0, 0), (2, 0), (2, -2), (0, -2), (0, 0)]]}
    >>> rasterize_features([square], transform=Affine(1, 0, 0, 0, -1, 0), shape=(3, 3))
    array([[1, 1, 0],
           [1, 1, 0],
           [0, 0, 0]], dtype=uint8)
    """
    if order not in ("area-desc", "as-is"):
        raise InvalidInputError(f"order must be 'area-desc' or 'as-is', got {order!r}")
    items, declared = _as_feature_list(features)
    transform, (height, width), grid_crs = _grid(like, transform, shape, crs)
    values = burn_values(items, attribute, class_map, instances)
    out_dtype = np.dtype(dtype) if dtype is not None else _output_dtype(values, fill)
    out = np.full((height, width), fill, dtype=out_dtype)
    if not items:
        return out
    geometries = np.array([_geometry(f.get("geometry")) for f in items], dtype=object)
    source_crs = _to_crs(features_crs, "features_crs") or declared
    keep = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if source_crs is not None and grid_crs is not None and source_crs != grid_crs and keep.any():
        moved = rasterio.warp.transform_geom(
            source_crs, grid_crs, [shapely.geometry.mapping(g) for g in geometries[keep]]
        )
        geometries[keep] = [shapely.geometry.shape(g) for g in moved]
    index = np.flatnonzero(keep)
    if order == "area-desc":
        # Stable sort: equal areas keep their given order.
        index = index[np.argsort(-shapely.area(geometries[index]), kind="stable")]
    if index.size:
        rasterio.features.rasterize(
            ((geometries[i], values[i]) for i in index),
            out=out,
            transform=transform,
            all_touched=all_touched,
        )
    return out


def features_bounds(features: Sequence[Feature]) -> tuple[float, float, float, float] | None:
    """``(minx, miny, maxx, maxy)`` of the features' geometries, None when all are empty."""
    geometries = np.array([_geometry(f.get("geometry")) for f in features], dtype=object)
    geometries = geometries[~shapely.is_missing(geometries)] if geometries.size else geometries
    if geometries.size == 0:
        return None
    bounds = shapely.total_bounds(geometries)
    return None if np.isnan(bounds).any() else tuple(float(b) for b in bounds)  # type: ignore[return-value]


def _read_geojson(path: Path) -> tuple[list[Feature], CRS, list[str] | None]:
    # GeoJSON is plain JSON: read it without GDAL (faster, and an error names the line).
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, Mapping) or data.get("type") not in (
        "FeatureCollection",
        "Feature",
    ):
        raise DatasetError(f"{path}: not a GeoJSON Feature or FeatureCollection")
    try:
        features, declared = _as_feature_list(data)
    except InvalidInputError as err:
        raise DatasetError(f"{path}: {err}") from err
    # RFC 7946: without a crs member, coordinates are WGS 84 longitude/latitude.
    return features, declared or _WGS84, None


def _read_ogr(path: Path) -> tuple[list[Feature], CRS | None, list[str]]:
    import pyogrio.errors
    import pyogrio.raw

    try:
        meta, _fids, wkb, fields = pyogrio.raw.read(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        raise DatasetError(f"{path}: not a vector file GDAL can read ({err})") from err
    names = [str(n) for n in meta["fields"]]
    geometries = shapely.from_wkb(wkb)
    columns = [np.asarray(column, dtype=object) for column in fields]
    features = []
    for i, geometry in enumerate(geometries):
        props = {name: _plain(column[i]) for name, column in zip(names, columns, strict=True)}
        mapped = None if geometry is None else shapely.geometry.mapping(geometry)
        features.append({"type": "Feature", "geometry": mapped, "properties": props})
    crs = _to_crs(meta.get("crs"), str(path)) if meta.get("crs") else None
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
    target = _to_crs(crs, "crs") if crs is not None else None
    if target is None and like is not None:
        target = like.rio.crs
    if target is not None and file_crs is not None and target != file_crs:
        present = [i for i, f in enumerate(features) if f.get("geometry") is not None]
        if present:
            try:
                moved = rasterio.warp.transform_geom(
                    file_crs, target, [features[i]["geometry"] for i in present]
                )
            except CPLE_BaseError as err:
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
    geometries = np.array([_geometry(f.get("geometry")) for f in features], dtype=object)
    if geometries.size and shapely.intersects(geometries, footprint).any():
        return
    source = like.attrs.get("source", "the raster")
    extent = features_bounds(features)
    where = "no geometry" if extent is None else f"bounds {tuple(round(v, 3) for v in extent)}"
    raise DatasetError(
        f"{path}: labels ({len(features)} features, {where}) lie entirely outside {source} "
        f"(bounds {tuple(round(v, 3) for v in (left, bottom, right, top))}, CRS {like.rio.crs})"
    )


def _class_grid(mask: Any, transform: Affine | None, crs: Any) -> tuple[np.ndarray, Affine, Any]:
    if hasattr(mask, "rio"):
        transform = transform or mask.rio.transform()
        crs = crs if crs is not None else mask.rio.crs
        if mask.ndim == 3 and mask.shape[0] == 1:
            mask = mask[0]
        mask = mask.values
    values = np.asarray(mask)
    if values.ndim != 2:
        raise InvalidInputError(f"mask must be 2-D (y, x), got shape {values.shape}")
    if values.dtype == np.bool_:
        values = values.view(np.uint8)
    if values.dtype.kind not in "iu":
        raise InvalidInputError(f"mask must hold integer class ids, got dtype {values.dtype}")
    return values, transform or Affine.identity(), crs


def vectorize_mask(
    mask: Any,
    *,
    transform: Affine | None = None,
    crs: Any = None,
    background: int | None = 0,
    ignore: Iterable[int] = (),
    simplify: float | None = None,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
    min_pixels: int = 1,
    connectivity: int = 8,
    to_wgs84: bool = False,
) -> list[Feature]:
    """Polygons of every connected region of each class of ``mask``.

    Parameters
    ----------
    mask : array_like or DataArray, shape (y, x)
        Integer class ids (or a boolean mask). A georeferenced DataArray
        brings its transform and CRS.
    transform, crs : optional
        Georeferencing when ``mask`` is a plain array.
    background : int or None
        Class that yields no polygons (None: every class does).
    ignore : iterable of int
        Further values that yield no polygons (an ignore index, nodata).
    simplify : float, optional
        Simplification tolerance in map units (the CRS's, before any
        reprojection). Uses GEOS coverage simplification, which simplifies
        each shared edge once, so neighbouring polygons stay gap- and
        overlap-free.
    class_names : mapping or sequence, optional
        Class id -> name, added as the ``class_name`` property.
    min_pixels, connectivity :
        As for :func:`satlearn.vector.mask_to_features`.
    to_wgs84 : bool
        Reproject the polygons to longitude/latitude (RFC 7946) after
        simplifying. Default: keep the mask's CRS.

    Returns
    -------
    list of dict
        Features with properties ``id`` (1..n), ``class``, ``pixels``,
        ``area_m2`` (see :func:`~satlearn.vector.mask_to_features`) and
        ``class_name`` when names are given; classes in increasing order,
        regions in raster order within a class.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[1, 1, 0], [0, 2, 2]], dtype=np.uint8)
    >>> [(f["properties"]["class"], f["properties"]["pixels"])
    ...  for f in vectorize_mask(m, connectivity=4)]
    [(1, 2), (2, 2)]
    """
    if simplify is not None and not (np.isfinite(simplify) and simplify >= 0):
        raise InvalidInputError(f"simplify must be a tolerance >= 0 in map units, got {simplify!r}")
    values, transform, crs = _class_grid(mask, transform, crs)
    crs = _to_crs(crs, "crs")
    if to_wgs84 and crs is None:
        raise InvalidInputError("to_wgs84=True needs the mask's CRS (give crs=)")
    skip = {int(v) for v in ignore} | ({int(background)} if background is not None else set())
    present = [int(c) for c in np.unique(values) if int(c) not in skip]
    if not present:
        return []
    names = dict(enumerate(class_names)) if isinstance(class_names, Sequence) else class_names
    features: list[Feature] = []
    # One bounding box per class (scipy's find_objects on the class ids), so each
    # class is traced on its own crop rather than on a scene-sized boolean mask.
    boxes = ndimage.find_objects(values) if values.min() >= 0 else []
    for value in present:
        box = boxes[value - 1] if value >= 1 and value - 1 < len(boxes) else None
        rows, cols = box if box is not None else (slice(None), slice(None))
        crop = values[rows, cols]
        offset = transform @ Affine.translation(cols.start or 0, rows.start or 0)
        props: dict[str, Any] = {"class": value}
        if names is not None and value in names:
            props["class_name"] = names[value]
        features += mask_to_features(
            crop == value,
            transform=offset,
            crs=crs,
            properties=props,
            min_pixels=min_pixels,
            connectivity=connectivity,
            to_wgs84=False,
        )
    if simplify:
        geometries = shapely.coverage_simplify(
            np.array([shapely.geometry.shape(f["geometry"]) for f in features], dtype=object),
            float(simplify),
            simplify_boundary=True,
        )
        for feature, geometry in zip(features, geometries, strict=True):
            feature["geometry"] = shapely.geometry.mapping(geometry)
    if to_wgs84 and crs != _WGS84:
        moved = rasterio.warp.transform_geom(crs, _WGS84, [f["geometry"] for f in features])
        for feature, geometry in zip(features, moved, strict=True):
            feature["geometry"] = dict(geometry)
    for number, feature in enumerate(features, start=1):
        feature["properties"]["id"] = number
    return features
