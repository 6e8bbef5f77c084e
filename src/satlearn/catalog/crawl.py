"""Read and crawl a static STAC catalogue from a local path or over HTTP(S).

:func:`crawl` walks ``child`` and ``item`` links from the root, reading each JSON
document once. A broken branch (a link that 404s, a missing file, invalid JSON,
something that is not STAC, an item without geometry) is reported as a
:class:`CrawlProblem` and skipped; the crawl goes on and says how many it skipped.
With ``strict=True`` the first such problem raises
:class:`~satlearn.catalog.CatalogError` naming the object and the link.

pystac's own lazy link resolution raises on the first bad link deep inside an
iterator, with no way to skip it; hence this explicit walk (pystac still parses
every object, with ``from_dict``).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
from pystac.utils import make_absolute_href

from satlearn.catalog.schema_store import schema_available
from satlearn.errors import CatalogError

__all__ = ["CrawlProblem", "CrawlResult", "crawl", "read_catalog", "read_json"]

_TIMEOUT_S = 30.0
_REMOTE_WORKERS = 8


@dataclass(frozen=True)
class CrawlProblem:
    """One thing wrong in a catalogue.

    Attributes
    ----------
    href : str
        The document at fault (or the link target that could not be read).
    problem : str
        What is wrong, in words.
    parent : str or None
        The document whose link led here.
    rel : str or None
        The relation of that link (``child``, ``item``).
    object_id : str or None
        The STAC id of the object, when it could be read.
    skipped : bool
        True when the object (and everything below it) was left out; False for a
        note that did not stop it being read (e.g. an unknown extension).
    """

    href: str
    problem: str
    parent: str | None = None
    rel: str | None = None
    object_id: str | None = None
    skipped: bool = True

    def __str__(self) -> str:
        what = f"{self.object_id!r} ({self.href})" if self.object_id else self.href
        via = f" [{self.rel} link from {self.parent}]" if self.parent else ""
        return f"{what}: {self.problem}{via}"


@dataclass
class CrawlResult:
    """What a crawl found: the root, every readable collection and item, and the problems."""

    root: pystac.Catalog | None
    items: list[pystac.Item] = field(default_factory=list)
    collections: list[pystac.Collection] = field(default_factory=list)
    problems: list[CrawlProblem] = field(default_factory=list)
    #: href -> the JSON document as read (only with ``crawl(..., keep_json=True)``).
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        """How many documents (with everything below them) were skipped."""
        return sum(p.skipped for p in self.problems)

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return self.skipped == 0

    def summary(self) -> str:
        """One line: counts of collections, items and skipped branches."""
        return (
            f"{len(self.collections)} collection(s), {len(self.items)} item(s), "
            f"{self.skipped} broken branch(es) skipped"
        )


def _is_url(href: str) -> bool:
    return href.startswith(("http://", "https://"))


def _root_href(href: str | os.PathLike[str]) -> str:
    text = os.fspath(href)
    if _is_url(text):
        return text + "catalog.json" if text.endswith("/") else text
    path = Path(text)
    if path.is_dir():
        path = path / "catalog.json"
    return str(path.resolve())


def read_json(href: str) -> dict[str, Any]:
    """Read one JSON document from a path or an http(s) URL.

    Raises
    ------
    CatalogError
        The document cannot be read, or is not a JSON object; the message names it.
    """
    try:
        if _is_url(href):
            with urllib.request.urlopen(href, timeout=_TIMEOUT_S) as response:
                text = response.read().decode("utf-8")
        else:
            text = Path(href).read_text(encoding="utf-8")
    except urllib.error.HTTPError as err:
        err.close()  # it holds the response's socket
        raise CatalogError(f"{href}: cannot read (HTTP {err.code} {err.reason})") from None
    except urllib.error.URLError as err:
        raise CatalogError(f"{href}: cannot read ({err.reason})") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise CatalogError(f"{href}: cannot read ({reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CatalogError(f"{href}: invalid JSON ({err})") from None
    except RecursionError:  # the json module recurses once per nesting level
        raise CatalogError(f"{href}: invalid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{href}: not a JSON object")
    return data


def _parse(data: dict[str, Any], href: str) -> pystac.STACObject:
    kind = data.get("type")
    object_id = data.get("id")
    label = f"{object_id!r} ({href})" if isinstance(object_id, str) else href
    if kind in ("Feature", "Collection", "Catalog") and not isinstance(object_id, str):
        raise CatalogError(f"{label}: not a valid STAC {kind}: missing field 'id'")
    try:
        if kind == "Feature":
            obj: pystac.STACObject = pystac.Item.from_dict(data, href=href, migrate=False)
        elif kind == "Collection":
            obj = pystac.Collection.from_dict(data, href=href, migrate=False)
        elif kind == "Catalog":
            obj = pystac.Catalog.from_dict(data, href=href, migrate=False)
        else:
            raise CatalogError(f"{label}: not a STAC object (type {kind!r})")
    except CatalogError:
        raise
    except Exception as err:  # pystac raises KeyError, TypeError, ValueError, STACError
        detail = f"missing field {err}" if isinstance(err, KeyError) else str(err)
        raise CatalogError(f"{label}: not a valid STAC {kind}: {detail}") from None
    obj.set_self_href(href)
    if isinstance(obj, pystac.Item) and (data.get("geometry") is None):
        raise CatalogError(f"{label}: item has no geometry, so it cannot be found in space")
    return obj


def _load(href: str) -> tuple[pystac.STACObject, dict[str, Any]]:
    data = read_json(href)
    return _parse(data, href), data


def read_catalog(href: str | os.PathLike[str]) -> pystac.Catalog:
    """Read the root of a static catalogue strictly (a path, folder or URL).

    Returns the ``pystac.Catalog`` (or ``Collection``) whose links pystac resolves
    lazily; to read everything below with error reporting, use :func:`crawl`.

    Raises
    ------
    CatalogError
        The root cannot be read, is not JSON or not a STAC catalogue/collection.

    Examples
    --------
    >>> root = read_catalog("out/catalog")  # doctest: +SKIP
    """
    return _read_root(_root_href(href))[0]


def _read_root(href: str) -> tuple[pystac.Catalog, dict[str, Any]]:
    obj, data = _load(href)
    if not isinstance(obj, pystac.Catalog):
        raise CatalogError(f"{obj.id!r} ({href}): is an item, not a catalogue or collection")
    return obj, data


def _extension_notes(obj: pystac.STACObject, href: str) -> list[CrawlProblem]:
    notes = []
    for uri in obj.stac_extensions or []:
        if not schema_available(uri):
            notes.append(
                CrawlProblem(
                    href,
                    f"unknown extension {uri!r} (no schema available offline); read anyway",
                    object_id=obj.id,
                    skipped=False,
                )
            )
    return notes


def crawl(
    catalog: pystac.Catalog | str | os.PathLike[str],
    *,
    strict: bool = False,
    keep_json: bool = False,
) -> CrawlResult:
    """Read every collection and item below a static catalogue, skipping broken branches.

    Parameters
    ----------
    catalog : path, URL or pystac.Catalog
        ``catalog.json`` (or its folder), an ``http(s)://`` URL, or a catalogue
        object read earlier (crawled from its self href).
    strict : bool
        Raise :class:`~satlearn.catalog.CatalogError` on the first broken branch
        instead of reporting it.
    keep_json : bool
        Keep every document's JSON as read, in ``result.documents`` (for validation).

    Returns
    -------
    CrawlResult
        ``items``, ``collections``, ``problems`` (each naming the document, the
        problem and the link that led there) and ``skipped`` (their count).

    Raises
    ------
    CatalogError
        The root itself is unreadable, or ``strict`` and anything is broken.

    Examples
    --------
    >>> result = crawl("https://example.com/catalog.json")  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    2 collection(s), 118 item(s), 1 broken branch(es) skipped
    """
    if isinstance(catalog, pystac.Catalog):
        self_href = catalog.get_self_href()
        if self_href is None:
            raise CatalogError(
                f"catalogue {catalog.id!r} has no self href (save it, or pass its path)"
            )
        catalog = self_href
    root, root_data = _read_root(_root_href(catalog))
    result = CrawlResult(root=root)
    if keep_json:
        result.documents[root.self_href] = root_data
    result.problems += _extension_notes(root, root.self_href)
    if isinstance(root, pystac.Collection):
        result.collections.append(root)
    seen = {root.self_href}
    pending: list[pystac.Catalog] = [root]
    while pending:
        parent = pending.pop(0)
        links = []
        for link in parent.links:
            if link.rel not in ("child", "item"):
                continue
            target = make_absolute_href(link.href, parent.self_href)
            if target in seen:
                continue
            seen.add(target)
            links.append((link.rel, target))
        for (rel, target), outcome in zip(links, _load_all([t for _, t in links]), strict=True):
            if isinstance(outcome, CatalogError):
                problem = CrawlProblem(
                    target,
                    str(outcome).removeprefix(f"{target}: "),
                    parent=parent.self_href,
                    rel=rel,
                )
                if strict:
                    raise CatalogError(str(problem))
                result.problems.append(problem)
                continue
            loaded, data = outcome
            wrong_kind = (rel == "item") != isinstance(loaded, pystac.Item)
            if wrong_kind:
                problem = CrawlProblem(
                    target,
                    f"an {rel} link points to a {type(loaded).__name__}",
                    parent=parent.self_href,
                    rel=rel,
                    object_id=loaded.id,
                )
                if strict:
                    raise CatalogError(str(problem))
                result.problems.append(problem)
                continue
            result.problems += _extension_notes(loaded, target)
            if keep_json:
                result.documents[target] = data
            if isinstance(loaded, pystac.Item):
                result.items.append(loaded)
            elif isinstance(loaded, pystac.Catalog):
                if isinstance(loaded, pystac.Collection):
                    result.collections.append(loaded)
                pending.append(loaded)
    return result


_Outcome = tuple[pystac.STACObject, dict[str, Any]] | CatalogError


def _try_load(href: str) -> _Outcome:
    try:
        return _load(href)
    except CatalogError as err:
        return err


def _load_all(hrefs: list[str]) -> list[_Outcome]:
    # Over HTTP, item documents are small and latency-bound: read a few at a time.
    if len(hrefs) > 1 and _is_url(hrefs[0]):
        with ThreadPoolExecutor(max_workers=_REMOTE_WORKERS) as pool:
            return list(pool.map(_try_load, hrefs))
    return [_try_load(h) for h in hrefs]
