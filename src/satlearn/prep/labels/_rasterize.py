"""Features burned into a mask on a raster's grid (GDAL's rasterizer)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import rasterio.features
import rasterio.warp
import shapely
from affine import Affine
from rasterio.crs import CRS

from satlearn.errors import DatasetError, InvalidInputError
from satlearn.prep.labels._features import Feature, as_feature_list, as_geometry, to_crs


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
    return transform, (int(shape[0]), int(shape[1])), to_crs(crs, "crs")


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
    items, declared = as_feature_list(features)
    transform, (height, width), grid_crs = _grid(like, transform, shape, crs)
    values = burn_values(items, attribute, class_map, instances)
    out_dtype = np.dtype(dtype) if dtype is not None else _output_dtype(values, fill)
    out = np.full((height, width), fill, dtype=out_dtype)
    if not items:
        return out
    geometries = np.array([as_geometry(f.get("geometry")) for f in items], dtype=object)
    source_crs = to_crs(features_crs, "features_crs") or declared
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
