"""Serve a catalogue as a STAC API: a FastAPI router over a :class:`CatalogIndex`.

The router answers the STAC API v1.0 core, collections, OGC API Features and
item-search conformance classes, plus the filter extension (on both
``/search`` and ``/collections/{id}/items``) for the CQL2-JSON subset
:class:`~satlearn.catalog.search.CatalogIndex` evaluates (basic CQL2:
comparisons, ``and``/``or``/``not``, ``isNull``; ``in`` and ``between`` are
accepted too), and the sort and fields extensions. Every query is answered by
the index built once at start-up, never by re-reading the catalogue's JSON files.

Routes, relative to where the router is mounted::

    GET  /                                        landing page (links: self, root,
                                                  service-desc, service-doc,
                                                  conformance, data, search, children)
    GET  /api                                     the OpenAPI document (service-desc)
    GET  /conformance
    GET  /queryables
    GET  /collections
    GET  /collections/{collection_id}
    GET  /collections/{collection_id}/queryables
    GET  /collections/{collection_id}/items       bbox, datetime, filter, sortby, fields,
                                                  limit, token
    GET  /collections/{collection_id}/items/{item_id}
    GET  /search                                  bbox, intersects, datetime, collections,
    POST /search                                  ids, filter (cql2-json), sortby, fields,
                                                  limit, token

Parameters are parsed as strictly as the spec asks: ``datetime`` must be RFC
3339 with an offset (a bare date, a naive time or ``+0100`` is a 400), a POST
``bbox`` must be a JSON array, and bbox values must be in range.

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

import copy
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pystac
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.routing import NoMatchFound

from satlearn.catalog.search import (
    CatalogIndex,
    check_bbox,
    parse_datetime_interval,
    parse_sortby,
)
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
    f"{STAC_API}/item-search#sort",
    f"{STAC_API}/item-search#fields",
    f"{STAC_API}/ogcapi-features#filter",
    f"{STAC_API}/ogcapi-features#sort",
    f"{STAC_API}/ogcapi-features#fields",
    f"{OGC_FEATURES}/core",
    f"{OGC_FEATURES}/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
)

_GEOJSON = "application/geo+json"
_JSON = "application/json"
_QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
_SCHEMA_JSON = "application/schema+json"
_OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
# Ids in paths: letters, digits, dot, underscore, hyphen; ".." never.
_ID = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
# Links that belong to the static catalogue's own layout, replaced by API links.
_LAYOUT_RELS = frozenset({"self", "root", "parent", "collection", "item", "items", "child"})
# Search body / query keys the router reads; others are extensions it does not
# implement: it refuses the query extension (which would silently match all) and
# ignores the rest, as the STAC API spec allows.
_UNSUPPORTED = {"query": "the query extension is not supported; use filter (CQL2-JSON)"}
_ABSENT = object()


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
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
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
    # isascii: "²".isdigit() is True, yet int("²") raises; a token this server issued
    # is an offset, never past 18 digits (int() refuses 4300+).
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise _bad("token", f"{value!r} is not a paging token this server issued")
    return int(text)


def _parse_bbox(value: Any, *, post: bool) -> list[float] | None:
    if value is None or value == "":
        return None
    if post and not isinstance(value, list):
        # In a JSON body the spec's bbox is an array; "1,2,3,4" there is a client bug.
        raise _bad("bbox", f"{value!r} is not a JSON array of 4 (or 6) numbers")
    if post and any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        raise _bad("bbox", f"{value!r} is not a JSON array of 4 (or 6) numbers")
    try:
        return check_bbox(value)
    except SatlearnError as err:
        raise _bad("bbox", str(err).removeprefix("bbox ")) from None


def _parse_datetime(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("datetime", f"{value!r} is not an RFC 3339 instant or interval")
    try:
        parse_datetime_interval(value, strict=True)
    except SatlearnError as err:
        raise _bad("datetime", str(err)) from None
    return value


def _parse_sortby(value: Any) -> Any:
    """``sortby`` checked now (to name it in a 400), passed on as given to the index."""
    if value is None or value == "" or value == []:
        return None
    try:
        parse_sortby(value)
    except SatlearnError as err:
        raise _bad("sortby", str(err)) from None
    return value


_DEFAULT_FIELDS = (
    "type",
    "stac_version",
    "stac_extensions",
    "id",
    "geometry",
    "bbox",
    "links",
    "assets",
    "collection",
    "properties.datetime",
)

#: Fields as ``(include, exclude)``; ``None`` for a set not given at all.
Fields = tuple[list[str] | None, list[str] | None]


def _parse_fields(value: Any, *, post: bool, given: bool) -> Fields | None:
    """``(include, exclude)`` from GET ``a,-b`` or POST ``{"include": [...], "exclude": [...]}``.

    ``None`` when no ``fields`` was asked for (the whole item).
    """
    if not given:
        return None
    if isinstance(value, str) and not post:
        names = [v.strip() for v in value.split(",") if v.strip()]
        include = [n.lstrip("+").strip() for n in names if not n.startswith("-")] or None
        exclude = [n[1:].strip() for n in names if n.startswith("-")] or None
        if not names:  # "fields=" asks for the default set
            include, exclude = [], []
    elif isinstance(value, Mapping):
        include, exclude = value.get("include"), value.get("exclude")
        for part in (include, exclude):
            if part is not None and not isinstance(part, list):
                raise _bad("fields", "include and exclude must be lists of field names")
        if "include" in value and not include:
            include = []  # an explicit null or [] include: the default set
        if not include and not exclude:
            include, exclude = [], []
    else:
        raise _bad("fields", f"{value!r} is not an object {{'include': [], 'exclude': []}}")
    if not all(isinstance(n, str) and n for n in [*(include or []), *(exclude or [])]):
        raise _bad("fields", "field names must be non-empty strings")
    return include, exclude


def _get_path(doc: Mapping[str, Any], path: list[str]) -> Any:
    for part in path:
        if not isinstance(doc, Mapping) or part not in doc:
            return _ABSENT
        doc = doc[part]
    return doc


def _set_path(doc: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        doc = doc.setdefault(part, {})
    doc[path[-1]] = value


def _drop_path(doc: dict[str, Any], path: list[str]) -> None:
    for part in path[:-1]:
        doc = doc.get(part)
        if not isinstance(doc, dict):
            return
    doc.pop(path[-1], None)


def _project(doc: dict[str, Any], fields: Fields) -> dict[str, Any]:
    """An item document cut to the fields extension's include / exclude sets.

    The extension's semantics: include only -> exactly those fields (dot paths);
    exclude only -> everything else; an explicitly empty include (``fields=``,
    ``{}``, ``{"include": []}``) -> the default set (type, stac_version, id,
    geometry, bbox, links, assets, collection, properties.datetime), minus the
    excludes. With both, a path in both is kept, and the more specific of two
    nested paths wins (exclude ``properties``, include ``properties.datetime``:
    only that property).
    """
    include, exclude = fields
    wanted = list(_DEFAULT_FIELDS) if include == [] else include
    if wanted is None:
        kept = copy.deepcopy(doc)
    else:
        kept = {}
        for name in wanted:
            value = _get_path(doc, name.split("."))
            if value is not _ABSENT:
                _set_path(kept, name.split("."), copy.deepcopy(value))
    included = set(include or ())  # what was asked for, not the default set
    for name in exclude or ():
        if name in included:
            continue  # in both: included
        nested = {i[len(name) + 1 :] for i in included if i.startswith(name + ".")}
        if not nested:
            _drop_path(kept, name.split("."))
            continue
        parent = _get_path(kept, name.split("."))
        if isinstance(parent, dict):  # keep only the more specific includes
            for child in list(parent):
                if not any(k == child or k.startswith(child + ".") for k in nested):
                    parent.pop(child)
    return kept


def _parse_list(value: Any, what: str) -> list[str] | None:
    if value is None or value == "":
        return None
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise _bad(what, f"{value!r} is not a list of strings")
    return [p.strip() for p in parts if p.strip()]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _parse_json(value: Any, what: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise _bad(what, f"not valid JSON ({err.msg} at character {err.pos})") from None
        except (ValueError, RecursionError) as err:  # an int past 4300 digits, deep nesting
            raise _bad(what, f"not valid JSON ({err or 'nested too deeply'})") from None
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
        "bbox": _parse_bbox(params.get("bbox"), post=post),
        "intersects": _parse_json(params.get("intersects"), "intersects"),
        "datetime": _parse_datetime(params.get("datetime")),
        "collections": _parse_list(params.get("collections"), "collections"),
        "ids": _parse_list(params.get("ids"), "ids"),
        # GET carries the filter as a JSON string; a POST body holds the object itself.
        "filter": params.get("filter") if post else _parse_json(params.get("filter"), "filter"),
        "sortby": _parse_sortby(params.get("sortby")),
        "fields": _parse_fields(params.get("fields"), post=post, given="fields" in params),
        "limit": _parse_limit(params.get("limit"), default_limit, max_limit),
        "offset": _parse_token(params.get("token")),
    }
    if query["bbox"] is not None and query["intersects"] is not None:
        raise _bad("bbox", "give bbox or intersects, not both")
    if post and query["filter"] is not None and not isinstance(query["filter"], Mapping):
        raise _bad("filter", "must be a CQL2-JSON object")
    return query


def _run(index: CatalogIndex, query: Mapping[str, Any]) -> tuple[list[pystac.Item], int]:
    """One page of results and the number matched; errors name the parameter at fault."""
    criteria = {k: query[k] for k in ("bbox", "intersects", "datetime", "collections", "ids")}
    criteria["filter"] = query["filter"]
    try:
        matched = index.match(**criteria, sortby=query["sortby"])
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
        self._queryables: dict[str | None, dict[str, Any]] = {}

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
            {
                "rel": _QUERYABLES_REL,
                "href": self.url(request, "stac_collection_queryables", collection_id=cid),
                "type": _SCHEMA_JSON,
            },
            *_kept_links(collection),
        ]
        for key, asset in collection.assets.items():
            href = asset.get_absolute_href()
            if href is not None:
                data["assets"][key]["href"] = href
        return data

    def item_doc(
        self,
        request: Request,
        item: pystac.Item,
        fields: Fields | None = None,
    ) -> dict[str, Any]:
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
        return data if fields is None else _project(data, fields)

    def collection(self, collection_id: str) -> pystac.Collection:
        _check_id(collection_id, "collection_id")
        found = self.collections.get(collection_id)
        if found is None:
            raise _not_found(f"collection {collection_id!r} not found")
        return found

    def queryables(self, request: Request, collection_id: str | None = None) -> dict[str, Any]:
        """The JSON Schema of what a filter may name: of every item, or of one collection's."""
        if collection_id not in self._queryables:
            items = self.index.items
            if collection_id is not None:
                items = [it for it in items if it.collection_id == collection_id]
            names: set[str] = set()
            for item in items:
                names.update(item.properties)
            names.discard("datetime")
            properties: dict[str, Any] = {
                "id": {"type": "string", "title": "Item id"},
                "collection": {"type": "string", "title": "Collection id"},
                "datetime": {"type": "string", "format": "date-time"},
            }
            properties.update({name: {} for name in sorted(names)})
            self._queryables[collection_id] = properties
        if collection_id is None:
            url, title = self.url(request, "stac_queryables"), self.title
        else:
            url = self.url(request, "stac_collection_queryables", collection_id=collection_id)
            title = f"collection {collection_id}"
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": url,
            "type": "object",
            "title": f"Queryables of {title}",
            "properties": self._queryables[collection_id],
            "additionalProperties": True,
        }

    def service_links(self, request: Request) -> list[dict[str, Any]]:
        """service-desc (the OpenAPI document) and service-doc (its HTML page), if served."""
        links = []
        for rel, name, media in (
            ("service-desc", "stac_openapi", _OPENAPI),
            ("service-doc", "swagger_ui_html", "text/html"),
        ):
            try:
                href = self.url(request, name)
            except NoMatchFound:  # the app serves no HTML docs (docs_url=None)
                continue
            links.append({"rel": rel, "href": href, "type": media})
        return links

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
        # OGC API Features wants the page's own URL; a POST's is the URL plus its body.
        if post_body is not None:
            own = {
                "rel": "self",
                "href": self.url(request, route, **path),
                "type": _GEOJSON,
                "method": "POST",
                "body": dict(post_body),
            }
        else:
            own = {
                "rel": "self",
                "href": self.url(request, route, dict(request.query_params), **path),
                "type": _GEOJSON,
            }
        links: list[dict[str, Any]] = [own, *self.root_links(request)]
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
            "features": [self.item_doc(request, item, query["fields"]) for item in items],
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
                *api.service_links(request),
                {"rel": "conformance", "href": api.url(request, "stac_conformance"), "type": _JSON},
                {"rel": "data", "href": api.url(request, "stac_collections"), "type": _JSON},
                {"rel": "search", "href": search, "type": _GEOJSON, "method": "GET"},
                {"rel": "search", "href": search, "type": _GEOJSON, "method": "POST"},
                {
                    "rel": _QUERYABLES_REL,
                    "href": api.url(request, "stac_queryables"),
                    "type": _SCHEMA_JSON,
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

    @router.get("/api", name="stac_openapi", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        # The app's own OpenAPI document (FastAPI's /openapi.json), under the media
        # type the spec's service-desc link announces.
        return JSONResponse(request.app.openapi(), media_type=_OPENAPI)

    @router.get("/conformance", name="stac_conformance")
    def conformance() -> dict[str, Any]:
        return {"conformsTo": list(CONFORMANCE)}

    @router.get("/queryables", name="stac_queryables")
    def queryables(request: Request) -> JSONResponse:
        return JSONResponse(api.queryables(request), media_type=_SCHEMA_JSON)

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

    @router.get("/collections/{collection_id}/queryables", name="stac_collection_queryables")
    @_answer
    def collection_queryables(request: Request, collection_id: str) -> Any:
        api.collection(collection_id)
        return JSONResponse(api.queryables(request, collection_id), media_type=_SCHEMA_JSON)

    @router.get("/collections/{collection_id}/items", name="stac_items")
    @_answer
    def items(request: Request, collection_id: str) -> Any:
        api.collection(collection_id)
        params = dict(request.query_params)
        for key in ("collections", "ids", "intersects"):
            params.pop(key, None)  # not part of the items endpoint (OGC API Features)
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
            # Strict JSON: NaN, Infinity and 1e999 are not JSON, and the body is echoed
            # in the paging links, which JSON encoding of a non-finite number would fail.
            payload = (
                json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
                if raw.strip()
                else {}
            )
        except json.JSONDecodeError as err:
            raise _bad("body", f"not valid JSON ({err.msg} at character {err.pos})") from None
        except UnicodeDecodeError as err:
            raise _bad("body", f"not UTF-8 ({err.reason} at byte {err.start})") from None
        except (ValueError, RecursionError) as err:  # an int past 4300 digits, deep nesting
            raise _bad("body", f"not valid JSON ({err or 'nested too deeply'})") from None
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
