"""Read rasters into labelled arrays and write them back as Cloud-Optimized GeoTIFFs.

The data model is an :class:`xarray.DataArray` with dims ``(band, y, x)``:
CRS, transform and nodata travel through rioxarray (``da.rio``), and the
``band`` coordinate holds band names (:mod:`satlearn.bands`).

Reading goes through rasterio directly: an eager window read is one
``DatasetReader.read`` call (rioxarray's lazy indexing was reported to be far
slower for small windows), and a lazy dask-backed array is one windowed read
per block, on a dataset each dask thread opens for itself. Remote sources
(``http(s)://``, ``s3://``) are read by GDAL's ``/vsicurl/`` and ``/vsis3/``
with HTTP range requests: only the header and the blocks a window touches are
fetched.

Writing goes block by block into a temporary tiled GeoTIFF, then GDAL's COG
driver copies it into a second temporary file that is renamed into place, so
an interrupted write never leaves a half file under the final name and a
dask-backed array is never loaded whole.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import math
import os
import stat
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import rasterio
import rasterio.shutil
import rasterio.warp
import rasterio.windows
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from affine import Affine
from rasterio._err import CPLE_BaseError  # rasterio exports no public base for GDAL errors
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from satlearn.atomic import filesystem_problem, temporary_sibling
from satlearn.bands import get_sensor
from satlearn.compute import active_client
from satlearn.errors import (
    InvalidInputError,
    NotARasterError,
    RasterIOError,
    RasterNotFoundError,
    RasterWriteError,
    RemoteAccessError,
    UnknownBandError,
)

__all__ = [
    "copy_grid",
    "gdal_env",
    "georeference",
    "http_timeout",
    "info",
    "json_number",
    "nodata_value",
    "open_raster",
    "pixel_centres",
    "save_cog",
    "validate_cog",
]

PathLike = str | os.PathLike[str]

_REMOTE_SCHEMES = frozenset({"http", "https", "s3", "gs", "az"})

# GDAL settings for cloud-native reads, applied to remote opens only (a
# rasterio.Env around the open and around every block read, in whichever thread
# reads it). They never go into os.environ: a child process (a CLI call through
# subprocess, a dask worker process) must see exactly the environment the user
# gave, and a local file must keep its sidecars (.hdr, .aux.xml, .ovr, .msk,
# world files), which GDAL finds by listing the folder. Values the user has set
# in the environment or in an enclosing rasterio.Env win: these only fill what
# both leave empty.
_CLOUD_DEFAULTS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
    # One retry, one second apart, of what GDAL retries (429, 5xx, a connection
    # or header timeout): GDAL's own retry delay is 30 s, so a dead server would
    # hold a read for minutes. Range reads that stall are not retried by GDAL.
    "GDAL_HTTP_MAX_RETRY": "1",
    "GDAL_HTTP_RETRY_DELAY": "1",
}

# Seconds one HTTP request may take (GDAL_HTTP_TIMEOUT, whole transfer) and may
# wait for a connection (GDAL_HTTP_CONNECTTIMEOUT, at most 10 s) unless the user
# sets GDAL's own variables. A stalled server costs about this long to open, and
# up to ~4x this for a pixel read (GDAL re-reads a failed window in smaller ranges).
HTTP_TIMEOUT_ENV = "SATLEARN_HTTP_TIMEOUT"
DEFAULT_HTTP_TIMEOUT_S = 30.0

# GDAL's network file systems; a chained path (/vsizip//vsicurl/...) is remote too.
_NETWORK_VSI = (
    "/vsicurl",
    "/vsis3",
    "/vsigs",
    "/vsiaz",
    "/vsiadls",
    "/vsioss",
    "/vsiswift",
    "/vsiwebhdfs",
)

_COMPRESSIONS = frozenset({"deflate", "lzw", "zstd", "lerc", "jpeg", "webp", "none"})
_RESAMPLINGS = frozenset(
    {"nearest", "average", "bilinear", "cubic", "cubicspline", "lanczos", "mode", "rms"}
)


def http_timeout() -> float:
    """Seconds a remote read's HTTP request may take: ``SATLEARN_HTTP_TIMEOUT``, else 30.

    Raises
    ------
    InvalidInputError
        ``SATLEARN_HTTP_TIMEOUT`` is set but not a positive number of seconds.

    Examples
    --------
    >>> http_timeout()  # doctest: +SKIP
    30.0
    """
    text = os.environ.get(HTTP_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_HTTP_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InvalidInputError(f"{HTTP_TIMEOUT_ENV}={text!r} is not a positive number of seconds")
    return seconds


def _cloud_defaults() -> dict[str, str]:
    timeout = http_timeout()
    return {
        **_CLOUD_DEFAULTS,
        "GDAL_HTTP_TIMEOUT": f"{max(1, math.ceil(timeout))}",  # GDAL reads whole seconds
        "GDAL_HTTP_CONNECTTIMEOUT": f"{max(1, math.ceil(min(timeout, 10.0)))}",
    }


def _user_setting(key: str) -> Any:
    """``key`` as the user set it: in an enclosing rasterio.Env, else the environment."""
    if rasterio.env.hasenv():
        value = rasterio.env.getenv().get(key)
        if value is not None:
            return value
    return os.environ.get(key)


def gdal_env(**options: Any) -> rasterio.Env:
    """A :class:`rasterio.Env` with satlearn's cloud-read defaults.

    Settings present in ``os.environ`` or in an enclosing ``rasterio.Env`` are
    left to the user; keyword options override everything. The HTTP timeout
    is ``SATLEARN_HTTP_TIMEOUT`` seconds (default 30), one retry a second later.

    Examples
    --------
    >>> with gdal_env(GDAL_HTTP_TIMEOUT=5):  # doctest: +SKIP
    ...     da = open_raster("https://example.com/scene.tif")
    """
    settings = {k: v for k, v in _cloud_defaults().items() if _user_setting(k) is None}
    settings.update(options)
    return rasterio.Env(**settings)


def _effective_timeout() -> float:
    """The HTTP timeout GDAL applies now (the user's GDAL_HTTP_TIMEOUT or satlearn's)."""
    try:
        return float(_user_setting("GDAL_HTTP_TIMEOUT"))
    except (TypeError, ValueError):
        return float(_cloud_defaults()["GDAL_HTTP_TIMEOUT"])


def _is_remote(src: str) -> bool:
    return urlparse(src).scheme.lower() in _REMOTE_SCHEMES


def _is_network(src: str) -> bool:
    """Whether GDAL reads ``src`` over the network (a URL or a network /vsi path)."""
    return _is_remote(src) or any(prefix in src for prefix in _NETWORK_VSI)


def _source_env(src: str) -> contextlib.AbstractContextManager[Any]:
    """GDAL settings for opening or reading ``src``: cloud defaults for remote
    sources; for anything else exactly the user's environment."""
    return gdal_env() if _is_network(src) else contextlib.nullcontext()


