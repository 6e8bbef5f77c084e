"""The documents of an asset's tiles: TileJSON 3.0.0 (Leaflet, MapLibre, QGIS) and info.json."""

from __future__ import annotations

from typing import Any

__all__ = ["info_document", "tilejson"]


def tilejson(
    *,
    name: str,
    tiles_url: str,
    bounds: tuple[float, float, float, float],
    minzoom: int,
    maxzoom: int,
    description: str | None = None,
) -> dict[str, Any]:
    """A TileJSON 3.0.0 document.

    Parameters
    ----------
    name : str
        The layer's name.
    tiles_url : str
        The tile URL template, with ``{z}``, ``{x}`` and ``{y}`` (and the query
        string the tiles are drawn with).
    bounds : (west, south, east, north)
        In degrees (WGS 84).
    minzoom, maxzoom : int
        The zooms the server draws.
    description : str, optional
        A line about the layer.

    Examples
    --------
    >>> doc = tilejson(name="a", tiles_url="http://h/{z}/{x}/{y}.png",
    ...                bounds=(10.0, 40.0, 11.0, 41.0), minzoom=8, maxzoom=14)
    >>> doc["tilejson"], doc["center"]
    ('3.0.0', [10.5, 40.5, 11])
    """
    west, south, east, north = bounds
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": name,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": int(minzoom),
        "maxzoom": int(maxzoom),
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, (int(minzoom) + int(maxzoom)) // 2],
    }
    if description:
        doc["description"] = description
    return doc


def info_document(
    meta: Any,
    *,
    collection: str,
    item: str,
    asset: str,
    base: str,
    legend: str,
    default_bands: tuple[int, ...],
) -> dict[str, Any]:
    """The ``info.json`` of an asset: bounds, zooms, dtype, bands with statistics, links.

    ``meta`` is the asset's :class:`~satlearn.view._render.AssetMeta`; ``base``
    the asset's tile URL prefix (ending in ``/``); ``legend`` the legend URL
    template with ``{colormap}``.
    """
    zmin, zmax = meta.zoom_range
    return {
        "collection": collection,
        "item": item,
        "asset": asset,
        "bounds": list(meta.bounds),
        "minzoom": zmin,
        "maxzoom": zmax,
        "native_zoom": meta.maxzoom,
        "dtype": meta.dtype,
        "nodata": meta.nodata,
        "width": meta.width,
        "height": meta.height,
        "default_bands": list(default_bands),
        "bands": [
            {
                "index": i + 1,
                "name": meta.names[i],
                "description": meta.descriptions[i],
                "statistics": meta.stats[i],
                "rescale": list(meta.ranges[i]),
                "scale": meta.scales[i],
                "offset": meta.offsets[i],
            }
            for i in range(meta.count)
        ],
        "links": {
            "tiles": f"{base}{{z}}/{{x}}/{{y}}.png",
            "tilejson": f"{base}tilejson.json",
            "wmts": f"{base}WMTSCapabilities.xml",
            "legend": legend,
        },
    }
