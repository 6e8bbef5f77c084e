"""Co-registration of georeferenced rasters: :func:`coregister`, :func:`coregister_series`.

The DataArray layer over the kernels: one band of each raster is matched
(:func:`phase_correlation` or :func:`match_features`) on the reference's
pixel grid, and the answer is written into the moving raster's geotransform
or applied by resampling. xarray, rioxarray and rasterio load with the first
call, not with the package.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from satlearn.deprecation import method_name
from satlearn.errors import CRSMismatchError, InvalidInputError, UnknownBandError
from satlearn.ops.registration._features import DETECTORS, MODELS, match_features
from satlearn.ops.registration._phase import phase_correlation
from satlearn.ops.registration._warp import load_xarray, shift_raster, warp_raster
from satlearn.ops.registration._windows import WindowName

if TYPE_CHECKING:
    import xarray as xr
    from affine import Affine

__all__ = ["COREGISTER_METHODS", "MATCH_BAND_PREFERENCE", "coregister", "coregister_series"]

# The dims a raster and a stack may have (satlearn.checks' own constants are
# not imported at module level: that module loads rioxarray).
BAND_YX = ("band", "y", "x")
YX = ("y", "x")
TIME_BAND_YX = ("time", "band", "y", "x")

#: Bands tried, in order, to match on when ``band=`` is not given.
MATCH_BAND_PREFERENCE = ("nir", "red", "pan", "green", "nir08", "blue")
#: The ``method=`` of :func:`coregister` and :func:`coregister_series`.
COREGISTER_METHODS = ("phase", "features")


def _match_band(da: xr.DataArray, band: str | None, name: str) -> str | None:
    """The band to match on: ``band`` (checked), else the first preferred one present."""
    if "band" not in da.dims:
        return None
    names = [str(b) for b in da["band"].values]
    if band is not None:
        if band not in names:
            raise UnknownBandError(f"{name}: no band named {band!r}; bands are {', '.join(names)}")
        return band
    for candidate in MATCH_BAND_PREFERENCE:
        if candidate in names:
            return candidate
    return names[0]


def _plane(da: xr.DataArray, band: str | None) -> np.ndarray:
    """One (y, x) plane as float numpy; nodata becomes NaN. A global step: loads it."""
    plane = da.sel(band=band) if band is not None else da
    values = np.asarray(plane.values, dtype=np.float64 if plane.dtype == np.float64 else np.float32)
    nodata = da.rio.nodata
    if nodata is not None and not np.isnan(nodata):
        values = np.where(values == nodata, np.nan, values)
    return values


def _grid(da: xr.DataArray) -> tuple[Affine, tuple[int, int]]:
    """Transform and (height, width) of ``da``'s grid."""
    return da.rio.transform(), (da.sizes["y"], da.sizes["x"])


def _onto_grid(plane: np.ndarray, source: xr.DataArray, target: xr.DataArray) -> np.ndarray:
    """Reproject a (y, x) plane of ``source`` onto ``target``'s grid (bilinear, NaN outside)."""
    import rasterio.warp

    transform, shape = _grid(target)
    out = np.full(shape, np.nan, dtype=np.float32)
    rasterio.warp.reproject(
        plane.astype(np.float32),
        out,
        src_transform=source.rio.transform(),
        src_crs=source.rio.crs,
        src_nodata=np.nan,
        dst_transform=transform,
        dst_crs=target.rio.crs or source.rio.crs,
        dst_nodata=np.nan,
        resampling=rasterio.warp.Resampling.bilinear,
    )
    return out


def _check_overlap(reference: xr.DataArray, moving: xr.DataArray) -> None:
    """Two rasters in one CRS must share some ground, else there is nothing to match."""
    r_left, r_bottom, r_right, r_top = reference.rio.bounds()
    m_left, m_bottom, m_right, m_top = moving.rio.bounds()
    if min(r_right, m_right) <= max(r_left, m_left) or min(r_top, m_top) <= max(r_bottom, m_bottom):
        raise InvalidInputError(
            "reference and moving do not overlap: reference covers "
            f"({r_left:g}, {r_bottom:g}, {r_right:g}, {r_top:g}), moving "
            f"({m_left:g}, {m_bottom:g}, {m_right:g}, {m_top:g}) in {reference.rio.crs}"
        )


