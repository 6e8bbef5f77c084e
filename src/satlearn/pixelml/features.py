"""Per-pixel features of a scene: bands, spectral indices, temporal statistics, texture.

One function, :func:`pixel_features`, turns an image into a stack of feature
layers from a :class:`FeatureSpec`. Training, prediction and clustering all
call it with the spec that the model stores, so the features a model sees at
prediction time are computed by the same code, in the same order, as the
ones it was trained on: train/predict skew cannot happen, and a missing band
is an :class:`~satlearn.errors.UnknownBandError` naming it.

Layers
------
For a ``(band, y, x)`` image, in this order:

* each band of ``spec.bands``, as reflectance (``scale`` / ``offset``
  coordinates applied, nodata -> NaN), named by the band (``"red"``);
* each index of ``spec.indices`` (:func:`satlearn.ops.indices.compute_index`),
  named by its catalogue short name (``"NDVI"``);
* with ``spec.texture``: local mean and standard deviation in a
  ``texture_window`` square of the brightness (mean of the bands) and of each
  index, named ``"brightness:mean5"``, ``"NDVI:std5"``.

For a ``(time, band, y, x)`` series, the band and index layers are given per
date (``"red@t0"``, ``"NDVI@t3"``); with ``spec.temporal`` their mean, standard
deviation, minimum and maximum over time follow (``"NDVI:tmean"``,
``"red:tstd"``), and texture is computed on the temporal mean of each layer.

Last come the ``spec.extra`` layers, supplied by the caller (``extra=``, a
``(feature, y, x)`` DataArray picked by name): anything not computed from the
image, e.g. a DEM, or a cloud-masked time series interpolated onto a regular
date grid (:func:`interpolate_time`, flattened by :func:`series_layers`) as
eo-learn's land-cover pipeline uses. The names are stored in the spec, so a
classifier refuses extra layers that are missing or named differently.

The result is lazy: a dask-backed image gives a dask-backed stack (texture
with :func:`dask.array.map_overlap`, so block seams are exact), and a
numpy-backed image is split into row blocks first, so no scene-sized stack of
all features is ever made unless the caller computes it.

Examples
--------
>>> spec = FeatureSpec.from_image(scene, indices=("ndvi",), texture=True)  # doctest: +SKIP
>>> stack = pixel_features(scene, spec)  # doctest: +SKIP
>>> stack.feature.values[:3]  # doctest: +SKIP
array(['blue', 'green', 'red'], dtype='<U16')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from scipy import ndimage

from satlearn.bands import band_positions
from satlearn.errors import InvalidInputError, NoValidDataError, SatlearnError, UnknownBandError

__all__ = [
    "FeatureSpec",
    "band_names",
    "check_image",
    "extra_names",
    "interpolate_time",
    "pixel_features",
    "row_chunks",
    "series_layers",
]

_TEMPORAL_STATS = ("tmean", "tstd", "tmin", "tmax")
_BLOCK_PIXELS = 1 << 20  # pixels per row block of a numpy image (~4 MB per float32 layer)


def check_image(image: Any, name: str = "image") -> xr.DataArray:
    """Check that ``image`` is a numeric (band, y, x) or (time, band, y, x) DataArray.

    The one input check, :func:`satlearn.checks.check_raster`, with the two
    layouts pixel features take.
    """
    from satlearn.checks import BAND_YX, check_raster

    return check_raster(image, what=name, dims=[BAND_YX, ("time", *BAND_YX)])


def band_names(image: xr.DataArray) -> dict[str, int]:
    """satlearn band name -> position along ``band`` (sensor ids such as ``B08`` translated)."""
    if "band" not in image.coords:
        return {f"b{i + 1}": i for i in range(image.sizes["band"])}
    return band_positions(image)


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to compute; stored in a model's bundle.json.

    Attributes
    ----------
    bands : tuple of str
        Band names, in order.
    indices : tuple of str
        Spectral index short names (catalogue spelling, e.g. ``"NDVI"``).
    texture : bool
        Add local mean / standard deviation layers.
    texture_window : int
        Odd side of the texture window, in pixels.
    n_times : int or None
        Number of dates of a (time, band, y, x) series; None for (band, y, x).
    temporal : bool
        Add temporal statistics (series only).
    extra : tuple of str
        Names of caller-supplied layers (the ``extra=`` argument of
        :func:`pixel_features`), appended last, e.g. the dates of an
        interpolated series (:func:`series_layers`) or a DEM.
    """

    bands: tuple[str, ...]
    indices: tuple[str, ...] = ()
    texture: bool = False
    texture_window: int = 5
    n_times: int | None = None
    temporal: bool = True
    extra: tuple[str, ...] = ()

    @classmethod
    def from_image(
        cls,
        image: xr.DataArray,
        *,
        bands: Sequence[str] | None = None,
        indices: Iterable[str] = (),
        texture: bool = False,
        texture_window: int = 5,
        temporal: bool = True,
        extra: Sequence[str] = (),
    ) -> FeatureSpec:
        """A spec for ``image``: all its bands unless ``bands`` is given."""
        from satlearn.spectral import resolve_index_name

        check_image(image)
        if isinstance(indices, str):
            indices = [i for i in indices.split(",") if i.strip()]
        shorts = tuple(dict.fromkeys(resolve_index_name(str(i).strip()) for i in indices))
        if bands is None:
            bands = [str(b) for b in image.coords["band"].values] if "band" in image.coords else []
        if not isinstance(texture_window, int) or texture_window < 3 or texture_window % 2 == 0:
            raise InvalidInputError(
                f"texture_window must be an odd int >= 3, got {texture_window!r}"
            )
        spec = cls(
            bands=tuple(str(b) for b in bands),
            indices=shorts,
            texture=bool(texture),
            texture_window=texture_window,
            n_times=image.sizes["time"] if "time" in image.dims else None,
            temporal=bool(temporal),
            extra=tuple(str(e) for e in extra),
        )
        if len(set(spec.extra)) != len(spec.extra):
            raise InvalidInputError(f"extra layer names repeat: {list(spec.extra)}")
        if not spec.bands and not spec.indices and not spec.extra:
            raise InvalidInputError("no features: give at least one band or index")
        return spec

    def names(self) -> list[str]:
        """Feature names, in stack order."""
        layers = [*self.bands, *self.indices]
        if self.n_times is None:
            names = list(layers)
        else:
            names = [f"{n}@t{t}" for t in range(self.n_times) for n in layers]
            if self.temporal and self.n_times > 1:
                names += [f"{n}:{s}" for n in layers for s in _TEMPORAL_STATS]
        if self.texture:
            bases = (["brightness"] if self.bands else []) + list(self.indices)
            w = self.texture_window
            names += [f"{b}:{s}{w}" for b in bases for s in ("mean", "std")]
        return names + list(self.extra)

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict."""
        return {
            "bands": list(self.bands),
            "indices": list(self.indices),
            "texture": self.texture,
            "texture_window": self.texture_window,
            "n_times": self.n_times,
            "temporal": self.temporal,
            "extra": list(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """The inverse of :meth:`to_json`."""
        try:
            return cls(
                bands=tuple(str(b) for b in data["bands"]),
                indices=tuple(str(i) for i in data.get("indices", ())),
                texture=bool(data.get("texture", False)),
                texture_window=int(data.get("texture_window", 5)),
                n_times=None if data.get("n_times") is None else int(data["n_times"]),
                temporal=bool(data.get("temporal", True)),
                extra=tuple(str(e) for e in data.get("extra", ())),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInputError(f"invalid feature spec {dict(data)!r}: {err}") from None


def row_chunks(image: xr.DataArray, block_pixels: int = _BLOCK_PIXELS) -> xr.DataArray:
    """``image`` as dask with whole bands/dates per chunk (row blocks for numpy input)."""
    whole = {d: -1 for d in image.dims if d not in ("y", "x")}
    if image.chunks is not None:
        return image.chunk(whole)
    rows = max(1, block_pixels // max(1, image.sizes["x"]))
    return image.chunk({**whole, "y": rows, "x": -1})


def _reflectance(image: xr.DataArray, positions: list[int]) -> xr.DataArray:
    """The chosen bands as float32 reflectance, nodata -> NaN."""
    sub = image.isel(band=positions)
    nodata = image.rio.nodata if hasattr(image, "rio") else None
    values = sub.astype(np.float32)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        values = values.where(sub != nodata)
    if "scale" in sub.coords and sub.coords["scale"].dims == ("band",):
        values = values * sub.coords["scale"].astype(np.float32)
    if "offset" in sub.coords and sub.coords["offset"].dims == ("band",):
        values = values + sub.coords["offset"].astype(np.float32)
    return values.astype(np.float32)


def _local_moments(layer: Any, window: int) -> tuple[Any, Any]:
    """Local mean and standard deviation of a (y, x) dask array in a square window.

    NaN neighbours are left out of a window (scipy's uniform_filter keeps a
    running sum, so a NaN would otherwise spoil the rest of its row); a NaN
    centre stays NaN.
    """

    def moments(block: np.ndarray) -> np.ndarray:
        b = block[0].astype(np.float32)
        finite = np.isfinite(b)
        filled = np.where(finite, b, np.float32(0))
        count = ndimage.uniform_filter(finite.astype(np.float32), size=window, mode="reflect")
        total = ndimage.uniform_filter(filled, size=window, mode="reflect")
        total_sq = ndimage.uniform_filter(filled * filled, size=window, mode="reflect")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            # E[x^2] - E[x]^2 can dip a rounding error below zero on flat areas.
            std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0))
        out = np.stack([mean, std])
        out[:, ~finite] = np.nan
        return out

    r = window // 2
    # The input is the layer twice, so that each block keeps its shape: the
    # kernel writes the mean into the first copy and the std into the second.
    both = (
        dsa.stack([layer, layer])
        .rechunk({0: 2})
        .map_overlap(moments, depth={0: 0, 1: r, 2: r}, boundary="reflect", dtype=np.float32)
    )
    return both[0], both[1]


def extra_names(extra: xr.DataArray | None) -> tuple[str, ...]:
    """The layer names of an ``extra=`` DataArray ((feature, y, x) or (band, y, x)); () for None."""
    if extra is None:
        return ()
    if not isinstance(extra, xr.DataArray):
        raise InvalidInputError(
            f"extra must be an xarray.DataArray (feature, y, x), got {type(extra).__name__}"
        )
    if extra.dims not in (("feature", "y", "x"), ("band", "y", "x")):
        raise InvalidInputError(
            f"extra must have dims (feature, y, x) or (band, y, x), got {extra.dims}"
        )
    dim = extra.dims[0]
    if dim not in extra.coords:
        raise InvalidInputError(f"extra needs layer names on its {dim!r} coordinate")
    if extra.dtype.kind not in "uifb":
        raise InvalidInputError(f"extra must hold numeric layers, got dtype {extra.dtype}")
    return tuple(str(n) for n in extra.coords[dim].values)


def _require(
    needed: Iterable[str],
    have: Iterable[str],
    *,
    lacks: str,
    holds: str,
    error: type[SatlearnError],
) -> None:
    """Raise ``error`` naming the ``needed`` names not in ``have``, and those there are."""
    present = list(have)
    missing = [n for n in needed if n not in present]
    if missing:
        raise error(
            f"{lacks}(s) {', '.join(missing)} that the features need; "
            f"{holds} {', '.join(present) or 'none'}"
        )


def _extra_layers(extra: Any, spec: FeatureSpec, image: xr.DataArray) -> list[Any]:
    """The spec's extra layers as (y, x) dask arrays chunked like ``image`` (row-chunked)."""
    if extra is None:
        raise InvalidInputError(
            f"these features need extra layer(s) {', '.join(spec.extra)}: pass extra= "
            "(a (feature, y, x) DataArray holding them)"
        )
    have = extra_names(extra)
    _require(spec.extra, have, lacks="extra lacks layer", holds="it holds", error=InvalidInputError)
    extra = extra.rename({extra.dims[0]: "feature"})
    shape = (image.sizes["y"], image.sizes["x"])
    if (extra.sizes["y"], extra.sizes["x"]) != shape:
        raise InvalidInputError(
            f"extra has grid {(extra.sizes['y'], extra.sizes['x'])}, the image {shape} (y, x)"
        )
    for dim in ("y", "x"):
        if dim in extra.coords and dim in image.coords:
            a, b = np.asarray(extra[dim].values), np.asarray(image[dim].values)
            if a.dtype.kind in "if" and b.dtype.kind in "if" and not np.allclose(a, b):
                raise InvalidInputError(f"extra's {dim} coordinates differ from the image's")
    extra = xr.DataArray(
        extra.data, dims=("feature", "y", "x"), coords={"feature": list(have)}
    ).sel(feature=list(spec.extra))
    chunks = {"feature": -1, "y": image.chunksizes["y"], "x": image.chunksizes["x"]}
    data = extra.astype(np.float32).chunk(chunks).data
    return [data[i] for i in range(len(spec.extra))]


