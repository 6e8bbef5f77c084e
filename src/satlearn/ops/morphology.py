"""Structuring elements shared by the mask-cleaning steps of several operations."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["disc"]


def disc(radius: int) -> np.ndarray:
    """A ``(2 radius + 1)``-square uint8 disc for OpenCV's morphology.

    Examples
    --------
    >>> disc(1).tolist()
    [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    """
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
