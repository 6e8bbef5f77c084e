"""The STAC JSON schemas available offline, by ``$id``.

The core schemas (item, collection, catalog, and the GeoJSON ones they refer to)
ship inside pystac; extension schemas come from ``../shared/stac-schemas`` beside
the repository when present, else from the copies in ``satlearn/catalog/schemas``
(the extensions satlearn writes). Every schema is registered under its ``$id`` in
a ``referencing.Registry`` whose retrieve hook refuses to fetch anything, so a
validation never touches the network. Its own module because both the crawl
(which notes unknown extensions) and the validation use it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pystac.validation.local_validator import get_local_schema_cache
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

__all__ = ["SHARED_SCHEMAS", "schema_available", "schema_registry", "schemas"]

#: ``../shared/stac-schemas`` beside the repository (src/satlearn/catalog/ -> repo root).
SHARED_SCHEMAS = Path(__file__).resolve().parents[3].parent / "shared" / "stac-schemas"


def _schema_files() -> Iterator[dict[str, Any]]:
    packaged = importlib.resources.files("satlearn.catalog") / "schemas"
    roots: list[Any] = []
    if SHARED_SCHEMAS.is_dir():
        roots.append(SHARED_SCHEMAS)
    roots.append(packaged)
    for root in roots:
        for name_dir in sorted(root.iterdir(), key=lambda p: p.name):
            if not name_dir.is_dir():
                continue
            for version_dir in sorted(name_dir.iterdir(), key=lambda p: p.name):
                schema = version_dir / "schema.json"
                if schema.is_file():
                    yield json.loads(schema.read_text(encoding="utf-8"))


def _refuse(uri: str) -> Resource:
    # The retrieve hook: never fetch, so validation stays offline and deterministic.
    raise NoSuchResource(ref=uri)


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every schema available offline, by ``$id`` (without an empty fragment)."""
    found = dict(get_local_schema_cache())
    for schema in _schema_files():
        uri = schema.get("$id")
        if isinstance(uri, str):
            # Some $ids end in an empty fragment ("...schema.json#"); documents cite them without.
            found.setdefault(uri.rstrip("#"), schema)  # the shared copy (read first) wins
    return found


@functools.cache
def schema_registry() -> Registry:
    """A ``referencing.Registry`` of :func:`schemas` that never fetches."""
    return Registry(retrieve=_refuse).with_resources(  # type: ignore[call-arg]
        (uri, Resource.from_contents(schema)) for uri, schema in schemas().items()
    )


def schema_available(uri: str) -> bool:
    """True when the schema at ``uri`` can be checked offline.

    Examples
    --------
    >>> schema_available("https://stac-extensions.github.io/eo/v1.1.0/schema.json")
    True
    >>> schema_available("https://example.com/unknown/v1.0.0/schema.json")
    False
    """
    return uri.rstrip("#") in schemas()