def pixel_features(
    image: xr.DataArray, spec: FeatureSpec, extra: xr.DataArray | None = None
) -> xr.DataArray:
    """The feature stack of ``image`` (lazy, dask-backed) described by ``spec``.

    Parameters
    ----------
    image : xarray.DataArray
        (band, y, x) or (time, band, y, x), numpy- or dask-backed, with band
        names on ``band``.
    spec : FeatureSpec
        The features to compute (see the module docstring).
    extra : xarray.DataArray, optional
        (feature, y, x) layers on the image grid holding (at least) the
        spec's ``extra`` names, e.g. :func:`series_layers` of an interpolated
        cloud-masked series; required when ``spec.extra`` is not empty.

    Returns
    -------
    xarray.DataArray
        float32 (feature, y, x), dask-backed, with the feature names on
        ``feature`` and the image's y/x coordinates. A pixel with any NaN
        feature (nodata) cannot be classified.

    Raises
    ------
    UnknownBandError
        A band of the spec (or one an index needs) is missing; the message
        names it.
    InvalidInputError
        The image's number of dates differs from the spec's; ``extra`` is
        missing, lacks a layer of the spec, or is on another grid.

    Examples
    --------
    >>> spec = FeatureSpec(bands=("red", "nir"), indices=("NDVI",))
    >>> stack = pixel_features(scene, spec)  # doctest: +SKIP
    >>> list(stack.feature.values)  # doctest: +SKIP
    ['red', 'nir', 'NDVI']
    """
    from satlearn.spectral import compute_index

    check_image(image)
    n_times = image.sizes["time"] if "time" in image.dims else None
    if n_times != spec.n_times:
        have = "no time dimension" if n_times is None else f"{n_times} dates"
        want = "a (band, y, x) image" if spec.n_times is None else f"{spec.n_times} dates"
        raise InvalidInputError(f"the features need {want}, the image has {have}")
    lookup = band_names(image)
    _require(
        spec.bands,
        lookup,
        lacks="the image lacks band",
        holds="its bands are",
        error=UnknownBandError,
    )
    image = row_chunks(image)
    layers: list[Any] = []  # (time, y, x) or (y, x) dask arrays, one per band / index
    if spec.bands:
        refl = _reflectance(image, [lookup[b] for b in spec.bands])
        layers += [refl.isel(band=i).data for i in range(len(spec.bands))]
    for short in spec.indices:
        layers.append(compute_index(image, short).astype(np.float32).data)

    if n_times is None:
        stack = list(layers)
        texture_bases = layers
    else:
        stack = [layer[t] for t in range(n_times) for layer in layers]
        with np.errstate(invalid="ignore"):
            if spec.temporal and n_times > 1:
                for layer in layers:
                    stack += [
                        layer.mean(axis=0),
                        layer.std(axis=0),
                        layer.min(axis=0),
                        layer.max(axis=0),
                    ]
            texture_bases = [layer.mean(axis=0) for layer in layers]
    if spec.texture:
        bases = []
        if spec.bands:
            bases.append(dsa.stack(texture_bases[: len(spec.bands)]).mean(axis=0))
        bases += texture_bases[len(spec.bands) :]
        for base in bases:
            stack += list(_local_moments(base.astype(np.float32), spec.texture_window))
    if spec.extra:
        stack += _extra_layers(extra, spec, image)
    elif extra is not None and extra_names(extra):
        raise InvalidInputError("extra layers were given but these features use none")
    data = dsa.stack([s.astype(np.float32) for s in stack]).rechunk({0: -1})
    coords = {"feature": spec.names(), "y": image.coords["y"], "x": image.coords["x"]}
    return xr.DataArray(data, dims=("feature", "y", "x"), coords=coords)


