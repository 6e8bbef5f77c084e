"""The demo's pictures: quicklooks, class maps and masks drawn over the scene.

:func:`satlearn.viz.quicklook` draws rasters; the report also wants class maps
in fixed colours (a legend reads the same in every run) and detections drawn
over the scene (a ship is a few pixels: alone, its mask would be invisible).
Every picture is decimated by striding to at most :data:`MAX_SIZE` pixels on
its long side and written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from PIL import Image

from satlearn.atomic import atomic_output
from satlearn.viz import to_rgb8

__all__ = [
    "LANDCOVER_COLOURS",
    "MAX_SIZE",
    "write_classes_png",
    "write_overlay_png",
    "write_values_png",
]

#: Long side of every picture, in pixels.
MAX_SIZE = 1024
#: Percentiles of the scene quicklooks' stretch: a 98th percentile would be
#: cloud white on a cloudy scene, leaving the ground almost black.
SCENE_STRETCH = (1.0, 85.0)

#: Colours of the synthetic land-cover classes, by class id
#: (water, forest, cropland, grassland, bare soil, built-up, road).
LANDCOVER_COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 120, 180),
    (27, 94, 32),
    (230, 200, 60),
    (150, 210, 110),
    (160, 110, 70),
    (210, 50, 40),
    (120, 120, 120),
)


def _step(shape: Sequence[int]) -> int:
    return max(1, int(np.ceil(max(shape[-2:]) / MAX_SIZE)))


def _values(layer: Any) -> np.ndarray:
    return np.asarray(getattr(layer, "values", layer))


def _save(rgb: np.ndarray, path: str | os.PathLike[str]) -> Path:
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(tmp, format="PNG")
    return Path(os.fspath(path))


def scene_rgb(image: xr.DataArray) -> np.ndarray:
    """``(y, x, 3)`` uint8 true colour of a ``(band, y, x)`` scene, decimated.

    The scene's red, green and blue bands when it has them, else its first band in grey.
    """
    names = [str(b) for b in image.coords["band"].values] if "band" in image.coords else []
    wanted = [b for b in ("red", "green", "blue") if b in names]
    picked = image.sel(band=wanted) if len(wanted) == 3 else image.isel(band=[0])
    step = _step(picked.shape)
    small = picked.isel(y=slice(None, None, step), x=slice(None, None, step))
    return to_rgb8(np.asarray(small.values, dtype=np.float32))


def write_classes_png(
    classes: Any,
    path: str | os.PathLike[str],
    *,
    colours: Sequence[tuple[int, int, int]] = LANDCOVER_COLOURS,
) -> Path:
    """A class map in fixed colours (class id ``i`` -> ``colours[i]``); other ids black."""
    values = _values(classes)
    step = _step(values.shape)
    small = values[::step, ::step].astype(np.int64)
    palette = np.zeros((len(colours) + 1, 3), np.uint8)
    palette[: len(colours)] = colours
    index = np.where((small >= 0) & (small < len(colours)), small, len(colours))
    return _save(palette[index], path)


def write_overlay_png(
    image: xr.DataArray,
    layers: Sequence[tuple[Any, tuple[int, int, int]]],
    path: str | os.PathLike[str],
    *,
    grow_px: int = 0,
) -> Path:
    """The scene in true colour with boolean layers painted over it, later ones on top.

    ``grow_px`` widens each layer by that many pixels of the picture (after
    decimation), so that objects of a few pixels stay visible.
    """
    rgb = scene_rgb(image).copy()
    step = _step(image.shape)
    for layer, colour in layers:
        mask = _values(layer).astype(bool)
        small = mask.reshape(-1, *mask.shape[-2:]).any(axis=0)
        if step > 1:  # a pixel of the picture shows whether any pixel it covers is set
            h, w = (-(-n // step) * step for n in small.shape)
            padded = np.zeros((h, w), bool)
            padded[: small.shape[0], : small.shape[1]] = small
            small = padded.reshape(h // step, step, w // step, step).any(axis=(1, 3))
            small = small[: rgb.shape[0], : rgb.shape[1]]
        if grow_px:
            from scipy import ndimage

            small = ndimage.binary_dilation(small, iterations=grow_px)
        # Half-transparent paint keeps the scene readable under large masks (clouds, water).
        rgb[small] = (0.35 * rgb[small] + 0.65 * np.asarray(colour)).astype(np.uint8)
    return _save(rgb, path)


def write_values_png(layer: Any, path: str | os.PathLike[str]) -> Path:
    """A single-band layer (an index, a DEM, a change magnitude) stretched to grey."""
    values = np.asarray(_values(layer), dtype=np.float32)
    values = values.reshape(-1, *values.shape[-2:])[0]
    step = _step(values.shape)
    return _save(to_rgb8(values[::step, ::step]), path)
