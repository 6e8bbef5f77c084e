"""Training targets from OpenStreetMap extracts, offline.

DeepOSM and skynet-data train networks on imagery labelled with OSM; this
package does the same from a local extract, with no server:

:func:`read_osm` (``_read``)
    ``.osm.pbf`` and ``.osm`` XML through osmium, Overpass JSON and GeoJSON
    exports, as lon/lat Features with their tags.
:func:`load_classes` (``_select``)
    A YAML mapping of tags to classes (``building=*``, ``highway=*`` by
    class with road widths in metres, ``waterway=*``, ``natural=water``,
    ``landuse=*``).
:func:`osm_labels` / :func:`osm_targets` (``_targets``)
    Reproject to the scene's CRS, clip, buffer lines, rasterise on the
    scene's grid: class ids, building instance ids, and ``edge_ignore_px``
    pixels near label edges marked as ignored (255).
:func:`labelled_fraction` / :func:`label_noise` (``_noise``)
    The share each class labels and, against a truth, its IoU, omission and
    commission.

Examples
--------
>>> targets = osm_targets("area.osm.pbf", "scene.tif",
...                       classes="classes.yaml", edge_ignore_px=1)  # doctest: +SKIP
>>> targets.mask.dtype, targets.classes  # doctest: +SKIP
(dtype('uint8'), ['background', 'water', 'road', 'building'])
"""

from __future__ import annotations

from satlearn.prep.osm._noise import LabelNoise, label_noise, labelled_fraction
from satlearn.prep.osm._read import OSM_SUFFIXES, OsmExtract, is_area, read_osm
from satlearn.prep.osm._select import (
    DEFAULT_CLASSES,
    IGNORE,
    SELECTABLE_KEYS,
    OsmClass,
    OsmClasses,
    load_classes,
)
from satlearn.prep.osm._targets import OsmTargets, osm_labels, osm_targets

__all__ = [
    "DEFAULT_CLASSES",
    "IGNORE",
    "OSM_SUFFIXES",
    "SELECTABLE_KEYS",
    "LabelNoise",
    "OsmClass",
    "OsmClasses",
    "OsmExtract",
    "OsmTargets",
    "is_area",
    "label_noise",
    "labelled_fraction",
    "load_classes",
    "osm_labels",
    "osm_targets",
    "read_osm",
]
