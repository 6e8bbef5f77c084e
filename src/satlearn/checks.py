"""Input checks shared by every operation, defined once and raised from one place.

Like rioxarray's ``exceptions.py`` behind its accessor, the checks of a
raster argument live here, so that every operation words the same problem
the same way and a new operation cannot forget one:

* :func:`check_raster`: a numeric :class:`xarray.DataArray` with the dims the
  operation takes (``(band, y, x)`` by default), not empty, and optionally
  holding named bands. Raises :class:`~satlearn.errors.DimensionError` (an
  :class:`~satlearn.errors.InvalidInputError`, so also a ``ValueError``) or
  :class:`~satlearn.errors.UnknownBandError`.
* :func:`check_same_grid`: a second layer (a mask, a second date) on the
  grid of the first: same shape, same CRS, same transform. Raises
  :class:`~satlearn.errors.GridMismatchError` or
  :class:`~satlearn.errors.CRSMismatchError`.
* :func:`check_valid_mask`: a ``valid=`` mask of the image grid's shape.
  Raises :class:`~satlearn.errors.InvalidInputError`.
* :func:`metres_per_unit`, :func:`pixel_area_m2`, :func:`pixel_size_m`: the
  grid measures operations need to turn metres into pixels.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from satlearn.checks import check_raster
>>> image = xr.DataArray(np.zeros((2, 4, 4)), dims=("band", "y", "x"),
...                      coords={"band": ["red", "nir"]})
>>> check_raster(image, bands=("red", "nir")).dims
('band', 'y', 'x')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.bands import band_indices
from satlearn.errors import CRSMismatchError, DimensionError, GridMismatchError, InvalidInputError

__all__ = [
    "check_raster",
    "check_same_grid",
    "check_valid_mask",
    "metres_per_unit",
    "pixel_area_m2",
    "pixel_size_m",
]

BAND_YX = ("band", "y", "x")
TIME_BAND_YX = ("time", "band", "y", "x")
YX = ("y", "x")


def _describe(options: Sequence[tuple[str, ...]]) -> str:
    return " or ".join(f"({', '.join(dims)})" for dims in options)


def check_raster(
    image: Any,
    *,
    what: str = "image",
    dims: tuple[str, ...] | Sequence[tuple[str, ...]] = BAND_YX,
    bands: Sequence[str] | None = None,
    kinds: str = "uif",
    expand_yx: bool = False,
) -> xr.DataArray:
    """Check that ``image`` is a raster an operation can take; return it.

    Parameters
    ----------
    image : object
        The argument to check.
    what : str
        How the message names the argument (``"before"``, ``"ms"``...).
    dims : tuple of str, or a sequence of them
        The dims accepted, in this order (a transposed array is refused
        rather than silently transposed: for a lazy scene that is a costly
        rechunk the caller should choose).
    bands : sequence of str, optional
        Band names the raster must hold (sensor ids such as ``B08`` count
        when ``attrs["sensor"]`` is set).
    kinds : str
        NumPy dtype kinds accepted (``"uif"``: integers and floats).
    expand_yx : bool
        Accept a ``(y, x)`` array as one band (named after the array, else
        ``b1``) where ``(band, y, x)`` is accepted.

    Returns
    -------
    xarray.DataArray
        ``image``, with its dims in the accepted order.

    Raises
    ------
    DimensionError
        Not a DataArray, a time dimension where none is taken, other dims,
        a non-numeric dtype, or no pixels.
    UnknownBandError
        A band of ``bands`` is missing; the message lists the bands it has.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> check_raster(xr.DataArray(np.zeros((3, 3)), dims=("y", "x")), expand_yx=True).dims
    ('band', 'y', 'x')
    """
    options = [tuple(dims)] if dims and isinstance(dims[0], str) else [tuple(d) for d in dims]
    if not isinstance(image, xr.DataArray):
        raise DimensionError(f"{what} must be an xarray.DataArray, got {type(image).__name__}")
    if expand_yx and BAND_YX in options and image.dims == YX:
        name = str(image.name) if image.name is not None else "b1"
        image = image.expand_dims(band=[name])
    if image.dims not in options:
        if "time" in image.dims and not any("time" in d for d in options):
            # The usual wording first, so every dims error starts alike, then the fix.
            raise DimensionError(
                f"{what} must have dims {_describe(options)}, got {image.dims}: it has a time "
                f"dimension ({image.sizes['time']} dates); select one date first, "
                "e.g. da.isel(time=0)"
            )
        else:
            raise DimensionError(f"{what} must have dims {_describe(options)}, got {image.dims}")
    if image.dtype.kind not in kinds:
        raise DimensionError(f"{what} must hold numbers (numeric bands), got dtype {image.dtype}")
    if 0 in image.shape:
        raise DimensionError(f"{what} is empty (shape {image.shape})")
    if bands:
        band_indices(image, bands, what=what)
    return image


def _has_grid(da: xr.DataArray) -> bool:
    """Whether ``da`` carries georeferencing: x/y coordinates, a CRS or a GeoTransform."""
    if "x" in da.coords and "y" in da.coords:
        return True
    mapping = da.coords.get(str(da.attrs.get("grid_mapping", "spatial_ref")))
    return da.rio.crs is not None or (mapping is not None and "GeoTransform" in mapping.attrs)


def check_same_grid(other: Any, image: xr.DataArray, *, what: str) -> Any:
    """Check that the layer ``other`` lies on the grid of ``image``; return its data.

    Parameters
    ----------
    other : xarray.DataArray or array-like
        A ``(y, x)`` layer (a ``(band, y, x)`` one of a single band is
        accepted). A bare array can only be checked for its shape.
    image : xarray.DataArray
        The raster whose grid ``other`` must share (``y``/``x`` dims).
    what : str
        How the message names ``other``.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The data of ``other``, 2-D.

    Raises
    ------
    GridMismatchError
        Another shape or transform.
    CRSMismatchError
        Another CRS (both known).
    DimensionError
        ``other`` is not 2-D.
    """
    if isinstance(other, xr.DataArray):
        if other.ndim == 3 and other.sizes.get("band", 0) == 1:
            other = other.isel(band=0, drop=True)
        if other.ndim != 2:
            raise DimensionError(f"{what} must be 2-D (y, x), got dims {other.dims}")
        if other.shape == (image.sizes["y"], image.sizes["x"]):
            image_crs, other_crs = image.rio.crs, other.rio.crs
            if image_crs is not None and other_crs is not None and image_crs != other_crs:
                raise CRSMismatchError(
                    f"{what} is in {other_crs.to_string()}, the scene in {image_crs.to_string()}"
                )
            st, ot = image.rio.transform(), other.rio.transform()
            # A layer without coordinates or a written transform has no grid to
            # compare (rioxarray would report the identity): its shape is all.
            if _has_grid(other) and not st.almost_equals(
                ot, precision=1e-6 * max(abs(st.a), abs(st.e), 1e-12)
            ):
                raise GridMismatchError(
                    f"{what} is not on the scene's grid: transform {tuple(ot)[:6]} "
                    f"against the scene's {tuple(st)[:6]}"
                )
        data = other.data
    else:
        data = other if hasattr(other, "dask") else np.asarray(other)
    if tuple(data.shape) != (image.sizes["y"], image.sizes["x"]):
        raise GridMismatchError(
            f"{what} has shape {tuple(data.shape)}, the scene's grid is "
            f"{(image.sizes['y'], image.sizes['x'])} (y, x)"
        )
    return data


def check_valid_mask(valid: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``valid`` (array or DataArray) as a boolean mask of the image grid's ``shape``.

    Parameters
    ----------
    valid : array_like of bool or DataArray
        The pixels an operation may use (dask-backed ones are computed).
    shape : tuple of int
        The image grid, ``(y, x)``.

    Raises
    ------
    InvalidInputError
        The mask has another shape.

    Examples
    --------
    >>> check_valid_mask(np.ones((2, 3), int), (2, 3)).dtype
    dtype('bool')
    """
    mask = np.asarray(getattr(valid, "values", valid))
    if mask.shape != tuple(shape):
        raise InvalidInputError(f"valid mask has shape {mask.shape}, the image grid is {shape}")
    return mask.astype(bool)