def _one_line(message: object) -> str:
    """A GDAL message on one line (the CLI prints errors on one line)."""
    return " ".join(str(message).split())


def _deepest(err: BaseException) -> BaseException:
    """The first error GDAL raised under ``err`` (rasterio chains them as causes)."""
    seen = {id(err)}
    while err.__cause__ is not None and id(err.__cause__) not in seen:
        err = err.__cause__
        seen.add(id(err))
    return err


@contextlib.contextmanager
def _open_errors(text: str, *, opening: bool) -> Iterator[None]:
    """Turn GDAL's errors while opening or reading ``text`` into satlearn's.

    Every source satlearn opens goes through here, so this is the one place a
    GDAL error (RasterioIOError, or a bare ``CPLE_*`` some calls let through)
    becomes a :class:`RasterIOError` subclass that names ``text``.
    """
    started = time.monotonic()
    try:
        yield
    except (RasterioIOError, CPLE_BaseError) as err:
        if _is_network(text):
            raise _remote_error(text, err, time.monotonic() - started, opening=opening) from err
        if opening:
            raise NotARasterError(f"{text}: not a raster GDAL can read ({_one_line(err)})") from err
        # The header opened but a block did not read: a truncated or corrupt file.
        detail = err.__cause__ or err  # GDAL's own message (which block) is the cause
        raise RasterIOError(
            f"{text}: cannot read its pixels; the file is truncated or corrupt "
            f"({_one_line(detail)})"
        ) from err


def _remote_error(
    text: str, err: BaseException, elapsed: float, *, opening: bool
) -> RemoteAccessError:
    """The error for a remote source that failed after ``elapsed`` seconds."""
    timeout = _effective_timeout()
    detail = _one_line(_deepest(err))
    # GDAL reports a timed-out range read as a short read ("not recognized",
    # "Read error ... got 0 bytes"), so the clock is the witness, unless the
    # server did answer (an HTTP status, after GDAL's retry delay).
    if elapsed >= 0.9 * timeout and "HTTP response code" not in detail:
        return RemoteAccessError(
            f"{text}: the server did not answer within {timeout:g} s (timed out after "
            f"{elapsed:.1f} s; {HTTP_TIMEOUT_ENV} sets the limit; {detail})"
        )
    if opening and "not recognized as" in detail:
        return RemoteAccessError(
            f"{text}: the server's answer is not a raster GDAL can read "
            f"(an HTML page or an error body?) ({detail})"
        )
    what = "open" if opening else "read the pixels of"
    return RemoteAccessError(f"{text}: cannot {what} remote raster ({detail})")


