"""Preparation tools: scenes and labels made ready for training and serving.

Not readers of a published dataset (those are :mod:`satlearn.datasets`) but
the steps between a scene and a model:

:mod:`satlearn.prep.chips`
    Training chips: regular grids with overlap (:func:`grid_chips`),
    class-balanced random chips (:func:`random_chips`), chip sets on disk
    with an index and spatial-block splits (:func:`write_chip_set`; read back
    by :class:`satlearn.datasets.chip_set.ChipDataset`).
:mod:`satlearn.prep.labels`
    Vector labels to masks on a raster's grid and back
    (:func:`read_vector_labels`, :func:`rasterize_features`,
    :func:`vectorize_mask`).
:mod:`satlearn.prep.osm`
    Training targets from OpenStreetMap extracts on a scene's grid
    (:func:`read_osm`, :func:`load_classes`, :func:`osm_targets`,
    :func:`osm_labels`).
:mod:`satlearn.prep.tiles`
    XYZ (slippy-map) tiles of a raster (:func:`xyz_tiles`,
    :func:`write_xyz_tiles`).
:mod:`satlearn.prep.download`
    Resumable, SHA-256-checked, atomically renamed downloads and safe
    archive extraction (:func:`download_file`, :func:`download_files`,
    :func:`extract_archive`); a registered dataset by name is
    :func:`satlearn.datasets.download_dataset`.

Every name is importable from here; a submodule loads on the first use of
one of its names, so ``from satlearn.prep.labels import rasterize_features``
does not pay for the tiling libraries.

Examples
--------
>>> from satlearn.prep import grid_windows
>>> [(w.col_off, w.width) for w in grid_windows(64, 100, 64, overlap=16)]
[(0, 64), (48, 52)]
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the submodule that defines it (loaded on first use, PEP 562).
_FACE = {
    **dict.fromkeys(
        (
            "VECTOR_SUFFIXES",
            "ChipSetSummary",
            "crs_text",
            "grid_chips",
            "grid_windows",
            "random_chips",
            "write_chip_set",
        ),
        "chips",
    ),
    **dict.fromkeys(
        (
            "burn_values",
            "features_bounds",
            "rasterize_features",
            "read_vector_labels",
            "vectorize_mask",
        ),
        "labels",
    ),
    **dict.fromkeys(("OsmTargets", "load_classes", "osm_labels", "osm_targets", "read_osm"), "osm"),
    **dict.fromkeys(
        ("Download", "download_file", "download_files", "extract_archive", "sha256sum"),
        "download",
    ),
    **dict.fromkeys(
        ("WEB_MERCATOR_QUAD", "TileSetSummary", "tile_transform", "write_xyz_tiles", "xyz_tiles"),
        "tiles",
    ),
}

__all__ = sorted(_FACE)


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FACE})
