"""Where the tiles go: a global tile grid, output blocks and column bands.

The tiles form one grid anchored on the scene, not on any chunk or band:
tile ``k`` starts at ``k * stride - overlap // 2`` along each axis. So a
pixel's prediction depends only on the scene, the model and the tiling
options, never on how the work is cut (streaming bands, dask chunks or a
resumed run), which is what makes the results chunk-invariant and a resumed
run identical to an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["TilePlan"]


@dataclass(frozen=True)
class TilePlan:
    """A tiling of a ``height`` x ``width`` scene.

    Parameters
    ----------
    height, width : int
        The scene's size in pixels.
    tile : int
        The model's input tile side, in pixels.
    overlap : int
        Pixels shared by neighbouring tiles (``0 <= overlap < tile``).
    """

    height: int
    width: int
    tile: int
    overlap: int

    @property
    def stride(self) -> int:
        return self.tile - self.overlap

    @property
    def margin(self) -> int:
        """How far the first tile starts before the scene (reflect-padded)."""
        return self.overlap // 2

    def count(self, size: int) -> int:
        """Number of tiles along an axis of ``size`` pixels."""
        reach = size + self.margin - self.tile
        return max(1, math.ceil(reach / self.stride) + 1) if reach > 0 else 1

    @property
    def rows(self) -> int:
        return self.count(self.height)

    @property
    def cols(self) -> int:
        return self.count(self.width)

    def start(self, k: int) -> int:
        """Scene coordinate of the first pixel of tile ``k`` (may be negative)."""
        return k * self.stride - self.margin

    def covering(self, lo: int, hi: int, size: int) -> range:
        """Tiles along an axis that touch pixels ``[lo, hi)`` of an axis of ``size``."""
        n = self.count(size)
        first = max(0, -(-(lo + self.margin - self.tile + 1) // self.stride))
        last = min(n - 1, (hi - 1 + self.margin) // self.stride)
        return range(first, last + 1)