def _check_local_file(text: str) -> None:
    """Refuse a local path that is missing, a directory, empty or unreadable, before
    GDAL or xarray says something vaguer; URLs and /vsi paths pass."""
    if _is_remote(text) or text.startswith("/vsi"):
        return
    try:
        found = os.stat(text)
    except FileNotFoundError:
        raise RasterNotFoundError(f"{text}: no such file") from None
    except OSError as err:  # a denied folder, a name too long
        raise RasterIOError(f"{text}: cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(found.st_mode):
        raise NotARasterError(f"{text}: is a directory, not a raster file")
    if found.st_size == 0:
        raise NotARasterError(f"{text}: is empty (0 bytes), not a raster")


@contextlib.contextmanager
def _open(src: PathLike) -> Iterator[rasterio.io.DatasetReader]:
    """Open ``src`` with rasterio, turning GDAL's errors into satlearn's."""
    text = os.fspath(src)
    _check_local_file(text)
    with _open_errors(text, opening=True), _source_env(text), warnings.catch_warnings():
        # A plain picture (PNG, JPEG) without georeferencing is still a raster.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dataset = rasterio.open(text)
    with _open_errors(text, opening=False), _source_env(text), dataset:
        yield dataset


def _band_names(dataset: rasterio.io.DatasetReader, sensor: str | None) -> list[str]:
    """Name each band of ``dataset``: descriptions, then sensor order, then colours."""
    count = dataset.count
    profile = get_sensor(sensor) if sensor else None
    descriptions = list(dataset.descriptions)
    if all(descriptions) and len(set(descriptions)) == count:
        if profile is None:
            return [str(d) for d in descriptions]
        return [profile.band(d).name if d in profile else str(d) for d in descriptions]
    if profile is not None and count == len(profile.bands):
        return list(profile.names)
    colours = {ColorInterp.red: "red", ColorInterp.green: "green", ColorInterp.blue: "blue"}
    guessed = [colours.get(ci) for ci in dataset.colorinterp]
    names = [g or f"b{i}" for i, g in enumerate(guessed, start=1)]
    if len(set(names)) == count and any(guessed):
        return names
    return [f"b{i}" for i in range(1, count + 1)]


def _band_indexes(
    names: Sequence[str], bands: str | int | Sequence[str | int] | None, src: str
) -> list[int]:
    """1-based band indexes for a selection by name or by 1-based index."""
    if bands is None:
        return list(range(1, len(names) + 1))
    wanted = [bands] if isinstance(bands, str | int) else list(bands)
    if not wanted:
        raise InvalidInputError(f"{src}: bands= selects no band")
    indexes = []
    for band in wanted:
        if isinstance(band, bool) or not isinstance(band, str | int | np.integer):
            raise InvalidInputError(f"{src}: band selector {band!r} is not a name or an index")
        if isinstance(band, str):
            if band not in names:
                raise UnknownBandError(
                    f"{src}: no band named {band!r}; bands are {', '.join(names)}"
                )
            indexes.append(list(names).index(band) + 1)
        else:
            if not 1 <= band <= len(names):
                raise UnknownBandError(
                    f"{src}: band index {band} out of range 1..{len(names)} (indexes are 1-based)"
                )
            indexes.append(int(band))
    return indexes


def _resolve_window(
    dataset: rasterio.io.DatasetReader,
    window: Window | tuple[tuple[int, int], tuple[int, int]] | None,
    bbox: Sequence[float] | None,
    bbox_crs: Any,
    src: str,
) -> Window | None:
    """The integer pixel window to read, clipped to the raster, or None for all."""
    if window is not None and bbox is not None:
        raise InvalidInputError(f"{src}: give window= or bbox=, not both")
    full = Window(0, 0, dataset.width, dataset.height)
    if bbox is not None:
        if len(bbox) != 4:
            raise InvalidInputError(f"{src}: bbox must be (minx, miny, maxx, maxy), got {bbox!r}")
        left, bottom, right, top = (float(v) for v in bbox)
        if not (left < right and bottom < top):
            raise InvalidInputError(f"{src}: bbox {tuple(bbox)!r} is empty or inverted")
        if bbox_crs is not None and dataset.crs is not None:
            left, bottom, right, top = rasterio.warp.transform_bounds(
                bbox_crs, dataset.crs, left, bottom, right, top, densify_pts=21
            )
        raw = rasterio.windows.from_bounds(left, bottom, right, top, dataset.transform)
        # Outward to whole pixels so the window covers the whole bbox.
        window = raw.round_offsets(op="floor").round_lengths(op="ceil")
        window = Window(
            window.col_off,
            window.row_off,
            int(np.ceil(raw.col_off + raw.width - window.col_off - 1e-9)),
            int(np.ceil(raw.row_off + raw.height - window.row_off - 1e-9)),
        )
    elif window is None:
        return None
    elif not isinstance(window, Window):
        window = Window.from_slices(*window)
    try:
        clipped = window.intersection(full)
    except rasterio.errors.WindowError:
        clipped = None
    if clipped is None or clipped.width <= 0 or clipped.height <= 0:
        raise InvalidInputError(f"{src}: window {window} lies outside the raster ({full})")
    return Window(
        int(clipped.col_off), int(clipped.row_off), int(clipped.width), int(clipped.height)
    )


def pixel_centres(transform: Affine, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``y`` and ``x`` coordinates of pixel centres on a north-up grid."""
    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    return ys, xs


def _band_coords(
    dataset: rasterio.io.DatasetReader, indexes: list[int], names: list[str]
) -> dict[str, Any]:
    coords: dict[str, Any] = {"band": [names[i - 1] for i in indexes]}
    scales = [dataset.scales[i - 1] for i in indexes]
    offsets = [dataset.offsets[i - 1] for i in indexes]
    if any(s != 1.0 for s in scales) or any(o != 0.0 for o in offsets):
        coords["scale"] = ("band", np.asarray(scales, dtype="float64"))
        coords["offset"] = ("band", np.asarray(offsets, dtype="float64"))
    return coords


def nodata_value(da: xr.DataArray) -> float | None:
    """The nodata value of a DataArray as stored (``rio.nodata``, else the encoded one)."""
    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    return None if nodata is None else float(nodata)


def copy_grid(result: xr.DataArray, source: xr.DataArray) -> xr.DataArray:
    """Give ``result`` the grid-mapping coordinate (CRS, GeoTransform) of ``source``.

    For results computed on ``source``'s grid (indices, masks, magnitudes):
    cheaper than ``rio.write_crs`` + ``rio.write_transform``, and it never
    copies the data.
    """
    grid_mapping = source.rio.grid_mapping
    if grid_mapping in source.coords:
        result = result.assign_coords({grid_mapping: source.coords[grid_mapping]})
        # inplace: rioxarray would otherwise deep-copy the whole result
        result.rio.write_grid_mapping(grid_mapping, inplace=True)
    return result


@functools.lru_cache(maxsize=64)
def _grid_mapping_attrs(crs_wkt: str) -> dict[str, Any]:
    # rioxarray's write_crs parses the CRS with pyproj on every call (~5 ms, more
    # than a 512 x 512 window read); the CF grid-mapping attributes depend on the
    # CRS alone, so compute them once per CRS on a 1 x 1 array.
    probe = xr.DataArray(np.zeros((1, 1)), dims=("y", "x")).rio.write_crs(crs_wkt)
    return dict(probe.coords["spatial_ref"].attrs)


def georeference(da: xr.DataArray, crs: Any, transform: Affine, nodata: Any) -> xr.DataArray:
    """Attach CRS, transform and nodata (in place) the way rioxarray does, without its cost.

    ``rio.write_crs`` re-parses the CRS with pyproj on every call (~5 ms, more
    than a small window read); the CF grid-mapping attributes depend on the CRS
    alone, so they are computed once per CRS.
    """
    attrs = dict(_grid_mapping_attrs(crs.to_wkt())) if crs is not None else {}
    attrs["GeoTransform"] = " ".join(str(value) for value in transform.to_gdal())
    da.coords["spatial_ref"] = xr.Variable((), 0, attrs)
    da.encoding["grid_mapping"] = "spatial_ref"
    if nodata is not None:
        da.attrs["_FillValue"] = nodata
    return da


def open_raster(
    src: PathLike,
    *,
    bands: str | int | Sequence[str | int] | None = None,
    chunks: int | str | dict[str, int] | bool | None = None,
    window: Window | tuple[tuple[int, int], tuple[int, int]] | None = None,
    bbox: Sequence[float] | None = None,
    bbox_crs: Any = None,
    sensor: str | None = None,
) -> xr.DataArray:
    """Open a raster as a ``(band, y, x)`` DataArray.

    Parameters
    ----------
    src : str or path
        A local path, an ``http(s)://`` URL (read with HTTP range requests) or
        an ``s3://`` URL; anything else GDAL opens (``/vsizip/...``) also works.
        Local NetCDF/HDF5 files (``.nc``, ``.nc4``, ``.h5``...) are read by
        :func:`satlearn.netcdf.open_netcdf_raster` (``bands`` may name variables).
    bands : str, int or sequence of them, optional
        Bands to read, by name (``"nir"``) or 1-based index. Default: all.
    chunks : int, str, dict or True, optional
        Return a lazy dask-backed array with these chunks (``"auto"``,
        ``{"x": 1024, "y": 1024}``, ...). Default: read eagerly into numpy.
    window : rasterio Window or ((row_start, row_stop), (col_start, col_stop)), optional
        Read only this pixel window (clipped to the raster).
    bbox : (minx, miny, maxx, maxy), optional
        Read only the pixels covering this box, in the raster's CRS or in
        ``bbox_crs``. Either ``window`` or ``bbox``, not both.
    bbox_crs : CRS-like, optional
        CRS of ``bbox`` (e.g. ``"EPSG:4326"``), if not the raster's.
    sensor : str, optional
        A sensor key (:func:`satlearn.bands.get_sensor`) used to name bands
        when the file carries no band descriptions, or ids as descriptions.

    Returns
    -------
    xarray.DataArray
        Dims ``(band, y, x)``, coords at pixel centres, CRS, transform and
        nodata through ``da.rio``. Where the file carries scales or offsets,
        ``scale`` and ``offset`` coordinates along ``band`` hold them; values
        are returned as stored (not scaled).

    Raises
    ------
    RasterNotFoundError
        ``src`` is a local path that does not exist.
    NotARasterError
        ``src`` exists but is not a raster GDAL reads.
    RemoteAccessError
        A URL cannot be reached or read.
    UnknownBandError
        A band in ``bands`` is not in the raster.
    RasterIOError
        The header opened but pixels do not read (a truncated or corrupt
        file); for a lazy array, raised when the block is computed.
    InvalidInputError
        The window or bbox is empty or outside the raster, or a chunk size
        is not a positive integer (-1 means the whole dim).

    Examples
    --------
    >>> da = open_raster("scene.tif", bands=["red", "nir"])  # doctest: +SKIP
    >>> da.sel(band="nir").shape  # doctest: +SKIP
    (512, 512)
    """
    text = os.fspath(src)
    _check_chunks(chunks, text)
    if text.lower().endswith((".nc", ".nc4", ".h5", ".hdf5", ".he5")) and "://" not in text:
        # NetCDF/HDF5 products: CF grid mappings read by satlearn.netcdf (GDAL's
        # netCDF driver sees subdatasets and often no CRS).
        from satlearn.netcdf import open_netcdf_raster

        _check_local_file(text)

        return open_netcdf_raster(
            text, bands=bands, chunks=chunks, window=window, bbox=bbox, bbox_crs=bbox_crs
        )
    with _open(text) as dataset:
        names = _band_names(dataset, sensor)
        indexes = _band_indexes(names, bands, text)
        win = _resolve_window(dataset, window, bbox, bbox_crs, text)
        band_coords = _band_coords(dataset, indexes, names)
        crs, nodata = dataset.crs, dataset.nodata
        attrs: dict[str, Any] = {"source": text}
        if sensor:
            attrs["sensor"] = get_sensor(sensor).key
        if chunks is None or chunks is False:
            _check_fits_in_memory(dataset, indexes, win, text)
            try:
                data = dataset.read(indexes, window=win)
            except MemoryError as err:
                raise RasterIOError(
                    f"{text}: not enough memory to read "
                    f"{_gib(_eager_bytes(dataset, indexes, win))} eagerly; "
                    "pass chunks= (lazy) or window= / bbox= (a part)"
                ) from err
            transform = dataset.window_transform(win) if win is not None else dataset.transform
            ys, xs = pixel_centres(transform, data.shape[1], data.shape[2])
            da = xr.DataArray(
                data,
                dims=("band", "y", "x"),
                coords={**band_coords, "y": ys, "x": xs},
                attrs=attrs,
            )
            return georeference(da, crs, transform, nodata)
        transform = dataset.window_transform(win) if win is not None else dataset.transform
        chunks = _chunk_spec(dataset, chunks)
        full = Window(0, 0, dataset.width, dataset.height) if win is None else win
        data = _lazy_windows(text, indexes, full, chunks, np.dtype(dataset.dtypes[0]))
    ys, xs = pixel_centres(transform, int(full.height), int(full.width))
    da = xr.DataArray(
        data, dims=("band", "y", "x"), coords={**band_coords, "y": ys, "x": xs}, attrs=attrs
    )
    da.name = None  # xarray would name it after the dask graph key
    return georeference(da, crs, transform, nodata)


def _eager_bytes(dataset: rasterio.io.DatasetReader, indexes: list[int], win: Window | None) -> int:
    height, width = (dataset.height, dataset.width) if win is None else (win.height, win.width)
    return len(indexes) * int(height) * int(width) * np.dtype(dataset.dtypes[0]).itemsize


def _gib(size: int) -> str:
    if size >= 2**40:
        return f"{size / 2**40:,.1f} TiB"
    return f"{size / 2**30:,.1f} GiB"


def _memory_limit() -> int:
    """Bytes this process can have at most: physical memory, or a lower RLIMIT_AS."""
    limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limit = min(limit, soft)
    return int(limit)


def _check_fits_in_memory(
    dataset: rasterio.io.DatasetReader, indexes: list[int], win: Window | None, src: str
) -> None:
    """Refuse an eager read larger than memory (an absurd or corrupt header) before
    NumPy tries to allocate it."""
    needed, limit = _eager_bytes(dataset, indexes, win), _memory_limit()
    if needed > limit:
        height, width = (dataset.height, dataset.width) if win is None else (win.height, win.width)
        raise RasterIOError(
            f"{src}: reading {len(indexes)} x {int(height)} x {int(width)} {dataset.dtypes[0]} "
            f"pixels eagerly needs {_gib(needed)}, more than the "
            f"{_gib(limit)} of memory here (a corrupt header, or pass chunks= "
            "for a lazy array or window= / bbox= for a part)"
        )


# Datasets open in each dask reader thread, a few per thread (GDAL handles are
# not thread-safe, so threads never share one). Keyed by path and, for a local
# file, its size and mtime, so a file rewritten under the same name is reopened.
_THREAD_HANDLES = threading.local()
_HANDLES_PER_THREAD = 4


def _thread_dataset(text: str) -> rasterio.io.DatasetReader:
    cache: collections.OrderedDict[Any, Any] | None = getattr(_THREAD_HANDLES, "cache", None)
    if cache is None:
        cache = _THREAD_HANDLES.cache = collections.OrderedDict()
    key: tuple[Any, ...] = (text,)
    if not _is_network(text) and not text.startswith("/vsi"):
        found = os.stat(text)
        key = (text, found.st_size, found.st_mtime_ns)
    dataset = cache.get(key)
    if dataset is None:
        with _open_errors(text, opening=True), _source_env(text), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(text)
        cache[key] = dataset
        while len(cache) > _HANDLES_PER_THREAD:
            cache.popitem(last=False)[1].close()
    cache.move_to_end(key)
    return dataset


def _lazy_windows(
    text: str, indexes: list[int], window: Window, chunks: dict[str, Any], dtype: np.dtype
) -> Any:
    """A dask array whose every block is one windowed read of ``text``.

    Each block reads in its own thread under :func:`_source_env` (rasterio.Env
    is thread-local, so remote defaults must be entered where the read runs),
    and a failed read is satlearn's error naming the file, not GDAL's.
    """
    import dask.array as dsa

    shape = (len(indexes), int(window.height), int(window.width))
    spec = tuple(chunks.get(dim, -1) for dim in ("band", "y", "x"))
    blocks = dsa.core.normalize_chunks(spec, shape=shape, dtype=dtype)

    def read(block_info: Any = None) -> np.ndarray:
        (b0, b1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        block = Window(window.col_off + x0, window.row_off + y0, x1 - x0, y1 - y0)
        dataset = _thread_dataset(text)
        with _open_errors(text, opening=False), _source_env(text):
            return dataset.read(indexes[b0:b1], window=block)

    return dsa.map_blocks(read, chunks=blocks, dtype=dtype, meta=np.empty((0, 0, 0), dtype))


def _check_chunks(chunks: Any, src: str) -> None:
    """Reject chunk sizes dask would divide by or refuse (0, negatives, bools)."""
    if chunks is None or chunks is False or chunks is True or chunks == "auto":
        return
    if isinstance(chunks, dict):
        unknown = set(chunks) - {"band", "y", "x"}
        if unknown:
            raise InvalidInputError(
                f"{src}: chunks has unknown dims {sorted(map(str, unknown))}; use band, y, x"
            )
        for dim, size in chunks.items():
            # -1 (the whole dim), None and "auto" are dask's own spellings.
            if size is None or size == "auto" or (_is_int(size) and size == -1):
                continue
            if not _is_int(size) or size <= 0:
                raise InvalidInputError(
                    f"{src}: chunk size {size!r} for {dim} must be a positive integer "
                    "(or -1 for the whole dim)"
                )
        return
    if _is_int(chunks):
        if chunks <= 0:
            raise InvalidInputError(f"{src}: chunk size {chunks!r} must be a positive integer")
        return
    raise InvalidInputError(f"{src}: chunks must be an int, 'auto', True or a dict, got {chunks!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _chunk_spec(dataset: rasterio.io.DatasetReader, chunks: Any) -> dict[str, Any]:
    """Normalise ``chunks`` to a dict; "auto" aligns to the file's blocks, one band a chunk."""
    if isinstance(chunks, dict):
        return chunks
    if _is_int(chunks):
        return {"band": 1, "y": int(chunks), "x": int(chunks)}
    from dask.array.core import normalize_chunks

    _, ys, xs = normalize_chunks(
        (1, "auto", "auto"),
        shape=(dataset.count, dataset.height, dataset.width),
        dtype=np.dtype(dataset.dtypes[0]),
        previous_chunks=(1, *dataset.block_shapes[0]),
    )
    return {"band": 1, "y": ys[0], "x": xs[0]}


# --------------------------------------------------------------------------- writing


def _as_band_yx(da: xr.DataArray) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise InvalidInputError(f"save_cog needs an xarray.DataArray, got {type(da).__name__}")
    if da.ndim == 2 and set(da.dims) == {"y", "x"}:
        da = da.expand_dims(band=[str(da.name) if da.name is not None else "b1"])
    if da.ndim != 3 or set(da.dims) != {"band", "y", "x"}:
        raise InvalidInputError(f"save_cog needs dims (band, y, x) or (y, x), got {tuple(da.dims)}")
    da = da.transpose("band", "y", "x")
    if da.sizes["y"] == 0 or da.sizes["x"] == 0 or da.sizes["band"] == 0:
        raise InvalidInputError(f"save_cog got an empty array of shape {da.shape}")
    return da


def _gdal_dtype(dtype: np.dtype) -> np.dtype:
    if dtype == np.bool_:
        return np.dtype("uint8")
    if dtype.kind not in "uif":
        raise InvalidInputError(f"save_cog cannot write dtype {dtype} to GeoTIFF")
    return dtype


class _WindowWriter:
    """A ``__setitem__`` target for :func:`dask.array.store` that writes windows."""

    def __init__(self, dataset: rasterio.io.DatasetWriter, dtype: np.dtype) -> None:
        self.dataset = dataset
        self.dtype = dtype
        self.lock = threading.Lock()

    def __setitem__(self, key: tuple[slice, slice, slice], value: np.ndarray) -> None:
        bands, rows, cols = key
        indexes = list(range(bands.start + 1, bands.stop + 1))
        window = Window.from_slices(rows, cols)
        with self.lock:  # GDAL dataset handles are not thread-safe
            self.dataset.write(np.asarray(value, dtype=self.dtype), indexes=indexes, window=window)


def _staging_lock(path: str) -> Any:
    """A lock every process writing ``path`` shares: distributed's inside a worker."""
    try:
        from distributed import Lock, get_worker

        get_worker()
    except (ImportError, ValueError):
        return _LOCAL_STAGING_LOCK  # not in a worker (a client-side fallback)
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:16]
    return Lock(f"satlearn-staging-{digest}")


_LOCAL_STAGING_LOCK = threading.Lock()


class StagingTarget:
    """A ``__setitem__`` target for :func:`dask.array.store` run by distributed workers.

    It holds only a path and a dtype, so it pickles to the workers; each write
    opens the staging GeoTIFF in ``r+`` mode in the worker process, writes its
    window and closes it, all under a lock shared by every process. The open is
    not cached across writes on purpose: a handle kept open would keep its own
    block cache and rewrite the TIFF directory on close, so two processes could
    lose each other's tiles (a tile two chunks share is read, patched and
    rewritten). Opening a local GeoTIFF costs about a millisecond; the reads and
    computing before the write still run in parallel, only the writes queue.
    Workers and client must share the filesystem the path is on.
    """

    def __init__(self, path: str, dtype: np.dtype) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)

    def __setitem__(self, key: tuple[slice, slice, slice], value: np.ndarray) -> None:
        bands, rows, cols = key
        indexes = list(range(bands.start + 1, bands.stop + 1))
        window = Window.from_slices(rows, cols)
        block = np.asarray(value, dtype=self.dtype)
        with _staging_lock(self.path), rasterio.open(self.path, "r+") as dst:
            dst.write(block, indexes=indexes, window=window)


