"""OSM features as training targets on a scene's grid: classes, instance ids, ignore.

Features are read in WGS 84, reprojected to the scene's CRS, lines buffered
by their class's width in metres, clipped to the scene (with a margin of the
widest buffer, so a road just outside still reaches in), and burned with
GDAL's rasterizer (:func:`satlearn.prep.labels.rasterize_features`: a pixel
is labelled when its centre lies inside). Classes are burned in the order of
the classes file, a later class over an earlier one. The whole scene is one
job (global: the features are few and the grid is the scene's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import shapely
import xarray as xr
from rasterio.crs import CRS
from scipy import ndimage

from satlearn.checks import check_raster
from satlearn.errors import DatasetError, InvalidInputError
from satlearn.prep.labels import Feature, rasterize_features
from satlearn.prep.osm._noise import LabelNoise, label_noise, labelled_fraction
from satlearn.prep.osm._read import OsmExtract, read_osm
from satlearn.prep.osm._select import IGNORE, load_classes

__all__ = ["OsmTargets", "osm_labels", "osm_targets"]

_WGS84 = CRS.from_epsg(4326)
_SCENE_DIMS = [("band", "y", "x"), ("y", "x"), ("time", "band", "y", "x"), ("time", "y", "x")]


@dataclass(frozen=True)
class OsmTargets:
    """Training targets from OSM on a scene's grid (the detailed form of :func:`osm_labels`).

    Attributes
    ----------
    mask : xarray.DataArray
        uint8 ``(y, x)`` class ids (0 background, 255 ignored), georeferenced
        like the scene, nodata 255.
    instances : xarray.DataArray
        uint32 ``(y, x)`` instance ids 1..n of the instance classes
        (buildings), 0 elsewhere; id ``k`` is ``features[k - 1]`` among those.
    classes : list of str
        Class names by id (``classes[0] == "background"``).
    features : list of dict
        The selected features in the scene's CRS, clipped, lines buffered,
        with ``class`` and ``class_id`` properties added to the OSM tags.
    skipped : int
        Extract objects whose geometry could not be built, plus lines of a
        class without ``width_m``.
    """

    mask: xr.DataArray
    instances: xr.DataArray
    classes: list[str]
    features: list[Feature]
    skipped: int = 0
    source: str = "extract"
    counts: dict[str, int] = field(default_factory=dict)

    def fractions(self) -> dict[str, float]:
        """Share of the scene's pixels each class labels, and the ignored share."""
        return labelled_fraction(self.mask.values, self.classes, ignore=IGNORE)

    def scores(self, truth: Mapping[str, Any]) -> dict[str, LabelNoise]:
        """Label noise per class against ``truth`` (class name -> bool array on the grid)."""
        return label_noise(self.mask.values, truth, self.classes, ignore=IGNORE)

    def to_features(self) -> list[Feature]:
        """The burned features (scene CRS), as GeoJSON Feature dicts."""
        return list(self.features)

    def report(self, truth: Mapping[str, Any] | None = None) -> str:
        """One line per class: features, labelled fraction and, with a truth, the noise."""
        fractions = self.fractions()
        noise = self.scores(truth) if truth else {}
        lines = []
        for name in self.classes:
            if not name:
                continue
            line = f"{name:<12} {fractions[name]:7.2%} of pixels"
            if name in self.counts:
                line += f", {self.counts[name]} features"
            if name in noise:
                n = noise[name]
                line += (
                    f", IoU {n.iou:.3f} vs truth (omission {n.omission:.1%}, "
                    f"commission {n.commission:.1%})"
                )
            lines.append(line)
        lines.append(f"{'ignored':<12} {fractions['ignored']:7.2%} of pixels")
        if self.skipped:
            lines.append(
                f"{self.skipped} OSM objects skipped (no geometry, or lines without width_m)"
            )
        return "\n".join(lines)


def _scene_grid(scene: Any) -> xr.DataArray:
    if isinstance(scene, str | os.PathLike):
        from satlearn.raster import open_raster

        # Lazy: only the grid is needed, never the pixels.
        return open_raster(scene, chunks={"band": 1, "y": 2048, "x": 2048})
    return check_raster(scene, what="scene", dims=_SCENE_DIMS)