# --------------------------------------------------------------------------- time series

_EXTRAPOLATE = ("nearest", "nan")


def _datetimes(values: Any, what: str) -> np.ndarray:
    """``values`` as a 1-D datetime64[ns] array (timezone-aware values converted to UTC)."""
    import pandas as pd

    array = np.asarray(values).ravel()
    if array.dtype.kind in "iufcb":
        raise InvalidInputError(
            f"{what}: not dates but {array.dtype} numbers (give datetime64 values or date strings)"
        )
    try:
        if array.dtype.kind == "M":
            index = pd.DatetimeIndex(array)
        else:  # strings, datetime objects: parsed one by one ("mixed"), as ISO 8601 first
            index = pd.DatetimeIndex(pd.to_datetime(array.tolist(), format="mixed"))
    except (TypeError, ValueError, OverflowError) as err:
        raise InvalidInputError(f"{what}: not dates: {err}") from None
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.hasnans:
        raise InvalidInputError(f"{what}: holds a missing date (NaT)")
    return index.values.astype("datetime64[ns]")


def _days(dates: np.ndarray, origin: np.datetime64) -> np.ndarray:
    return (dates - origin) / np.timedelta64(1, "D")


def _interp_last_axis(
    values: np.ndarray, ok: np.ndarray, t: np.ndarray, g: np.ndarray, nearest: bool
) -> np.ndarray:
    """Linear interpolation along the last axis of ``values`` at times ``g``.

    ``values``/``ok`` (..., T) with ``t`` (T,) sorted; the result is (..., G).
    Vectorised over every leading axis: the running index of the last valid
    observation at or before each date (and of the first at or after) is a
    cumulative max (min), so no Python loop over pixels or dates is needed.
    """
    n = t.size
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(ok, idx, -1), axis=-1)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(ok, idx, n), -1), axis=-1), -1)
    right = np.searchsorted(t, g, side="right") - 1  # last input date <= g
    left = np.searchsorted(t, g, side="left")  # first input date >= g
    p = np.where(right >= 0, prev[..., np.clip(right, 0, n - 1)], -1)
    q = np.where(left < n, nxt[..., np.clip(left, 0, n - 1)], n)
    has_p, has_q = p >= 0, q < n
    pc, qc = np.clip(p, 0, n - 1), np.clip(q, 0, n - 1)
    vp = np.take_along_axis(values, pc, axis=-1).astype(np.float64)
    vq = np.take_along_axis(values, qc, axis=-1).astype(np.float64)
    tp, tq = t[pc], t[qc]
    span = tq - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        # span 0: g falls on a valid observation's date (or on repeated dates): their mean
        w = np.where(span > 0, (g - tp) / np.where(span > 0, span, 1.0), 0.5)
    out = np.where(has_p & has_q, vp + w * (vq - vp), np.nan)
    if nearest:
        out = np.where(has_p & ~has_q, vp, out)
        out = np.where(~has_p & has_q, vq, out)
    return out


