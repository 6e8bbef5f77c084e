"""Applying a registration to pixels: shifts and warps of images and raster planes.

:func:`shift_image` shifts a numpy image by a sub-pixel ``(dy, dx)``
(spline interpolation); :func:`shift_raster` and :func:`warp_raster` do it
to every ``(y, x)`` plane of a DataArray, lazily on dask input (one task per
whole plane: *global* in space, blockwise over bands and dates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["load_xarray", "shift_image", "shift_raster", "warp_raster"]


def load_xarray() -> Any:
    """xarray, with rioxarray's ``.rio`` accessor registered.

    They load only for the DataArray layer: the array kernels
    (:func:`phase_correlation`, :func:`match_features`) stay a ~0.1 s import
    for a one-shot registration (rioxarray alone is ~1 s).
    """
    import rioxarray  # noqa: F401
    import xarray

    return xarray


def shift_image(
    image: np.ndarray, shift: tuple[float, float], *, order: int = 3, fill: float = np.nan
) -> np.ndarray:
    """Shift a 2-D image by ``(dy, dx)`` pixels (spline ``order``), ``fill`` outside.

    ``shift_image(moving, (dy, dx))`` registers ``moving`` onto ``reference``
    when ``(dy, dx)`` comes from :func:`phase_correlation`. Integer images come
    back in their dtype (rounded, clipped); pixels that came from outside the
    image get ``fill`` (cast to the dtype).
    """
    image = np.asarray(image)
    work = image.astype(np.float32 if image.dtype.itemsize <= 4 else np.float64)
    finite = np.isfinite(work)
    if not finite.all():
        work = np.where(finite, work, 0)
    from scipy import ndimage as ndi

    shifted = ndi.shift(work, shift, order=order, mode="constant", cval=np.nan)
    if not finite.all():
        moved_finite = ndi.shift(finite.astype(np.float32), shift, order=1, cval=0) > 0.999
        shifted[~moved_finite] = np.nan
    # Output pixel q samples input q - shift: outside the image it gets ``fill``.
    rows = np.arange(image.shape[0]) - shift[0]
    cols = np.arange(image.shape[1]) - shift[1]
    inside_rows = (rows > -1e-6) & (rows < image.shape[0] - 1 + 1e-6)
    inside_cols = (cols > -1e-6) & (cols < image.shape[1] - 1 + 1e-6)
    outside = ~(inside_rows[:, None] & inside_cols[None, :])
    if image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        shifted = np.clip(np.round(np.nan_to_num(shifted)), info.min, info.max)
        shifted = shifted.astype(image.dtype)
        shifted[outside] = np.array(fill if np.isfinite(fill) else 0).astype(image.dtype)
        return shifted
    shifted[outside] = fill
    return shifted.astype(image.dtype, copy=False)


_ORDERS = {"nearest": 0, "bilinear": 1, "cubic": 3, "cubic_spline": 3, "lanczos": 3}


def _fill_value(da: xr.DataArray) -> float:
    """What pixels shifted in from outside get: the nodata value, else NaN."""
    nodata = da.rio.nodata
    return float(nodata) if nodata is not None else np.nan


def shift_raster(
    da: xr.DataArray, shift: tuple[float, float], resampling: str = "bilinear"
) -> xr.DataArray:
    """Shift every (y, x) plane of ``da`` by ``shift`` pixels; lazy on dask input."""
    order = _ORDERS.get(resampling, 1)
    return _per_plane(shift_image, da, shift=shift, order=order, fill=_fill_value(da))


def _per_plane(func: Any, da: xr.DataArray, **kwargs: Any) -> xr.DataArray:
    """Apply ``func(plane, **kwargs)`` to every (y, x) plane; lazy on dask input."""
    return load_xarray().apply_ufunc(
        func,
        da,
        input_core_dims=[["y", "x"]],
        output_core_dims=[["y", "x"]],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[da.dtype],
        dask_gufunc_kwargs={"allow_rechunk": True},
        kwargs=kwargs,
        keep_attrs=True,
    )


def _warp_plane(plane: np.ndarray, matrix: np.ndarray, fill: float) -> np.ndarray:
    """``cv2.warpPerspective`` of one plane, back in its dtype (integers rounded)."""
    import cv2

    height, width = plane.shape
    work = plane.astype(np.float32)
    warped = cv2.warpPerspective(
        work,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill if np.isfinite(fill) else np.nan,
    )
    return (
        warped.astype(plane.dtype)
        if plane.dtype.kind == "f"
        else np.round(warped).astype(plane.dtype)
    )


def warp_raster(da: xr.DataArray, matrix: np.ndarray) -> xr.DataArray:
    """Warp every (y, x) plane of ``da`` by a 3 x 3 pixel matrix (OpenCV, bilinear)."""
    fill = _fill_value(da)
    if da.dtype.kind in "ui" and not np.isfinite(fill):
        fill = 0.0
    return _per_plane(_warp_plane, da, matrix=matrix, fill=fill)
