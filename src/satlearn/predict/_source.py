"""Where the pixels come from: windowed reads of a file, URL, STAC item or DataArray.

Every source answers one question, ``read(rows, cols)``: the bundle's bands
over a window of the scene, as stored (unscaled), plus which pixels are
valid. Files are read with rasterio window reads in the calling thread (each
reader thread opens its own dataset: GDAL handles are not thread-safe), so
only the windows prediction needs are ever read; a dask-backed DataArray
computes only the chunks under the window.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.bands import nodata_value
from satlearn.errors import InvalidInputError

__all__ = ["CACHE_BYTES", "Source", "open_source"]

#: GDAL's block cache while predicting. Its default (5 % of the RAM) fills with
#: every block read or written, so resident memory would grow with the scene;
#: prediction touches each block a few times in a row at most, so a small cache
#: loses nothing. ``GDAL_CACHEMAX`` in the environment overrides it.
CACHE_BYTES = 64 * 2**20


@dataclass
class Source:
    """A scene to predict on.

    Attributes
    ----------
    height, width : int
        Scene size in pixels.
    crs, transform :
        The scene's grid (rasterio CRS and Affine).
    nodata : float or None
        The stored value that marks missing pixels.
    name : str
        What error messages and the STAC item call the scene.
    """

    height: int
    width: int
    crs: Any
    transform: Any
    nodata: float | None
    name: str
    _read: Any = field(repr=False)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    #: The selected bands as a dask array, for a dask-backed DataArray scene.
    lazy_data: Any = field(default=None, repr=False)

    def read(self, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Bands ``(C, h, w)`` float32 and validity ``(h, w)`` of an in-scene window."""
        data = np.asarray(self._read(rows, cols), dtype=np.float32)
        valid = np.isfinite(data).all(axis=0)
        if self.nodata is not None and np.isfinite(self.nodata):
            valid &= (data != np.float32(self.nodata)).any(axis=0)
        return data, valid


def _positions(da: xr.DataArray, bands: Sequence[str], what: str) -> list[int]:
    from satlearn.bands import band_indices

    return band_indices(da, list(bands), what=what) if bands else list(range(da.sizes["band"]))


