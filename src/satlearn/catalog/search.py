"""Search STAC items by bbox, geometry, datetime interval and CQL2-JSON filter.

A :class:`CatalogIndex` is built once from a catalogue (or a list of items): item
geometries go into a shapely ``STRtree`` (an R-tree over their bounding boxes, then
an exact intersection test), datetimes into numpy ``datetime64`` arrays, and
properties stay beside them, turned into typed numpy columns on first use. A query
then costs a tree look-up and a few vectorised comparisons, instead of re-reading
every item's JSON file as ``pystac.Catalog.get_items`` + a Python filter would.

Filters are a CQL2-JSON subset: ``=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``, ``in``,
``between``, ``isNull``, ``and``, ``or``, ``not``; literals are numbers, strings,
booleans, ``{"timestamp": ...}`` and ``{"date": ...}``. The parsed JSON is walked,
never evaluated as code. Comparisons follow CQL2's three-valued logic: a missing
property or a type mismatch is *unknown*, which neither matches nor, under ``not``,
turns into a match.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pystac
import shapely
from shapely.geometry import box, shape

from satlearn.errors import InvalidInputError

__all__ = [
    "CatalogIndex",
    "check_bbox",
    "parse_datetime_interval",
    "parse_instant",
    "parse_sortby",
]

_UTC = dt.UTC
_NAT = np.datetime64("NaT", "us")
_MISSING = object()

Interval = tuple[dt.datetime | None, dt.datetime | None]

# RFC 3339 section 5.6 date-time: a full date, "T", a full time and a mandatory
# offset ("Z" or +hh:mm); the fraction, when present, has at least one digit.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


# --------------------------------------------------------------------------- datetimes


def parse_instant(text: str, *, end: bool) -> dt.datetime:
    """One RFC 3339 instant (``Z`` or an offset; naive means UTC); a bare date is a day.

    A bare date at the end of an interval means the end of that day, which is what a
    person typing ``2021-01-01/2021-01-31`` means.
    """
    s = text.strip()
    try:
        if len(s) == 10:  # YYYY-MM-DD
            day = dt.date.fromisoformat(s)
            value = dt.datetime(day.year, day.month, day.day, tzinfo=_UTC)
            return value + dt.timedelta(days=1, microseconds=-1) if end else value
        value = dt.datetime.fromisoformat(s.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"datetime {text!r} is not an RFC 3339 date-time (e.g. 2021-06-01T10:30:00Z)"
        ) from None
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


def _instant(value: Any, *, end: bool, strict: bool = False) -> dt.datetime | None:
    if value is None or (isinstance(value, str) and value.strip() in ("", "..")):
        return None
    if strict and isinstance(value, str) and not _RFC3339.match(value.strip()):
        raise InvalidInputError(
            f"datetime {value!r} is not an RFC 3339 date-time with an offset "
            "(e.g. 2021-06-01T10:30:00Z)"
        )
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    if isinstance(value, dt.date):
        return parse_instant(value.isoformat(), end=end)
    if isinstance(value, str):
        return parse_instant(value, end=end)
    raise InvalidInputError(f"datetime {value!r} is neither a string nor a datetime")


def parse_datetime_interval(value: Any, *, strict: bool = False) -> Interval:
    """Parse a STAC ``datetime`` query into a closed UTC interval ``(start, end)``.

    Parameters
    ----------
    value : str, datetime, date or (start, end)
        ``"2021-06-01T00:00:00Z"`` (an instant), ``"2021-06-01/2021-06-30"``,
        ``"../2021-06-30T00:00:00Z"`` or ``"2021-06-01T00:00:00Z/.."`` (open ends), a
        bare date (the whole day), or a pair whose ends may be ``None`` / ``".."``.
    strict : bool
        Accept only what the STAC API spec accepts: RFC 3339 date-times with an
        offset (no bare dates, no naive times, no ``+0100``). The STAC API uses
        this; the library and the CLI keep the friendlier forms.

    Returns
    -------
    tuple of (datetime or None, datetime or None)
        Timezone-aware UTC bounds, ``None`` for an open end.

    Raises
    ------
    InvalidInputError
        Not RFC 3339, both ends open, or start after end.

    Examples
    --------
    >>> parse_datetime_interval("2021-06-01/..")[1] is None
    True
    """
    if isinstance(value, str):
        parts = value.split("/")
        if len(parts) == 1:
            start = _instant(parts[0], end=False, strict=strict)
            end = _instant(parts[0], end=True, strict=strict)
            if start is None:
                raise InvalidInputError(f"datetime {value!r} is empty")
            return start, end
        if len(parts) != 2:
            raise InvalidInputError(f"datetime interval {value!r} must be 'start/end'")
        raw = parts
    elif isinstance(value, dt.date):
        return _instant(value, end=False), _instant(value, end=True)
    elif isinstance(value, Sequence) and len(value) == 2:
        raw = list(value)
    else:
        raise InvalidInputError(f"datetime {value!r} is not an instant or a (start, end) pair")
    start = _instant(raw[0], end=False, strict=strict)
    end = _instant(raw[1], end=True, strict=strict)
    if start is None and end is None:
        raise InvalidInputError(f"datetime interval {value!r} is open at both ends")
    if start is not None and end is not None and start > end:
        raise InvalidInputError(f"datetime interval {value!r} ends before it starts")
    return start, end


def _to_datetime64(value: dt.datetime | None) -> np.datetime64:
    if value is None:
        return _NAT
    return np.datetime64(value.astimezone(_UTC).replace(tzinfo=None), "us")


def _property_datetime(value: Any) -> np.datetime64:
    if not isinstance(value, str):
        return _NAT
    try:
        return _to_datetime64(parse_instant(value, end=False))
    except InvalidInputError:
        return _NAT


# --------------------------------------------------------------------------- geometry


def check_bbox(bbox: Any, *, name: str = "bbox") -> list[float]:
    """A WGS84 bounding box as 4 (or 6) floats, refused when out of range.

    Parameters
    ----------
    bbox : sequence of float, or "W,S,E,N" text
        ``[west, south, east, north]`` (or ``[west, south, low, east, north, high]``);
        ``west > east`` crosses the antimeridian.
    name : str
        What to call it in an error (``--bbox`` at the CLI).

    Returns
    -------
    list of float

    Raises
    ------
    InvalidInputError
        Not 4 or 6 finite numbers, a longitude outside [-180, 180], a latitude
        outside [-90, 90], south > north, or low > high.

    Examples
    --------
    >>> check_bbox("170,-10,-170,10")  # across the antimeridian
    [170.0, -10.0, -170.0, 10.0]
    """
    parts = bbox.split(",") if isinstance(bbox, str) else bbox
    try:
        values = [float(v) for v in parts]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past 1e308
        raise InvalidInputError(
            f"{name} {bbox!r}: expected 4 (or 6) numbers WEST,SOUTH,EAST,NORTH"
        ) from None
    if len(values) not in (4, 6) or not all(np.isfinite(values)):
        raise InvalidInputError(f"{name} {bbox!r}: expected 4 (or 6) finite numbers")
    if len(values) == 6:  # 3D: minx, miny, minz, maxx, maxy, maxz
        west, south, low, east, north, high = values
        if low > high:
            raise InvalidInputError(f"{name} {bbox!r}: lowest height {low} > highest {high}")
    else:
        west, south, east, north = values
    for lon in (west, east):
        if not -180.0 <= lon <= 180.0:
            raise InvalidInputError(f"{name} {bbox!r}: longitude {lon} is outside [-180, 180]")
    for lat in (south, north):
        if not -90.0 <= lat <= 90.0:
            raise InvalidInputError(f"{name} {bbox!r}: latitude {lat} is outside [-90, 90]")
    if south > north:
        raise InvalidInputError(f"{name} {bbox!r}: south > north ({south} > {north})")
    return values


def _bbox_geometry(bbox: Sequence[float]) -> shapely.Geometry:
    values = check_bbox(bbox)
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    west, south, east, north = values
    if west > east:  # crosses the antimeridian (STAC / RFC 7946 convention)
        return shapely.union(box(west, south, 180.0, north), box(-180.0, south, east, north))
    return box(west, south, east, north)


def _query_geometry(intersects: Any) -> shapely.Geometry:
    if isinstance(intersects, shapely.Geometry):
        return intersects
    if isinstance(intersects, str):
        try:
            intersects = json.loads(intersects)
        except (ValueError, RecursionError) as err:  # also ints past 4300 digits, deep nesting
            raise InvalidInputError(
                f"intersects is not GeoJSON: {err or 'nested too deeply'}"
            ) from None
    if isinstance(intersects, Mapping) and intersects.get("type") == "Feature":
        intersects = intersects.get("geometry")
    try:
        geometry = shape(intersects)
    except Exception as err:  # shapely raises several types for bad GeoJSON
        raise InvalidInputError(f"intersects is not a GeoJSON geometry: {err}") from None
    if geometry.is_empty:
        raise InvalidInputError("intersects is an empty geometry")
    return geometry


def _item_geometry(item: pystac.Item) -> shapely.Geometry | None:
    if item.geometry is None:
        return None
    try:
        geometry = shape(item.geometry)
    except Exception:  # a broken geometry makes the item unfindable in space, not fatal
        return None
    return None if geometry.is_empty else geometry


# --------------------------------------------------------------------------- CQL2-JSON


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": np.equal,
    "<>": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}
_MIRROR = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_SUPPORTED = sorted([*_COMPARISONS, "in", "between", "isNull", "and", "or", "not"])


def _literal_kind(value: Any) -> str:
    """The column view a literal is compared against: number, string, bool or time."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping) and ("timestamp" in value or "date" in value):
        return "time"
    raise InvalidInputError(
        f"filter literal {value!r} is not a number, string, boolean, timestamp or date"
    )


