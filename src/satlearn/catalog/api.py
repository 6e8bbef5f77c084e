"""Serve a catalogue as a STAC API: a FastAPI router over a :class:`CatalogIndex`.

The router answers the STAC API v1.0 core, collections, OGC API Features and
item-search conformance classes, plus the filter extension for the CQL2-JSON
subset :class:`~satlearn.catalog.search.CatalogIndex` evaluates (basic CQL2:
comparisons, ``and``/``or``/``not``, ``isNull``; ``in`` and ``between`` are
accepted too). Every query is answered by the index built once at start-up,
never by re-reading the catalogue's JSON files.

Routes, relative to where the router is mounted::

    GET  /                                        landing page (links: self, root,
                                                  conformance, data, search, children)
    GET  /conformance
    GET  /queryables
    GET  /collections
    GET  /collections/{collection_id}
    GET  /collections/{collection_id}/items       bbox, datetime, limit, token
    GET  /collections/{collection_id}/items/{item_id}
    GET  /search                                  bbox, intersects, datetime, collections,
    POST /search                                  ids, limit, token, filter (cql2-json)

Paging is by an opaque ``token`` (an offset into the ordered results) carried
in ``next`` / ``prev`` links; a POST search's ``next`` link repeats the body
with the new token, as the STAC API spec describes. Errors are JSON
``{"code": ..., "description": ...}``: 404 for an unknown collection or item,
400 for a malformed parameter, naming the parameter.

Asset hrefs are made absolute (a catalogue's relative hrefs would otherwise
resolve against the API's URLs); for a local catalogue they are file paths.

Examples
--------
>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> app.include_router(create_stac_router("out/catalog"), prefix="/stac")  # doctest: +SKIP

or standalone, on the loopback interface::

    uvicorn.run(create_stac_app("out/catalog"), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pystac
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from satlearn.catalog.search import CatalogIndex, parse_datetime_interval
from satlearn.errors import InvalidInputError, SatlearnError

__all__ = ["CONFORMANCE", "create_stac_app", "create_stac_router"]

STAC_API = "https://api.stacspec.org/v1.0.0"
OGC_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"

#: The conformance classes the router declares.
CONFORMANCE: tuple[str, ...] = (
    f"{STAC_API}/core",
    f"{STAC_API}/collections",
    f"{STAC_API}/ogcapi-features",
    f"{STAC_API}/item-search",
    f"{STAC_API}/item-search#filter",
    f"{STAC_API}/ogcapi-features#filter",
    f"{OGC_FEATURES}/core",
    f"{OGC_FEATURES}/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
)

_GEOJSON = "application/geo+json"
_JSON = "application/json"
# Ids in paths: letters, digits, dot, underscore, hyphen; ".." never.
_ID = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
# Links that belong to the static catalogue's own layout, replaced by API links.
_LAYOUT_RELS = frozenset({"self", "root", "parent", "collection", "item", "items", "child"})
# Search body / query keys the router reads; others (fields, sortby, ...) are
# extensions it does not implement and ignores, as the STAC API spec allows.
_UNSUPPORTED = {"query": "the query extension is not supported; use filter (CQL2-JSON)"}


class _ApiError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _bad(parameter: str, problem: str) -> _ApiError:
    return _ApiError(400, "InvalidParameterValue", f"{parameter}: {problem}")


def _not_found(description: str) -> _ApiError:
    return _ApiError(404, "NotFound", description)


def _error_response(err: _ApiError) -> JSONResponse:
    return JSONResponse({"code": err.code, "description": err.description}, status_code=err.status)


# --------------------------------------------------------------------------- parsing


def _check_id(value: str, what: str) -> str:
    if not _ID.match(value) or ".." in value:
        raise _bad(what, f"{value!r} is not a valid id (letters, digits, '.', '_', '-'; no '..')")
    return value


def _parse_limit(value: Any, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _bad("limit", f"{value!r} is not a positive integer")
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _bad("limit", f"{value!r} is not a positive integer") from None
    if isinstance(value, float) and value != limit:
        raise _bad("limit", f"{value!r} is not a positive integer")
    if limit < 1:
        raise _bad("limit", f"{value!r} is not a positive integer")
    # The spec lets a server cap the page size; it must not refuse a large one.
    return min(limit, maximum)


def _parse_token(value: Any) -> int:
    if value is None or value == "":
        return 0
    text = str(value)
    if not text.isdigit():
        raise _bad("token", f"{value!r} is not a paging token this server issued")
    return int(text)


def _parse_bbox(value: Any) -> list[float] | None:
    if value is None or value == "":
        return None
    parts = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in parts]
    except (TypeError, ValueError):
        raise _bad("bbox", f"{value!r} is not 4 (or 6) comma-separated numbers") from None
    if len(numbers) not in (4, 6):
        raise _bad("bbox", f"{value!r} has {len(numbers)} numbers; expected 4 (or 6)")
    return numbers


def _parse_list(value: Any, what: str) -> list[str] | None:
    if value is None or value == "":
        return None
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise _bad(what, f"{value!r} is not a list of strings")
    return [p.strip() for p in parts if p.strip()]


def _parse_json(value: Any, what: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise _bad(what, f"not valid JSON ({err.msg} at character {err.pos})") from None
    return value


def _check_filter_lang(value: Any) -> None:
    if value not in (None, "", "cql2-json"):
        raise _bad("filter-lang", f"{value!r} is not supported; use cql2-json")


def _query(
    params: Mapping[str, Any], default_limit: int, max_limit: int, *, post: bool
) -> dict[str, Any]:
    """A normalised search query from GET parameters or a POST body."""
    for key, why in _UNSUPPORTED.items():
        if params.get(key) not in (None, "", {}):
            raise _bad(key, why)
    _check_filter_lang(params.get("filter-lang", params.get("filter_lang")))
    query = {
        "bbox": _parse_bbox(params.get("bbox")),
        "intersects": _parse_json(params.get("intersects"), "intersects"),
        "datetime": params.get("datetime") or None,
        "collections": _parse_list(params.get("collections"), "collections"),
        "ids": _parse_list(params.get("ids"), "ids"),
        # GET carries the filter as a JSON string; a POST body holds the object itself.
        "filter": params.get("filter") if post else _parse_json(params.get("filter"), "filter"),
        "limit": _parse_limit(params.get("limit"), default_limit, max_limit),
        "offset": _parse_token(params.get("token")),
    }
    if query["bbox"] is not None and query["intersects"] is not None:
        raise _bad("bbox", "give bbox or intersects, not both")
    if query["datetime"] is not None and not isinstance(query["datetime"], str):
        raise _bad("datetime", f"{query['datetime']!r} is not an RFC 3339 instant or interval")
    if post and query["filter"] is not None and not isinstance(query["filter"], Mapping):
        raise _bad("filter", "must be a CQL2-JSON object")
    return query


def _run(index: CatalogIndex, query: Mapping[str, Any]) -> tuple[list[pystac.Item], int]:
    """One page of results and the number matched; errors name the parameter at fault."""
    criteria = {k: query[k] for k in ("bbox", "intersects", "datetime", "collections", "ids")}
    criteria["filter"] = query["filter"]
    try:
        matched = index.match(**criteria)
    except SatlearnError as err:
        raise _bad(_culprit(index, criteria), str(err)) from None
    offset, limit = query["offset"], query["limit"]
    wanted = matched[offset : offset + limit]
    if len(wanted) == 0:
        return [], len(matched)
    ordered = index.items  # builds a list: take it once, not per item
    return [ordered[int(p)] for p in wanted], len(matched)


def _culprit(index: CatalogIndex, criteria: Mapping[str, Any]) -> str:
    """Which one parameter makes the index refuse a query (tried one at a time)."""
    if criteria.get("datetime") is not None:
        try:
            parse_datetime_interval(criteria["datetime"])
        except SatlearnError:
            return "datetime"
    for key in ("bbox", "intersects", "filter"):
        if criteria.get(key) is None:
            continue
        try:
            CatalogIndex.from_items([]).match(**{key: criteria[key]})
        except SatlearnError:
            return key
    return "query"


# --------------------------------------------------------------------------- documents


def _absolute_assets(item: pystac.Item, data: dict[str, Any]) -> None:
    for key, asset in item.assets.items():
        href = asset.get_absolute_href()
        if href is not None and key in data.get("assets", {}):
            data["assets"][key]["href"] = href


def _kept_links(obj: pystac.STACObject) -> list[dict[str, Any]]:
    """The object's own links that are not catalogue layout (license, via...), absolute."""
    kept = []
    for link in obj.links:
        if link.rel in _LAYOUT_RELS:
            continue
        data = link.to_dict(transform_href=False)
        href = link.get_absolute_href()
        if href is not None:
            data["href"] = href
        kept.append(data)
    return kept


