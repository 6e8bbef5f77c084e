"""The tile server of the web viewer: XYZ tiles, TileJSON and WMTS over a catalogue's COGs.

:func:`create_tiles_router` makes a FastAPI router, mounted at ``/tiles``::

    GET /{collection}/{item}/{asset}/{z}/{x}/{y}.png    a WebMercatorQuad tile
    GET /{collection}/{item}/{asset}/{z}/{x}/{y}.webp
    GET /{collection}/{item}/{asset}/tilejson.json      TileJSON 3.0.0
    GET /{collection}/{item}/{asset}/WMTSCapabilities.xml   OGC WMTS 1.0.0 (RESTful)
    GET /{collection}/{item}/{asset}/info.json          bands, dtype, statistics, bounds, zooms
    GET /colormaps                                      the colour-map names
    GET /colormaps/{name}.png                           a legend ramp
    GET /cache                                          the tile cache's hits, misses, bytes

Tile parameters (TileJSON and WMTS keep them in their URL templates):

``bands``
    ``3,2,1`` or ``red,green,blue``: 1-based indexes or band names (``eo:bands``
    of the asset, else the file's band descriptions); one band or three.
    Default: red, green, blue when the asset names them, else the first three.
``expression``
    Arithmetic on band names or ``b1, b2, ...`` (``(nir-red)/(nir+red)``),
    ``abs sqrt log log10 exp min max`` allowed, or an index of satlearn's
    spectral catalogue (``NDVI``); parsed against a whitelist, never ``eval``.
``rescale``
    ``min,max`` (every band) or one pair per band. Default: the asset's
    ``raster:bands`` statistics (min, max), else the 2nd-98th percentiles of
    an overview; for an expression, its 2nd-98th percentiles on an overview.
``colormap``
    A name of rio-tiler's colour-map registry (``viridis``, ``rdylgn`` ...), for
    one band or an expression.
``model``, ``layer``, ``class_id``
    Run the served model ``model`` on the tile (see
    :mod:`satlearn.view._model_tiles`) and draw ``layer=classes`` (default) or
    ``layer=probability`` of ``class_id`` (default the last class).

Responses carry ``Cache-Control: public, max-age=3600`` and a strong ``ETag``
(a hash of the asset's href, its file's mtime and size, the model bundle and
the tile's parameters); ``If-None-Match`` gets a 304. Rendered tiles are kept
in an LRU cache bounded in bytes (``cache_mb``). Errors are JSON
``{"code": ..., "description": ...}``: 404 for an unknown collection, item,
asset, model or a tile outside the asset or its zooms, 400 for a bad
parameter. Ids in paths are letters, digits, ``. _ -`` (never ``..``); asset
hrefs come from the catalogue only, so nothing of the request reaches a path.

Rendering is global per tile (one tile read, no state shared between tiles);
a model tile reads a halo of the model's margin (see ``model_margin``).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from satlearn.catalog.search import CatalogIndex
from satlearn.errors import (
    BundleError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
    SatlearnError,
    UnknownBandError,
)
from satlearn.view._cache import CachedTile, TileCache
from satlearn.view._expression import evaluate_expression
from satlearn.view._render import (
    MEDIA_TYPES,
    AssetMeta,
    colormap_names,
    encode,
    file_stamp,
    legend_png,
    open_reader,
    parse_colormap,
    read_meta,
    render_bands,
    render_single,
)
from satlearn.view._style import TILE_PARAMS, TileStyle, check_id, default_bands, parse_style
from satlearn.view._tilejson import info_document

__all__ = ["CACHE_CONTROL", "create_tiles_router"]

#: The Cache-Control of tiles and tile documents.
CACHE_CONTROL = "public, max-age=3600"


class _Tiles:
    """What the router's endpoints share: the catalogue, the models, the cache."""

    def __init__(
        self, index: CatalogIndex, models: Callable[[str], pathlib.Path] | None, cache_mb: int
    ) -> None:
        self.index = index
        self.models = models
        self.cache = TileCache(int(cache_mb) * 1024 * 1024)
        self._assets: dict[tuple[str, str, str], tuple[Any, str]] = {}
        self._lock = threading.Lock()
        self._range_lock = threading.Lock()

    def asset(self, collection: str, item: str, asset: str) -> tuple[Any, str, Any]:
        """The pystac asset, its href (from the catalogue only) and its file's stamp."""
        key = (
            check_id(collection, "collection"),
            check_id(item, "item"),
            check_id(asset, "asset"),
        )
        with self._lock:
            found = self._assets.get(key)
        if found is None:
            items = self.index.search(ids=[item], collections=[collection], limit=1)
            if not items:
                if collection not in self.index.collection_ids():
                    raise NotFoundError(f"collection {collection!r} is not in the catalogue")
                raise NotFoundError(f"item {item!r} is not in collection {collection!r}")
            entry = items[0].assets.get(asset)
            if entry is None:
                raise NotFoundError(
                    f"asset {asset!r} is not an asset of item {item!r} "
                    f"(its assets: {', '.join(sorted(items[0].assets))})"
                )
            found = (entry, entry.get_absolute_href() or entry.href)
            with self._lock:
                self._assets[key] = found
        entry, href = found
        return entry, href, file_stamp(href)

    def meta(self, collection: str, item: str, asset: str) -> AssetMeta:
        entry, href, stamp = self.asset(collection, item, asset)
        return _read_meta(href, stamp, entry, asset)

    def expression_range(self, meta: AssetMeta, style: TileStyle) -> tuple[float, float]:
        """An expression's 2nd-98th percentiles on an overview of the asset, measured once."""
        assert style.expression is not None
        key = style.expression.text
        cached = meta.expression_ranges.get(key)
        if cached is not None:
            return cached
        with open_reader(meta.href) as reader:
            image = reader.preview(indexes=style.indexes, max_size=256)
        values = _evaluate(image, meta, style)
        finite = values[np.isfinite(values)]
        if finite.size:
            lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
        else:
            lo, hi = 0.0, 1.0
        if not hi > lo:
            lo, hi = lo - 0.5, lo + 0.5
        with self._range_lock:
            meta.expression_ranges[key] = (lo, hi)
        return lo, hi

    def model_dir(self, name: str) -> pathlib.Path:
        if self.models is None:
            raise ModelNotFoundError(f"model {name!r}: this viewer serves no models")
        try:
            return pathlib.Path(self.models(name))
        except KeyError:
            raise ModelNotFoundError(f"model {name!r} is not served here") from None

    def render(self, meta: AssetMeta, style: TileStyle, x: int, y: int, z: int, fmt: str) -> bytes:
        if style.model is not None:
            from satlearn.view._model_tiles import draw_model_tile, run_model_tile

            tile = run_model_tile(self.model_dir(style.model), meta.href, meta.names, x, y, z)
            data, mask = draw_model_tile(tile, style.layer, style.class_id, style.colormap)
            return encode(data, mask, fmt)
        with open_reader(meta.href) as reader:
            image = reader.tile(x, y, z, indexes=style.indexes)
        if style.expression is not None:
            values = _evaluate(image, meta, style)
            value_range = (style.rescale or (self.expression_range(meta, style),))[0]
            valid = np.asarray(image.mask) > 0
            data, mask = render_single(values, valid, value_range, style.colormap)
            return encode(data, mask, fmt)
        ranges = style.rescale or tuple(meta.ranges[i - 1] for i in style.indexes)
        if style.colormap is not None:
            valid = np.asarray(image.mask) > 0
            values = np.asarray(image.data[0], np.float64)
            data, mask = render_single(values, valid, ranges[0], style.colormap)
        else:
            data, mask = render_bands(image, ranges)
        return encode(data, mask, fmt)


