"""detect_ships and ship_mask: the public layer over the window kernels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import rasterio.features
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from satlearn.bands import band_positions, reflectance
from satlearn.checks import check_raster, check_same_grid, metres_per_unit, pixel_area_m2
from satlearn.errors import InvalidInputError
from satlearn.metrics import ShipScores, score_ships
from satlearn.ops.ships._cfar import MIN_RING, ShipParams
from satlearn.ops.ships._measure import ConfirmFn, measure_ships
from satlearn.ops.ships._window import block_chunks, split_blocks, window_task
from satlearn.ops.water import water_mask_details
from satlearn.vector import write_geojson

__all__ = ["SHIP_METHODS", "ShipDetections", "detect_ships", "ship_mask"]

#: Candidate methods of :func:`detect_ships`.
SHIP_METHODS = ("cfar", "felzenszwalb")

_SINGLE_WINDOW = 4096  # numpy scenes up to this size (per side) are one window
_BLOCK = 2048  # block size of larger numpy scenes


@dataclass(frozen=True)
class ShipDetections:
    """Ships found in a scene, with the water mask they were searched in.

    Attributes
    ----------
    ships : list of dict
        One record per ship (see :func:`measure_ships`), in raster order.
    water : xarray.DataArray
        bool ``(y, x)`` water mask (lazy for dask input).
    water_fraction : float
        Water pixels over valid pixels (NaN when none is valid).
    threshold : float
        Water-index threshold.
    water_index : str
        ``"MNDWI"`` or ``"NDWI"``.
    crs : rasterio.crs.CRS or None
        CRS of the map coordinates.
    method : str
        ``"cfar"`` or ``"felzenszwalb"``.
    """

    ships: list[dict[str, Any]]
    water: xr.DataArray
    water_fraction: float
    threshold: float
    water_index: str
    crs: CRS | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    transform: Affine | None = None

    def __len__(self) -> int:
        return len(self.ships)

    @property
    def mask(self) -> xr.DataArray:
        """bool ``(y, x)`` ship footprints (each ship's oriented rectangle) on the scene's grid."""
        transform = self.transform if self.transform is not None else self.water.rio.transform()
        shape = (self.water.sizes["y"], self.water.sizes["x"])
        if self.ships:
            shapes = (({"type": "Polygon", "coordinates": [s["polygon"]]}, 1) for s in self.ships)
            burnt = rasterio.features.rasterize(
                shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8"
            ).astype(bool)
        else:
            burnt = np.zeros(shape, bool)
        coords = {k: v for k, v in self.water.coords.items() if set(v.dims) <= {"y", "x"}}
        return xr.DataArray(burnt, dims=("y", "x"), coords=coords, name="ships")

    def scores(self, truth: Any, **options: Any) -> ShipScores:
        """Precision, recall and F1 against truth ships (:func:`satlearn.metrics.score_ships`)."""
        return score_ships(self, truth, **options)

    def to_features(self, *, to_wgs84: bool = True) -> list[dict[str, Any]]:
        """One GeoJSON Feature per ship; the name every result object shares."""
        return self.features(to_wgs84=to_wgs84)

    def features(self, *, to_wgs84: bool = True) -> list[dict[str, Any]]:
        """One GeoJSON Feature per ship (oriented rectangle).

        Properties: ``id``, ``length_m``, ``width_m``, ``orientation_deg``,
        ``area_m2``, ``score``, ``confidence``, ``pixels``, ``row``, ``col``,
        ``bbox_px`` and ``bbox_map`` (scene CRS, whatever ``to_wgs84``).

        Examples
        --------
        >>> from satlearn.synth import make_scene
        >>> found = detect_ships(make_scene(256, seed=1, n_dates=1).image.isel(time=0))
        >>> found.features()[0]["geometry"]["type"]
        'Polygon'
        """
        features = []
        for ship in self.ships:
            geometry: dict[str, Any] = {
                "type": "Polygon",
                "coordinates": [[list(p) for p in ship["polygon"]]],
            }
            if to_wgs84 and self.crs is not None and self.crs != CRS.from_epsg(4326):
                geometry = rasterio.warp.transform_geom(self.crs, "EPSG:4326", geometry)
            props = {k: v for k, v in ship.items() if k not in {"polygon", "x", "y"}}
            features.append({"type": "Feature", "geometry": geometry, "properties": props})
        return features

    def to_geojson(self, path: Any, *, to_wgs84: bool = True) -> Any:
        """Write the ships as a GeoJSON FeatureCollection (atomic); return the path.

        With ``to_wgs84=False`` coordinates stay in the scene CRS, recorded in
        the legacy ``crs`` member. No ship gives an empty FeatureCollection.
        """
        crs = None if to_wgs84 else self.crs
        return write_geojson(self.features(to_wgs84=to_wgs84), path, crs=crs)


def _band(image: xr.DataArray, name: str) -> xr.DataArray:
    """One band as float32 reflectance ``(y, x)``; a missing band is named."""
    return reflectance(image, [name]).isel(band=0, drop=True)


def _check_number(name: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise InvalidInputError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _odd(n: float) -> int:
    n = max(math.ceil(n), 1)
    return n if n % 2 else n + 1


def detect_ships(
    image: xr.DataArray,
    *,
    band: str = "nir",
    method: str = "cfar",
    water: Any = None,
    valid: Any = None,
    k: float = 5.0,
    min_contrast: float = 0.08,
    guard_m: float = 200.0,
    background_m: float = 600.0,
    shore_px: int = 1,
    min_pixels: int = 2,
    max_length_m: float = 500.0,
    max_width_m: float = 60.0,
    felzenszwalb_scale: float = 1.0,
    cloud_band: str | None = "cirrus",
    max_cloud_ratio: float | None = 0.4,
    confirm: ConfirmFn | None = None,
    confirm_threshold: float = 0.5,
    chip_px: int = 32,
    **water_options: Any,
) -> ShipDetections:
    """Find ships: bright compact objects inside water.

    Parameters
    ----------
    image : xarray.DataArray
        ``(band, y, x)`` georeferenced scene (projected or geographic CRS),
        numpy- or dask-backed, with the bands of the water index
        (:func:`satlearn.ops.water.water_mask`) and ``band``.
    band : str
        The band ships are bright in.
    method : {"cfar", "felzenszwalb"}
        Pixel-wise two-parameter CFAR, or Felzenszwalb segments tested
        against the CFAR statistics.
    water : DataArray or array of bool, optional
        A water mask on the scene's grid to use instead of computing one
        (its pixels are then also the sea background).
    valid : DataArray or array of bool, optional
        Pixels that may be water (e.g. cloud-free), on the scene's grid.
    k : float
        CFAR factor: contrast above ``k`` background standard deviations.
    min_contrast : float
        Least contrast (reflectance) of a ship pixel over its background.
    guard_m, background_m : float
        Side lengths of the CFAR guard and background windows, metres.
    shore_px : int
        Ships lie at least this many pixels inside the water's edge.
    min_pixels : int
        Smallest ship, in pixels.
    max_length_m : float
        Longer objects are not ships.
    max_width_m : float
        Widest ship: the water is closed with a disc this wide before the
        search, so that ships next to a shore or a cloud (whose hole in the
        water mask is open) are inside it.
    felzenszwalb_scale : float
        ``scale`` of ``skimage.segmentation.felzenszwalb``.
    cloud_band, max_cloud_ratio : str or None, float or None
        Cloud test: a candidate whose peak contrast in ``cloud_band`` exceeds
        ``max_cloud_ratio`` times its peak contrast in ``band`` is a cloud
        (see the module notes). The default ``"cirrus"`` band is used when
        the scene has one; None switches the test off.
    confirm : callable, optional
        ``confirm(chips) -> (n,) bool or probabilities`` on
        ``(n, band, chip_px, chip_px)`` float32 chips (see the module notes);
        a model bundle's predictor plugs in here.
    confirm_threshold : float
        Least probability kept when ``confirm`` returns probabilities.
    chip_px : int
        Chip size for ``confirm``.
    **water_options
        Passed to :func:`satlearn.ops.water.water_mask_details` (``index``,
        ``threshold``, ``max_nir``, ``min_area_m2``, ``max_hole_m2``...).

    Returns
    -------
    ShipDetections
        No water gives no ships (not an error).

    Raises
    ------
    UnknownBandError
        The scene lacks ``band`` or a band of the water index (named).
    NoValidDataError
        The scene is all nodata (nothing can be said about water or ships).
    InvalidInputError, CRSMismatchError
        Bad arguments; ``water`` / ``valid`` not on the scene's grid; a scene
        without a CRS (ship sizes need metres); ``confirm`` answering in the
        wrong shape.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> found = detect_ships(make_scene(256, seed=1, n_dates=1).image.isel(time=0))
    >>> len(found) > 0, 0 < found.water_fraction < 1
    (True, True)
    """
    image = check_raster(image, what="scene")
    if image.rio.crs is None:
        raise InvalidInputError(
            "the scene has no CRS: ship sizes in metres need a georeferenced raster "
            "(image.rio.write_crs(...))"
        )
    key = str(method).lower()
    if key not in SHIP_METHODS:
        raise InvalidInputError(f"unknown ship method {method!r}; known: {', '.join(SHIP_METHODS)}")
    k = _check_number("k", k)
    min_contrast = _check_number("min_contrast", min_contrast, positive=False)
    guard_m = _check_number("guard_m", guard_m)
    background_m = _check_number("background_m", background_m)
    max_length_m = _check_number("max_length_m", max_length_m)
    max_width_m = _check_number("max_width_m", max_width_m, positive=False)
    felzenszwalb_scale = _check_number("felzenszwalb_scale", felzenszwalb_scale)
    confirm_threshold = _check_number("confirm_threshold", confirm_threshold, positive=False)
    for name, value, least in (("shore_px", shore_px, 0), ("min_pixels", min_pixels, 1),
                               ("chip_px", chip_px, 2)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"{name} must be an int >= {least}, got {value!r}")
    if confirm is not None and not callable(confirm):
        raise InvalidInputError(f"confirm must be callable, got {type(confirm).__name__}")

    target = _band(image, band)  # before the water: a missing band is named first
    cloud_da = None
    if cloud_band is not None and max_cloud_ratio is not None:
        max_cloud_ratio = _check_number("max_cloud_ratio", max_cloud_ratio, positive=False)
        if cloud_band in band_positions(image):
            cloud_da = _band(image, cloud_band)
        elif cloud_band != "cirrus":  # the default is used where it exists
            cloud_da = _band(image, cloud_band)  # raises UnknownBandError
    transform = image.rio.transform()
    metres = metres_per_unit(image)
    pixel_m = math.sqrt(pixel_area_m2(image))
    guard_px = _odd(guard_m / pixel_m)
    window_px = max(_odd(background_m / pixel_m), guard_px + 2)
    max_length_px = max_length_m / pixel_m
    params = ShipParams(
        method=key, k=k, min_contrast=min_contrast, guard_px=guard_px, window_px=window_px,
        shore_px=shore_px, closing_px=math.ceil(max_width_m / 2 / pixel_m),
        min_ring=MIN_RING, min_pixels=min_pixels,
        max_pixels=max(int(max_length_px**2 / 2), min_pixels),
        max_length_px=max_length_px, felzenszwalb_scale=felzenszwalb_scale,
        chip_px=chip_px, confirm_threshold=confirm_threshold,
        max_cloud_ratio=max_cloud_ratio,
    )  # fmt: skip

    if water is None:
        result = water_mask_details(image, valid=valid, **water_options)
        water_da, valid_da = result.mask, result.valid
        background_da = result.mask & result.raw
        threshold, index_name = result.threshold, str(result.index.name)
    else:
        data = check_same_grid(water, image, what="water mask")
        water_da = xr.DataArray(data, dims=("y", "x"), coords={"y": image.y, "x": image.x}).astype(
            bool
        )
        valid_da = np.isfinite(target)
        if valid is not None:
            extra = check_same_grid(valid, image, what="valid mask")
            valid_da = valid_da & xr.DataArray(extra, dims=("y", "x"), coords=water_da.coords)
        water_da = water_da & valid_da
        background_da = water_da
        threshold, index_name = math.nan, "given"

    layers = {"image": target.data, "water": water_da.data, "background": background_da.data}
    if cloud_da is not None:
        layers["cloud"] = cloud_da.data
    if confirm is not None:
        layers["chips"] = reflectance(image).data
    lazy = any(hasattr(a, "dask") for a in layers.values())
    height, width = target.shape
    if lazy:
        chunks = block_chunks(list(layers.values()))
    elif max(height, width) <= _SINGLE_WINDOW:
        chunks = ((height,), (width,))
    else:
        chunks = tuple(split_blocks(n, _BLOCK) for n in (height, width))
    halo = math.ceil(window_px / 2 + max_length_px + chip_px / 2)
    halo += params.closing_px + shore_px + 1

    tasks = []
    row_edges = np.cumsum((0, *chunks[0]))
    col_edges = np.cumsum((0, *chunks[1]))
    for i in range(len(chunks[0])):
        for j in range(len(chunks[1])):
            core = (int(row_edges[i]), int(col_edges[j]), int(row_edges[i + 1]),
                    int(col_edges[j + 1]))  # fmt: skip
            r0, c0 = max(core[0] - halo, 0), max(core[1] - halo, 0)
            r1, c1 = min(core[2] + halo, height), min(core[3] + halo, width)
            pieces = {name: a[..., r0:r1, c0:c1] for name, a in layers.items()}
            if lazy:
                tasks.append(dask.delayed(window_task)(pieces, (r0, c0), core, params, confirm))
            else:
                tasks.append(window_task(pieces, (r0, c0), core, params, confirm))
    numerator, denominator = water_da.sum(), valid_da.sum()
    if lazy:
        tables, n_water, n_valid = dask.compute(tasks, numerator.data, denominator.data)
    else:
        tables, n_water, n_valid = tasks, numerator.values, denominator.values
    table = {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}
    order = np.lexsort((table["col"], table["row"]))
    table = {key: value[order] for key, value in table.items()}
    ships = measure_ships(table, transform, metres)
    fraction = float(n_water) / float(n_valid) if n_valid else math.nan
    return ShipDetections(
        ships=ships,
        water=water_da,
        water_fraction=fraction,
        threshold=float(threshold),
        water_index=index_name,
        crs=image.rio.crs,
        method=key,
        params={
            "guard_px": guard_px,
            "window_px": window_px,
            "halo_px": halo,
            "k": k,
            "min_contrast": min_contrast,
        },
        transform=transform,
    )


def ship_mask(image: xr.DataArray, *, method: str = "cfar", **options: Any) -> xr.DataArray:
    """bool ``(y, x)`` map of ship footprints: the short form of :func:`detect_ships`.

    Takes the same arguments, with the same defaults, and returns
    ``detect_ships(image, method=method, **options).mask``.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> mask = ship_mask(make_scene(256, seed=1, n_dates=1).image.isel(time=0))
    >>> mask.dims, bool(mask.any())
    (('y', 'x'), True)
    """
    return detect_ships(image, method=method, **options).mask
