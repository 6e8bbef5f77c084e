"""Quicklook PNGs: a percentile-stretched RGB (or grey) picture of a raster."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from PIL import Image

from satlearn.atomic import atomic_output
from satlearn.errors import InvalidInputError, UnknownBandError

__all__ = ["quicklook", "to_rgb8"]


def to_rgb8(
    image: np.ndarray,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
    nodata: float | None = None,
) -> np.ndarray:
    """Stretch a ``(band, y, x)`` array (1 or 3 bands) to ``(y, x, 3)`` uint8.

    Each band is stretched linearly between its own low and high percentiles
    of the valid (finite, not nodata) pixels; invalid pixels become black.

    Examples
    --------
    >>> rgb = to_rgb8(np.random.default_rng(0).random((3, 8, 8)))
    >>> rgb.shape, rgb.dtype
    ((8, 8, 3), dtype('uint8'))
    """
    data = np.asarray(image, dtype="float32")
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3 or data.shape[0] not in (1, 3):
        raise InvalidInputError(f"to_rgb8 needs 1 or 3 bands as (band, y, x), got {data.shape}")
    low_pct, high_pct = percentiles
    if not 0 <= low_pct < high_pct <= 100:
        raise InvalidInputError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}"
        )
    valid = np.isfinite(data).all(axis=0)
    if nodata is not None:
        valid &= ~(data == nodata).all(axis=0)
    out = np.zeros(data.shape, dtype="uint8")
    for i, band in enumerate(data):
        values = band[valid]
        if values.size == 0:
            continue
        low, high = np.percentile(values, [low_pct, high_pct])
        scale = 255.0 / (high - low) if high > low else 0.0
        stretched = np.clip((band - low) * scale, 0, 255)
        out[i] = np.where(valid, stretched, 0).astype("uint8")
    if out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    return np.moveaxis(out, 0, -1)


def quicklook(
    da: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    bands: Sequence[str] | None = ("red", "green", "blue"),
    max_size: int = 1024,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> Path:
    """Write a PNG quicklook of ``da`` (dims ``(band, y, x)`` or ``(y, x)``).

    The array is decimated by striding to at most ``max_size`` pixels on its
    long side *before* it is loaded, so a dask-backed scene is never read whole.
    ``bands`` picks three bands for RGB; if the array lacks them, its first band
    is shown in grey. The PNG is written atomically.

    Examples
    --------
    >>> quicklook(scene.image.isel(time=0), "quicklook.png")  # doctest: +SKIP
    PosixPath('quicklook.png')
    """
    if da.ndim == 2:
        da = da.expand_dims(band=["value"])
    if da.ndim != 3 or "band" not in da.dims:
        raise InvalidInputError(f"quicklook needs dims (band, y, x) or (y, x), got {da.dims}")
    names = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    if bands is not None and all(b in names for b in bands):
        da = da.sel(band=list(bands))
    elif bands is not None and len(bands) != 3:
        raise UnknownBandError(f"quicklook bands {list(bands)!r} are not 3 bands of {names}")
    else:
        da = da.isel(band=[0])
    step = max(1, int(np.ceil(max(da.sizes["y"], da.sizes["x"]) / max_size)))
    small = da.isel(y=slice(None, None, step), x=slice(None, None, step))
    rgb = to_rgb8(small.values, percentiles=percentiles, nodata=da.rio.nodata)
    with atomic_output(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
    return Path(os.fspath(path))
