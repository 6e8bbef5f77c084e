"""OGC WMTS 1.0.0 GetCapabilities of an asset's tiles (RESTful, WebMercatorQuad).

One layer, one style, one tile matrix set (Google Maps compatible, EPSG:3857)
from the zooms the server draws; the tiles' ``ResourceURL`` template is the
XYZ route with ``{TileMatrix}/{TileCol}/{TileRow}``, which GDAL's WMTS driver
and QGIS read.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

__all__ = ["wmts_capabilities"]


def wmts_capabilities(
    *,
    layer: str,
    title: str,
    tile_url: str,
    capabilities_url: str,
    bounds: tuple[float, float, float, float],
    minzoom: int,
    maxzoom: int,
    media_type: str = "image/png",
) -> str:
    """The GetCapabilities XML.

    Parameters
    ----------
    layer, title : str
        The layer's identifier and title.
    tile_url : str
        The ResourceURL template, with ``{TileMatrix}``, ``{TileCol}`` and ``{TileRow}``.
    capabilities_url : str
        Where this document is served (its ``ServiceMetadataURL``).
    bounds : (west, south, east, north)
        In degrees (WGS 84).
    minzoom, maxzoom : int
        The tile matrices listed.
    media_type : str
        The tiles' format.
    """
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    west, south, east, north = bounds
    matrices = []
    for z in range(minzoom, maxzoom + 1):
        m = tms.matrix(z)
        x0, y0 = m.pointOfOrigin
        matrices.append(
            "<TileMatrix>"
            f"<ows:Identifier>{z}</ows:Identifier>"
            f"<ScaleDenominator>{m.scaleDenominator!r}</ScaleDenominator>"
            f"<TopLeftCorner>{x0!r} {y0!r}</TopLeftCorner>"
            f"<TileWidth>{m.tileWidth}</TileWidth><TileHeight>{m.tileHeight}</TileHeight>"
            f"<MatrixWidth>{m.matrixWidth}</MatrixWidth>"
            f"<MatrixHeight>{m.matrixHeight}</MatrixHeight>"
            "</TileMatrix>"
        )
    # Limits: the tiles of each matrix that hold the asset.
    limits = []
    for z in range(minzoom, maxzoom + 1):
        ul = tms.tile(west, north, z)
        lr = tms.tile(east, south, z)
        limits.append(
            "<TileMatrixLimits>"
            f"<TileMatrix>{z}</TileMatrix>"
            f"<MinTileRow>{ul.y}</MinTileRow><MaxTileRow>{lr.y}</MaxTileRow>"
            f"<MinTileCol>{ul.x}</MinTileCol><MaxTileCol>{lr.x}</MaxTileCol>"
            "</TileMatrixLimits>"
        )
    # Web Mercator bounds of the asset, for the layer's own bounding box.
    mx0, my0 = tms.xy(west, south)
    mx1, my1 = tms.xy(east, north)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" '
        'xmlns:ows="http://www.opengis.net/ows/1.1" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:gml="http://www.opengis.net/gml" '
        'xsi:schemaLocation="http://www.opengis.net/wmts/1.0 '
        'http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd" '
        'version="1.0.0">'
        "<ows:ServiceIdentification>"
        f"<ows:Title>{escape(title)}</ows:Title>"
        "<ows:ServiceType>OGC WMTS</ows:ServiceType>"
        "<ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>"
        "</ows:ServiceIdentification>"
        "<Contents>"
        "<Layer>"
        f"<ows:Title>{escape(title)}</ows:Title>"
        f"<ows:Identifier>{escape(layer)}</ows:Identifier>"
        '<ows:WGS84BoundingBox crs="urn:ogc:def:crs:OGC:2:84">'
        f"<ows:LowerCorner>{west!r} {south!r}</ows:LowerCorner>"
        f"<ows:UpperCorner>{east!r} {north!r}</ows:UpperCorner>"
        "</ows:WGS84BoundingBox>"
        '<ows:BoundingBox crs="urn:ogc:def:crs:EPSG::3857">'
        f"<ows:LowerCorner>{mx0!r} {my0!r}</ows:LowerCorner>"
        f"<ows:UpperCorner>{mx1!r} {my1!r}</ows:UpperCorner>"
        "</ows:BoundingBox>"
        '<Style isDefault="true"><ows:Identifier>default</ows:Identifier></Style>'
        f"<Format>{escape(media_type)}</Format>"
        "<TileMatrixSetLink><TileMatrixSet>WebMercatorQuad</TileMatrixSet>"
        f"<TileMatrixSetLimits>{''.join(limits)}</TileMatrixSetLimits>"
        "</TileMatrixSetLink>"
        f'<ResourceURL format={quoteattr(media_type)} resourceType="tile" '
        f"template={quoteattr(tile_url)}/>"
        "</Layer>"
        "<TileMatrixSet>"
        "<ows:Identifier>WebMercatorQuad</ows:Identifier>"
        "<ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>"
        "<WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>"
        f"{''.join(matrices)}"
        "</TileMatrixSet>"
        "</Contents>"
        f"<ServiceMetadataURL xlink:href={quoteattr(capabilities_url)}/>"
        "</Capabilities>"
    )
