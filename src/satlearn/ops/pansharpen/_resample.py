"""Resampling of the MS onto the pan grid: GDAL's kernels in one compiled pass, or its warper.

Both grids' transforms are honoured (pixel-is-area; the grids may differ in
origin, as Landsat 8's do). Nearest, bilinear and cubic (the default, as in
GDAL's own pansharpening) on north-up grids use GDAL's kernels (Keys cubic,
a = -0.5) applied axis by axis in one compiled float32 pass over all bands
(numba: rows then columns, contiguous; parallel over rows for one numpy call,
serial with the GIL released per dask block), which is faster than GDAL's
general warper and thread-safe; other resamplings, and rotated grids, go
through :func:`rasterio.warp.reproject`. At the outermost two MS pixels the
two differ slightly (edge pixels are repeated here).

*Blockwise with a halo*: for a dask pan each pan block reads only the MS
window it covers plus :data:`WARP_MARGIN` MS pixels, so the MS is never
loaded whole.
"""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine

from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._brovey import brovey
from satlearn.ops.pansharpen._inputs import (
    F32,
    as_float_nan,
    check_same_crs,
    grid_bounds,
    ms_bands,
    pan_plane,
)

if TYPE_CHECKING:
    import xarray as xr
    from rasterio.enums import Resampling

__all__ = ["RESAMPLINGS", "WARP_MARGIN", "check_pan_grid", "resample_brovey", "resample_to_pan"]

#: The ``resampling=`` values :func:`resample_to_pan` (and ``pansharpen``) take.
RESAMPLINGS = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average")
#: Extra MS pixels read around each block: cubic and lanczos reach 2-3 source pixels.
WARP_MARGIN = 4
_WARP_LOCK = threading.Lock()
# Resamplings done without GDAL's warper on north-up grids (see _separable_resample).
_SEPARABLE = frozenset({"nearest", "bilinear", "cubic"})
_WARP_THREADS = max(1, os.cpu_count() or 1)


def _keys_weights(t: np.ndarray) -> np.ndarray:
    """Keys (a = -0.5) cubic-convolution weights of the taps at -1, 0, 1, 2 for offsets t."""
    t2, t3 = t * t, t * t * t
    return np.stack(
        [
            -0.5 * t3 + t2 - 0.5 * t,
            1.5 * t3 - 2.5 * t2 + 1.0,
            -1.5 * t3 + 2.0 * t2 + 0.5 * t,
            0.5 * t3 - 0.5 * t2,
        ],
        axis=1,
    )