def _from_dataarray(da: xr.DataArray, bands: Sequence[str]) -> Source:
    from satlearn.checks import check_raster

    da = check_raster(da, what="image", dims=("band", "y", "x"))
    positions = _positions(da, bands, "the image")
    selected = da.isel(band=positions)

    def read(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        return np.asarray(selected.isel(y=slice(*rows), x=slice(*cols)).values)

    nodata = nodata_value(da)
    return Source(
        height=da.sizes["y"],
        width=da.sizes["x"],
        crs=da.rio.crs,
        transform=da.rio.transform(recalc=False),
        nodata=nodata,
        name=str(da.attrs.get("source", "the image")),
        _read=read,
        fingerprint={"source": "dataarray", "shape": list(da.shape)},
        lazy_data=selected.data if selected.chunks is not None else None,
    )


class _FileReader:
    """Window reads of one raster file or URL, one rasterio dataset per thread.

    GDAL keeps every block it decodes in its block cache (5 % of the RAM by
    default), so a sweep over a big scene would grow resident memory with the
    scene until the cache is full. Each thread's dataset is therefore
    reopened after every ``REOPEN_BYTES`` read, which frees its cached blocks:
    a strip reads each block at most a few times in a row, so nothing useful
    is lost, and memory stays flat.
    """

    REOPEN_BYTES = 64 * 2**20

    def __init__(self, href: str, indexes: list[int]) -> None:
        self.href, self.indexes = href, indexes
        self._local = threading.local()

    def env(self) -> Any:
        """The GDAL settings reads run under (rasterio keeps them per thread)."""
        from satlearn.raster import gdal_env

        cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": CACHE_BYTES}
        return gdal_env(**cache)

    def dataset(self) -> Any:
        ds = getattr(self._local, "dataset", None)
        if ds is None:
            import rasterio

            ds = self._local.dataset = rasterio.open(self.href)
        return ds

    def __call__(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        from rasterio.windows import Window

        from satlearn.errors import RasterIOError

        window = Window.from_slices(rows, cols)
        try:
            with self.env():
                data = self.dataset().read(self.indexes, window=window)
        except Exception as err:  # rasterio raises RasterioIOError, CPLE_* and more
            raise RasterIOError(
                f"{self.href}: cannot read window {rows} x {cols} ({err})"
            ) from None
        self._local.read = getattr(self._local, "read", 0) + data.nbytes
        if self._local.read > self.REOPEN_BYTES:
            self._local.dataset.close()
            self._local.dataset, self._local.read = None, 0
        return data


def _from_file(href: str, bands: Sequence[str]) -> Source:
    from satlearn.raster import open_raster

    lazy = open_raster(href, chunks=True)  # header only: band names and grid
    positions = _positions(lazy, bands, href)
    reader = _FileReader(href, [p + 1 for p in positions])
    fingerprint: dict[str, Any] = {"source": href}
    if os.path.isfile(href):
        stat = os.stat(href)
        fingerprint.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    nodata = nodata_value(lazy)
    return Source(
        height=lazy.sizes["y"],
        width=lazy.sizes["x"],
        crs=lazy.rio.crs,
        transform=lazy.rio.transform(recalc=False),
        nodata=nodata,
        name=href,
        _read=reader,
        fingerprint=fingerprint,
    )


def _asset_for_bands(item: dict[str, Any], bands: Sequence[str], where: str) -> str:
    """The href of the one asset holding every band the model reads."""
    wanted = {str(b).lower() for b in bands}
    for asset in (item.get("assets") or {}).values():
        if "data" not in (asset.get("roles") or ["data"]):
            continue
        listed = asset.get("eo:bands") or asset.get("bands") or []
        names = {
            str(b.get(key, "")).lower()
            for b in listed
            for key in ("name", "common_name", "eo:common_name")
        }
        if wanted <= names:
            return str(asset["href"])
    raise InvalidInputError(
        f"{where}: no data asset lists every band the model reads ({', '.join(bands)}); "
        "predict on the asset's file instead"
    )


def _from_item(path: Path, bands: Sequence[str]) -> Source:
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable STAC item ({err})") from None
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise InvalidInputError(f"{path}: not a STAC item (type is not 'Feature')")
    href = _asset_for_bands(item, bands, str(path))
    if "://" not in href and not os.path.isabs(href):
        href = str((path.parent / href).resolve())
    return _from_file(href, bands)


def open_pair(before: Any, after: Any, bands: Sequence[str], *, register: bool) -> Source:
    """A :class:`Source` reading two dates stacked on the bands (before, then after).

    With ``register``, ``after`` is first co-registered onto ``before``
    (:func:`satlearn.ops.registration.coregister`, a phase-correlation shift,
    resampled onto the first date's grid; it loads the two scenes). Otherwise
    both must share one grid.

    Raises
    ------
    GridMismatchError
        The two scenes are not on one grid (and ``register`` is False).
    """
    from satlearn.errors import GridMismatchError

    if register:
        from satlearn.ops.registration import coregister
        from satlearn.raster import open_raster

        def as_array(image: Any) -> xr.DataArray:
            if isinstance(image, xr.DataArray):
                return image.isel(band=_positions(image, bands, "the image"))
            return open_raster(open_source(image, bands).name, bands=list(bands))

        first = as_array(before)
        after = coregister(first, as_array(after), resample=True)
        before = first
    a, b = open_source(before, bands), open_source(after, bands)
    if (a.height, a.width) != (b.height, b.width) or a.transform != b.transform or a.crs != b.crs:
        raise GridMismatchError(
            f"{a.name} and {b.name} are not on one grid ({a.height} x {a.width} vs "
            f"{b.height} x {b.width}, or another transform or CRS); co-register them "
            "(--register) or reproject one onto the other"
        )

    def read(rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        first, second = a.read(rows, cols), b.read(rows, cols)
        # A pixel is nodata when either date lacks it: NaN where a date is invalid.
        stacked = np.concatenate([first[0], second[0]])
        stacked[:, ~(first[1] & second[1])] = np.nan
        return stacked

    return Source(
        height=a.height,
        width=a.width,
        crs=a.crs,
        transform=a.transform,
        nodata=None,
        name=a.name,
        _read=read,
        fingerprint={"before": a.fingerprint, "after": b.fingerprint, "registered": register},
    )


def open_source(image: Any, bands: Sequence[str]) -> Source:
    """A :class:`Source` for a DataArray, a raster path or URL, or a STAC item JSON.

    Raises
    ------
    UnknownBandError
        The scene lacks a band the model reads.
    InvalidInputError
        ``image`` is none of the above.
    """
    if isinstance(image, xr.DataArray):
        return _from_dataarray(image, bands)
    if isinstance(image, str | os.PathLike):
        text = os.fspath(image)
        if text.lower().endswith(".json") and "://" not in text:
            return _from_item(Path(text), bands)
        return _from_file(text, bands)
    raise InvalidInputError(
        f"image must be a DataArray, a raster path or URL, or a STAC item JSON, "
        f"not {type(image).__name__}"
    )