def save_cog(
    da: xr.DataArray,
    path: PathLike,
    *,
    compress: str = "deflate",
    blocksize: int = 512,
    overviews: str | int | None = "auto",
    nodata: float | None = None,
    resampling: str = "nearest",
) -> Path:
    """Write a DataArray to ``path`` as a Cloud-Optimized GeoTIFF, atomically.

    Parameters
    ----------
    da : xarray.DataArray
        Dims ``(band, y, x)`` or ``(y, x)``, numpy- or dask-backed. CRS,
        transform and nodata are taken from ``da.rio``; band names become band
        descriptions; ``scale`` / ``offset`` band coordinates are written too.
        A dask-backed array is computed block by block, never whole.
    path : str or path
        Destination. Parent folders are created.
    compress : {"deflate", "lzw", "zstd", "lerc", "jpeg", "webp", "none"}
        Compression; lossless ones use the predictor suited to the dtype.
    blocksize : int
        Tile size in pixels, a multiple of 16.
    overviews : "auto", int, or None
        ``"auto"`` builds overviews until the smallest fits in one tile; an int
        builds that many levels; None (or 0) builds none.
    nodata : float, optional
        Nodata value to record; default: ``da.rio.nodata``.
    resampling : str
        Overview resampling (``"nearest"`` suits class maps, ``"average"``
        continuous values).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    InvalidInputError
        Bad dims, dtype or options.
    RasterWriteError
        GDAL failed to write; no file is left under ``path``.

    Examples
    --------
    >>> save_cog(da, "out/ndvi.tif", compress="zstd")  # doctest: +SKIP
    PosixPath('out/ndvi.tif')
    """
    da = _as_band_yx(da)
    dtype = _gdal_dtype(np.dtype(da.dtype))
    compress = str(compress).lower()
    if compress not in _COMPRESSIONS:
        raise InvalidInputError(
            f"unknown compress={compress!r}; choose one of {', '.join(sorted(_COMPRESSIONS))}"
        )
    if not isinstance(blocksize, int) or blocksize < 16 or blocksize % 16:
        raise InvalidInputError(f"blocksize must be a positive multiple of 16, got {blocksize!r}")
    if resampling not in _RESAMPLINGS:
        raise InvalidInputError(
            f"unknown resampling={resampling!r}; choose one of {', '.join(sorted(_RESAMPLINGS))}"
        )
    options: dict[str, Any] = {
        "compress": compress.upper(),
        "blocksize": blocksize,
        "bigtiff": "IF_SAFER",
        "num_threads": "ALL_CPUS",
        "resampling": resampling.upper(),
        "overview_resampling": resampling.upper(),
    }
    if compress in {"deflate", "lzw", "zstd"}:
        options["predictor"] = "YES"
    if overviews == "auto":
        options["overviews"] = "AUTO"
    elif overviews is None or overviews == 0:
        options["overviews"] = "NONE"
    elif isinstance(overviews, int) and not isinstance(overviews, bool) and overviews > 0:
        options["overviews"] = "AUTO"
        options["overview_count"] = overviews
    else:
        raise InvalidInputError(
            f"overviews must be 'auto', a positive int or None, got {overviews!r}"
        )

    if nodata is None:
        nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    if nodata is not None and not np.isnan(nodata) and dtype.kind in "ui":
        info_ = np.iinfo(dtype)
        if not info_.min <= nodata <= info_.max:
            raise InvalidInputError(f"nodata {nodata} does not fit dtype {dtype}")

    target = Path(os.fspath(path))
    staging = temporary_sibling(target, "staging")
    finished = temporary_sibling(target, "cog")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_staging(da, staging, dtype, nodata, blocksize)
        rasterio.shutil.copy(staging, finished, driver="COG", **options)
        os.replace(finished, target)
    except (rasterio.errors.RasterioError, CPLE_BaseError) as err:
        # A full disk surfaces as a bare CPLE_* (e.g. writing the COG's tags), or as
        # "Write failed" without why: name a full or read-only filesystem.
        cause = filesystem_problem(target.parent)
        detail = f"{cause}; {err}" if cause else str(err)
        raise RasterWriteError(f"{target}: GDAL could not write the COG ({detail})") from err
    except OSError as err:
        # A source block that does not read (RasterIOError) is the input's fault.
        if isinstance(err, RasterWriteError | RasterIOError):
            raise
        raise RasterWriteError(f"{target}: could not write ({err})") from err
    finally:
        for leftover in (staging, finished):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return target


