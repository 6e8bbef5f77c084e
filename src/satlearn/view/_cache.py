"""An in-process LRU cache of rendered tiles, bounded in bytes, safe between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from satlearn.errors import InvalidInputError

__all__ = ["CachedTile", "TileCache"]


@dataclass(frozen=True)
class CachedTile:
    """One rendered tile: its bytes, media type and ETag."""

    body: bytes
    media_type: str
    etag: str


class TileCache:
    """Least-recently-used tiles, keyed by their ETag, holding at most ``max_bytes``.

    Parameters
    ----------
    max_bytes : int
        The bound on the bytes of tile bodies kept (0 turns the cache off). A
        tile larger than the bound is not kept.

    Examples
    --------
    >>> cache = TileCache(1024)
    >>> cache.put("k", CachedTile(b"png", "image/png", '"k"'))
    >>> cache.get("k").body, cache.stats()["hits"]
    (b'png', 1)
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise InvalidInputError(f"cache size must be a non-negative int, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[str, CachedTile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: str) -> CachedTile | None:
        """The tile under ``key`` (now the most recently used), or None; counts a hit or miss."""
        with self._lock:
            tile = self._tiles.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: str, tile: CachedTile) -> None:
        """Keep ``tile`` under ``key``, dropping the least recently used past the bound."""
        size = len(tile.body)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._tiles[key] = tile
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._tiles.popitem(last=False)
                self._bytes -= len(dropped.body)
                self.evictions += 1

    def clear(self) -> None:
        """Drop every tile (the counts stay)."""
        with self._lock:
            self._tiles.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int | float]:
        """Counts and sizes: hits, misses, hit_ratio, evictions, tiles, bytes, max_bytes."""
        with self._lock:
            looked = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_ratio": self.hits / looked if looked else 0.0,
                "evictions": self.evictions,
                "tiles": len(self._tiles),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
            }
