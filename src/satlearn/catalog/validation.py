"""Validate STAC items, collections and catalogues against their JSON schemas, offline.

The core schemas (item, collection, catalog, and the GeoJSON ones they refer to)
ship inside pystac; extension schemas come from ``../shared/stac-schemas`` beside
the repository when present, else from the copies in ``satlearn/catalog/schemas``
(the extensions satlearn writes). Every schema is registered under its ``$id`` in
a ``referencing.Registry`` whose retrieve hook refuses to fetch anything, so a
validation never touches the network: a schema that is not available offline (an
unknown extension, a newer STAC version) is reported as such, as a warning.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac
from jsonschema import ValidationError
from jsonschema.exceptions import by_relevance
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from satlearn.catalog.schema_store import schema_available, schema_registry, schemas
from satlearn.errors import CatalogError

__all__ = ["ValidationProblem", "schema_available", "validate", "validate_catalog"]

_CORE = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}


@dataclass(frozen=True)
class ValidationProblem:
    """One schema violation (or an unchecked part) of one STAC document.

    Attributes
    ----------
    href : str or None
        Where the document lives, when known.
    object_id : str or None
        Its STAC id.
    field : str
        JSON path of the failing field (``$.properties.proj:code``), or what was not
        checked.
    message : str
        What is wrong.
    severity : str
        ``"error"`` (invalid) or ``"warning"`` (not checkable offline).
    schema : str or None
        The schema that failed.
    """

    href: str | None
    object_id: str | None
    field: str
    message: str
    severity: str = "error"
    schema: str | None = None

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (repr(self.object_id) if self.object_id else "", f"({self.href})")
            if part and part != "(None)"
        )
        source = f" [{self.schema}]" if self.schema else ""
        return f"{self.severity}: {where or '<object>'}: {self.field}: {self.message}{source}"


def _core_uri(kind: str, version: str) -> str:
    return f"https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json"


def _leaf(error: ValidationError) -> ValidationError:
    # oneOf/anyOf errors ("is not valid under any of the given schemas") hide the real
    # cause in their context: walk down to the deepest, most specific one. (jsonschema's
    # best_match stops at the generic parent when two branches tie, e.g. an extension
    # schema's Item-or-Collection switch.)
    key = by_relevance()
    while error.context:
        error = min(error.context, key=key)
    return error


def _json_path(error: ValidationError) -> str:
    """``$.assets.data.eo:bands[0].common_name``: readable, colons unquoted."""
    parts = ["$"]
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def _check(
    data: dict[str, Any], uri: str, href: str | None, object_id: str | None
) -> list[ValidationProblem]:
    schema = schemas()[uri.rstrip("#")]
    validator = validator_for(schema)(schema, registry=schema_registry())
    problems = []
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        for error in errors:
            leaf = _leaf(error)
            problems.append(
                ValidationProblem(href, object_id, _json_path(leaf), leaf.message, schema=uri)
            )
    except Unresolvable as err:
        problems.append(
            ValidationProblem(
                href,
                object_id,
                "$ref",
                f"refers to {err.ref!r}, which is not available offline; not checked",
                severity="warning",
                schema=uri,
            )
        )
    return problems


def _as_document(obj: Any) -> tuple[dict[str, Any] | None, str | None, list[ValidationProblem]]:
    if isinstance(obj, pystac.STACObject):
        return obj.to_dict(include_self_link=False), obj.get_self_href(), []
    if isinstance(obj, dict):
        return obj, None, []
    if isinstance(obj, (str, os.PathLike)):
        from satlearn.catalog.crawl import read_json

        href = os.fspath(obj)
        if not href.startswith(("http://", "https://")) and Path(href).is_dir():
            href = str(Path(href) / "catalog.json")
        try:
            return read_json(href), href, []
        except CatalogError as err:
            return (
                None,
                href,
                [ValidationProblem(href, None, "$", str(err).removeprefix(f"{href}: "))],
            )
    raise CatalogError(
        f"cannot validate a {type(obj).__name__}: give a path, URL, dict or pystac object"
    )


def validate(obj: Any, *, href: str | None = None) -> list[ValidationProblem]:
    """Validate one STAC document (item, collection or catalogue) against its schemas.

    Checks the core schema of the document's ``stac_version`` and the schema of each
    entry in ``stac_extensions``, with no network access.

    Parameters
    ----------
    obj : path, URL, dict or pystac.STACObject
        The document. A folder means its ``catalog.json``.
    href : str, optional
        Where the document lives, for the messages (taken from ``obj`` when it is a
        path or a pystac object with a self href).

    Returns
    -------
    list of ValidationProblem
        Empty when valid. ``severity="warning"`` marks parts that could not be
        checked offline (an unknown extension, a STAC version whose schema is not
        shipped).

    Examples
    --------
    >>> [str(p) for p in validate({"type": "Feature", "id": "x"})]  # doctest: +ELLIPSIS
    ["error: 'x': $: 'stac_version' is a required property [...]"]
    """
    data, found_href, problems = _as_document(obj)
    href = href or found_href
    if data is None:
        return problems
    object_id = data.get("id") if isinstance(data.get("id"), str) else None
    kind = _CORE.get(data.get("type"))  # type: ignore[arg-type]
    if kind is None:
        return [
            ValidationProblem(href, object_id, "$.type", f"{data.get('type')!r} is not a STAC type")
        ]
    version = data.get("stac_version")
    if not isinstance(version, str):
        return [
            ValidationProblem(
                href,
                object_id,
                "$",
                "'stac_version' is a required property",
                schema=_core_uri(kind, "1.1.0"),
            )
        ]
    core = _core_uri(kind, version)
    if schema_available(core):
        problems += _check(data, core, href, object_id)
    else:
        problems.append(
            ValidationProblem(
                href,
                object_id,
                "$.stac_version",
                f"no offline schema for STAC {version} {kind}s; core fields not checked",
                severity="warning",
                schema=core,
            )
        )
    extensions = data.get("stac_extensions", [])
    if not isinstance(extensions, list):
        extensions = []  # the core schema has already reported the wrong type
    for uri in extensions:
        if not isinstance(uri, str):
            continue
        if schema_available(uri):
            problems += _check(data, uri, href, object_id)
        else:
            problems.append(
                ValidationProblem(
                    href,
                    object_id,
                    "$.stac_extensions",
                    f"unknown extension {uri!r}: no schema available offline; not checked",
                    severity="warning",
                    schema=uri,
                )
            )
    return problems


def asset_problems(data: dict[str, Any], href: str | None) -> list[ValidationProblem]:
    """An error per local asset whose href does not resolve to an existing file.

    Relative hrefs resolve against the document's own location. Remote hrefs
    (``http(s)://``, ``s3://``...) are not fetched: validation stays offline.

    Examples
    --------
    >>> doc = {"id": "x", "assets": {"data": {"href": "/nonexistent/x.tif"}}}
    >>> [p.field for p in asset_problems(doc, "/tmp/x.json")]
    ["$.assets['data'].href"]
    """
    assets = data.get("assets")
    if not isinstance(assets, dict):
        return []
    object_id = data.get("id") if isinstance(data.get("id"), str) else None
    base = None if href is None or "://" in href else Path(href).parent
    problems = []
    for key, asset in assets.items():
        target = asset.get("href") if isinstance(asset, dict) else None
        if not isinstance(target, str) or "://" in target:
            continue
        path = Path(target)
        if not path.is_absolute():
            if base is None:
                continue  # relative to a remote document: not checkable offline
            path = base / path
        if not path.is_file():
            problems.append(
                ValidationProblem(
                    href,
                    object_id,
                    f"$.assets[{key!r}].href",
                    f"{target!r} does not resolve to a file ({os.path.normpath(path)})",
                )
            )
    return problems


def validate_catalog(
    catalog: str | os.PathLike[str] | pystac.Catalog, *, check_assets: bool = False
) -> list[ValidationProblem]:
    """Validate a whole static catalogue: every reachable catalogue, collection and item.

    Broken links, unreadable or invalid JSON documents are reported (as errors)
    beside the schema problems; the walk goes on past them. With ``check_assets``,
    every local asset href must resolve to an existing file (see
    :func:`asset_problems`): a catalogue moved away from relative-href data fails.

    Examples
    --------
    >>> problems = validate_catalog("out/catalog")  # doctest: +SKIP
    >>> [str(p) for p in problems if p.severity == "error"]  # doctest: +SKIP
    []
    """
    from satlearn.catalog.crawl import crawl

    try:
        result = crawl(catalog, keep_json=True)
    except CatalogError as err:
        href = (
            catalog.get_self_href() if isinstance(catalog, pystac.Catalog) else os.fspath(catalog)
        )
        return [ValidationProblem(href, None, "$", str(err))]
    problems: list[ValidationProblem] = []
    for crawl_problem in result.problems:
        if crawl_problem.skipped:
            via = (
                f"{crawl_problem.rel} link from {crawl_problem.parent}"
                if crawl_problem.parent
                else "$"
            )
            problems.append(
                ValidationProblem(
                    crawl_problem.href, crawl_problem.object_id, via, crawl_problem.problem
                )
            )
    for href, data in result.documents.items():
        problems += validate(data, href=href)
        if check_assets:
            problems += asset_problems(data, href)
    return problems


def errors_only(problems: Iterable[ValidationProblem]) -> list[ValidationProblem]:
    """The problems that make a document invalid (not the unchecked-offline warnings)."""
    return [p for p in problems if p.severity == "error"]
