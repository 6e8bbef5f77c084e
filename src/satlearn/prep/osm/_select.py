"""Which OSM features become which training class: a YAML mapping of tags to classes.

A classes file lists the classes in burn order (a later class is burned over
an earlier one where they overlap), each with the tags that select it::

    classes:
      - name: landuse
        tags: {landuse: [farmland, meadow]}
      - name: water
        tags: {natural: water, waterway: [riverbank, river, canal]}
        width_m: {river: 20, canal: 10, default: 5}   # waterway lines, buffered
      - name: road
        tags: {highway: "*"}
        width_m: {motorway: 24, primary: 12, residential: 7, default: 5}
      - name: building
        tags: {building: "*"}
        instances: true      # also burned as instance ids (the default for buildings)

``tags`` maps an OSM key to ``"*"`` (any value), one value or a list of
values; a feature matching any of the keys belongs to the class. Areas
(closed ways, multipolygons) are burned as polygons; lines are buffered by
``width_m`` (a number, or per value of the matched key with a ``default``)
and skipped when the class gives no width. Class ids are 1..n in file order
unless ``id`` is given; 0 is background and 255 the ignore value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from satlearn.errors import InvalidInputError
from satlearn.prep.labels import Feature

__all__ = ["DEFAULT_CLASSES", "IGNORE", "SELECTABLE_KEYS", "OsmClass", "OsmClasses", "load_classes"]

#: The OSM tag keys a class may select on.
SELECTABLE_KEYS = ("building", "highway", "landuse", "natural", "waterway")
#: Target value of ignored pixels (near a label edge with ``edge_ignore_px``).
IGNORE = 255
_FIELDS = {"name", "tags", "width_m", "instances", "id"}

#: Buildings, roads with typical carriageway widths per highway class, water.
DEFAULT_CLASSES: dict[str, Any] = {
    "classes": [
        {"name": "water", "tags": {"natural": "water", "waterway": ["riverbank", "river", "canal"]},
         "width_m": {"river": 20.0, "canal": 10.0, "default": 5.0}},
        {"name": "road", "tags": {"highway": "*"},
         "width_m": {"motorway": 24.0, "trunk": 20.0, "primary": 14.0, "secondary": 12.0,
                     "tertiary": 10.0, "residential": 7.0, "unclassified": 6.0,
                     "service": 4.0, "track": 3.0, "footway": 2.0, "path": 1.5,
                     "default": 5.0}},
        {"name": "building", "tags": {"building": "*"}},
    ]
}  # fmt: skip


@dataclass(frozen=True)
class OsmClass:
    """One training class: its id, the tags that select it, line widths, instances."""

    name: str
    id: int
    tags: Mapping[str, tuple[str, ...] | None]  # None: any value
    width_m: Mapping[str, float] | float | None = None
    instances: bool = False

    def matched_key(self, tags: Mapping[str, Any]) -> str | None:
        """The first of the class's keys these tags match, None when none does."""
        for key, values in self.tags.items():
            value = tags.get(key)
            if value is None or value == "no":
                continue
            if values is None or str(value) in values:
                return key
        return None

    def width_for(self, tags: Mapping[str, Any]) -> float | None:
        """Buffer width in metres of a line with these tags (None: lines are not burned)."""
        if self.width_m is None:
            return None
        if isinstance(self.width_m, float):
            return self.width_m
        key = self.matched_key(tags)
        value = str(tags.get(key, "")) if key else ""
        return self.width_m.get(value, self.width_m.get("default"))


@dataclass(frozen=True)
class OsmClasses:
    """The classes of a mapping, in burn order, with the names by id."""

    classes: tuple[OsmClass, ...]
    source: str = "classes"

    @property
    def keys(self) -> list[str]:
        """Every OSM key some class selects on (what the reader keeps)."""
        return sorted({k for c in self.classes for k in c.tags})

    @property
    def names(self) -> list[str]:
        """Class names by id: ``names[0] == "background"``, unused ids ``""``."""
        out = ["background"] + [""] * max(c.id for c in self.classes)
        for c in self.classes:
            out[c.id] = c.name
        return out

    def select(self, features: Sequence[Feature]) -> list[tuple[OsmClass, Feature]]:
        """Each feature with the last class (in burn order) whose tags it matches."""
        out = []
        for f in features:
            tags = f.get("properties") or {}
            match = None
            for c in self.classes:
                if c.matched_key(tags) is not None:
                    match = c
            if match is not None:
                out.append((match, f))
        return out


