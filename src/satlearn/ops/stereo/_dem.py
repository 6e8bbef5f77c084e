"""The DataArray layer of stereo: :func:`stereo_dem` and :func:`stereo_dem_details`.

Checks the pair (:func:`satlearn.checks.check_raster`, one grid through
:func:`~satlearn.checks.check_same_grid`), picks the band to match, reads
the pixel size from the grid, runs :func:`compute_disparity` on the arrays
and turns the disparities into heights on the left image's grid. xarray and
rioxarray load with the first call, not with the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from satlearn.deprecation import renamed_keywords
from satlearn.errors import CRSMismatchError, GridMismatchError, InvalidInputError
from satlearn.ops.stereo._disparity import compute_disparity
from satlearn.ops.stereo._geometry import check_geometry, disparity_range, disparity_to_height

if TYPE_CHECKING:
    import xarray as xr

    from satlearn.metrics import DemAccuracy

__all__ = ["StereoResult", "stereo_dem", "stereo_dem_details"]

# The dims a stereo image may have (satlearn.checks, which names them too,
# loads rioxarray: it is imported with the first call).
BAND_YX = ("band", "y", "x")
YX = ("y", "x")


def _single_band(da: xr.DataArray, band: str | int | None, name: str) -> xr.DataArray:
    """The (y, x) plane to match: the only band, or ``band`` by name or 1-based index."""
    if da.dims == ("y", "x"):
        return da
    bands = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    if da.sizes["band"] == 1 and band is None:
        return da.isel(band=0)
    if band is None:
        raise InvalidInputError(
            f"{name} has {da.sizes['band']} bands ({', '.join(bands)}); stereo matches one: "
            "choose it with band= (CLI --band)"
        )
    if isinstance(band, str) and not band.isdigit():
        if band not in bands:
            raise InvalidInputError(f"{name}: no band named {band!r}; bands are {', '.join(bands)}")
        return da.isel(band=bands.index(band))
    index = int(band)
    if not 1 <= index <= da.sizes["band"]:
        raise InvalidInputError(
            f"{name}: band index {index} out of range 1..{da.sizes['band']} (1-based)"
        )
    return da.isel(band=index - 1)


def _label(da: Any, default: str) -> str:
    """How messages name an input: ``left (a.tif)`` when it knows its source."""
    source = getattr(da, "attrs", {}).get("source")
    return f"{default} ({source})" if source else default


def _pixel_size_m(da: xr.DataArray, name: str) -> float:
    """The side of ``da``'s square pixels in metres, refusing what has none."""
    from satlearn.checks import pixel_size_m

    hint = "give pixel_size_m= (satlearn stereo --pixel-size) in metres"
    try:
        size = pixel_size_m(da, what=name)  # square to 1e-3: real products are 300.0379 x 300.0418
    except GridMismatchError as err:
        raise GridMismatchError(f"{err}; {hint}") from None
    crs = da.rio.crs
    if crs is not None and crs.is_geographic:
        # A degree is not a fixed number of metres across a scene: heights need metres.
        raise InvalidInputError(f"{name}: CRS is geographic (degrees); {hint}")
    return size


def _check_pair_grid(left: xr.DataArray, right: xr.DataArray, names: tuple[str, str]) -> None:
    """One grid for the pair: shape, CRS (both or neither), transform."""
    from satlearn.checks import check_same_grid

    if left.shape != right.shape:
        raise GridMismatchError(
            f"{names[0]} has shape {left.shape} but {names[1]} has shape {right.shape}; "
            "a rectified pair must share one grid"
        )
    crs_l, crs_r = left.rio.crs, right.rio.crs
    if (crs_l is None) != (crs_r is None):
        raise CRSMismatchError(f"{names[0]} is in {crs_l} but {names[1]} is in {crs_r}")
    try:
        check_same_grid(right, left, what=names[1])
    except GridMismatchError as err:
        raise GridMismatchError(
            f"{names[0]} and {names[1]} are on different grids ({err}); resample one onto "
            "the other first"
        ) from None