def metres_per_unit(image: xr.DataArray) -> float:
    """Metres per CRS unit of ``image``'s grid (1 without a CRS; ~111 km a degree)."""
    crs = image.rio.crs
    if crs is None:
        return 1.0
    if crs.is_geographic:
        return 111_320.0  # a degree of latitude; scale-dependent ops only need the order
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return float(factor)


def pixel_area_m2(image: xr.DataArray) -> float:
    """Area of one pixel of ``image``'s grid in square metres (CRS units squared without a CRS)."""
    return abs(image.rio.transform().determinant) * metres_per_unit(image) ** 2


def pixel_size_m(image: xr.DataArray, *, what: str = "image", rtol: float = 1e-3) -> float:
    """Side of ``image``'s square pixels in metres.

    Pixels count as square when their sides agree to ``rtol`` (relative):
    real products carry sides such as 300.0379 x 300.0418 m.

    Raises
    ------
    GridMismatchError
        The pixels are not square to ``rtol``.
    """
    transform = image.rio.transform()
    xres, yres = abs(transform.a), abs(transform.e)
    if not np.isclose(xres, yres, rtol=rtol, atol=0.0):
        raise GridMismatchError(f"{what}: pixels are not square ({xres} x {yres})")
    return 0.5 * (xres + yres) * metres_per_unit(image)