def interpolate_time(
    series: xr.DataArray | np.ndarray,
    valid: xr.DataArray | np.ndarray | None = None,
    *,
    dates: Sequence[Any] | np.ndarray | None = None,
    step_days: float = 16,
    start: Any = None,
    end: Any = None,
    grid: Sequence[Any] | np.ndarray | None = None,
    extrapolate: str = "nearest",
) -> xr.DataArray:
    """Cloud-masked time series, linearly interpolated in time onto a regular date grid.

    Each pixel's (and band's) valid observations are joined by straight lines
    in time and read at the grid dates, as eo-learn's
    ``LinearInterpolationTask`` does before its land-cover classifier: an
    irregular, cloudy series becomes a regular one whose values at a given
    date are comparable between pixels (phenology).

    Parameters
    ----------
    series : xarray.DataArray or numpy.ndarray
        A DataArray with a ``time`` dimension (any other dims, e.g.
        ``(time, y, x)`` or ``(time, band, y, x)``) and datetime values on
        ``time`` unless ``dates`` is given; or an ndarray ``(time, y, x)`` or
        ``(time, band, y, x)`` with ``dates``.
    valid : DataArray or ndarray of bool, optional
        True for a clear (usable) observation, e.g. ``~cloud_mask``: the
        series' shape, or for a ``(time, band, y, x)`` series also
        ``(time, y, x)`` (one mask for all bands). A DataArray is matched to
        the series by dim names. NaN values count as invalid as well; None:
        every finite value is valid.
    dates : sequence of dates, optional
        Acquisition dates (anything :func:`pandas.to_datetime` reads), one per
        time step; overrides a DataArray's ``time`` coordinate. Need not be
        sorted.
    step_days : float
        Grid spacing in days (default 16, as in eo-learn's LULC example).
    start, end : date, optional
        Grid span: from ``start`` (default: midnight of the first date) every
        ``step_days`` while <= ``end`` (default: the last date).
    grid : sequence of dates, optional
        The output dates, instead of ``start``/``end``/``step_days``.
    extrapolate : {"nearest", "nan"}
        Grid dates before a pixel's first valid observation take that
        observation's value and dates after its last take the last one
        (``"nearest"``, the default, like :func:`numpy.interp`); ``"nan"``
        leaves them NaN (as eo-learn's generic ``InterpolationTask`` does).

    Returns
    -------
    xarray.DataArray
        The series on the grid dates (``time`` holds them, datetime64[ns]),
        float32 for float32 (or 8/16-bit integer) input, else float64; other
        dims and coordinates as the input's. A pixel with no valid observation is
        NaN at every date. Lazy (dask) when the series is; then ``time``
        must be a single chunk.

    Raises
    ------
    InvalidInputError
        No ``time`` axis, no dates, a mask whose shape differs, dates that
        do not match the time axis, a bad ``step_days``/``extrapolate``, an
        empty grid.
    NoValidDataError
        No valid observation at all (numpy-backed input).

    Notes
    -----
    Dates are handled as fractional days, so two acquisitions of one day at
    different times stay distinct; a grid date that falls exactly on two
    valid observations gets their mean. The cost is a few arrays of the
    output's size: no Python loop over pixels or dates.

    Examples
    --------
    >>> import numpy as np
    >>> ndvi = np.array([0.2, 0.9, 0.4, 0.6], np.float32).reshape(4, 1, 1)
    >>> clear = np.array([True, False, True, True]).reshape(4, 1, 1)  # date 2 is cloudy
    >>> out = interpolate_time(ndvi, clear, dates=["2024-01-01", "2024-01-11",
    ...                                            "2024-01-21", "2024-01-31"], step_days=5)
    >>> [round(float(v), 3) for v in out.values.ravel()]
    [0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6]
    >>> str(out.time.values[1])[:10]
    '2024-01-06'
    """
    if extrapolate not in _EXTRAPOLATE:
        raise InvalidInputError(
            f"extrapolate must be one of {', '.join(_EXTRAPOLATE)}, got {extrapolate!r}"
        )
    if isinstance(series, xr.DataArray):
        if "time" not in series.dims:
            raise InvalidInputError(
                f"series has no 'time' dimension (dims {series.dims}); "
                "interpolation in time needs one"
            )
        da = series
    elif isinstance(series, np.ndarray):
        if series.ndim not in (3, 4):
            raise InvalidInputError(
                "an ndarray series must be (time, y, x) or (time, band, y, x), "
                f"got shape {series.shape}"
            )
        if dates is None:
            raise InvalidInputError("an ndarray series needs dates= (one per time step)")
        dims = ("time", "y", "x") if series.ndim == 3 else ("time", "band", "y", "x")
        da = xr.DataArray(series, dims=dims)
    else:
        raise InvalidInputError(
            f"series must be an xarray.DataArray or numpy.ndarray, got {type(series).__name__}"
        )
    if da.dtype.kind not in "uifb":
        raise InvalidInputError(f"series must be numeric, got dtype {da.dtype}")
    n = da.sizes["time"]
    if n == 0:
        raise InvalidInputError("series has no date (time axis of length 0)")
    if dates is None:
        if "time" not in da.coords:
            raise InvalidInputError("series has no 'time' coordinate; give dates=")
        times = _datetimes(da["time"].values, "series time coordinate (or give dates=)")
    else:
        times = _datetimes(dates, "dates")
    if times.size != n:
        raise InvalidInputError(f"{times.size} date(s) for a series of {n} time step(s)")
    if not isinstance(step_days, int | float) or isinstance(step_days, bool) or step_days <= 0:
        raise InvalidInputError(f"step_days must be a positive number, got {step_days!r}")

    # The mask, as a bool DataArray with the series' dims.
    bare = xr.DataArray(da.data, dims=da.dims)
    if valid is None:
        mask = xr.ones_like(bare, dtype=bool)
    elif isinstance(valid, xr.DataArray):
        if "time" not in valid.dims or not set(valid.dims) <= set(da.dims):
            raise InvalidInputError(
                f"valid has dims {valid.dims}; they must include 'time' and be among "
                f"the series' {da.dims}"
            )
        for dim in valid.dims:
            if valid.sizes[dim] != da.sizes[dim]:
                raise InvalidInputError(
                    f"valid has {valid.sizes[dim]} along {dim!r}, the series {da.sizes[dim]}"
                )
        mask = xr.broadcast(xr.DataArray(valid.data, dims=valid.dims).astype(bool), bare)[0]
    else:
        values = np.asarray(valid)
        shape = da.shape
        no_band = tuple(s for d, s in zip(da.dims, shape, strict=True) if d != "band")
        if values.shape == shape:
            mask = xr.DataArray(values.astype(bool), dims=da.dims)
        elif "band" in da.dims and values.shape == no_band:
            dims = tuple(d for d in da.dims if d != "band")
            mask = xr.broadcast(xr.DataArray(values.astype(bool), dims=dims), bare)[0]
        else:
            raise InvalidInputError(
                f"valid has shape {values.shape}; the series is {shape} "
                f"({', '.join(map(str, da.dims))})"
                + (f" (or {no_band} for one mask per date)" if "band" in da.dims else "")
            )

    mask = mask.transpose(*da.dims)
    order = np.argsort(times, kind="stable")
    times = times[order]
    if grid is not None:
        grid_dates = np.sort(_datetimes(grid, "grid"))
    else:
        first = np.datetime64(times[0], "D").astype("datetime64[ns]")
        lo = first if start is None else _datetimes([start], "start")[0]
        hi = times[-1] if end is None else _datetimes([end], "end")[0]
        step = np.timedelta64(round(step_days * 86400e9), "ns")
        count = int((hi - lo) // step) + 1 if hi >= lo else 0
        grid_dates = lo + step * np.arange(count)
    if grid_dates.size == 0:
        raise InvalidInputError("the output grid holds no date (end before start?)")

    origin = times[0]
    t, g = _days(times, origin), _days(grid_dates, origin)
    out_dtype = np.float32 if np.result_type(da.dtype, np.float32) == np.float32 else np.float64
    core = da.isel(time=order).drop_vars(["time"], errors="ignore")
    mask = mask.isel(time=order)
    finite = np.isfinite(core) if core.dtype.kind == "f" else xr.ones_like(core, dtype=bool)
    ok = mask & finite
    if core.chunks is None and not bool(ok.any()):
        raise NoValidDataError("the series holds no valid observation (all masked or NaN)")
    nearest = extrapolate == "nearest"

    def kernel(values: np.ndarray, good: np.ndarray) -> np.ndarray:
        return _interp_last_axis(values, good, t, g, nearest).astype(out_dtype)

    result = xr.apply_ufunc(
        kernel,
        core,
        ok,
        input_core_dims=[["time"], ["time"]],
        output_core_dims=[["time"]],
        exclude_dims={"time"},
        dask="parallelized",
        output_dtypes=[out_dtype],
        dask_gufunc_kwargs={"output_sizes": {"time": grid_dates.size}},
    )
    result = result.transpose(*da.dims).assign_coords(time=grid_dates)
    result.name = da.name
    result.attrs = dict(da.attrs)
    return result


def series_layers(series: xr.DataArray, name: str | None = None) -> xr.DataArray:
    """A ``(time, [band,] y, x)`` series as ``(feature, y, x)`` layers named ``NAME@YYYY-MM-DD``.

    For the ``extra=`` argument of :func:`pixel_features`,
    :func:`satlearn.pixelml.train_pixel_classifier` and
    :func:`satlearn.ops.landcover.classify_landcover`: each date (and band) of
    an interpolated series (:func:`interpolate_time`) becomes one feature.

    Parameters
    ----------
    series : xarray.DataArray
        (time, y, x) or (time, band, y, x) with dates on ``time``.
    name : str, optional
        Layer name of a (time, y, x) series; default its ``name``, else
        ``"value"``. A (time, band, y, x) series is named by its bands.

    Returns
    -------
    xarray.DataArray
        (feature, y, x), date-major (all bands of date 0 first).

    Examples
    --------
    >>> s = xr.DataArray(np.zeros((2, 3, 4)), dims=("time", "y", "x"),
    ...                  coords={"time": np.array(["2024-01-01", "2024-01-17"], "datetime64[ns]")})
    >>> series_layers(s, "NDVI").feature.values.tolist()
    ['NDVI@2024-01-01', 'NDVI@2024-01-17']
    """
    if not isinstance(series, xr.DataArray) or "time" not in series.dims:
        raise InvalidInputError("series must be a DataArray with a 'time' dimension")
    if series.dims not in (("time", "y", "x"), ("time", "band", "y", "x")):
        raise InvalidInputError(
            f"series must have dims (time, y, x) or (time, band, y, x), got {series.dims}"
        )
    if "time" not in series.coords or not np.issubdtype(series["time"].dtype, np.datetime64):
        raise InvalidInputError("series needs dates (datetime64) on its 'time' coordinate")
    days = [str(d)[:10] for d in series["time"].values.astype("datetime64[D]")]
    if "band" in series.dims:
        bands = (
            [str(b) for b in series["band"].values]
            if "band" in series.coords
            else [f"b{i + 1}" for i in range(series.sizes["band"])]
        )
        stacked = series.stack(feature=("time", "band")).transpose("feature", "y", "x")
        names = [f"{b}@{d}" for d in days for b in bands]
    else:
        layer = name or (str(series.name) if series.name is not None else "value")
        stacked = series.rename(time="feature")
        names = [f"{layer}@{d}" for d in days]
    if len(set(names)) != len(names):
        raise InvalidInputError("series has two dates on one day; their layer names would clash")
    keep = {c: stacked.coords[c] for c in ("y", "x") if c in stacked.coords}
    return xr.DataArray(stacked.data, dims=("feature", "y", "x"), coords={"feature": names, **keep})
