"""Class masks back to polygons, one per connected region, with coverage simplification."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import rasterio.warp
import shapely
from affine import Affine
from scipy import ndimage

from satlearn.errors import InvalidInputError
from satlearn.prep.labels._features import WGS84, Feature, to_crs
from satlearn.vector import mask_to_features


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
    crs = to_crs(crs, "crs")
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
    if to_wgs84 and crs != WGS84:
        moved = rasterio.warp.transform_geom(crs, WGS84, [f["geometry"] for f in features])
        for feature, geometry in zip(features, moved, strict=True):
            feature["geometry"] = dict(geometry)
    for number, feature in enumerate(features, start=1):
        feature["properties"]["id"] = number
    return features