def _evaluate(image: Any, meta: AssetMeta, style: TileStyle) -> np.ndarray:
    assert style.expression is not None
    data = np.asarray(image.data)
    bands = {s: data[p] for s, p in style.bound}
    scales = {s: meta.scales[style.indexes[p] - 1] for s, p in style.bound}
    offsets = {s: meta.offsets[style.indexes[p] - 1] for s, p in style.bound}
    values = evaluate_expression(style.expression, bands, scales=scales, offsets=offsets)
    values[np.asarray(image.mask) == 0] = np.nan
    return values


def _read_meta(href: str, stamp: Any, entry: Any, asset: str) -> AssetMeta:
    import rasterio

    try:
        return read_meta(href, stamp, entry)
    except rasterio.errors.RasterioError as err:
        raise NotFoundError(f"asset {asset!r} is not a raster rio-tiler can read ({err})") from None


def _error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _answer(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a tile request can meet into 4xx JSON answers."""
    import functools

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        import rasterio
        from rio_tiler.errors import InvalidBufferSize, RioTilerError, TileOutsideBounds

        try:
            return func(*args, **kwargs)
        except TileOutsideBounds as err:
            return _error(404, "TileOutsideBounds", str(err))
        except (NotFoundError, ModelNotFoundError) as err:
            return _error(404, "NotFound", str(err))
        except UnknownBandError as err:
            return _error(400, "UnknownBand", str(err))
        except (InvalidInputError, BundleError, InvalidBufferSize) as err:
            return _error(400, "InvalidParameter", str(err))
        except RioTilerError as err:
            return _error(400, "InvalidParameter", f"{type(err).__name__}: {err}")
        except rasterio.errors.RasterioError as err:
            # The catalogue names a file GDAL cannot read (any more): no such tile here.
            return _error(404, "AssetUnreadable", f"the asset cannot be read ({err})")
        except SatlearnError as err:
            return _error(400, type(err).__name__, str(err))

    return run


def _tile_query(request: Request, drop: tuple[str, ...] = ()) -> str:
    """The request's tile parameters, as a query string for URL templates."""
    from urllib.parse import urlencode

    kept = [
        (k, v) for k, v in request.query_params.multi_items() if k in TILE_PARAMS and k not in drop
    ]
    return urlencode(kept)


def create_tiles_router(
    index: CatalogIndex,
    *,
    models: Callable[[str], pathlib.Path] | None = None,
    cache_mb: int = 256,
) -> APIRouter:
    """A FastAPI router of map tiles drawn on the fly from a catalogue's COGs (mount at /tiles).

    Parameters
    ----------
    index : CatalogIndex
        The catalogue; asset hrefs are read from it, never from the request.
    models : callable, optional
        ``name -> bundle folder`` of a served model (KeyError when unknown), for
        ``?model=NAME`` tiles; without it model tiles are 404.
    cache_mb : int
        The bound of the in-process tile cache, in MiB (0 turns it off).

    Returns
    -------
    fastapi.APIRouter
        Mount it with ``app.include_router(router, prefix="/tiles")``.

    Examples
    --------
    >>> from satlearn.catalog import CatalogIndex
    >>> router = create_tiles_router(CatalogIndex.from_items([]))
    >>> "/{collection}/{item}/{asset}/tilejson.json" in {r.path for r in router.routes}
    True
    """
    if isinstance(cache_mb, bool) or not isinstance(cache_mb, int) or cache_mb < 0:
        raise InvalidInputError(f"cache_mb must be a non-negative int, got {cache_mb!r}")
    tiles = _Tiles(index, models, cache_mb)
    router = APIRouter()

    @router.get("/cache", name="tiles_cache")
    def cache_stats() -> dict[str, Any]:
        return tiles.cache.stats()

    @router.get("/colormaps", name="tiles_colormaps")
    def colormaps() -> dict[str, Any]:
        return {"colormaps": list(colormap_names())}

    @router.get("/colormaps/{name}.png", name="tiles_legend")
    @_answer
    def legend(name: str) -> Response:
        chosen = parse_colormap(name)
        assert chosen is not None
        return Response(legend_png(chosen), media_type="image/png",
                        headers={"Cache-Control": CACHE_CONTROL})  # fmt: skip

    def tile(request: Request, collection: str, item: str, asset: str, z: int, x: int, y: int,
             fmt: str) -> Response:  # fmt: skip
        entry, href, stamp = tiles.asset(collection, item, asset)
        meta = _read_meta(href, stamp, entry, asset)
        zmin, zmax = meta.zoom_range
        if not zmin <= z <= zmax:
            raise NotFoundError(f"zoom {z} is outside the zooms of this asset ({zmin}-{zmax})")
        if not (0 <= x < 2**z and 0 <= y < 2**z):
            raise NotFoundError(f"tile {z}/{x}/{y} is not a WebMercatorQuad tile")
        style = parse_style(meta, request.query_params)
        model_key = None
        if style.model is not None:
            folder = tiles.model_dir(style.model)
            model_key = [str(folder), file_stamp(str(folder / "bundle.json"))]
        digest = hashlib.sha256(
            json.dumps([href, stamp, fmt, z, x, y, style.key(), model_key], default=str).encode()
        ).hexdigest()[:40]
        etag = f'"{digest}"'
        headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
        wanted = request.headers.get("if-none-match")
        if wanted is not None:
            tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
            if etag in tags or "*" in tags:
                return Response(status_code=304, headers=headers)
        cached = tiles.cache.get(digest)
        if cached is None:
            body = tiles.render(meta, style, x, y, z, fmt)
            cached = CachedTile(body, MEDIA_TYPES[fmt], etag)
            tiles.cache.put(digest, cached)
        return Response(cached.body, media_type=cached.media_type, headers=headers)

    @router.get("/{collection}/{item}/{asset}/{z}/{x}/{y}.png", name="tiles_png")
    @_answer
    def tile_png(request: Request, collection: str, item: str, asset: str, z: int, x: int,
                 y: int) -> Response:  # fmt: skip
        return tile(request, collection, item, asset, z, x, y, "png")

    @router.get("/{collection}/{item}/{asset}/{z}/{x}/{y}.webp", name="tiles_webp")
    @_answer
    def tile_webp(request: Request, collection: str, item: str, asset: str, z: int, x: int,
                  y: int) -> Response:  # fmt: skip
        return tile(request, collection, item, asset, z, x, y, "webp")

    def documents(request: Request, collection: str, item: str, asset: str) -> tuple[Any, ...]:
        meta = tiles.meta(collection, item, asset)
        parse_style(meta, request.query_params)  # refuse bad parameters here already
        fmt = request.query_params.get("tile_format", "png")
        if fmt not in MEDIA_TYPES:
            raise InvalidInputError(f"tile_format {fmt[:20]!r}: one of png, webp")
        info = str(request.url_for("tiles_info", collection=collection, item=item, asset=asset))
        base = info.removesuffix("info.json")
        query = _tile_query(request)
        return meta, fmt, base, ("?" + query) if query else ""

    @router.get("/{collection}/{item}/{asset}/tilejson.json", name="tiles_tilejson")
    @_answer
    def tilejson_doc(request: Request, collection: str, item: str, asset: str) -> Response:
        from satlearn.view._tilejson import tilejson

        meta, fmt, base, query = documents(request, collection, item, asset)
        zmin, zmax = meta.zoom_range
        doc = tilejson(
            name=f"{collection}/{item}/{asset}",
            tiles_url=f"{base}{{z}}/{{x}}/{{y}}.{fmt}{query}",
            bounds=meta.bounds,
            minzoom=zmin,
            maxzoom=zmax,
            description=f"satlearn tiles of asset {asset!r} of item {item!r}",
        )
        return JSONResponse(doc, headers={"Cache-Control": CACHE_CONTROL})

    @router.get("/{collection}/{item}/{asset}/WMTSCapabilities.xml", name="tiles_wmts")
    @_answer
    def wmts(request: Request, collection: str, item: str, asset: str) -> Response:
        from satlearn.view._wmts import wmts_capabilities

        meta, fmt, base, query = documents(request, collection, item, asset)
        zmin, _ = meta.zoom_range
        xml = wmts_capabilities(
            layer=f"{collection}.{item}.{asset}",
            title=f"{collection}/{item}/{asset}",
            tile_url=f"{base}{{TileMatrix}}/{{TileCol}}/{{TileRow}}.{fmt}{query}",
            capabilities_url=str(request.url),
            bounds=meta.bounds,
            minzoom=zmin,
            maxzoom=meta.maxzoom,
            media_type=MEDIA_TYPES[fmt],
        )
        return Response(xml, media_type="application/xml",
                        headers={"Cache-Control": CACHE_CONTROL})  # fmt: skip

    @router.get("/{collection}/{item}/{asset}/info.json", name="tiles_info")
    @_answer
    def info(request: Request, collection: str, item: str, asset: str) -> Response:
        meta = tiles.meta(collection, item, asset)
        base = str(request.url).split("?")[0].removesuffix("info.json")
        legend = str(request.url_for("tiles_legend", name="viridis"))
        body = info_document(
            meta,
            collection=collection,
            item=item,
            asset=asset,
            base=base,
            legend=legend.replace("viridis", "{colormap}"),
            default_bands=default_bands(meta),
        )
        return JSONResponse(body, headers={"Cache-Control": CACHE_CONTROL})

    return router