def _literal_value(value: Any, kind: str) -> Any:
    if kind == "time":
        text = value.get("timestamp", value.get("date"))
        if not isinstance(text, str):
            raise InvalidInputError(f"filter literal {value!r} is not a timestamp string")
        return _to_datetime64(parse_instant(text, end=False))
    if kind == "number":
        return float(value)
    return value


class _Columns:
    """Item properties as typed numpy columns, built on first use and cached."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records
        self._cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def raw(self, name: str) -> np.ndarray:
        key = (name, "raw")
        if key not in self._cache:
            values = np.empty(len(self._records), dtype=object)
            values[:] = [r.get(name, _MISSING) for r in self._records]
            self._cache[key] = (values, np.ones(len(values), dtype=bool))
        return self._cache[key][0]

    def view(self, name: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """``(values, known)``: the column as ``kind``; ``known`` is False where it is not."""
        key = (name, kind)
        if key not in self._cache:
            raw = self.raw(name)
            if kind == "number":
                known = np.fromiter(
                    (isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw),
                    dtype=bool,
                    count=raw.size,
                )
                values = np.where(known, raw, np.nan).astype(np.float64)
                known &= ~np.isnan(values)
            elif kind == "string":
                known = np.fromiter((isinstance(v, str) for v in raw), dtype=bool, count=raw.size)
                values = np.where(known, raw, "")
            elif kind == "bool":
                known = np.fromiter((isinstance(v, bool) for v in raw), dtype=bool, count=raw.size)
                values = np.where(known, raw, False).astype(bool)
            else:  # time
                values = np.array([_property_datetime(v) for v in raw], dtype="datetime64[us]")
                known = ~np.isnat(values)
            self._cache[key] = (values, known)
        return self._cache[key]


def _property_name(node: Any) -> str | None:
    if isinstance(node, Mapping) and set(node) == {"property"}:
        name = node["property"]
        if not isinstance(name, str):
            raise InvalidInputError(f"filter property name {name!r} is not a string")
        return name.removeprefix("properties.")
    return None


class _FilterEvaluator:
    """Evaluates a parsed CQL2-JSON tree to ``(true, false)`` masks over all items."""

    def __init__(self, columns: _Columns, n: int) -> None:
        self.columns = columns
        self.n = n

    def __call__(self, node: Any) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(node, bool):
            return np.full(self.n, node), np.full(self.n, not node)
        if not isinstance(node, Mapping) or "op" not in node:
            raise InvalidInputError(f"filter node {node!r} is not a CQL2-JSON expression")
        op, args = node["op"], node.get("args")
        if not isinstance(op, str):
            raise InvalidInputError(f"filter operator {op!r} is not a string")
        if not isinstance(args, list):
            raise InvalidInputError(f"filter operator {op!r} needs an 'args' list")
        if op in ("and", "or"):
            if not args:
                raise InvalidInputError(f"filter operator {op!r} needs at least one argument")
            parts = [self(a) for a in args]
            t, f = parts[0]
            for pt, pf in parts[1:]:
                t, f = (t & pt, f | pf) if op == "and" else (t | pt, f & pf)
            return t, f
        if op == "not":
            self._arity(op, args, 1)
            t, f = self(args[0])
            return f, t
        if op == "isNull":
            self._arity(op, args, 1)
            name = self._need_property(op, args[0])
            raw = self.columns.raw(name)
            null = np.fromiter((v is _MISSING or v is None for v in raw), bool, count=raw.size)
            return null, ~null
        if op in _COMPARISONS:
            self._arity(op, args, 2)
            return self._compare(op, args[0], args[1])
        if op == "in":
            self._arity(op, args, 2)
            if not isinstance(args[1], list):
                raise InvalidInputError("filter operator 'in' needs a list as second argument")
            t = np.zeros(self.n, dtype=bool)
            known = np.zeros(self.n, dtype=bool)
            for value in args[1]:
                pt, pf = self._compare("=", args[0], value)
                t |= pt
                known |= pt | pf
            return t, known & ~t
        if op == "between":
            bounds = args[1:] if len(args) == 3 else (args[1] if len(args) == 2 else None)
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                raise InvalidInputError("filter operator 'between' needs [value, lower, upper]")
            return self({"op": "and", "args": [
                {"op": ">=", "args": [args[0], bounds[0]]},
                {"op": "<=", "args": [args[0], bounds[1]]},
            ]})  # fmt: skip
        raise InvalidInputError(
            f"unsupported CQL2 operator {op!r} (supported: {', '.join(_SUPPORTED)})"
        )

    @staticmethod
    def _arity(op: str, args: list[Any], n: int) -> None:
        if len(args) != n:
            raise InvalidInputError(
                f"filter operator {op!r} takes {n} argument(s), got {len(args)}"
            )

    @staticmethod
    def _need_property(op: str, node: Any) -> str:
        name = _property_name(node)
        if name is None:
            raise InvalidInputError(f"filter operator {op!r} needs a {{'property': ...}} argument")
        return name

    def _compare(self, op: str, left: Any, right: Any) -> tuple[np.ndarray, np.ndarray]:
        lname, rname = _property_name(left), _property_name(right)
        if lname is None and rname is not None:
            return self._compare(_MIRROR[op], right, left)
        func = _COMPARISONS[op]
        if lname is None:  # literal against literal: the same answer for every item
            kind = _literal_kind(left)
            if right is None or _literal_kind(right) != kind:
                return np.zeros(self.n, bool), np.zeros(self.n, bool)
            value = bool(func(_literal_value(left, kind), _literal_value(right, kind)))
            return np.full(self.n, value), np.full(self.n, not value)
        if rname is not None:  # property against property: per kind, both sides known
            t = np.zeros(self.n, dtype=bool)
            f = np.zeros(self.n, dtype=bool)
            for kind in ("number", "string", "bool", "time"):
                lv, lk = self.columns.view(lname, kind)
                rv, rk = self.columns.view(rname, kind)
                both = lk & rk
                if op not in ("=", "<>") and kind == "bool":
                    continue
                result = np.asarray(func(lv, rv), dtype=bool)
                t |= both & result
                f |= both & ~result
            return t, f
        if right is None:  # a comparison with null is unknown, as in SQL
            return np.zeros(self.n, bool), np.zeros(self.n, bool)
        kind = _literal_kind(right)
        if kind == "bool" and op not in ("=", "<>"):
            raise InvalidInputError(f"filter operator {op!r} does not order booleans")
        values, known = self.columns.view(lname, kind)
        result = np.asarray(func(values, _literal_value(right, kind)), dtype=bool)
        return known & result, known & ~result


def _parse_filter(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError) as err:  # also ints past 4300 digits, deep nesting
            raise InvalidInputError(
                f"filter is not CQL2-JSON: {err or 'nested too deeply'}"
            ) from None
    return value


# --------------------------------------------------------------------------- sorting


def parse_sortby(value: Any) -> list[tuple[str, bool]]:
    """Sort keys ``[(field, descending), ...]`` from a STAC API ``sortby``.

    Parameters
    ----------
    value : str or list
        GET form ``"-properties.eo:cloud_cover,+id"`` (``+`` or nothing ascending,
        ``-`` descending), or POST form ``[{"field": ..., "direction": "asc"|"desc"}]``.
        Fields are ``id``, ``collection``, ``datetime`` or properties (with or
        without the ``properties.`` prefix).

    Examples
    --------
    >>> parse_sortby("-properties.eo:cloud_cover,id")
    [('eo:cloud_cover', True), ('id', False)]
    """
    keys: list[tuple[str, bool]] = []
    if isinstance(value, str):
        for part in value.split(","):
            # A "+" in a query string arrives as a space unless the client escaped it.
            text = part.strip()
            descending = text.startswith("-")
            field = text.lstrip("+-").strip()
            if not field:
                raise InvalidInputError(f"sortby {value!r} has an empty field")
            keys.append((field, descending))
    elif isinstance(value, list):
        for entry in value:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
                raise InvalidInputError(f"sortby entry {entry!r} needs a 'field' string")
            direction = str(entry.get("direction", "asc")).lower()
            if direction not in ("asc", "desc"):
                raise InvalidInputError(
                    f"sortby direction {entry.get('direction')!r} is not 'asc' or 'desc'"
                )
            keys.append((entry["field"], direction == "desc"))
    else:
        raise InvalidInputError(f"sortby {value!r} is neither a string nor a list")
    out = []
    for field, descending in keys:
        name = field.removeprefix("properties.")
        if not name:
            raise InvalidInputError(f"sortby {value!r} has an empty field")
        out.append((name, descending))
    return out


# --------------------------------------------------------------------------- the index


def _item_interval(item: pystac.Item) -> tuple[np.datetime64, np.datetime64, np.datetime64]:
    """``(sort key, start, end)`` of an item; NaT where the item carries no time."""
    # pystac keeps ``datetime`` out of ``properties`` (as ``item.datetime``).
    instant = _to_datetime64(_instant(item.datetime, end=False))
    start = _to_datetime64(_instant(item.common_metadata.start_datetime, end=False))
    end = _to_datetime64(_instant(item.common_metadata.end_datetime, end=True))
    if np.isnat(start) or np.isnat(end):
        start = end = instant
    return (instant if not np.isnat(instant) else start), start, end


class CatalogIndex:
    """An in-memory search index over STAC items, built once and queried many times.

    Parameters
    ----------
    items : iterable of pystac.Item
        The items to index (their order does not matter: results are ordered by
        datetime, then id).
    collections : iterable of pystac.Collection, optional
        The collections the items belong to, returned by :meth:`collections`.

    Examples
    --------
    >>> index = CatalogIndex.from_catalog("catalog/catalog.json")  # doctest: +SKIP
    >>> items = index.search(bbox=[12.0, 41.0, 13.0, 42.0], datetime="2021-06-01/..",
    ...                      filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]})
    ... # doctest: +SKIP
    """

    def __init__(
        self,
        items: Iterable[pystac.Item],
        *,
        collections: Iterable[pystac.Collection] = (),
    ) -> None:
        self._items: list[pystac.Item] = list(items)
        self._collections = {c.id: c for c in collections}
        n = len(self._items)
        self._ids = np.array([it.id for it in self._items], dtype=object)
        self._collection_ids = np.array(
            [it.collection_id for it in self._items] or [], dtype=object
        )
        times = [_item_interval(it) for it in self._items]
        self._sort_time = np.array([t[0] for t in times], dtype="datetime64[us]").reshape(n)
        self._start = np.array([t[1] for t in times], dtype="datetime64[us]").reshape(n)
        self._end = np.array([t[2] for t in times], dtype="datetime64[us]").reshape(n)
        # Stable order: by datetime then id; items without time go last.
        key = np.where(
            np.isnat(self._sort_time),
            np.iinfo(np.int64).max,
            self._sort_time.astype(np.int64),
        )
        self._order = np.lexsort((self._ids.astype(str), key)) if n else np.zeros(0, np.intp)
        self._rank = np.empty(n, dtype=np.intp)
        self._rank[self._order] = np.arange(n)

        geometries = [_item_geometry(it) for it in self._items]
        self._has_geometry = np.array([g is not None for g in geometries], dtype=bool).reshape(n)
        self._tree_items = np.flatnonzero(self._has_geometry)
        self._tree = shapely.STRtree([geometries[i] for i in self._tree_items])

        records = []
        for it in self._items:
            record = dict(it.properties)
            if it.datetime is not None:
                record["datetime"] = pystac.utils.datetime_to_str(it.datetime)
            record["id"] = it.id
            record["collection"] = it.collection_id
            records.append(record)
        self._columns = _Columns(records)

    # -- construction

    @classmethod
    def from_items(cls, items: Iterable[pystac.Item]) -> CatalogIndex:
        """Index a sequence of items (e.g. built in memory or read elsewhere).

        Examples
        --------
        >>> CatalogIndex.from_items([]).search()
        []
        """
        return cls(items)

    @classmethod
    def from_catalog(
        cls,
        catalog: pystac.Catalog | str | os.PathLike[str],
        *,
        strict: bool = True,
    ) -> CatalogIndex:
        """Index every item under a catalogue (a ``pystac.Catalog``, a path or a URL).

        Parameters
        ----------
        catalog : pystac.Catalog, path or URL
            A catalogue object, or the href of its ``catalog.json`` (or of its folder).
        strict : bool
            For a path or URL: raise :class:`~satlearn.catalog.CatalogError` on the
            first broken link or file (default), or skip broken branches (see
            :func:`~satlearn.catalog.crawl`).

        Examples
        --------
        >>> index = CatalogIndex.from_catalog("out/catalog")  # doctest: +SKIP
        """
        if isinstance(catalog, pystac.Catalog):
            collections = list(catalog.get_all_collections())
            if isinstance(catalog, pystac.Collection):
                collections.insert(0, catalog)
            return cls(catalog.get_items(recursive=True), collections=collections)
        from satlearn.catalog.crawl import crawl

        result = crawl(catalog, strict=strict)
        return cls(result.items, collections=result.collections)

    # -- inspection

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[pystac.Item]:
        """Every indexed item, in search order (datetime, then id)."""
        return [self._items[i] for i in self._order]

    def collection_ids(self) -> list[str]:
        """The ids of the collections that hold at least one item, plus known ones, sorted."""
        ids = {c for c in self._collection_ids if c is not None} | set(self._collections)
        return sorted(ids)

    def collections(self) -> list[pystac.Collection]:
        """The collections of the indexed items, sorted by id.

        The catalogue's own ``pystac.Collection`` objects where they are known (an
        index built by :meth:`from_catalog`); for an index built from bare items, a
        collection is made per ``item.collection_id`` with extents computed from its
        items.
        """
        out = []
        for cid in self.collection_ids():
            known = self._collections.get(cid)
            out.append(known if known is not None else self._make_collection(cid))
        return out

    def _make_collection(self, cid: str) -> pystac.Collection:
        members = np.flatnonzero(self._collection_ids == cid)
        bounds = [
            self._tree.geometries[j].bounds
            for j in np.flatnonzero(np.isin(self._tree_items, members))
        ]
        bbox = (
            [
                min(b[0] for b in bounds),
                min(b[1] for b in bounds),
                max(b[2] for b in bounds),
                max(b[3] for b in bounds),
            ]
            if bounds
            else [-180.0, -90.0, 180.0, 90.0]
        )
        starts = self._start[members][~np.isnat(self._start[members])]
        ends = self._end[members][~np.isnat(self._end[members])]
        first = starts.min().item().replace(tzinfo=_UTC) if starts.size else None
        last = ends.max().item().replace(tzinfo=_UTC) if ends.size else None
        return pystac.Collection(
            id=cid,
            description=f"Items of collection {cid}",
            extent=pystac.Extent(
                pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[first, last]])
            ),
            license="other",
        )

    # -- queries

    def match(
        self,
        *,
        bbox: Sequence[float] | None = None,
        intersects: Any = None,
        datetime: Any = None,
        filter: Any = None,
        collections: Sequence[str] | str | None = None,
        ids: Sequence[str] | str | None = None,
        sortby: Any = None,
    ) -> np.ndarray:
        """Positions (in :attr:`items` order) of every item matching the query.

        Same parameters as :meth:`search`; ``len(index.match(...))`` is the number
        matched, which a STAC API reports beside a page of results. The positions
        come in result order: :attr:`items` order, or ``sortby``'s.
        """
        n = len(self._items)
        mask = np.ones(n, dtype=bool)
        if ids is not None:
            mask &= np.isin(self._ids, [ids] if isinstance(ids, str) else list(ids))
        if collections is not None:
            wanted = [collections] if isinstance(collections, str) else list(collections)
            mask &= np.isin(self._collection_ids, wanted)
        if datetime is not None:
            start, end = parse_datetime_interval(datetime)
            known = ~np.isnat(self._start)
            mask &= known
            if start is not None:
                mask &= np.where(known, self._end >= _to_datetime64(start), False)
            if end is not None:
                mask &= np.where(known, self._start <= _to_datetime64(end), False)
        if bbox is not None or intersects is not None:
            if bbox is not None and intersects is not None:
                raise InvalidInputError("give bbox or intersects, not both")
            query = _bbox_geometry(bbox) if bbox is not None else _query_geometry(intersects)
            hits = self._tree.query(query, predicate="intersects")
            spatial = np.zeros(n, dtype=bool)
            spatial[self._tree_items[hits]] = True
            mask &= spatial
        if filter is not None:
            try:
                true, _ = _FilterEvaluator(self._columns, n)(_parse_filter(filter))
            except RecursionError:  # the evaluator recurses once per level of the tree
                raise InvalidInputError("filter is nested too deeply") from None
            mask &= true
        positions = np.sort(self._rank[mask])
        if sortby is not None:
            positions = self._sorted(positions, parse_sortby(sortby))
        return positions

    def _sort_key(self, name: str, descending: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(missing, key)`` per item (item order): int64 keys, missing ones last."""
        if name == "datetime":
            missing = np.isnat(self._sort_time)
            key = np.where(missing, 0, self._sort_time.astype(np.int64))
        else:
            numbers, known = self._columns.view(name, "number")
            if known.any():
                missing = ~known
                # Ranks, not the floats themselves: one int64 key for every kind.
                key = np.unique(np.where(known, numbers, 0.0), return_inverse=True)[1]
            else:
                strings, known = self._columns.view(name, "string")
                missing = ~known
                key = np.unique(strings.astype(str), return_inverse=True)[1]
        key = key.astype(np.int64)
        return missing, (-key if descending else key)

    def _sorted(self, positions: np.ndarray, keys: list[tuple[str, bool]]) -> np.ndarray:
        if positions.size < 2 or not keys:
            return positions
        items = self._order[positions]
        columns: list[np.ndarray] = [positions]  # last tie-break: datetime, then id
        for name, descending in reversed(keys):
            missing, key = self._sort_key(name, descending)
            columns += [key[items], missing[items]]  # missing is the more significant
        return positions[np.lexsort(columns)]

    def search(
        self,
        *,
        bbox: Sequence[float] | None = None,
        intersects: Any = None,
        datetime: Any = None,
        filter: Any = None,
        collections: Sequence[str] | str | None = None,
        ids: Sequence[str] | str | None = None,
        sortby: Any = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[pystac.Item]:
        """Items matching every given criterion, ordered by datetime then id.

        Parameters
        ----------
        bbox : sequence of float, optional
            ``[west, south, east, north]`` in WGS84 (or 6 numbers with heights);
            ``west > east`` crosses the antimeridian. Matches items whose geometry
            intersects it.
        intersects : GeoJSON dict, JSON string or shapely geometry, optional
            Matches items whose geometry intersects it (exclusive with ``bbox``).
        datetime : str, datetime or (start, end), optional
            An instant or closed interval (see :func:`parse_datetime_interval`);
            matches items whose datetime, or ``start_datetime``..``end_datetime``
            range, overlaps it.
        filter : dict or JSON string, optional
            A CQL2-JSON expression over item properties (plus ``id`` and
            ``collection``).
        collections, ids : sequence of str, optional
            Keep items of these collections / with these ids.
        sortby : str or list, optional
            Result order instead of datetime-then-id (see :func:`parse_sortby`);
            items missing a sort field come last, ties keep datetime-then-id.
        limit, offset : int, optional
            Page through the ordered results.

        Returns
        -------
        list of pystac.Item
            The indexed item objects themselves (not copies).

        Raises
        ------
        InvalidInputError
            A malformed bbox, geometry, datetime or filter.

        Examples
        --------
        >>> index.search(bbox=[12, 41, 13, 42], limit=10)  # doctest: +SKIP
        """
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInputError(f"limit {limit} and offset {offset} must be >= 0")
        positions = self.match(
            bbox=bbox,
            intersects=intersects,
            datetime=datetime,
            filter=filter,
            collections=collections,
            ids=ids,
            sortby=sortby,
        )
        stop = None if limit is None else offset + limit
        return [self._items[self._order[p]] for p in positions[offset:stop]]