def _write_staging(
    da: xr.DataArray, staging: Path, dtype: np.dtype, nodata: Any, blocksize: int
) -> None:
    """Write ``da`` into a plain tiled GeoTIFF that the COG driver then copies."""
    count, height, width = da.shape
    names = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype.name,
        "crs": da.rio.crs,
        "transform": da.rio.transform(recalc=False),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "bigtiff": "IF_SAFER",
    }
    with rasterio.open(staging, "w", **profile) as dst:
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
        if "scale" in da.coords and "offset" in da.coords:
            dst.scales = tuple(float(s) for s in np.atleast_1d(da.coords["scale"].values))
            dst.offsets = tuple(float(o) for o in np.atleast_1d(da.coords["offset"].values))
        dst.update_tags(AREA_OR_POINT="Area")
        client = active_client() if da.chunks is not None else None
        if client is None:
            if da.chunks is not None:
                import dask.array

                data = da.data
                if data.dtype != dtype:
                    data = data.astype(dtype)
                dask.array.store(data, _WindowWriter(dst, dtype), lock=False, compute=True)
            else:
                dst.write(np.asarray(da.values, dtype=dtype))
    if client is not None:
        # On a distributed cluster the handle above lives in the client only: the
        # file is closed (header and every tile allocated) and the workers write
        # their blocks into it themselves, so no block travels to the client.
        import dask.array

        data = da.data
        if data.dtype != dtype:
            data = data.astype(dtype)
        dask.array.store(
            data, StagingTarget(os.path.abspath(staging), dtype), lock=False, compute=True
        )


