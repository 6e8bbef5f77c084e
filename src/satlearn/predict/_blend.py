"""The weight window that blends overlapping tiles without seams."""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["blend_window"]


@functools.lru_cache(maxsize=8)
def blend_window(tile: int, overlap: int) -> np.ndarray:
    """The 2-D weight of a tile's pixels, highest in the middle, never zero.

    A Hann ramp over the ``overlap`` pixels at each side and 1 in between: where
    two tiles overlap, one fades out as the other fades in, so no tile edge
    (where a CNN sees the least context) shows in the blend. With no overlap
    every weight is 1 and each pixel is its one tile's prediction.

    Parameters
    ----------
    tile : int
        The tile side in pixels.
    overlap : int
        Pixels shared by neighbouring tiles.

    Returns
    -------
    numpy.ndarray
        ``(tile, tile)`` float32, read-only.

    Examples
    --------
    >>> w = blend_window(16, 4)
    >>> float(w[8, 8]), bool(w[0, 0] > 0)
    (1.0, True)
    """
    ramp = np.ones(tile, dtype=np.float64)
    if overlap > 0:
        # Hann rising from just above 0 to just below 1 over `overlap` pixels;
        # the +0.5 keeps the edge pixel's weight positive (a scene edge pixel
        # may have only one tile).
        t = (np.arange(overlap) + 0.5) / overlap
        rise = np.sin(0.5 * np.pi * t) ** 2
        ramp[:overlap] = rise
        ramp[tile - overlap :] = rise[::-1]
    window = np.outer(ramp, ramp).astype(np.float32)
    window.flags.writeable = False
    return window
