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
import xarray as xr
from scipy import ndimage

from satlearn.bands import band_positions
from satlearn.errors import InvalidInputError, UnknownBandError

__all__ = ["FeatureSpec", "band_names", "check_image", "pixel_features", "row_chunks"]

_TEMPORAL_STATS = ("tmean", "tstd", "tmin", "tmax")
_BLOCK_PIXELS = 1 << 20  # pixels per row block of a numpy image (~4 MB per float32 layer)


def check_image(image: Any, name: str = "image") -> xr.DataArray:
    """Check that ``image`` is a numeric (band, y, x) or (time, band, y, x) DataArray."""
    if not isinstance(image, xr.DataArray):
        raise InvalidInputError(f"{name} must be an xarray.DataArray, got {type(image).__name__}")
    if image.dims not in (("band", "y", "x"), ("time", "band", "y", "x")):
        raise InvalidInputError(
            f"{name} must have dims (band, y, x) or (time, band, y, x), got {image.dims}"
        )
    if image.dtype.kind not in "uif":
        raise InvalidInputError(f"{name} must hold numeric bands, got dtype {image.dtype}")
    if image.sizes["y"] == 0 or image.sizes["x"] == 0:
        raise InvalidInputError(f"{name} is empty (shape {image.shape})")
    return image


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
    """

    bands: tuple[str, ...]
    indices: tuple[str, ...] = ()
    texture: bool = False
    texture_window: int = 5
    n_times: int | None = None
    temporal: bool = True

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
    ) -> FeatureSpec:
        """A spec for ``image``: all its bands unless ``bands`` is given."""
        from satlearn.ops.indices import _resolve_name

        check_image(image)
        if isinstance(indices, str):
            indices = [i for i in indices.split(",") if i.strip()]
        shorts = tuple(dict.fromkeys(_resolve_name(str(i).strip()) for i in indices))
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
        )
        if not spec.bands and not spec.indices:
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
        return names

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict."""
        return {
            "bands": list(self.bands),
            "indices": list(self.indices),
            "texture": self.texture,
            "texture_window": self.texture_window,
            "n_times": self.n_times,
            "temporal": self.temporal,
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


def pixel_features(image: xr.DataArray, spec: FeatureSpec) -> xr.DataArray:
    """The feature stack of ``image`` (lazy, dask-backed) described by ``spec``.

    Parameters
    ----------
    image : xarray.DataArray
        (band, y, x) or (time, band, y, x), numpy- or dask-backed, with band
        names on ``band``.
    spec : FeatureSpec
        The features to compute (see the module docstring).

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
        The image's number of dates differs from the spec's.

    Examples
    --------
    >>> spec = FeatureSpec(bands=("red", "nir"), indices=("NDVI",))
    >>> stack = pixel_features(scene, spec)  # doctest: +SKIP
    >>> list(stack.feature.values)  # doctest: +SKIP
    ['red', 'nir', 'NDVI']
    """
    from satlearn.ops.indices import compute_index

    check_image(image)
    n_times = image.sizes["time"] if "time" in image.dims else None
    if n_times != spec.n_times:
        have = "no time dimension" if n_times is None else f"{n_times} dates"
        want = "a (band, y, x) image" if spec.n_times is None else f"{spec.n_times} dates"
        raise InvalidInputError(f"the features need {want}, the image has {have}")
    lookup = band_names(image)
    missing = [b for b in spec.bands if b not in lookup]
    if missing:
        raise UnknownBandError(
            f"the image lacks band(s) {', '.join(missing)} that the features need; "
            f"its bands are {', '.join(lookup) or 'none'}"
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
    data = dsa.stack([s.astype(np.float32) for s in stack]).rechunk({0: -1})
    coords = {"feature": spec.names(), "y": image.coords["y"], "x": image.coords["x"]}
    return xr.DataArray(data, dims=("feature", "y", "x"), coords=coords)
