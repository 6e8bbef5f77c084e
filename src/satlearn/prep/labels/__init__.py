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

from satlearn.prep.labels._features import Feature, features_bounds
from satlearn.prep.labels._rasterize import burn_values, rasterize_features
from satlearn.prep.labels._read import read_vector_labels
from satlearn.prep.labels._vectorize import vectorize_mask

__all__ = [
    "Feature",
    "burn_values",
    "features_bounds",
    "rasterize_features",
    "read_vector_labels",
    "vectorize_mask",
]
