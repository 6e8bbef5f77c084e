"""The DataArray layer: catalogue indices computed over numpy- or dask-backed DataArrays.

Each index is planned against the DataArray's bands (catalogue symbol ->
satlearn band name, constants from keywords, the catalogue's defaults or the
sensor's band centres), then computed by the pure kernel
(:func:`satlearn.spectral._kernel.compute_formula`) through
``xarray.apply_ufunc(..., dask="parallelized")``: *blockwise*, one program
per block, no halo. Stored values become reflectance inside the kernel
(``value * scale + offset`` from the ``scale`` / ``offset`` coordinates),
fused with the formula, so no scaled copy of the scene is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.bands import band_positions, band_scale_offset, get_sensor
from satlearn.errors import InvalidInputError, SatlearnError, UnknownBandError
from satlearn.raster import copy_grid, nodata_value
from satlearn.spectral._catalogue import (
    BAND_SYMBOLS,
    WAVELENGTH_CONSTANTS,
    catalogue,
    constant_defaults,
    index_attrs,
    index_formula,
    resolve_index_name,
)
from satlearn.spectral._kernel import compute_formula, resolve_threads

__all__ = ["available_indices", "compute_index"]


def _symbol_band(symbol: str, lookup: Mapping[str, int]) -> str | None:
    for name in BAND_SYMBOLS.get(symbol, ()):
        if name in lookup:
            return name
    return None


def _sensor_wavelengths(da: xr.DataArray) -> dict[str, float]:
    """Wavelength constants (nm) from the sensor named in ``da.attrs["sensor"]``."""
    sensor = da.attrs.get("sensor")
    if not sensor:
        return {}
    try:
        profile = get_sensor(str(sensor))
    except SatlearnError:
        return {}
    values = {}
    for constant, symbol in WAVELENGTH_CONSTANTS.items():
        for name in BAND_SYMBOLS[symbol]:
            if name in profile.names:
                values[constant] = profile.band(name).center_wavelength * 1000.0
                break
    return values


def _check_dataarray(da: Any) -> None:
    """The one input check (:func:`satlearn.checks.check_raster`) on any layout with bands.

    Indices are per pixel, so every layout with a ``band`` dim is taken as it is
    (``(band, y, x)``, ``(time, band, y, x)``, a bare ``(band,)`` spectrum...).
    """
    from satlearn.checks import check_raster

    layouts = [BAND_LAYOUTS[0], BAND_LAYOUTS[1]]
    if isinstance(da, xr.DataArray) and "band" in da.dims:
        layouts = [tuple(da.dims)]
    check_raster(da, what="spectral indices", dims=layouts)


#: The layouts an error message names when the input has no ``band`` dim.
BAND_LAYOUTS = (("band", "y", "x"), ("time", "band", "y", "x"))


@dataclass
class _Plan:
    short: str
    bands: dict[str, str]  # symbol -> band name
    arrays: dict[str, Any]  # symbol -> array-valued parameter
    scalars: dict[str, float]  # constant -> value


def _plan(
    da: xr.DataArray, short: str, lookup: Mapping[str, int], params: Mapping[str, Any]
) -> tuple[_Plan | None, list[str], list[str]]:
    """How to compute ``short`` on ``da``: (plan, missing bands, missing constants)."""
    defaults = constant_defaults()
    wavelengths = _sensor_wavelengths(da)
    bands: dict[str, str] = {}
    arrays: dict[str, Any] = {}
    scalars: dict[str, float] = {}
    missing_bands: list[str] = []
    missing_constants: list[str] = []
    for symbol in index_formula(short).symbols:
        if symbol in params:
            value = params[symbol]
            if isinstance(value, xr.DataArray | np.ndarray):
                arrays[symbol] = value
            else:
                scalars[symbol] = float(value)
        elif symbol in defaults:
            value = defaults[symbol]
            if value is None:
                value = wavelengths.get(symbol)
            if value is None:
                missing_constants.append(symbol)
            else:
                scalars[symbol] = float(value)
        else:
            band = _symbol_band(symbol, lookup)
            if band is None:
                missing_bands.append(symbol)
            else:
                bands[symbol] = band
    if missing_bands or missing_constants:
        return None, missing_bands, missing_constants
    return _Plan(short, bands, arrays, scalars), [], []


def _check_params(params: Mapping[str, Any], shorts: Sequence[str]) -> None:
    used = {s for short in shorts for s in index_formula(short).symbols}
    for key, value in params.items():
        if key in BAND_SYMBOLS and key not in constant_defaults():
            raise InvalidInputError(
                f"{key!r} is a band symbol ({'/'.join(BAND_SYMBOLS[key])}); "
                "bands come from the DataArray, not from keywords"
            )
        if key not in used:
            known = ", ".join(sorted(used & set(constant_defaults()))) or "none"
            raise InvalidInputError(
                f"constant {key!r} is not used by {', '.join(shorts)}; their constants are {known}"
            )
        if isinstance(value, xr.DataArray | np.ndarray):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise InvalidInputError(f"constant {key}={value!r} is not a number or an array")


def available_indices(da: xr.DataArray, **params: Any) -> list[str]:
    """Short names of every catalogue index that ``da``'s bands allow.

    An index needing a parameter without a default (``PAR``, kernel values
    such as ``kNN``, wavelengths when no sensor is recorded) is listed only
    when that parameter is given here by keyword.

    Examples
    --------
    >>> available_indices(rgbn_scene)[:3]  # doctest: +SKIP
    ['ARI', 'ARI2', 'ARVI']
    """
    _check_dataarray(da)
    lookup = band_positions(da)
    return sorted(
        (short for short in catalogue() if _plan(da, short, lookup, params)[0] is not None),
        key=str.lower,
    )


def _compute_one(
    da: xr.DataArray, plan: _Plan, lookup: Mapping[str, int], threads: int | None
) -> xr.DataArray:
    symbols = list(plan.bands) + list(plan.arrays)
    scales: dict[str, float] = {}
    offsets: dict[str, float] = {}
    operands = []
    for symbol, band in plan.bands.items():
        position = lookup[band]
        scales[symbol], offsets[symbol] = band_scale_offset(da, position)
        operands.append(da.isel(band=position, drop=True).reset_coords(drop=True))
    band_dims = da.isel(band=0, drop=True).dims
    for symbol, value in plan.arrays.items():
        if not isinstance(value, xr.DataArray):
            if value.ndim > len(band_dims):
                raise InvalidInputError(
                    f"parameter {symbol} has {value.ndim} dims; a band has {len(band_dims)}"
                )
            value = xr.DataArray(value, dims=band_dims[len(band_dims) - value.ndim :])
        operands.append(value)
    nodata = nodata_value(da)
    formula = catalogue()[plan.short].formula
    dask_backed = any(getattr(op, "chunks", None) is not None for op in operands)

    def kernel(*arrays: np.ndarray) -> np.ndarray:
        inputs = dict(zip(symbols, arrays, strict=True))
        return compute_formula(
            formula,
            inputs,
            constants=plan.scalars,
            scales=scales,
            offsets=offsets,
            nodata=nodata,
            # Dask already runs one block per thread.
            threads=1 if dask_backed and threads is None else threads,
        )

    result = xr.apply_ufunc(
        kernel, *operands, dask="parallelized", output_dtypes=[np.float32], keep_attrs=False
    )
    return result.rename(plan.short)


def compute_index(
    da: xr.DataArray,
    name: str | Iterable[str],
    *,
    threads: int | None = None,
    **constants: Any,
) -> xr.DataArray:
    """Compute one or several spectral indices of the catalogue.

    Parameters
    ----------
    da : xarray.DataArray
        Dims ``(band, y, x)`` or ``(time, band, y, x)``, numpy- or
        dask-backed, with satlearn band names on ``band``. Integer bands with
        ``scale`` / ``offset`` coordinates along ``band`` (as
        :func:`satlearn.raster.open_raster` returns them) are scaled to
        reflectance inside the computation; pixels equal to ``da.rio.nodata``
        become NaN.
    name : str or iterable of str
        Index short names, case-insensitive (``"ndvi"``, ``"EVI"``); a
        comma-separated string (``"ndvi,ndwi"``) also names several.
    threads : int, optional
        Threads for numpy-backed input; default: all CPUs this process may use
        (dask-backed input: one per block, dask runs blocks in parallel).
    **constants : float or array
        Catalogue constants overriding the defaults (``L=0.5``, ``g=2.5``,
        ``alpha=0.2``), and parameters without a default (``PAR=...``,
        ``kNN=...``); arrays and DataArrays are used pixel by pixel.

    Returns
    -------
    xarray.DataArray
        float32. One index: dims ``(y, x)`` (or ``(time, y, x)``), named by the
        catalogue short name (``"NDVI"``). Several: dims ``(band, y, x)``
        with the short names on ``band``. Coordinates, CRS and transform are
        kept; nodata is NaN.

    Notes
    -----
    *Blockwise*: one fused program per block of a dask-backed array (per
    piece of a numpy-backed one), no halo.

    Raises
    ------
    InvalidInputError
        Unknown index name or constant, a constant without a value, bad input.
    UnknownBandError
        ``da`` lacks bands the index needs; the message names them.

    Examples
    --------
    >>> ndvi = compute_index(scene, "ndvi")  # doctest: +SKIP
    >>> savi = compute_index(scene, "savi", L=0.25)  # doctest: +SKIP
    >>> stack = compute_index(scene, ["ndvi", "ndwi", "nbr"])  # doctest: +SKIP
    >>> stack.band.values.tolist()  # doctest: +SKIP
    ['NDVI', 'NDWI', 'NBR']

    References
    ----------
    Montero, D. et al. (2023). A standardized catalogue of spectral indices to
    advance the use of remote sensing in Earth system research. Scientific
    Data, 10, 197. https://doi.org/10.1038/s41597-023-02096-0
    """
    _check_dataarray(da)
    single = isinstance(name, str) and "," not in name
    requested = [name] if single else _split_names(name)
    if not requested:
        raise InvalidInputError("no index name given")
    shorts = list(dict.fromkeys(resolve_index_name(n) for n in requested))
    _check_params(constants, shorts)
    resolve_threads(threads)  # validate early
    lookup = band_positions(da)
    plans = []
    for short in shorts:
        plan, missing_bands, missing_constants = _plan(da, short, lookup, constants)
        if missing_bands:
            wanted = ", ".join(
                f"{s} ({'/'.join(BAND_SYMBOLS.get(s, (s,)))})" for s in missing_bands
            )
            raise UnknownBandError(
                f"{short} needs band(s) {wanted}, which the DataArray lacks; "
                f"its bands are {', '.join(lookup) or 'none'}"
            )
        if missing_constants:
            raise InvalidInputError(
                f"{short} needs {', '.join(missing_constants)}, which have no default; "
                f"pass them by keyword, e.g. compute_index(da, {short!r}, "
                f"{missing_constants[0]}=...)"
            )
        assert plan is not None
        plans.append(plan)
    results = [_compute_one(da, plan, lookup, threads) for plan in plans]
    if single:
        result = results[0]
        result.attrs.update(index_attrs(shorts[0]))
    else:
        result = xr.concat(results, dim="band", coords="minimal", compat="override")
        result = result.assign_coords(band=shorts)
        result.name = None
        result.attrs["long_name"] = [catalogue()[s].long_name for s in shorts]
    return _georeferenced(result, da)


def _split_names(name: str | Iterable[str]) -> list[str]:
    if isinstance(name, str):
        return [part.strip() for part in name.split(",") if part.strip()]
    if not isinstance(name, Iterable):
        raise InvalidInputError(f"an index name must be a string, got {name!r}")
    names = list(name)
    for n in names:
        if not isinstance(n, str):
            raise InvalidInputError(f"an index name must be a string, got {n!r}")
    return names


def _georeferenced(result: xr.DataArray, source: xr.DataArray) -> xr.DataArray:
    """Carry the source's grid (CRS and GeoTransform) and mark NaN as nodata."""
    result = copy_grid(result, source)
    result.rio.write_nodata(np.nan, encoded=False, inplace=True)
    return result
