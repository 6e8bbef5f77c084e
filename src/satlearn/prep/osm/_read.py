"""OpenStreetMap extracts read offline as GeoJSON Feature dicts in WGS 84.

Three formats: ``.osm.pbf`` and ``.osm`` XML (also ``.osm.bz2``/``.osm.gz``,
``.o5m``) through osmium (libosmium's binding, which assembles multipolygon
relations into areas), and the JSON an Overpass API query returns
(``[out:json]``, with ``out geom`` or with the nodes included) or a GeoJSON
export (osmtogeojson, QuickOSM, Overpass turbo).

Every feature keeps its OSM tags as properties and its OSM identity as the
feature's ``id`` (``"way/42"``, ``"relation/7"``). A closed way is an area
unless its tags make it a line (a ``highway`` ring such as a roundabout, a
``waterway=river`` loop, ``barrier``, ``railway``), following the OSM
area convention (``area=yes`` / ``area=no`` override it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely

from satlearn.errors import DatasetError
from satlearn.prep.labels import Feature

__all__ = ["OSM_SUFFIXES", "OsmExtract", "is_area", "read_osm"]

#: File endings osmium reads.
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m")

# Keys whose closed ways are lines unless tagged area=yes (the OSM area convention).
_LINE_KEYS = frozenset({"highway", "barrier", "railway", "waterway", "power"})
# waterway values that are areas when closed.
_AREA_WATERWAYS = frozenset({"riverbank", "dock", "boatyard"})


def is_area(tags: Any, closed: bool) -> bool:
    """Whether a way with these tags is an area (OSM's convention).

    Examples
    --------
    >>> is_area({"building": "yes"}, True), is_area({"highway": "primary"}, True)
    (True, False)
    """
    if not closed:
        return False
    area = tags.get("area")
    if area is not None:
        return area != "no"
    if tags.get("waterway") in _AREA_WATERWAYS:
        return True
    return not any(key in tags for key in _LINE_KEYS)


@dataclass
class OsmExtract:
    """The features of an extract: lon/lat GeoJSON Features and what could not be built."""

    path: Path
    features: list[Feature]
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(west, south, east, north)`` of the features, None when there are none."""
        if not self.features:
            return None
        geometries = [shapely.geometry.shape(f["geometry"]) for f in self.features]
        west, south, east, north = shapely.total_bounds(geometries)
        return float(west), float(south), float(east), float(north)


def _feature(osm_id: str, geometry: Any, tags: Mapping[str, str]) -> Feature:
    return {"type": "Feature", "id": osm_id, "geometry": geometry, "properties": dict(tags)}


def _read_osmium(path: Path, keys: Iterable[str] | None) -> OsmExtract:
    import orjson  # 3x json.loads on the factory's GeoJSON strings
    import osmium

    factory = osmium.geom.GeoJSONFactory()
    features: list[Feature] = []
    skipped, reasons = 0, []
    processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
    if keys:
        # Only tagged objects of interest reach Python; node locations are still
        # stored for every way (the location handler runs before the filter).
        processor = processor.with_filter(osmium.filter.KeyFilter(*sorted(set(keys))))
    try:
        for obj in processor:
            # One dict copy per object: a lookup in osmium's TagList walks it in
            # Python, and is_area makes up to seven (profiled: a quarter of the read).
            tags = dict(obj.tags)
            if obj.is_way():
                if is_area(tags, obj.is_closed()) or len(obj.nodes) < 2:
                    continue  # its area comes from the area assembler
                try:
                    geometry = orjson.loads(factory.create_linestring(obj))
                except (osmium.InvalidLocationError, RuntimeError) as err:
                    skipped += 1
                    reasons.append(f"way/{obj.id}: {err}")
                    continue
                features.append(_feature(f"way/{obj.id}", geometry, tags))
            elif obj.is_area():
                if obj.from_way() and not is_area(tags, True):
                    continue  # a closed line (a roundabout), kept as its way
                kind = "way" if obj.from_way() else "relation"
                try:
                    geometry = orjson.loads(factory.create_multipolygon(obj))
                except RuntimeError as err:
                    skipped += 1
                    reasons.append(f"{kind}/{obj.orig_id()}: {err}")
                    continue
                features.append(_feature(f"{kind}/{obj.orig_id()}", geometry, tags))
    except RuntimeError as err:
        # libosmium's errors (a corrupt PBF block, bad XML) arrive as RuntimeError.
        raise DatasetError(f"{path}: not an OSM extract osmium can read ({err})") from err
    return OsmExtract(path, features, skipped, reasons)


def _overpass(path: Path, data: Mapping[str, Any]) -> OsmExtract:
    """Overpass ``[out:json]`` elements: nodes, ways (``geom`` or node refs), multipolygons."""
    elements = data.get("elements")
    if not isinstance(elements, list):
        raise DatasetError(f"{path}: Overpass JSON without an 'elements' list")
    nodes: dict[int, tuple[float, float]] = {}
    for e in elements:
        if e.get("type") == "node" and "lon" in e and "lat" in e:
            nodes[int(e["id"])] = (float(e["lon"]), float(e["lat"]))

    def coords(element: Mapping[str, Any]) -> list[tuple[float, float]] | None:
        if isinstance(element.get("geometry"), list):  # `out geom`
            points = element["geometry"]
            if any(p is None for p in points):
                return None  # a node outside the query's bbox
            return [(float(p["lon"]), float(p["lat"])) for p in points]
        refs = element.get("nodes") or []
        if not all(int(r) in nodes for r in refs):
            return None
        return [nodes[int(r)] for r in refs]

    ways: dict[int, list[tuple[float, float]] | None] = {}
    features: list[Feature] = []
    skipped, reasons = 0, []
    for e in elements:
        if e.get("type") != "way":
            continue
        line = coords(e)
        ways[int(e["id"])] = line
        tags = e.get("tags") or {}
        if not tags:
            continue
        if line is None or len(line) < 2:
            skipped += 1
            reasons.append(f"way/{e['id']}: missing node locations")
            continue
        if is_area(tags, len(line) >= 4 and line[0] == line[-1]):
            geometry = shapely.geometry.mapping(shapely.Polygon(line))
        else:
            geometry = shapely.geometry.mapping(shapely.LineString(line))
        features.append(_feature(f"way/{e['id']}", geometry, tags))
    for e in elements:
        tags = e.get("tags") or {}
        if e.get("type") != "relation" or tags.get("type") not in ("multipolygon", "boundary"):
            continue
        rings: dict[str, list[shapely.LineString]] = {"outer": [], "inner": []}
        complete = True
        for m in e.get("members") or []:
            if m.get("type") != "way":
                continue
            line = coords(m) if "geometry" in m else ways.get(int(m.get("ref", -1)))
            if not line:
                complete = False
                break
            rings["inner" if m.get("role") == "inner" else "outer"].append(shapely.LineString(line))
        polygon = None
        if complete and rings["outer"]:
            outer = shapely.union_all(shapely.get_parts(shapely.polygonize(rings["outer"])))
            inner = shapely.union_all(shapely.get_parts(shapely.polygonize(rings["inner"])))
            polygon = shapely.difference(outer, inner) if not inner.is_empty else outer
        if polygon is None or polygon.is_empty:
            skipped += 1
            reasons.append(f"relation/{e['id']}: incomplete or open member ways")
            continue
        tags = {k: v for k, v in tags.items() if k != "type"}
        features.append(_feature(f"relation/{e['id']}", shapely.geometry.mapping(polygon), tags))
    return OsmExtract(path, features, skipped, reasons)


def _geojson(path: Path, data: Mapping[str, Any]) -> OsmExtract:
    """A GeoJSON export: tags flat in the properties, or under ``tags`` (osmtogeojson)."""
    if data.get("type") != "FeatureCollection":
        raise DatasetError(f"{path}: neither Overpass JSON ('elements') nor a GeoJSON collection")
    features = []
    for i, f in enumerate(data.get("features") or []):
        if not isinstance(f, Mapping) or not f.get("geometry"):
            continue
        props = dict(f.get("properties") or {})
        tags = props.pop("tags") if isinstance(props.get("tags"), Mapping) else props
        osm_id = str(f.get("id") or props.get("@id") or props.get("id") or f"feature/{i}")
        tags = {str(k): str(v) for k, v in tags.items() if v is not None and not k.startswith("@")}
        features.append(_feature(osm_id, dict(f["geometry"]), tags))
    return OsmExtract(path, features)


def read_osm(path: str | os.PathLike[str], *, keys: Iterable[str] | None = None) -> OsmExtract:
    """Read an OSM extract as lon/lat GeoJSON Features with their tags.

    Parameters
    ----------
    path : str or path-like
        ``.osm.pbf``, ``.osm`` XML (or ``.osm.bz2``, ``.osm.gz``, ``.o5m``),
        Overpass JSON (``.json``) or a GeoJSON export (``.geojson``/``.json``).
    keys : iterable of str, optional
        Read only objects carrying one of these tag keys (osmium filters them
        in C++, which matters for a country extract).

    Returns
    -------
    OsmExtract
        ``features`` (properties: the OSM tags; ``id``: ``"way/42"``) and the
        count and reasons of objects whose geometry could not be built.

    Raises
    ------
    DatasetError
        The file is missing, or not an extract in one of these formats.

    Examples
    --------
    >>> extract = read_osm("berlin.osm.pbf", keys=["building"])  # doctest: +SKIP
    >>> extract.features[0]["properties"]["building"]  # doctest: +SKIP
    'yes'
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise DatasetError(f"{path}: OSM extract not found")
    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        extract = _read_osmium(path, keys)
    elif name.endswith((".json", ".geojson")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(data, Mapping):
            raise DatasetError(f"{path}: not an Overpass JSON or GeoJSON object")
        extract = _overpass(path, data) if "elements" in data else _geojson(path, data)
    else:
        raise DatasetError(
            f"{path}: unknown OSM extract format (expected {', '.join(OSM_SUFFIXES)}, "
            ".json (Overpass) or .geojson)"
        )
    if keys:
        wanted = set(keys)
        extract.features = [f for f in extract.features if wanted & set(f["properties"])]
    return extract
