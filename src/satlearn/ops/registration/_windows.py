"""Apodisation windows and the cosine taper of masked pixels.

The Hann and Tukey windows are scipy's, written out: importing
``scipy.signal`` costs ~1.5 s, which a one-shot ``satlearn register`` paid on
its first call (tests check they are bit-identical to scipy's).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["WindowName", "check_window", "mask_taper", "window_1d", "window_2d"]

WindowName = Literal["hann", "tukey"] | None

# Width (px) of the cosine taper that fades masked areas in.
_MASK_TAPER_PX = 8.0


def _hann(length: int) -> np.ndarray:
    # scipy.signal.windows.hann(length, sym=True), written out: importing
    # scipy.signal costs ~1.5 s, which a one-shot `satlearn register` paid on
    # its first call (bit-identical to scipy's, tested).
    if length == 1:
        return np.ones(1)
    return 0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, length))  # scipy's general_cosine


def _tukey(length: int, alpha: float = 0.5) -> np.ndarray:
    # scipy.signal.windows.tukey(length, alpha, sym=True), written out (see _hann).
    if length == 1:
        return np.ones(1)
    n = np.arange(length)
    width = int(np.floor(alpha * (length - 1) / 2.0))
    n1, n3 = n[: width + 1], n[length - width - 1 :]
    values = np.ones(length)
    values[: width + 1] = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * n1 / alpha / (length - 1))))
    values[length - width - 1 :] = 0.5 * (
        1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * n3 / alpha / (length - 1)))
    )
    return values


@functools.lru_cache(maxsize=32)
def window_1d(kind: str, length: int) -> np.ndarray:
    """The symmetric 1-D ``"hann"`` or ``"tukey"`` (alpha 0.5) window, float32, cached."""
    if kind == "hann":
        values = _hann(length)
    elif kind == "tukey":
        values = _tukey(length, alpha=0.5)
    else:
        raise InvalidInputError(f"window must be 'hann', 'tukey' or None, got {kind!r}")
    values = values.astype(np.float32)
    values.flags.writeable = False
    return values


@functools.lru_cache(maxsize=16)
def window_2d(kind: str, shape: tuple[int, int]) -> np.ndarray:
    """A separable 2-D apodisation window, cached (read-only) per shape."""
    window = np.outer(window_1d(kind, shape[0]), window_1d(kind, shape[1]))
    window.flags.writeable = False
    return window


def check_window(window: WindowName) -> None:
    """Raise :class:`InvalidInputError` for an unknown ``window`` name."""
    if window is not None:
        window_1d(window, 4)


def mask_taper(mask: np.ndarray) -> np.ndarray:
    """Weights rising from 0 on masked pixels to 1 over ``_MASK_TAPER_PX``, as a cosine.

    A hard cut at a cloud edge is a step that the whitened spectrum turns into
    a strong, spurious correlation feature; a soft taper is not.
    """
    from scipy import ndimage as ndi  # only masked registration needs it (~60 ms import)

    distance = ndi.distance_transform_edt(mask).astype(np.float32)
    ramp = np.clip(distance / np.float32(_MASK_TAPER_PX), 0, 1)
    return np.float32(0.5) - np.float32(0.5) * np.cos(np.float32(np.pi) * ramp)