def _reproject(features: list[Feature], crs: CRS) -> np.ndarray:
    geoms = [f["geometry"] for f in features]
    if crs != _WGS84 and geoms:
        geoms = rasterio.warp.transform_geom(_WGS84, crs, geoms)
    return np.array([shapely.geometry.shape(g) for g in geoms], dtype=object)


def osm_targets(
    extract: str | os.PathLike[str] | OsmExtract,
    scene: Any,
    *,
    classes: Any = None,
    edge_ignore_px: int = 0,
) -> OsmTargets:
    """Rasterise an OSM extract's features as training targets on a scene's grid.

    Parameters
    ----------
    extract : path or OsmExtract
        ``.osm.pbf``, ``.osm`` XML, Overpass JSON or GeoJSON export
        (:func:`read_osm`).
    scene : DataArray or path
        The scene whose grid the targets take (a path is opened lazily: only
        its grid is read). Its CRS must be projected in metres when a class
        buffers lines by ``width_m``.
    classes : path, mapping or OsmClasses, optional
        The tags -> classes mapping (:func:`load_classes`; default
        :data:`DEFAULT_CLASSES`: water, roads, buildings).
    edge_ignore_px : int
        Mark pixels within this many pixels (chessboard distance) of a label
        edge, between two classes or two building instances, as ignored (255):
        OSM outlines are rarely better than a pixel or two, and a loss that
        skips them learns less of that noise. 0: keep every pixel.

    Returns
    -------
    OsmTargets
        ``.mask``, ``.instances``, ``.fractions()``, ``.scores(truth)``,
        ``.report()``, ``.to_features()``.

    Raises
    ------
    DatasetError
        The extract is unreadable, or none of its selected features overlaps
        the scene (the message gives both extents in longitude/latitude).
    InvalidInputError
        A bad classes file, a negative ``edge_ignore_px``, or line widths in
        metres on a scene in a geographic CRS.

    Examples
    --------
    >>> targets = osm_targets("area.osm.pbf", "scene.tif", classes="classes.yaml",
    ...                       edge_ignore_px=1)  # doctest: +SKIP
    >>> print(targets.report())  # doctest: +SKIP
    """
    if int(edge_ignore_px) != edge_ignore_px or edge_ignore_px < 0:
        raise InvalidInputError(f"edge_ignore_px must be an integer >= 0, got {edge_ignore_px!r}")
    mapping = load_classes(classes)
    grid = _scene_grid(scene)
    crs, transform = grid.rio.crs, grid.rio.transform()
    if crs is None:
        raise InvalidInputError("scene has no CRS: OSM features cannot be placed on it")
    height, width = grid.sizes["y"], grid.sizes["x"]
    if not isinstance(extract, OsmExtract):
        extract = read_osm(extract, keys=mapping.keys)
    where = str(extract.path)
    selected = mapping.select(extract.features)
    west, south, east, north = rasterio.warp.transform_bounds(crs, _WGS84, *grid.rio.bounds())
    if selected:
        lonlat = np.array(
            [shapely.geometry.shape(f["geometry"]) for _, f in selected], dtype=object
        )
        inside = shapely.intersects(lonlat, shapely.box(west, south, east, north))
    else:
        inside = np.zeros(0, dtype=bool)
    if not inside.any():
        extent = extract.bounds()
        have = "no feature" if extent is None else "bounds " + ", ".join(f"{v:.5f}" for v in extent)
        raise DatasetError(
            f"{where}: no feature of the classes ({', '.join(mapping.keys)}) overlaps the scene "
            f"(extract {have}; scene lon/lat bounds {west:.5f}, {south:.5f}, {east:.5f}, "
            f"{north:.5f})"
        )
    selected = [s for s, keep in zip(selected, inside, strict=True) if keep]
    needs_width = any(c.width_m is not None for c in mapping.classes)
    if needs_width and not crs.is_projected:
        raise InvalidInputError(
            f"scene CRS {crs} is geographic: line widths in metres need a projected scene "
            "(reproject the scene first)"
        )
    geoms = _reproject([f for _, f in selected], crs)
    lines = shapely.get_dimensions(geoms) == 1
    widths = np.array(
        [c.width_for(f["properties"]) if line else 0.0 for (c, f), line in
         zip(selected, lines, strict=True)],
        dtype=object,
    )  # fmt: skip
    burnable = ~lines | np.array([w is not None for w in widths], dtype=bool)
    skipped = extract.skipped + int((~burnable).sum())
    margin = max([float(w) for w in widths if w] + [0.0])
    left, bottom, right, top = grid.rio.bounds()
    features: list[Feature] = []
    per_class: dict[int, list[shapely.Geometry]] = {c.id: [] for c in mapping.classes}
    instance_geoms: list[shapely.Geometry] = []
    counts: dict[str, int] = {}
    for (cls, f), geom, line, w, ok in zip(selected, geoms, lines, widths, burnable, strict=True):
        if not ok:
            continue
        if line:
            # Round caps: OSM splits a road into ways at every junction and tag
            # change; round ends join consecutive ways without a notch.
            geom = shapely.buffer(geom, float(w) / 2, cap_style="round", join_style="round")
        geom = shapely.clip_by_rect(
            geom, left - margin, bottom - margin, right + margin, top + margin
        )
        if geom.is_empty:
            continue
        per_class[cls.id].append(geom)
        counts[cls.name] = counts.get(cls.name, 0) + 1
        if cls.instances and not line:
            instance_geoms.append(geom)
        props = {**f["properties"], "class": cls.name, "class_id": cls.id, "osm_id": f.get("id")}
        features.append(
            {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}
        )
    mask = np.zeros((height, width), dtype=np.uint8)
    for cls in mapping.classes:
        if per_class[cls.id]:
            burned = rasterize_features(
                per_class[cls.id], transform=transform, shape=(height, width)
            )
            mask[burned.astype(bool)] = cls.id
    instances = np.zeros((height, width), dtype=np.uint32)
    if instance_geoms:
        instances = rasterize_features(
            instance_geoms, transform=transform, shape=(height, width), instances=True,
            order="as-is", dtype=np.uint32,
        )  # fmt: skip
    if edge_ignore_px:
        size = 2 * int(edge_ignore_px) + 1
        near = ndimage.maximum_filter(mask, size=size) != ndimage.minimum_filter(mask, size=size)
        near |= ndimage.maximum_filter(instances, size=size) != ndimage.minimum_filter(
            instances, size=size
        )
        mask[near] = IGNORE
    return OsmTargets(
        mask=_on_grid(mask, grid, "osm_classes", IGNORE, {"classes": ",".join(mapping.names)}),
        instances=_on_grid(instances, grid, "osm_instances", 0, {}),
        classes=mapping.names,
        features=features,
        skipped=skipped,
        source=where,
        counts=counts,
    )


def _on_grid(
    values: np.ndarray, grid: xr.DataArray, name: str, nodata: int, attrs: dict
) -> xr.DataArray:
    da = xr.DataArray(
        values, dims=("y", "x"), coords={"y": grid["y"].values, "x": grid["x"].values},
        name=name, attrs=attrs,
    )  # fmt: skip
    da = da.rio.write_crs(grid.rio.crs).rio.write_transform(grid.rio.transform())
    return da.rio.write_nodata(nodata)


def osm_labels(
    extract: str | os.PathLike[str] | OsmExtract,
    scene: Any,
    *,
    classes: Any = None,
    edge_ignore_px: int = 0,
) -> xr.DataArray:
    """OSM training classes on a scene's grid (the short form of :func:`osm_targets`).

    Same parameters as :func:`osm_targets`; returns its ``.mask``: uint8
    ``(y, x)`` class ids, 0 background, 255 ignored (the nodata value).

    Examples
    --------
    >>> mask = osm_labels("area.osm.pbf", "scene.tif")  # doctest: +SKIP
    """
    return osm_targets(extract, scene, classes=classes, edge_ignore_px=edge_ignore_px).mask