def _check_raster(da: Any, name: str, dims: tuple[tuple[str, ...], ...]) -> xr.DataArray:
    # satlearn.checks imports rioxarray (~1 s): loaded with the DataArray layer only.
    from satlearn.checks import check_raster

    # Booleans too: a mask registers as well as any image (the kernels take them).
    return check_raster(da, what=name, dims=dims, kinds="uifb")


def _register_planes(
    reference: np.ndarray,
    moving: np.ndarray,
    method: str,
    upsample: int,
    window: WindowName,
    model: str,
    detector: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A 3 x 3 pixel matrix (moving -> reference) and a description of the match.

    ``method``, ``model`` and ``detector`` come checked (canonical spellings).
    """
    if method == "phase":
        result = phase_correlation(reference, moving, upsample, window=window)
        matrix = np.array([[1.0, 0, result.dx], [0, 1.0, result.dy], [0, 0, 1.0]])
        return matrix, {
            "method": "phase",
            "dy": result.dy,
            "dx": result.dx,
            "confidence": result.confidence,
            "error": result.error,
        }
    found = match_features(
        reference,
        moving,
        model=model,  # type: ignore[arg-type]
        detector=detector,  # type: ignore[arg-type]
        reference_mask=np.isfinite(reference),
        moving_mask=np.isfinite(moving),
    )
    return found.matrix, {
        "method": "features",
        "model": model,
        "matrix": found.matrix.ravel().tolist(),
        "n_matches": len(found.inliers),
        "n_inliers": found.n_inliers,
        "rms": found.rms,
        "dy": float(found.matrix[1, 2]),
        "dx": float(found.matrix[0, 2]),
    }


def _methods(method: str, model: str, detector: str) -> tuple[str, str, str]:
    """Canonical ``method``, ``model`` and ``detector`` (the last two for features only)."""
    method = method_name(method, COREGISTER_METHODS, what="registration method")
    if method == "features":
        model = method_name(model, MODELS, what="model")
        detector = method_name(detector, DETECTORS, what="detector")
    return method, model, detector


def coregister(
    reference: xr.DataArray,
    moving: xr.DataArray,
    *,
    method: Literal["phase", "features"] = "phase",
    band: str | None = None,
    resample: bool = False,
    upsample: int = 100,
    window: WindowName = "hann",
    model: Literal["similarity", "affine", "homography"] = "similarity",
    detector: Literal["orb", "akaze", "sift"] = "orb",
    resampling: str = "bilinear",
) -> xr.DataArray:
    """Co-register a georeferenced raster to a reference raster.

    One band (``band``) of each is matched -- by :func:`phase_correlation`
    (``method="phase"``: a translation) or :func:`match_features`
    (``"features"``: similarity, affine or homography) -- on the reference's
    pixel grid (the moving band is first reprojected onto it when the grids
    differ). The answer is applied either to the geotransform (``resample=False``:
    no pixel value changes; the moving raster keeps its own grid, which now
    sits where it belongs) or by resampling the moving raster onto the
    reference grid (``resample=True``).

    *Global*: matching loads the two chosen bands into memory (dask-backed
    inputs too). The transform update stays lazy; resampling with rioxarray
    loads the moving raster, a phase shift on one grid runs lazily plane by
    plane (whole planes).

    Parameters
    ----------
    reference, moving : xarray.DataArray
        ``(band, y, x)`` or ``(y, x)`` rasters with a transform, same CRS.
        Nodata (``rio.nodata``) and NaN pixels are masked in the match.
    method : {"phase", "features"}
    band : str, optional
        Band to match on; default the first of ``nir, red, pan, green, nir08,
        blue`` present in the reference, else its first band.
    resample : bool
        False: return ``moving`` with a corrected transform. True: return it
        resampled onto the reference grid.
    upsample, window : see :func:`phase_correlation`.
    model, detector : see :func:`match_features`.
    resampling : str
        rasterio resampling for ``resample=True`` ("nearest", "bilinear",
        "cubic", ...).

    Returns
    -------
    xarray.DataArray
        The co-registered moving raster; ``attrs`` gain ``registration_method``,
        ``registration_dy``, ``registration_dx`` (reference pixels), and
        ``registration_confidence`` (phase) or ``registration_matrix``,
        ``registration_inliers`` and ``registration_rms`` (features).

    Raises
    ------
    CRSMismatchError
        The rasters' CRSs differ (reproject one explicitly first).
    UnknownBandError
        ``band`` is not in one of the rasters.
    InvalidInputError
        Bad arguments; a homography without ``resample=True``; no match.

    Examples
    --------
    >>> fixed = coregister(reference_da, moving_da, method="phase")  # doctest: +SKIP
    >>> fixed.attrs["registration_dx"], fixed.rio.transform()  # doctest: +SKIP
    """
    import rasterio.enums

    reference = _check_raster(reference, "reference", (BAND_YX, YX))
    moving = _check_raster(moving, "moving", (BAND_YX, YX))
    # Keyword form: a warning for an old spelling points at the caller.
    method, model, detector = _methods(method, model, detector)
    if reference.rio.crs is None and moving.rio.crs is None:
        raise InvalidInputError(
            "reference and moving are not georeferenced (no CRS, e.g. a PNG): coregister "
            "aligns georeferenced rasters; register plain images in pixel space with "
            "phase_correlation or match_features"
        )
    if reference.rio.crs != moving.rio.crs:
        raise CRSMismatchError(
            f"reference CRS {reference.rio.crs} differs from moving CRS {moving.rio.crs}; "
            "reproject one of them first"
        )
    if resampling not in rasterio.enums.Resampling.__members__:
        raise InvalidInputError(f"unknown resampling {resampling!r}")
    if model == "homography" and method == "features" and not resample:
        raise InvalidInputError(
            "a homography cannot be written into a geotransform; use resample=True"
        )
    band = _match_band(reference, band, "reference")
    if band is not None:
        _match_band(moving, band, "moving")
    reference_plane = _plane(reference, band)
    moving_plane = _plane(moving, band)
    same_grid = _grid(reference) == _grid(moving)
    if not same_grid:
        _check_overlap(reference, moving)
        moving_plane = _onto_grid(moving_plane, moving, reference)
    matrix, found = _register_planes(
        reference_plane, moving_plane, method, upsample, window, model, detector
    )
    ref_transform = reference.rio.transform()
    from affine import Affine

    pixel = Affine(*matrix[:2].ravel())
    # Content at reference-grid pixel q truly lies at T_ref(H q): the moving
    # transform T_mov becomes T_ref H T_ref^-1 T_mov.
    new_transform = ref_transform @ pixel @ ~ref_transform @ moving.rio.transform()
    attrs = {f"registration_{k}": v for k, v in found.items() if k not in {"model"}}
    if method == "features":
        attrs["registration_inliers"] = attrs.pop("registration_n_inliers")
        attrs.pop("registration_n_matches")
    if not resample:
        out = moving.copy()
        out = out.rio.write_transform(new_transform)
        out = _with_coords(out, new_transform)
        out.attrs.update(attrs)
        return out
    if method == "phase" and same_grid:
        out = shift_raster(moving, (found["dy"], found["dx"]), resampling)
    elif model == "homography":
        out = warp_raster(moving if same_grid else _reproject_to(moving, reference), matrix)
    else:
        placed = _with_coords(moving.copy().rio.write_transform(new_transform), new_transform)
        out = _reproject_to(placed, reference, resampling)
    out.attrs.update(attrs)
    return out


def _with_coords(da: xr.DataArray, transform: Affine) -> xr.DataArray:
    """Pixel-centre x/y coordinates for a north-up transform (unchanged for rotated ones)."""
    if transform.b != 0 or transform.d != 0:
        # rioxarray reads a rotated transform from the spatial_ref attribute.
        return da
    xs = transform.c + transform.a * (np.arange(da.sizes["x"]) + 0.5)
    ys = transform.f + transform.e * (np.arange(da.sizes["y"]) + 0.5)
    return da.assign_coords(x=xs, y=ys).rio.write_transform(transform)


def _reproject_to(
    moving: xr.DataArray, reference: xr.DataArray, resampling: str = "bilinear"
) -> xr.DataArray:
    import rasterio.enums

    transform, (height, width) = _grid(reference)
    with warnings.catch_warnings():
        # rioxarray warns that it cannot recompute coordinates of a rotated
        # source transform; the output grid is the reference's, north-up.
        warnings.filterwarnings("ignore", "Transform that is non-rectilinear", UserWarning)
        reprojected = moving.rio.reproject(
            reference.rio.crs,
            shape=(height, width),
            transform=transform,
            resampling=rasterio.enums.Resampling[resampling],
        )
    return reprojected.assign_coords(x=reference["x"].values, y=reference["y"].values)


def coregister_series(
    stack: xr.DataArray,
    *,
    reference_index: int = 0,
    method: Literal["phase", "features"] = "phase",
    band: str | None = None,
    upsample: int = 100,
    window: WindowName = "hann",
    model: Literal["similarity", "affine", "homography"] = "similarity",
    detector: Literal["orb", "akaze", "sift"] = "orb",
    resampling: str = "bilinear",
    valid: xr.DataArray | np.ndarray | None = None,
) -> xr.DataArray:
    """Co-register every date of a ``(time, band, y, x)`` stack to one reference date.

    All dates share one grid in a stack, so each date is resampled (a
    per-date transform cannot be stored): phase shifts by spline
    interpolation (``resampling``: nearest, bilinear, cubic), feature
    transforms by OpenCV warping (bilinear). Pixels shifted in from outside
    get nodata (NaN for floats).

    *Global* per date: each date's band is loaded and matched to the
    reference date's; the shifts and warps then run lazily, one task per
    whole plane.

    Parameters
    ----------
    stack : xarray.DataArray
        Dims ``(time, band, y, x)`` (or ``(time, y, x)``).
    reference_index : int
        Position along ``time`` of the reference date.
    method, band, upsample, window, model, detector : see :func:`coregister`.
    resampling : str
        Interpolation for the phase shifts.
    valid : (time, y, x) bool array or DataArray, optional
        True where a pixel may be matched (e.g. ``~(cloud_mask | shadow_mask)``);
        the rest is masked like nodata (Padfield's masked correlation, then
        the masked sub-pixel refinement of :func:`phase_correlation`).

    Returns
    -------
    xarray.DataArray
        The registered stack, with ``registration_dy``, ``registration_dx`` and
        ``registration_confidence`` coordinates along ``time`` (confidence is
        the inlier fraction for features).

    Examples
    --------
    >>> aligned = coregister_series(scene.image, reference_index=0)  # doctest: +SKIP
    >>> aligned.registration_dx.values  # doctest: +SKIP
    """
    stack = _check_raster(stack, "stack", (TIME_BAND_YX, ("time", "y", "x")))
    method, model, detector = _methods(method, model, detector)
    count = stack.sizes["time"]
    if not -count <= reference_index < count:
        raise InvalidInputError(f"reference_index {reference_index} out of range for {count} dates")
    reference_index %= count
    band = _match_band(stack, band, "stack")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        expected = (count, stack.sizes["y"], stack.sizes["x"])
        if valid.shape != expected:
            raise InvalidInputError(
                f"valid: shape {valid.shape} differs from (time, y, x) {expected}"
            )

    def plane(t: int) -> np.ndarray:
        values = _plane(stack.isel(time=t), band)
        return values if valid is None else np.where(valid[t], values, np.nan)

    reference = plane(reference_index)
    dates, dys, dxs, confidences = [], [], [], []
    for t in range(count):
        date = stack.isel(time=t)
        if t == reference_index:
            dates.append(date)
            dys.append(0.0)
            dxs.append(0.0)
            confidences.append(1.0)
            continue
        matrix, found = _register_planes(
            reference, plane(t), method, upsample, window, model, detector
        )
        if method == "phase":
            dates.append(shift_raster(date, (found["dy"], found["dx"]), resampling))
            confidences.append(found["confidence"])
        else:
            dates.append(warp_raster(date, matrix))
            confidences.append(found["n_inliers"] / max(found["n_matches"], 1))
        dys.append(found["dy"])
        dxs.append(found["dx"])
    out = load_xarray().concat(dates, dim="time").transpose(*stack.dims)
    out = out.assign_coords(
        registration_dy=("time", np.array(dys)),
        registration_dx=("time", np.array(dxs)),
        registration_confidence=("time", np.array(confidences)),
    )
    out.attrs = dict(stack.attrs)
    return out.rio.write_transform(stack.rio.transform())
