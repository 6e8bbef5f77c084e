"""Moved: XYZ tiling is :mod:`satlearn.prep.tiles`.

This path keeps working (plain re-exports, no warning yet); new code imports
from :mod:`satlearn.prep.tiles`.
"""

from __future__ import annotations

from satlearn.prep.tiles import (
    WEB_MERCATOR_QUAD,
    TileSetSummary,
    tile_transform,
    write_xyz_tiles,
    xyz_tiles,
)

__all__ = ["WEB_MERCATOR_QUAD", "TileSetSummary", "tile_transform", "write_xyz_tiles", "xyz_tiles"]