# --------------------------------------------------------------------------- inspection


def validate_cog(src: PathLike) -> tuple[bool, list[str], list[str]]:
    """Validate ``src`` as a Cloud-Optimized GeoTIFF with rio-cogeo, and check it is whole.

    rio-cogeo checks the layout the header describes; a local file is also
    checked block by block: every tile or strip of every IFD (the image, its
    overviews and masks) must lie within the file, so a truncated copy is not
    valid. (For a remote file that would cost a request per check; its header
    is trusted.)

    Returns
    -------
    (is_valid, errors, warnings)
    """
    from rio_cogeo.cogeo import cog_validate

    text = os.fspath(src)
    with _open(text):  # the same clear errors as open_raster for a bad source
        pass
    with _source_env(text), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        is_valid, errors, cog_warnings = cog_validate(text, quiet=True)
    errors = list(errors)
    if not _is_network(text) and not text.startswith("/vsi"):
        errors += _blocks_past_end(text)
    return bool(is_valid) and not errors, errors, list(cog_warnings)


def _blocks_past_end(path: str) -> list[str]:
    """One error per TIFF IFD whose tiles or strips end past the end of ``path``."""
    import tifffile  # scikit-image's TIFF reader: every IFD's offsets as arrays, no pixels

    size = os.path.getsize(path)
    problems = []
    try:
        with warnings.catch_warnings(), tifffile.TiffFile(path) as tif:
            warnings.simplefilter("ignore")
            for number, page in enumerate(tif.pages):
                offsets = np.asarray(page.dataoffsets, dtype="int64")
                counts = np.asarray(page.databytecounts, dtype="int64")
                # The declared size needs this many blocks; a header patched or
                # corrupted to a huge size lists far fewer.
                expected = math.prod(page.chunked)
                if len(offsets) != expected:
                    problems.append(
                        f"IFD {number}: {page.imagewidth} x {page.imagelength} pixels need "
                        f"{expected} blocks but the header lists {len(offsets)} block "
                        "offsets; the header is corrupt"
                    )
                    continue
                ends = offsets + counts
                # A sparse block (offset and count 0) is allowed: it reads as nodata.
                past = (counts > 0) & (ends > size)
                if past.any():
                    kind = (
                        "mask"
                        if page.subfiletype & 4
                        else ("overview" if page.subfiletype & 1 else "image")
                    )
                    problems.append(
                        f"IFD {number} ({kind}): {int(past.sum())} of {len(counts)} blocks end "
                        f"past the end of the file (the last at byte {int(ends.max())}; "
                        f"the file has {size} bytes); the file is truncated "
                        "(or its block offsets corrupt)"
                    )
    except Exception as err:  # any parse failure (TiffFileError, struct.error) means a broken TIFF
        problems.append(f"TIFF structure unreadable ({err})")
    return problems


