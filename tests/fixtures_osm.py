"""OSM fixtures: a synthetic scene and OSM extracts (XML, PBF, Overpass JSON) of its truths.

The extracts are written from the scene's own truths: building and water
regions traced as pixel-edge polygons (closed ways, or multipolygon relations
where a region has holes) and the road truth's skeleton as 2-node ways
between neighbouring skeleton pixels, all in WGS 84 as OSM stores them. So
the targets rasterised back from them should match the truths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio.warp
from rasterio.crs import CRS

CLASSES_YAML = """\
classes:
  - name: water
    tags: {natural: water}
  - name: road
    tags: {highway: "*"}
    width_m: {residential: 12, default: 8}
  - name: building
    tags: {building: "*"}
"""


@dataclass
class OsmData:
    """Nodes, ways and relations of an extract, in OSM's own shape."""

    nodes: list[tuple[int, float, float]] = field(default_factory=list)  # id, lon, lat
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = field(
        default_factory=list
    )

    def ring(self, coords: Any) -> list[int]:
        ids = []
        for lon, lat in coords[:-1]:
            ids.append(len(self.nodes) + 1)
            self.nodes.append((ids[-1], float(lon), float(lat)))
        return ids + ids[:1]

    def add_polygon(self, polygon: dict[str, Any], tags: dict[str, str]) -> None:
        rings = [self.ring(r) for r in polygon["coordinates"]]
        if len(rings) == 1:
            self.ways.append((len(self.ways) + 1, rings[0], tags))
            return
        members = []
        for i, ring in enumerate(rings):
            self.ways.append((len(self.ways) + 1, ring, {}))
            members.append(("w", len(self.ways), "outer" if i == 0 else "inner"))
        self.relations.append((len(self.relations) + 1, members, {"type": "multipolygon", **tags}))

    def add_line(self, coords: Any, tags: dict[str, str]) -> None:
        ids = []
        for lon, lat in coords:
            ids.append(len(self.nodes) + 1)
            self.nodes.append((ids[-1], float(lon), float(lat)))
        self.ways.append((len(self.ways) + 1, ids, tags))

    def write_osmium(self, path: Path) -> Path:
        import osmium
        from osmium.osm.mutable import Node, Relation, Way

        writer = osmium.SimpleWriter(str(path))
        try:
            for i, lon, lat in self.nodes:
                writer.add_node(Node(id=i, location=(lon, lat), version=1))
            for i, refs, tags in self.ways:
                writer.add_way(Way(id=i, nodes=refs, tags=tags, version=1))
            for i, members, tags in self.relations:
                writer.add_relation(Relation(id=i, members=members, tags=tags, version=1))
        finally:
            writer.close()
        return path

    def write_overpass(self, path: Path) -> Path:
        elements: list[dict[str, Any]] = [
            {"type": "node", "id": i, "lon": lon, "lat": lat} for i, lon, lat in self.nodes
        ]
        elements += [{"type": "way", "id": i, "nodes": r, "tags": t} for i, r, t in self.ways]
        elements += [
            {
                "type": "relation",
                "id": i,
                "members": [{"type": "way", "ref": ref, "role": role} for _, ref, role in m],
                "tags": t,
            }
            for i, m, t in self.relations
        ]
        path.write_text(json.dumps({"version": 0.6, "elements": elements}))
        return path


def truth_extract(scene: Any) -> OsmData:
    """An OSM extract of the scene's buildings, water and roads (date 0)."""
    from skimage.morphology import skeletonize

    from satlearn.prep.labels import vectorize_mask

    crs = CRS.from_user_input(scene.crs)
    data = OsmData()
    for truth, tags in (
        (scene.landcover.values == 0, {"natural": "water"}),
        (scene.buildings_mask.values[0], {"building": "yes"}),
    ):
        features = vectorize_mask(truth.astype(np.uint8), transform=scene.transform, crs=crs)
        moved = rasterio.warp.transform_geom(crs, "EPSG:4326", [f["geometry"] for f in features])
        for geometry in moved:
            data.add_polygon(dict(geometry), dict(tags))
    skeleton = skeletonize(scene.landcover.values == 6)
    rows, cols = np.nonzero(skeleton)
    pairs = []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r2, c2 = rows + dr, cols + dc
        ok = (r2 >= 0) & (r2 < skeleton.shape[0]) & (c2 >= 0) & (c2 < skeleton.shape[1])
        ok[ok] = skeleton[r2[ok], c2[ok]]
        pairs += list(zip(rows[ok], cols[ok], r2[ok], c2[ok], strict=True))
    if pairs:
        p = np.array(pairs, dtype=float) + 0.5  # pixel centres
        xs, ys = scene.transform @ (p[:, [1, 3]].T, p[:, [0, 2]].T)
        lon, lat = rasterio.warp.transform(crs, "EPSG:4326", np.ravel(xs), np.ravel(ys))
        lon, lat = np.reshape(lon, (2, -1)), np.reshape(lat, (2, -1))
        for k in range(lon.shape[1]):
            data.add_line(
                [(lon[0, k], lat[0, k]), (lon[1, k], lat[1, k])], {"highway": "residential"}
            )
    return data


@dataclass
class OsmCase:
    scene: Any
    scene_path: Path
    data: OsmData
    xml: Path
    pbf: Path
    overpass: Path
    classes: Path


@pytest.fixture(scope="session")
def osm_case(tmp_path_factory: pytest.TempPathFactory) -> OsmCase:
    """A 128-px synthetic scene, its GeoTIFF, and OSM extracts of its truths."""
    from satlearn.raster import save_cog
    from satlearn.synth import make_scene

    scene = make_scene(128, seed=0, clouds=False, n_dates=2)
    root = tmp_path_factory.mktemp("osm")
    scene_path = root / "scene.tif"
    save_cog(scene.image[0].sel(band=["blue", "green", "red"]), scene_path, overviews=None)
    data = truth_extract(scene)
    classes = root / "classes.yaml"
    classes.write_text(CLASSES_YAML)
    return OsmCase(
        scene=scene,
        scene_path=scene_path,
        data=data,
        xml=data.write_osmium(root / "truth.osm"),
        pbf=data.write_osmium(root / "truth.osm.pbf"),
        overpass=data.write_overpass(root / "truth.json"),
        classes=classes,
    )