def _axis_taps(
    n_dst: int, n_src: int, scale: float, offset: float, resampling: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taps (n_dst, k) int64 and float32 weights along one axis, and the rows inside the source.

    Destination pixel centres map to source pixel-centre coordinates ``u``;
    taps beyond the source edge repeat the edge pixel, as GDAL's RasterIO does.
    """
    u = (np.arange(n_dst) + 0.5) * scale + offset - 0.5
    inside = (u >= -0.5) & (u <= n_src - 0.5)
    if resampling == "nearest":
        taps = np.floor(u + 0.5)[:, None]
        weights = np.ones_like(taps)
    else:
        base = np.floor(u)
        t = u - base
        if resampling == "bilinear":
            taps = base[:, None] + np.arange(2)
            weights = np.stack([1.0 - t, t], axis=1)
        else:
            taps = base[:, None] + np.arange(-1, 3)
            weights = _keys_weights(t)
    taps = np.ascontiguousarray(np.clip(taps, 0, n_src - 1), dtype=np.int64)
    return taps, np.ascontiguousarray(weights, dtype=F32), inside


def _separable_loop(src, row_taps, row_weights, col_taps, col_weights, out):  # pragma: no cover
    """One pass over every (band, output row): the row taps on whole source rows, then the columns.

    Compiled with numba (the coverage tracer does not see inside). Accumulates
    in float32 in the order of the taps, zero weights included so that NaN
    (nodata) spreads over the kernel's whole reach, as a matrix product would.
    """
    bands = src.shape[0]
    width = src.shape[2]
    height_out = row_taps.shape[0]
    width_out = col_taps.shape[1]
    for index in numba.prange(bands * height_out):
        band = index // height_out
        i = index % height_out
        line = np.zeros(width, dtype=np.float32)
        for k in range(row_taps.shape[1]):
            source_row = src[band, row_taps[i, k]]
            weight = row_weights[i, k]
            for c in range(width):
                line[c] += weight * source_row[c]
        target = out[band, i]
        target[:] = 0.0
        # Tap by tap along the whole row (taps and weights stored (k, n)): contiguous, vectorised.
        for k in range(col_taps.shape[0]):
            taps = col_taps[k]
            weights = col_weights[k]
            for j in range(width_out):
                target[j] += weights[j] * line[taps[j]]


def _separable_brovey_loop(  # pragma: no cover
    src, row_taps, row_weights, col_taps, col_weights, row_inside, col_inside, pan, weights, out
):
    """:func:`_separable_loop` and Brovey in one pass, one output row (all bands) at a time.

    Each row is resampled exactly as :func:`_separable_loop` does it (same
    taps, same float32 order), the pixels outside the MS become NaN as in
    :func:`_separable_resample`, and then, while the row's bands are still in
    cache, ``out_k = MS_k * PAN / sum_j w_j MS_j`` (zero where the pseudo-pan
    is zero, as :func:`~satlearn.ops.pansharpen._brovey.brovey`). No
    scene-sized temporary: the resampled MS, the pseudo-pan and the ratio
    never exist as arrays of their own.
    """
    bands = src.shape[0]
    width = src.shape[2]
    height_out = row_taps.shape[0]
    width_out = col_taps.shape[1]
    nan = np.float32(np.nan)
    zero = np.float32(0.0)
    for i in numba.prange(height_out):
        line = np.empty(width, dtype=np.float32)
        for band in range(bands):
            line[:] = 0.0
            for k in range(row_taps.shape[1]):
                source_row = src[band, row_taps[i, k]]
                weight = row_weights[i, k]
                for c in range(width):
                    line[c] += weight * source_row[c]
            target = out[band, i]
            target[:] = 0.0
            for k in range(col_taps.shape[0]):
                taps = col_taps[k]
                tap_weights = col_weights[k]
                for j in range(width_out):
                    target[j] += tap_weights[j] * line[taps[j]]
            if not row_inside[i]:
                target[:] = nan
            else:
                for j in range(width_out):
                    if not col_inside[j]:
                        target[j] = nan
        for j in range(width_out):
            pseudo_pan = weights[0] * out[0, i, j]
            for band in range(1, bands):
                pseudo_pan += weights[band] * out[band, i, j]
            # NaN != 0, so NaN (no data) in the MS or the pan stays NaN.
            ratio = pan[i, j] / pseudo_pan if pseudo_pan != 0 else zero
            for band in range(bands):
                out[band, i, j] *= ratio


# The numba module, imported on first use (importing it costs a fraction of a second that
# most callers of this module never need); the compiled loop resolves ``numba.prange`` here.
numba: Any = None
_COMPILED: dict[tuple[bool, bool], Any] = {}
_COMPILE_LOCK = threading.Lock()
# numba's default (workqueue) threading layer is not reentrant: one parallel launch at a time.
_PARALLEL_LOCK = threading.Lock()


def _separable_kernel(parallel: bool, fused: bool = False) -> Any:
    """The compiled loop (with Brovey fused in when ``fused``): parallel over rows for one
    whole-array call, serial (GIL released) for dask blocks, which dask already runs in
    parallel. Cached on disk, so only the first process ever pays the compilation."""
    key = (parallel, fused)
    with _COMPILE_LOCK:
        if key not in _COMPILED:
            global numba
            import numba as module

            numba = module
            _COMPILED[key] = numba.njit(
                parallel=parallel, nogil=True, cache=True, fastmath=False, error_model="numpy"
            )(_separable_brovey_loop if fused else _separable_loop)
        return _COMPILED[key]


def _separable_resample(
    ms_block: np.ndarray,
    src_transform: Affine,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    resampling: str,
    *,
    parallel: bool = False,
    pan: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Resample north-up grids axis by axis in one compiled float32 pass over all bands.

    The same kernels as GDAL (nearest, bilinear, Keys cubic with a = -0.5),
    without GDAL's warper: faster for the 2x-4x upsampling of pansharpening,
    and free to run in many dask threads at once. Rows first, then columns,
    each output row written once, contiguously. With a ``pan`` block (and
    Brovey ``weights``) the Brovey fusion runs in the same pass
    (:func:`_separable_brovey_loop`).
    """
    row_taps, row_weights, row_inside = _axis_taps(
        dst_shape[0],
        ms_block.shape[1],
        dst_transform.e / src_transform.e,
        (dst_transform.f - src_transform.f) / src_transform.e,
        resampling,
    )
    col_taps, col_weights, col_inside = _axis_taps(
        dst_shape[1],
        ms_block.shape[2],
        dst_transform.a / src_transform.a,
        (dst_transform.c - src_transform.c) / src_transform.a,
        resampling,
    )
    col_taps = np.ascontiguousarray(col_taps.T)
    col_weights = np.ascontiguousarray(col_weights.T)
    out = np.empty((ms_block.shape[0], *dst_shape), dtype=F32)
    src = np.ascontiguousarray(ms_block, dtype=F32)
    kernel = _separable_kernel(parallel, pan is not None)
    args: tuple[Any, ...] = (src, row_taps, row_weights, col_taps, col_weights)
    if pan is not None:
        assert weights is not None
        pan = np.ascontiguousarray(pan, dtype=F32)
        args = (*args, row_inside, col_inside, pan, weights.astype(F32))
    if parallel:
        with _PARALLEL_LOCK:
            kernel(*args, out)
    else:
        kernel(*args, out)
    if pan is None:
        out[:, ~row_inside, :] = np.nan
        out[:, :, ~col_inside] = np.nan
    return out


def _north_up(transform: Affine) -> bool:
    return transform.b == 0 and transform.d == 0


def _warp_block(
    ms_block: np.ndarray,
    src_transform: Affine,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    crs: Any,
    resampling: Resampling,
    parallel: bool = False,
    pan: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The MS block on the destination grid; with a ``pan`` block, Brovey-fused with it."""
    if ms_block.size and (
        resampling.name in _SEPARABLE and _north_up(src_transform) and _north_up(dst_transform)
    ):
        return _separable_resample(
            ms_block,
            src_transform,
            dst_transform,
            dst_shape,
            resampling.name,
            parallel=parallel,
            pan=pan,
            weights=weights,
        )
    dst = np.full((ms_block.shape[0], *dst_shape), np.nan, dtype=F32)
    if ms_block.size == 0:
        return dst if pan is None else _brovey_block(dst, pan, weights)
    import rasterio.warp

    # rasterio wraps its in-memory datasets in warnings.catch_warnings(), which is not
    # thread-safe: concurrent calls from dask threads let NotGeoreferencedWarning escape.
    # One warp at a time, each multi-threaded by GDAL itself.
    with _WARP_LOCK:
        rasterio.warp.reproject(
            np.ascontiguousarray(ms_block, dtype=F32),
            dst,
            src_transform=src_transform,
            src_crs=crs,
            dst_transform=dst_transform,
            dst_crs=crs,
            resampling=resampling,
            src_nodata=np.nan,
            dst_nodata=np.nan,
            num_threads=_WARP_THREADS,
        )
    return dst if pan is None else _brovey_block(dst, pan, weights)


def _brovey_block(ms_up: np.ndarray, pan: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Brovey on an MS block GDAL's warper resampled (the kernels the fused pass lacks)."""
    return brovey(ms_up, pan, weights=weights).astype(F32, copy=False)


def _source_window(
    ms_transform: Affine,
    ms_shape: tuple[int, int],
    dst_transform: Affine,
    dst_shape: tuple[int, int],
) -> tuple[slice, slice]:
    """Rows/cols of the MS that cover a destination block, plus the kernel margin."""
    left, bottom, right, top = grid_bounds(dst_transform, *dst_shape)
    inverse = ~ms_transform
    cols, rows = zip(
        *(
            inverse @ (x, y)
            for x, y in ((left, top), (right, top), (left, bottom), (right, bottom))
        ),
        strict=True,
    )
    r0 = max(math.floor(min(rows)) - WARP_MARGIN, 0)
    r1 = min(math.ceil(max(rows)) + WARP_MARGIN, ms_shape[0])
    c0 = max(math.floor(min(cols)) - WARP_MARGIN, 0)
    c1 = min(math.ceil(max(cols)) + WARP_MARGIN, ms_shape[1])
    return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def resample_to_pan(
    ms: xr.DataArray, pan: xr.DataArray, *, resampling: str = "cubic"
) -> xr.DataArray:
    """Resample the MS bands onto the pan grid (GDAL's kernels, pixel-is-area).

    Numpy inputs are warped in one call; when the pan is dask-backed, each pan
    block gets its own warp of the MS window it covers, so the MS is never
    loaded whole (*blockwise with a halo* of :data:`WARP_MARGIN` MS pixels).
    Pixels outside the MS footprint, and MS nodata, become NaN.

    Parameters
    ----------
    ms : xarray.DataArray
        (band, y, x) multispectral image.
    pan : xarray.DataArray
        (y, x) or (1, y, x) panchromatic band defining the output grid.
    resampling : {"cubic", "bilinear", "nearest", "cubic_spline", "lanczos", "average"}

    Returns
    -------
    xarray.DataArray
        float32 (band, y, x) on the pan grid, chunked like the pan.

    Raises
    ------
    CRSMismatchError
        The two CRSs differ.
    InvalidInputError
        Bad dims, or the two footprints do not overlap.

    Examples
    --------
    >>> up = resample_to_pan(ms, pan, resampling="bilinear")  # doctest: +SKIP
    """
    return _on_pan_grid(ms_bands(ms), pan_plane(pan), resampling)


def resample_brovey(
    ms: xr.DataArray,
    pan: xr.DataArray,
    pan_data: Any,
    *,
    weights: np.ndarray,
    resampling: str = "cubic",
) -> xr.DataArray:
    """Brovey with fixed weights fused with the resampling: one pass, no resampled MS kept.

    The same result as ``brovey(resample_to_pan(ms, pan).data, pan_data,
    weights=weights)`` up to float32 rounding of the pseudo-pan (summed band
    by band here, by BLAS there: at most an ulp), numpy- or dask-backed like
    the pan; *blockwise with a halo* of :data:`WARP_MARGIN` MS pixels. On the
    separable resamplings each output row is resampled and fused while its
    bands are in cache; the others warp with GDAL first, then fuse per block.

    Parameters
    ----------
    ms, pan : xarray.DataArray
        As for :func:`resample_to_pan`, already checked (``ms_bands``, ``pan_plane``).
    pan_data : ndarray or dask array
        The pan's (y, x) values in float32 with NaN for nodata
        (``as_float_nan``), chunked like ``pan``.
    weights : ndarray
        One Brovey weight per MS band.
    resampling : str
        As for :func:`resample_to_pan`.

    Returns
    -------
    xarray.DataArray
        float32 (band, y, x) on the pan grid, georeferenced like :func:`resample_to_pan`'s.
    """
    return _on_pan_grid(ms, pan, resampling, pan_data=pan_data, weights=weights)


def check_pan_grid(ms: xr.DataArray, pan: xr.DataArray, resampling: str) -> Any:
    """Check what resampling ``ms`` onto ``pan``'s grid needs; return the common CRS.

    Raises
    ------
    CRSMismatchError
        The two CRSs differ.
    InvalidInputError
        An unknown resampling, or footprints that do not overlap.
    """
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    if resampling not in RESAMPLINGS:
        raise InvalidInputError(f"unknown resampling {resampling!r}; choose one of {RESAMPLINGS}")
    crs = check_same_crs(ms, pan)
    ml, mb, mr, mt = grid_bounds(ms.rio.transform(recalc=False), ms.sizes["y"], ms.sizes["x"])
    pl, pb, pr, pt = grid_bounds(pan.rio.transform(recalc=False), pan.sizes["y"], pan.sizes["x"])
    if min(mr, pr) <= max(ml, pl) or min(mt, pt) <= max(mb, pb):
        raise InvalidInputError(
            f"ms bounds {(ml, mb, mr, mt)} and pan bounds {(pl, pb, pr, pt)} do not overlap"
        )
    return crs


def _on_pan_grid(
    ms: xr.DataArray,
    pan: xr.DataArray,
    resampling: str,
    *,
    pan_data: Any = None,
    weights: np.ndarray | None = None,
) -> xr.DataArray:
    """The MS resampled onto the pan grid (Brovey-fused with ``pan_data`` when given)."""
    import xarray as xr
    from rasterio.enums import Resampling

    crs = check_pan_grid(ms, pan, resampling)
    ms_transform = ms.rio.transform(recalc=False)
    pan_transform = pan.rio.transform(recalc=False)
    ms_shape = (ms.sizes["y"], ms.sizes["x"])
    pan_shape = (pan.sizes["y"], pan.sizes["x"])
    method = Resampling[resampling]
    source = as_float_nan(ms.data, ms.rio.nodata)
    if pan.chunks is None:
        data = _warp_block(
            np.asarray(source),
            ms_transform,
            pan_transform,
            pan_shape,
            crs,
            method,
            parallel=True,
            pan=None if pan_data is None else np.asarray(pan_data),
            weights=weights,
        )
    else:
        data = _warp_lazily(
            source, ms_transform, ms_shape, pan_transform, pan.chunks, crs, method,
            pan_data=pan_data, weights=weights,
        )  # fmt: skip
    out = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": ms.coords["band"].values, "y": pan.y.values, "x": pan.x.values},
        attrs={k: v for k, v in ms.attrs.items() if k in ("sensor",)},
    )
    # In place: without it each rio.write_* deep-copies the whole scene (three copies).
    if ms.rio.crs is not None:
        out.rio.write_crs(ms.rio.crs, inplace=True)
    out.rio.write_transform(pan_transform, inplace=True)
    out.rio.write_nodata(np.nan, inplace=True)
    return out


def _warp_lazily(
    source: Any,
    ms_transform: Affine,
    ms_shape: tuple[int, int],
    pan_transform: Affine,
    pan_chunks: tuple[tuple[int, ...], tuple[int, ...]],
    crs: Any,
    method: Resampling,
    *,
    pan_data: Any = None,
    weights: np.ndarray | None = None,
) -> Any:
    import dask
    import dask.array as dsa

    count = source.shape[0]
    rows: list[list[Any]] = []
    r_start = 0
    for height in pan_chunks[0]:
        row: list[Any] = []
        c_start = 0
        for width in pan_chunks[1]:
            dst_transform = pan_transform @ Affine.translation(c_start, r_start)
            ys, xs = _source_window(ms_transform, ms_shape, dst_transform, (height, width))
            src_transform = ms_transform @ Affine.translation(xs.start, ys.start)
            pan_block = None
            if pan_data is not None:
                pan_block = pan_data[r_start : r_start + height, c_start : c_start + width]
            block = dask.delayed(_warp_block)(
                source[:, ys, xs], src_transform, dst_transform, (height, width), crs, method,
                pan=pan_block, weights=weights,
            )  # fmt: skip
            row.append(dsa.from_delayed(block, shape=(count, height, width), dtype=F32))
            c_start += width
        rows.append(row)
        r_start += height
    return dsa.block(rows)


# --------------------------------------------------------------------------- public layer