def info(src: PathLike, *, sensor: str | None = None) -> dict[str, Any]:
    """Describe a raster: size, bands, CRS, transform, dtype, nodata, overviews, COG validity.

    Returns a JSON-serialisable dict (what ``satlearn info --json`` prints).
    """
    text = os.fspath(src)
    with _open(text) as ds:
        names = _band_names(ds, sensor)
        bands = []
        for i in range(1, ds.count + 1):
            bands.append(
                {
                    "index": i,
                    "name": names[i - 1],
                    "description": ds.descriptions[i - 1],
                    "dtype": ds.dtypes[i - 1],
                    "nodata": json_number(ds.nodatavals[i - 1]),
                    "color_interpretation": ds.colorinterp[i - 1].name,
                    "scale": ds.scales[i - 1],
                    "offset": ds.offsets[i - 1],
                    "block_shape": list(ds.block_shapes[i - 1]),
                    "overview_factors": ds.overviews(i),
                    "mask_flags": [flag.name for flag in ds.mask_flag_enums[i - 1]],
                }
            )
        result: dict[str, Any] = {
            "source": text,
            "driver": ds.driver,
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0] if len(set(ds.dtypes)) == 1 else list(ds.dtypes),
            "crs": ds.crs.to_string() if ds.crs else None,
            "crs_wkt": ds.crs.to_wkt() if ds.crs else None,
            "transform": list(ds.transform)[:6],
            "resolution": list(ds.res),
            "bounds": list(ds.bounds),
            "nodata": json_number(ds.nodata),
            "compression": ds.compression.name if ds.compression else None,
            "overviews": ds.overviews(1) if ds.count else [],
            "bands": bands,
        }
    if result["driver"] == "GTiff":
        is_valid, errors, cog_warnings = validate_cog(text)
    else:
        is_valid, errors, cog_warnings = False, [f"driver is {result['driver']}, not GTiff"], []
    result["is_cog"] = is_valid
    result["cog_errors"] = errors
    result["cog_warnings"] = cog_warnings
    return result


def json_number(value: float | None) -> float | int | str | None:
    """A nodata-like number as JSON allows it: NaN and infinities as strings
    (the STAC raster extension's spelling), whole numbers as ints."""
    if value is None:
        return None
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return int(value) if float(value).is_integer() else float(value)