class _Api:
    """The state behind one router: the index, lookups and URL building."""

    def __init__(
        self,
        index: CatalogIndex,
        *,
        catalog_id: str,
        title: str,
        description: str,
        base_url: str | None,
        default_limit: int,
        max_limit: int,
    ) -> None:
        self.index = index
        self.catalog_id, self.title, self.description = catalog_id, title, description
        self.base_url = base_url.rstrip("/") if base_url else None
        self.default_limit, self.max_limit = default_limit, max_limit
        self.collections = {c.id: c for c in index.collections()}
        self._queryables: dict[str, Any] | None = None

    def url(
        self, request: Request, name: str, query: Mapping[str, Any] | None = None, **path: str
    ) -> str:
        url = str(request.url_for(name, **path))
        if self.base_url is not None:
            root = str(request.base_url)
            url = self.base_url + "/" + url[len(root) :] if url.startswith(root) else url
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def root_links(self, request: Request) -> list[dict[str, Any]]:
        return [
            {"rel": "root", "href": self.url(request, "stac_landing"), "type": _JSON},
        ]

    def collection_doc(self, request: Request, collection: pystac.Collection) -> dict[str, Any]:
        data = collection.to_dict(include_self_link=False, transform_hrefs=False)
        cid = collection.id
        data["links"] = [
            {
                "rel": "self",
                "href": self.url(request, "stac_collection", collection_id=cid),
                "type": _JSON,
            },
            {"rel": "parent", "href": self.url(request, "stac_landing"), "type": _JSON},
            *self.root_links(request),
            {
                "rel": "items",
                "href": self.url(request, "stac_items", collection_id=cid),
                "type": _GEOJSON,
            },
            *_kept_links(collection),
        ]
        for key, asset in collection.assets.items():
            href = asset.get_absolute_href()
            if href is not None:
                data["assets"][key]["href"] = href
        return data

    def item_doc(self, request: Request, item: pystac.Item) -> dict[str, Any]:
        data = item.to_dict(include_self_link=False, transform_hrefs=False)
        _absolute_assets(item, data)
        links = []
        cid = item.collection_id
        if cid is not None and cid in self.collections:
            links += [
                {
                    "rel": "self",
                    "type": _GEOJSON,
                    "href": self.url(request, "stac_item", collection_id=cid, item_id=item.id),
                },
                {
                    "rel": "parent",
                    "type": _JSON,
                    "href": self.url(request, "stac_collection", collection_id=cid),
                },
                {
                    "rel": "collection",
                    "type": _JSON,
                    "href": self.url(request, "stac_collection", collection_id=cid),
                },
            ]
        data["links"] = [*links, *self.root_links(request), *_kept_links(item)]
        return data

    def collection(self, collection_id: str) -> pystac.Collection:
        _check_id(collection_id, "collection_id")
        found = self.collections.get(collection_id)
        if found is None:
            raise _not_found(f"collection {collection_id!r} not found")
        return found

    def queryables(self, request: Request) -> dict[str, Any]:
        if self._queryables is None:
            names: set[str] = set()
            for item in self.index.items:
                names.update(item.properties)
            names.discard("datetime")
            properties: dict[str, Any] = {
                "id": {"type": "string", "title": "Item id"},
                "collection": {"type": "string", "title": "Collection id"},
                "datetime": {"type": "string", "format": "date-time"},
            }
            properties.update({name: {} for name in sorted(names)})
            self._queryables = properties
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": self.url(request, "stac_queryables"),
            "type": "object",
            "title": f"Queryables of {self.title}",
            "properties": self._queryables,
            "additionalProperties": True,
        }

    def feature_collection(
        self,
        request: Request,
        query: dict[str, Any],
        *,
        route: str,
        path: Mapping[str, str],
        post_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        items, matched = _run(self.index, query)
        offset, limit = query["offset"], query["limit"]
        links: list[dict[str, Any]] = [*self.root_links(request)]
        pages = []
        if offset + len(items) < matched:
            pages.append(("next", offset + limit))
        if offset > 0:
            pages.append(("prev", max(0, offset - limit)))
        for rel, token in pages:
            if post_body is not None:
                links.append(
                    {
                        "rel": rel,
                        "href": self.url(request, route, **path),
                        "type": _GEOJSON,
                        "method": "POST",
                        "body": {**post_body, "token": str(token)},
                        "merge": False,
                    }
                )
            else:
                params = dict(request.query_params)
                params["token"] = str(token)
                links.append(
                    {"rel": rel, "href": self.url(request, route, params, **path), "type": _GEOJSON}
                )
        return {
            "type": "FeatureCollection",
            "features": [self.item_doc(request, item) for item in items],
            "links": links,
            "numberMatched": matched,
            "numberReturned": len(items),
        }


# --------------------------------------------------------------------------- router


def _index_from(source: Any, strict: bool) -> tuple[CatalogIndex, pystac.Catalog | None]:
    if isinstance(source, CatalogIndex):
        return source, None
    if isinstance(source, pystac.Catalog):
        return CatalogIndex.from_catalog(source), source
    if isinstance(source, str | os.PathLike):
        from satlearn.catalog.crawl import crawl

        result = crawl(source, strict=strict)
        return CatalogIndex(result.items, collections=result.collections), result.root
    if isinstance(source, Iterable):
        items = list(source)
        if not all(isinstance(i, pystac.Item) for i in items):
            raise InvalidInputError("create_stac_router: an iterable source must hold pystac.Item")
        return CatalogIndex.from_items(items), None
    raise InvalidInputError(
        "create_stac_router: source must be a CatalogIndex, a pystac.Catalog, a path or URL, "
        f"or items; got {type(source).__name__}"
    )


def _answer(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an :class:`_ApiError` raised by an endpoint into its JSON response."""
    import functools
    import inspect

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await func(*args, **kwargs)
            except _ApiError as err:
                return _error_response(err)

        return run_async

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _ApiError as err:
            return _error_response(err)

    return run


def create_stac_router(
    source: Any,
    *,
    title: str | None = None,
    description: str | None = None,
    base_url: str | None = None,
    default_limit: int = 10,
    max_limit: int = 10_000,
    strict: bool = False,
) -> APIRouter:
    """A FastAPI router serving a catalogue as a STAC API.

    Parameters
    ----------
    source : CatalogIndex, pystac.Catalog, path/URL or iterable of pystac.Item
        What to serve. A path or URL is crawled once (see
        :func:`~satlearn.catalog.crawl`) and indexed; queries never re-read it.
    title, description : str, optional
        For the landing page; default: the catalogue's own.
    base_url : str, optional
        The public URL the app is served under (behind a proxy); links are
        built from it instead of from the request.
    default_limit, max_limit : int
        Page size when a request gives none, and the largest page served
        (larger requests are capped, as the spec allows).
    strict : bool
        For a path or URL source: fail on a broken branch instead of skipping it.

    Returns
    -------
    fastapi.APIRouter
        Mount it with ``app.include_router(router, prefix="/stac")``.

    Raises
    ------
    InvalidInputError
        ``source`` is none of the accepted kinds, or a limit is not positive.

    Examples
    --------
    >>> router = create_stac_router(CatalogIndex.from_items([]), title="empty")
    >>> sorted(r.path for r in router.routes)[:3]
    ['/', '/collections', '/collections/{collection_id}']
    """
    if not (isinstance(default_limit, int) and isinstance(max_limit, int)) or not (
        1 <= default_limit <= max_limit
    ):
        raise InvalidInputError(
            f"create_stac_router: need 1 <= default_limit ({default_limit}) <= max_limit "
            f"({max_limit})"
        )
    index, root = _index_from(source, strict)
    api = _Api(
        index,
        catalog_id=root.id if root is not None else "satlearn",
        title=title
        or (root.title if root is not None and root.title else None)
        or "satlearn STAC API",
        description=description
        or (root.description if root is not None else None)
        or "A STAC catalogue served by satlearn",
        base_url=base_url,
        default_limit=default_limit,
        max_limit=max_limit,
    )
    router = APIRouter()

    @router.get("/", name="stac_landing")
    def landing(request: Request) -> dict[str, Any]:
        search = api.url(request, "stac_search")
        return {
            "type": "Catalog",
            "stac_version": pystac.get_stac_version(),
            "id": api.catalog_id,
            "title": api.title,
            "description": api.description,
            "conformsTo": list(CONFORMANCE),
            "links": [
                {"rel": "self", "href": api.url(request, "stac_landing"), "type": _JSON},
                *api.root_links(request),
                {"rel": "conformance", "href": api.url(request, "stac_conformance"), "type": _JSON},
                {"rel": "data", "href": api.url(request, "stac_collections"), "type": _JSON},
                {"rel": "search", "href": search, "type": _GEOJSON, "method": "GET"},
                {"rel": "search", "href": search, "type": _GEOJSON, "method": "POST"},
                {
                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "href": api.url(request, "stac_queryables"),
                    "type": "application/schema+json",
                },
                *(
                    {
                        "rel": "child",
                        "type": _JSON,
                        "title": c.title or c.id,
                        "href": api.url(request, "stac_collection", collection_id=c.id),
                    }
                    for c in api.collections.values()
                ),
            ],
        }

    @router.get("/conformance", name="stac_conformance")
    def conformance() -> dict[str, Any]:
        return {"conformsTo": list(CONFORMANCE)}

    @router.get("/queryables", name="stac_queryables")
    def queryables(request: Request) -> JSONResponse:
        return JSONResponse(api.queryables(request), media_type="application/schema+json")

    @router.get("/collections", name="stac_collections")
    def collections(request: Request) -> dict[str, Any]:
        return {
            "collections": [api.collection_doc(request, c) for c in api.collections.values()],
            "links": [
                {"rel": "self", "href": api.url(request, "stac_collections"), "type": _JSON},
                *api.root_links(request),
                {"rel": "parent", "href": api.url(request, "stac_landing"), "type": _JSON},
            ],
        }

    @router.get("/collections/{collection_id}", name="stac_collection")
    @_answer
    def collection(request: Request, collection_id: str) -> Any:
        return api.collection_doc(request, api.collection(collection_id))

    @router.get("/collections/{collection_id}/items", name="stac_items")
    @_answer
    def items(request: Request, collection_id: str) -> Any:
        api.collection(collection_id)
        params = dict(request.query_params)
        for key in ("collections", "ids", "intersects", "filter"):
            params.pop(key, None)  # not part of the items endpoint
        query = _query(params, api.default_limit, api.max_limit, post=False)
        query["collections"] = [collection_id]
        body = api.feature_collection(
            request, query, route="stac_items", path={"collection_id": collection_id}
        )
        return JSONResponse(body, media_type=_GEOJSON)

    @router.get("/collections/{collection_id}/items/{item_id}", name="stac_item")
    @_answer
    def item(request: Request, collection_id: str, item_id: str) -> Any:
        api.collection(collection_id)
        _check_id(item_id, "item_id")
        found = index.search(ids=[item_id], collections=[collection_id], limit=1)
        if not found:
            raise _not_found(f"item {item_id!r} not found in collection {collection_id!r}")
        return JSONResponse(api.item_doc(request, found[0]), media_type=_GEOJSON)

    @router.get("/search", name="stac_search")
    @_answer
    def search_get(request: Request) -> Any:
        query = _query(request.query_params, api.default_limit, api.max_limit, post=False)
        body = api.feature_collection(request, query, route="stac_search", path={})
        return JSONResponse(body, media_type=_GEOJSON)

    @router.post("/search", name="stac_search_post")
    @_answer
    async def search_post(request: Request) -> Any:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as err:
            raise _bad("body", f"not valid JSON ({err.msg} at character {err.pos})") from None
        if not isinstance(payload, dict):
            raise _bad("body", "must be a JSON object")
        query = _query(payload, api.default_limit, api.max_limit, post=True)
        body = await run_in_threadpool(
            api.feature_collection,
            request,
            query,
            route="stac_search_post",
            path={},
            post_body=payload,
        )
        return JSONResponse(body, media_type=_GEOJSON)

    return router


def create_stac_app(source: Any, **kwargs: Any) -> FastAPI:
    """A standalone FastAPI app serving ``source`` as a STAC API at its root.

    Takes the arguments of :func:`create_stac_router`. Serve it on the loopback
    interface unless you mean to expose it::

        uvicorn.run(create_stac_app("catalog/"), host="127.0.0.1", port=8000)
    """
    app = FastAPI(title=kwargs.get("title") or "satlearn STAC API")
    app.include_router(create_stac_router(source, **kwargs))
    return app