def _values(where: str, key: str, value: Any) -> tuple[str, ...] | None:
    if value == "*" or value is True:
        return None
    if isinstance(value, str | int | float):
        return (str(value),)
    if isinstance(value, Sequence) and value and all(isinstance(v, str | int) for v in value):
        return tuple(str(v) for v in value)
    raise InvalidInputError(f"{where}: tags.{key} must be '*', a value or a list of values")


def _width(where: str, value: Any) -> Mapping[str, float] | float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        widths: Any = float(value)
        checked = [widths]
    elif isinstance(value, Mapping):
        widths = {str(k): float(v) for k, v in value.items()}
        checked = list(widths.values())
    else:
        raise InvalidInputError(f"{where}: width_m must be metres, or a mapping value -> metres")
    if not all(w > 0 for w in checked):
        raise InvalidInputError(f"{where}: width_m values must be > 0 metres")
    return widths


def _parse(data: Any, source: str) -> OsmClasses:
    if isinstance(data, Mapping) and "classes" in data:
        extra = set(data) - {"classes"}
        if extra:
            raise InvalidInputError(
                f"{source}: unknown key {sorted(extra)[0]!r} (expected 'classes')"
            )
        data = data["classes"]
    if isinstance(data, Mapping):  # name -> spec
        data = [{"name": name, **(spec or {})} for name, spec in data.items()]
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise InvalidInputError(f"{source}: expected a list of classes under 'classes'")
    classes, used = [], set()
    for i, spec in enumerate(data):
        if not isinstance(spec, Mapping):
            raise InvalidInputError(f"{source}: class {i} is not a mapping")
        name = str(spec.get("name") or f"class {i + 1}")
        where = f"{source}: class {name!r}"
        unknown = set(spec) - _FIELDS
        if unknown:
            raise InvalidInputError(
                f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_FIELDS))})"
            )
        tags = spec.get("tags")
        if not isinstance(tags, Mapping) or not tags:
            raise InvalidInputError(f"{where}: 'tags' must map OSM keys to values")
        for key in tags:
            if key not in SELECTABLE_KEYS:
                raise InvalidInputError(
                    f"{where}: unknown tag key {key!r} (selectable: {', '.join(SELECTABLE_KEYS)})"
                )
        class_id = int(spec.get("id", i + 1))
        if not 1 <= class_id < IGNORE or class_id in used:
            raise InvalidInputError(f"{where}: id {class_id} must be unique, in 1..{IGNORE - 1}")
        used.add(class_id)
        classes.append(
            OsmClass(
                name=name,
                id=class_id,
                tags={str(k): _values(where, str(k), v) for k, v in tags.items()},
                width_m=_width(where, spec.get("width_m")),
                instances=bool(spec.get("instances", "building" in tags)),
            )
        )
    return OsmClasses(tuple(classes), source)


def load_classes(
    classes: str | os.PathLike[str] | Mapping[str, Any] | OsmClasses | None,
) -> OsmClasses:
    """The class mapping from a YAML file, a parsed mapping, or the default.

    Raises
    ------
    InvalidInputError
        A missing or invalid file, an unknown key, an OSM tag key that is not
        in :data:`SELECTABLE_KEYS`, a bad width or a duplicate id.

    Examples
    --------
    >>> load_classes(None).names
    ['background', 'water', 'road', 'building']
    """
    if isinstance(classes, OsmClasses):
        return classes
    if classes is None:
        return _parse(DEFAULT_CLASSES, "default classes")
    if isinstance(classes, Mapping):
        return _parse(classes, "classes")
    import yaml

    path = Path(os.fspath(classes))
    if not path.is_file():
        raise InvalidInputError(f"{path}: classes file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InvalidInputError(f"{path}: not valid YAML ({err})") from err
    return _parse(data, str(path))