@dataclass(frozen=True)
class StereoResult:
    """The answer of :func:`stereo_dem_details`: the DEM and what it was made from.

    Attributes
    ----------
    dem : xarray.DataArray
        What :func:`stereo_dem` returns: ``(band, y, x)``, one band
        ``"height"``, float32 metres, nodata NaN.
    disparity : xarray.DataArray
        ``(y, x)`` float32 disparity (px) on the left grid, holes filled as
        asked (``right[y, x - d] == left[y, x]``).
    mask : xarray.DataArray
        ``(y, x)`` bool: pixels matched and left-right consistent, before
        filling (the measured heights; the rest is filled or NaN).
    min_disparity, num_disparities : int
        The SGBM search range used.
    """

    dem: xr.DataArray
    disparity: xr.DataArray
    mask: xr.DataArray
    min_disparity: int
    num_disparities: int

    @property
    def valid_fraction(self) -> float:
        """Fraction of pixels matched before filling."""
        return float(self.mask.mean())

    def scores(self, truth: Any, *, matched_only: bool = False) -> DemAccuracy:
        """RMSE, NMAD, bias and LE90 of the DEM against ``truth`` (m, same grid).

        Through :func:`satlearn.metrics.dem_accuracy`; ``matched_only`` leaves
        out the filled holes.
        """
        from satlearn.metrics import dem_accuracy

        valid = self.mask.values if matched_only else None
        return dem_accuracy(self.dem, truth, valid=valid)


@renamed_keywords(pixel_size="pixel_size_m")
def stereo_dem_details(
    left: xr.DataArray,
    right: xr.DataArray,
    *,
    base_to_height: float,
    height_range: tuple[float, float] | None = None,
    reference_height: float = 0.0,
    pixel_size_m: float | None = None,
    band: str | int | None = None,
    **options: Any,
) -> StereoResult:
    """A DEM from a rectified stereo pair, with its disparity and matched pixels.

    The detailed form of :func:`stereo_dem` (same arguments and defaults).

    Returns
    -------
    StereoResult
        ``.dem``, ``.disparity``, ``.mask`` (matched before filling),
        ``.scores(truth)``.
    """
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    from satlearn.checks import check_raster

    names = (_label(left, "left"), _label(right, "right"))
    left = check_raster(left, what=names[0], dims=(BAND_YX, YX))
    right = check_raster(right, what=names[1], dims=(BAND_YX, YX))
    left2 = _single_band(left, band, names[0])
    right2 = _single_band(right, band, names[1])
    _check_pair_grid(left2, right2, names)
    crs_l = left2.rio.crs
    t_l = left2.rio.transform(recalc=False)
    size = float(pixel_size_m) if pixel_size_m is not None else _pixel_size_m(left2, names[0])
    check_geometry(size, base_to_height)
    nodata_l, nodata_r = left2.rio.nodata, right2.rio.nodata
    if nodata_l is not None and nodata_r is not None and nodata_l != nodata_r:
        raise InvalidInputError(
            f"{names[0]} has nodata {nodata_l} but {names[1]} has nodata {nodata_r}"
        )
    nodata = nodata_l if nodata_l is not None else nodata_r
    if height_range is not None:
        d_min, n_d = disparity_range(
            height_range, pixel_size_m=size, base_to_height=base_to_height,
            reference_height=reference_height,
        )  # fmt: skip
        options = {"min_disparity": d_min, "num_disparities": n_d, **options}
    result = compute_disparity(left2.data, right2.data, nodata=nodata, names=names, **options)
    heights = disparity_to_height(
        result.disparity, pixel_size_m=size, base_to_height=base_to_height,
        reference_height=reference_height,
    )  # fmt: skip
    dem = xr.DataArray(
        heights[None],
        dims=("band", "y", "x"),
        coords={"band": ["height"], "y": left2.coords["y"], "x": left2.coords["x"]},
        attrs={
            "units": "m",
            "base_to_height": float(base_to_height),
            "reference_height": float(reference_height),
            "pixel_size_m": size,
            "valid_fraction": result.valid_fraction,
            "min_disparity": result.min_disparity,
            "num_disparities": result.num_disparities,
        },
        name="height",
    )
    if crs_l is not None:
        dem = dem.rio.write_crs(crs_l)
    dem = dem.rio.write_transform(t_l)
    dem = dem.rio.write_nodata(np.nan)
    grid = {"y": left2.coords["y"], "x": left2.coords["x"]}
    disparity = xr.DataArray(
        result.disparity, dims=("y", "x"), coords=grid, name="disparity", attrs={"units": "px"}
    )
    mask = xr.DataArray(result.valid, dims=("y", "x"), coords=grid, name="matched")
    return StereoResult(
        dem=dem,
        disparity=disparity,
        mask=mask,
        min_disparity=result.min_disparity,
        num_disparities=result.num_disparities,
    )


