"""Polygons of a class raster, traced window by window and merged across windows.

``rasterio.features.shapes`` traces a window at a time (memory bounded by the
window, not the scene). A region cut by a window edge comes out as several
pieces; pieces touching an inner window edge are set aside and unioned per
class at the end, so each region is one polygon. Tracing happens in pixel
coordinates (integers, so the pieces share edges exactly and union cleanly),
and the scene's transform is applied last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["trace_classes"]


def trace_classes(
    read: Callable[[tuple[int, int], tuple[int, int]], np.ndarray],
    *,
    height: int,
    width: int,
    transform: Any,
    nodata: int,
    classes: Mapping[int, str],
    window: int = 1024,
) -> Iterator[tuple[Any, int]]:
    """Yield ``(shapely polygon in scene coordinates, class id)`` for every region.

    Parameters
    ----------
    read : callable
        ``read(rows, cols)`` -> the class raster's ``(h, w)`` window.
    height, width : int
        The raster's size.
    transform : affine.Affine
        Pixel -> scene coordinates.
    nodata : int
        The class value that marks no prediction (not traced).
    classes : mapping
        Class ids to trace (others are skipped).
    window : int
        Window side in pixels.
    """
    import shapely
    from affine import Affine
    from rasterio.features import shapes

    affine = (transform.a, transform.b, transform.d, transform.e, transform.xoff, transform.yoff)
    edge_pieces: dict[int, list[Any]] = defaultdict(list)

    def to_scene(geom: Any) -> Any:
        return shapely.affinity.affine_transform(geom, affine)

    for y0 in range(0, height, window):
        for x0 in range(0, width, window):
            rows, cols = (y0, min(y0 + window, height)), (x0, min(x0 + window, width))
            values = np.ascontiguousarray(read(rows, cols))
            mask = values != nodata
            if not mask.any():
                continue
            inner_edges = (y0 > 0, rows[1] < height, x0 > 0, cols[1] < width)
            for geojson, value in shapes(values, mask=mask, transform=Affine.translation(x0, y0)):
                cls = int(value)
                if cls not in classes:
                    continue
                geom = shapely.geometry.shape(geojson)
                minx, miny, maxx, maxy = geom.bounds
                touches = (
                    (inner_edges[0] and miny <= y0)
                    or (inner_edges[1] and maxy >= rows[1])
                    or (inner_edges[2] and minx <= x0)
                    or (inner_edges[3] and maxx >= cols[1])
                )
                if touches:
                    edge_pieces[cls].append(geom)
                else:
                    yield to_scene(geom), cls
    for cls, pieces in sorted(edge_pieces.items()):
        merged = shapely.union_all(pieces)
        for part in getattr(merged, "geoms", [merged]):
            if part.geom_type == "Polygon" and not part.is_empty:
                yield to_scene(part), cls
