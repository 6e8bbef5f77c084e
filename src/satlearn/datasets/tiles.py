"""Moved: XYZ tiling is :mod:`satlearn.prep.tiles`.

This path is deprecated: it re-exports every name for one release and warns on
import (it goes in 0.3.0); import from :mod:`satlearn.prep.tiles`.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "satlearn.datasets.tiles moved to satlearn.prep.tiles; import from there (the old path "
    "goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from satlearn.prep.tiles import (  # noqa: E402
    WEB_MERCATOR_QUAD,
    TileSetSummary,
    tile_transform,
    write_xyz_tiles,
    xyz_tiles,
)

__all__ = ["WEB_MERCATOR_QUAD", "TileSetSummary", "tile_transform", "write_xyz_tiles", "xyz_tiles"]