@renamed_keywords(pixel_size="pixel_size_m")
def stereo_dem(
    left: xr.DataArray,
    right: xr.DataArray,
    *,
    base_to_height: float,
    height_range: tuple[float, float] | None = None,
    reference_height: float = 0.0,
    pixel_size_m: float | None = None,
    band: str | int | None = None,
    **options: Any,
) -> xr.DataArray:
    """A DEM (float32 metres, nodata NaN) from a rectified stereo pair.

    *Row strips with a halo* (``halo`` rows, 64 by default) of the pair are
    matched one after the other, reading only their rows of a dask-backed
    input; the 8-bit stretch and the SIFT search range (without
    ``height_range``) are *global*, from a strided sample of the whole pair.
    The output is numpy-backed. The detailed form is
    :func:`stereo_dem_details`.

    Parameters
    ----------
    left, right : xarray.DataArray
        Single-band ``(band, y, x)`` or ``(y, x)`` rasters on the same grid
        (shape, transform, CRS), numpy- or dask-backed; nodata from ``da.rio``.
    base_to_height : float
        The pair's base-to-height ratio B/H.
    height_range : (float, float), optional
        Expected lowest and highest heights (m, in the output's datum), which
        bound the disparity search; default: estimated from SIFT matches.
    reference_height : float
        The height of zero disparity (the output is relative heights when 0).
    pixel_size_m : float, optional
        Ground sampling distance in metres; default: from the transform and
        the CRS's linear unit. ``pixel_size`` until 0.2 (still accepted, with
        a warning).
    band : str or int, optional
        The band to match, by name or 1-based index, when the inputs have
        several (they are refused otherwise).
    **options
        Passed to :func:`compute_disparity` (``fill``, ``subpixel``,
        ``lr_tolerance``, ``block_size``, ``memory_mb``, ``strip_rows``,
        ``halo``, ...).

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` with one band ``"height"`` on the left image's grid,
        CRS and transform; nodata NaN (input nodata, or holes when
        ``fill=None``). Attributes: ``units``, ``base_to_height``,
        ``reference_height``, ``pixel_size_m``, ``valid_fraction`` (matched
        before filling), ``min_disparity``, ``num_disparities``.

    Raises
    ------
    DimensionError
        Not a DataArray, or not ``(band, y, x)`` / ``(y, x)``
        (:func:`satlearn.checks.check_raster`).
    InvalidInputError
        Multi-band without ``band=``, a disparity range that cannot fit.
    GridMismatchError
        Different shapes or transforms (an :class:`InvalidInputError`).
    CRSMismatchError
        The CRSs differ.
    NoValidDataError
        All nodata.

    Examples
    --------
    >>> dem = stereo_dem(left, right, base_to_height=0.6)  # doctest: +SKIP
    >>> save_cog(dem, "dem.tif", nodata=float("nan"))  # doctest: +SKIP
    """
    return stereo_dem_details(
        left,
        right,
        base_to_height=base_to_height,
        height_range=height_range,
        reference_height=reference_height,
        pixel_size_m=pixel_size_m,
        band=band,
        **options,
    ).dem
