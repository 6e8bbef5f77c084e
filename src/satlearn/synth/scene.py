"""Assemble a synthetic multi-date satellite scene with its ground truth.

Rendering pipeline (per date)
-----------------------------
1. A fine-grid (half the pixel size) material map: natural land cover,
   roads, settlements, and the change events whose onset is at or before the
   date; a green-vegetation fraction per pixel from phenology and vigour.
2. Surface reflectance per band on the fine grid (material spectra mixed by
   the green fraction, times a spatially correlated texture and hill shading),
   with ships blended in; averaged over 2x2 blocks to the scene grid. The
   panchromatic band is the same rendering with a pan spectral response,
   kept on the fine grid.
3. Atmosphere: path radiance, transmittance, cloud shadows, cirrus, thick
   clouds (:mod:`satlearn.synth.atmosphere`).
4. Gaussian point-spread blur (sigma 0.6 scene pixels; 0.5 fine pixels for
   pan), the sub-pixel misregistration of the date (Fourier shift of the
   whole date, clouds included), then signal-dependent sensor noise.

Truth rasters are on the scene grid of date 0 (misregistration is *not*
applied to them): scene-grid classes are the majority of the 2x2 fine pixels,
``buildings_mask`` is roof coverage >= 1/2, ``ship_mask`` ship coverage
>= 0.3 plus the pixel under each ship's centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr
from affine import Affine
from scipy import ndimage

from satlearn.bands import get_sensor
from satlearn.errors import InvalidInputError
from satlearn.synth import atmosphere, landcover, objects, render, terrain
from satlearn.synth.landcover import LAND_COVER_CLASSES, MAT
from satlearn.synth.noise import (
    blockmean2,
    fractal_noise,
    upsample2,
)
from satlearn.synth.spectra import (
    PAN_WAVELENGTHS,
    PAN_WEIGHTS,
    THERMAL_SCALE,
    band_value,
    material_luts,
)

__all__ = ["CHANGE_TYPES", "SyntheticScene", "make_scene"]

#: Change-event type names, indexed by ``change_type`` value.
CHANGE_TYPES: tuple[str, ...] = ("none", "new_building", "clearing", "flooding")

_F32 = np.float32
_START = np.datetime64("2024-04-18", "D")
_MS_SIGMA = 0.6
_PAN_SIGMA = 0.5


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A synthetic scene: multi-date image, panchromatic band, stereo pair, truths.

    Every raster is an :class:`xarray.DataArray` with ``x``/``y`` coordinates
    at pixel centres and CRS and transform written by rioxarray. Truths are on
    the grid of date 0. See :func:`make_scene` for how each is built.

    Attributes
    ----------
    image : xarray.DataArray
        float32 (time, band, y, x) top-of-atmosphere reflectance.
    landcover : xarray.DataArray
        uint8 (y, x) date-0 class ids into :data:`LAND_COVER_CLASSES`.
    landcover_after : xarray.DataArray
        uint8 (time, y, x) classes per date; ``[0]`` equals ``landcover``.
    change_mask, change_type : xarray.DataArray
        bool / uint8 (y, x): explicit change events between date 0 and the
        last date; types index :data:`CHANGE_TYPES`.
    cloud_mask, cirrus_mask, shadow_mask, ship_mask, buildings_mask : xarray.DataArray
        bool (time, y, x). Cirrus and shadow exclude thick-cloud pixels. The
        cirrus mask is detectable thin cloud (cirrus, and the semi-transparent
        edges of thick clouds): where it adds more than 0.01 to the 1.375 µm
        (cirrus band) reflectance, over a clear-sky level of about 0.001
        (:func:`satlearn.synth.atmosphere.cirrus_visible`).
    ships : list of dict
        One dict per ship per date (see :func:`make_scene`).
    misregistration : tuple of (float, float)
        Per date ``(dy, dx)`` in pixels with ``scipy.ndimage.shift(moving,
        (dy, dx)) ~= reference``, as returned by
        ``skimage.registration.phase_cross_correlation(reference, moving)``.
    pan : xarray.DataArray
        float32 (time, y, x) panchromatic reflectance at half the pixel size.
    dem : xarray.DataArray
        float32 (y, x) terrain height in metres.
    stereo_left, stereo_right, disparity : xarray.DataArray
        float32 (y, x) rectified cloud-free stereo pair with
        ``right[y, x - disparity[y, x]] == left[y, x]``.
    base_to_height : float
        ``dem - dem.min() == disparity * resolution / base_to_height``.
    sensor, seed, resolution, crs, transform
        The generation parameters: sensor key, seed, pixel size, CRS string
        and the north-up :class:`affine.Affine` of the scene grid.
    pixel_size_m : float
        The pixel size in metres (``resolution`` for a metric projected CRS).
        Heights follow ``disparity * pixel_size_m / base_to_height``.
    sun_azimuth, sun_zenith : float
        Sun position in degrees (azimuth clockwise from grid north), the same
        for every date; it sets the hill shading and the shadow direction.
    cloud_height_m : float
        Cloud-base height used to project shadows (see
        :func:`satlearn.synth.atmosphere.shadow_offset`).
    attrs : dict
        The metadata also written to ``image.attrs``.

    Examples
    --------
    >>> scene = make_scene(96, seed=2)
    >>> scene.cloud_mask.dtype, scene.landcover.dtype
    (dtype('bool'), dtype('uint8'))
    """

    image: xr.DataArray
    landcover: xr.DataArray
    landcover_after: xr.DataArray
    change_mask: xr.DataArray
    change_type: xr.DataArray
    cloud_mask: xr.DataArray
    cirrus_mask: xr.DataArray
    shadow_mask: xr.DataArray
    ships: list[dict[str, Any]]
    ship_mask: xr.DataArray
    buildings_mask: xr.DataArray
    misregistration: tuple[tuple[float, float], ...]
    pan: xr.DataArray
    dem: xr.DataArray
    stereo_left: xr.DataArray
    stereo_right: xr.DataArray
    disparity: xr.DataArray
    base_to_height: float
    sensor: str
    seed: int
    resolution: float
    crs: str
    pixel_size_m: float
    transform: Affine
    sun_azimuth: float
    sun_zenith: float
    cloud_height_m: float
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def dates(self) -> np.ndarray:
        """Acquisition dates (numpy datetime64)."""
        return self.image["time"].values

    def truths(self) -> dict[str, xr.DataArray]:
        """All raster truths by name (scene grid of date 0).

        Examples
        --------
        >>> scene = make_scene(64, seed=1)
        >>> sorted(scene.truths())[:3]
        ['buildings_mask', 'change_mask', 'change_type']
        """
        names = (
            "landcover", "landcover_after", "change_mask", "change_type", "cloud_mask",
            "cirrus_mask", "shadow_mask", "ship_mask", "buildings_mask", "dem", "disparity",
        )  # fmt: skip
        return {n: getattr(self, n) for n in names}

    def ships_geojson(self) -> dict[str, Any]:
        """Ships as a GeoJSON FeatureCollection of oriented rectangles in the scene CRS.

        Coordinates are in the scene CRS (named in the legacy ``crs`` member),
        not WGS84. Properties carry the ship dict without ``bounds``/``bbox``
        tuples turned into lists, plus the ISO ``date``.

        Examples
        --------
        >>> fc = make_scene(128, seed=3).ships_geojson()
        >>> fc["type"]
        'FeatureCollection'
        """
        features = []
        dates = self.dates
        for s in self.ships:
            corners = objects.ship_polygon(
                s["row"], s["col"], s["length_m"] / self.pixel_size_m,
                s["width_m"] / self.pixel_size_m, s["heading_deg"],
            )  # fmt: skip
            xs, ys = render.pixel_to_crs(self.transform, corners[:, 0], corners[:, 1])
            ring = [[float(x), float(y)] for x, y in zip(xs, ys, strict=True)]
            props = {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()}
            props["date"] = str(np.datetime_as_string(dates[s["date_index"]], unit="D"))
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": props,
                }
            )
        return {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": self.crs}},
            "features": features,
        }


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, Integral) and not isinstance(size, bool):
        dims = (int(size), int(size))
    elif (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(isinstance(s, Integral) and not isinstance(s, bool) for s in size)
    ):
        dims = (int(size[0]), int(size[1]))
    else:
        raise InvalidInputError(f"size must be an int or (height, width) ints, got {size!r}")
    if min(dims) < 64:
        raise InvalidInputError(f"size must be at least 64 pixels per side, got {size!r}")
    return dims


def _check_pair(name: str, value: Any) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a pair of numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise InvalidInputError(f"{name} must be finite, got {value!r}")
    return a, b


def _validate(
    size: Any, seed: Any, sensor: Any, n_dates: Any, resolution: Any, crs: Any
) -> tuple[tuple[int, int], str, float]:
    dims = _check_size(size)
    if not isinstance(seed, Integral) or isinstance(seed, bool) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(sensor, str):
        raise InvalidInputError(f"sensor must be a sensor name (str), got {sensor!r}")
    if not isinstance(n_dates, Integral) or isinstance(n_dates, bool) or n_dates < 1:
        raise InvalidInputError(f"n_dates must be an int >= 1, got {n_dates!r}")
    if (
        not isinstance(resolution, Real)
        or isinstance(resolution, bool)
        or not math.isfinite(float(resolution))
        or resolution <= 0
    ):
        raise InvalidInputError(f"resolution must be a positive number, got {resolution!r}")
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        parsed = CRS.from_user_input(crs)
    except (CRSError, TypeError) as err:
        raise InvalidInputError(f"crs {crs!r} is not a valid CRS: {err}") from None
    if parsed.is_geographic:
        metres = 111_320.0
    else:
        axes = parsed.axis_info
        metres = float(axes[0].unit_conversion_factor) if axes else 1.0
    return dims, parsed.to_string(), metres


def _dataarray(
    data: np.ndarray,
    dims: tuple[str, ...],
    coords: dict[str, Any],
    transform: Affine,
    crs: str,
    name: str,
    attrs: dict[str, Any] | None = None,
) -> xr.DataArray:
    h, w = data.shape[-2:]
    xs = transform.c + (np.arange(w) + 0.5) * transform.a
    ys = transform.f + (np.arange(h) + 0.5) * transform.e
    da = xr.DataArray(
        data, dims=dims, coords={**coords, "y": ys, "x": xs}, name=name, attrs=attrs or {}
    )
    da.rio.write_crs(crs, inplace=True)
    da.rio.write_transform(transform, inplace=True)
    return da


def _dates(n: int) -> np.ndarray:
    step = max(5, round(100 / max(n - 1, 1) / 5) * 5)
    return _START + np.arange(n) * np.timedelta64(step, "D")


def _pick(rng: np.random.Generator, candidates: np.ndarray, stride: int) -> tuple[float, float]:
    rows, cols = np.nonzero(candidates)
    if rows.size == 0:
        shape = candidates.shape
        return shape[0] * stride / 2, shape[1] * stride / 2
    i = rng.integers(rows.size)
    return float(rows[i] * stride), float(cols[i] * stride)


def _materials_per_date(
    shape: tuple[int, int],
    n_t: int,
    rng: np.random.Generator,
    dem: np.ndarray,
    water_dist: np.ndarray,
) -> tuple[landcover.Layout, list[np.ndarray]]:
    """Fine-grid material maps per date: layout, roads, towns, then change events."""
    h, w = shape
    n = min(h, w)
    layout = landcover.natural_layout((h, w), rng, dem, water_dist)
    mat0 = layout.material
    objects.add_roads(mat0, rng, 2 + int(h * w >= 1024 * 1024) + int(rng.random() < 0.5))
    n_towns = int(np.clip(round(h * w / 600**2), 1, 6))
    for _ in range(n_towns):
        land = (water_dist[::8, ::8] > 0.1 * n) & (water_dist[::8, ::8] < 0.35 * n)
        centre = _pick(rng, land, 16)
        objects.add_settlement(mat0, rng, centre, 2 * min(0.09 * n, 120.0) * rng.uniform(0.7, 1.2))

    # --- change events ----------------------------------------------------------
    events: list[tuple[int, str]] = []
    if n_t > 1:
        n_new = int(np.clip(round(h * w / 700**2), 1, 5))
        events += [(int(rng.integers(1, n_t)), "new_building") for _ in range(n_new)]
        events += [(int(rng.integers(1, n_t)), "clearing"), (int(rng.integers(1, n_t)), "flood")]
    mats = [mat0]
    for t in range(1, n_t):
        mat = mats[-1].copy()
        for onset, kind in events:
            if onset != t:
                continue
            if kind == "new_building":
                ok = np.isin(mat[::8, ::8], [MAT["cropland"], MAT["grassland"], MAT["bare_soil"]])
                centre = _pick(rng, ok, 8)
                allowed = (MAT["cropland"], MAT["grassland"], MAT["bare_soil"])
                objects.add_settlement(
                    mat, rng, centre, 2 * max(4.0, 0.035 * n) * rng.uniform(0.8, 1.2),
                    allowed=allowed, ground=MAT["construction"], spacing=rng.uniform(14, 20),
                )  # fmt: skip
            elif kind == "clearing":
                landcover.apply_clearing(mat, rng, 2 * max(6.0, 0.06 * n))
            else:
                landcover.apply_flooding(mat, water_dist, rng, 2 * max(5.0, 0.05 * n))
        mats.append(mat)
    return layout, mats


def _spectral_tables(
    band_specs: list[tuple[float, float]],
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Material, atmosphere and ship tables for the bands plus a last row for pan."""
    pan_specs = [PAN_WAVELENGTHS[k] for k in PAN_WEIGHTS]
    pan_w = np.array(list(PAN_WEIGHTS.values()), dtype=_F32)
    bg, veg = material_luts(band_specs)
    pbg, pveg = material_luts(pan_specs)
    bg = np.vstack([bg, pan_w @ pbg])
    dveg = np.vstack([veg, pan_w @ pveg]) - bg
    atm = atmosphere.band_params(band_specs)
    patm = atmosphere.band_params(pan_specs)
    for k, v in atm.items():
        atm[k] = np.append(v, _F32(pan_w @ patm[k]))
    atm["snr"][-1] = 150.0
    pan_ship = sum(
        wt * band_value("ship_deck", c, fw) for wt, (c, fw) in zip(pan_w, pan_specs, strict=True)
    )
    ship_vals = np.array(
        [band_value("ship_deck", c, fw) for c, fw in band_specs] + [pan_ship], dtype=_F32
    )
    return bg, dveg, atm, ship_vals


def make_scene(
    size: int | tuple[int, int] = 512,
    *,
    seed: int = 0,
    sensor: str = "sentinel2_l1c",
    n_dates: int = 2,
    resolution: float = 10.0,
    crs: str = "EPSG:32633",
    origin: tuple[float, float] = (399960.0, 5000040.0),
    clouds: bool = True,
    ships: bool = True,
    misregistration: tuple[float, float] = (0.37, -0.62),
) -> SyntheticScene:
    """Generate a realistic synthetic satellite scene with ground truth.

    Parameters
    ----------
    size : int or (int, int)
        Scene size in pixels, square or (height, width); at least 64.
    seed : int
        Seed of the only random generator used (``numpy.random.default_rng``);
        equal seeds give identical scenes.
    sensor : str
        Sensor profile (:func:`satlearn.bands.get_sensor`) giving the bands.
    n_dates : int
        Number of acquisition dates, spring to summer 2024 (two: 18 April and
        27 July).
    resolution : float
        Pixel size in CRS units. All bands share this grid. Sizes in metres
        (ships, relief, shadows, stereo) use the CRS unit's length in metres,
        and 111 320 m per degree for a geographic CRS
        (:attr:`SyntheticScene.pixel_size_m`).
    crs : str
        Coordinate reference system (anything pyproj understands).
    origin : (float, float)
        (x of the west edge, y of the north edge) in CRS units.
    clouds : bool
        Add thick clouds (5-12 % on date 0, 8-25 % later), cirrus and shadows.
    ships : bool
        Add ships on open water.
    misregistration : (float, float)
        ``(dy, dx)`` in pixels registering the last date onto date 0 (see
        :attr:`SyntheticScene.misregistration`); dates in between get a
        proportional share. The image content of date ``t`` (clouds included)
        is displaced by ``-misregistration[t]`` pixels with a Fourier shift;
        the pan band of that date by the same ground offset (twice as many pan
        pixels); truths stay on the grid of date 0. Meant for sub-pixel to a
        few pixels (the date is reflect-padded by 16 pixels before the shift).

    Returns
    -------
    SyntheticScene

    Raises
    ------
    satlearn.errors.InvalidInputError
        On a bad ``size``, ``seed``, ``n_dates``, ``resolution``, ``crs``,
        ``origin`` or ``misregistration``.
    satlearn.errors.UnknownSensorError
        If ``sensor`` is not a known sensor.

    Notes
    -----
    Each ship dict holds ``date_index``, ``row``, ``col`` (centre, scene
    pixels, pixel ``(i, j)`` centred on ``(i, j)``), ``length_m``, ``width_m``,
    ``heading_deg`` (clockwise from north), ``bbox`` = ``(min_row, min_col,
    max_row, max_col)`` of its ``ship_mask`` pixels with exclusive maxima (as
    ``skimage.measure.regionprops``) and ``bounds`` = ``(minx, miny, maxx,
    maxy)`` of its rectangle in CRS units. Layout scales (fields, towns,
    clouds) are in pixels; ship sizes are in metres but capped at a tenth of
    the scene; terrain relief is ``min(500 m, 0.1 x scene extent)``; the
    cloud height is lowered where needed so that shadows fall at most 15 % of
    the scene away from their clouds. Landsat thermal bands hold
    ``(T - 250 K) / 100 K``. The stereo pair and disparity follow
    :mod:`satlearn.synth.terrain`.

    Examples
    --------
    >>> scene = make_scene(128, seed=7, n_dates=2)
    >>> scene.image.dims, scene.image.shape[:2]
    (('time', 'band', 'y', 'x'), (2, 13))
    >>> scene.pan.shape[1:], scene.misregistration[-1]
    ((256, 256), (0.37, -0.62))
    """
    (h, w), crs_str, metres_per_unit = _validate(size, seed, sensor, n_dates, resolution, crs)
    sens = get_sensor(sensor)
    x0, y0 = _check_pair("origin", origin)
    mis = _check_pair("misregistration", misregistration)
    res = float(resolution)
    res_m = res * metres_per_unit
    n = min(h, w)
    rng = np.random.default_rng(int(seed))
    transform = Affine(res, 0.0, x0, 0.0, -res, y0)
    pan_transform = Affine(res / 2, 0.0, x0, 0.0, -res / 2, y0)
    dates = _dates(int(n_dates))
    doys = [float((d - np.datetime64("2024-01-01", "D")).astype(int)) + 1 for d in dates]
    n_t = len(dates)

    # --- geometry of the sun and clouds ------------------------------------
    sun_az = float(rng.uniform(135.0, 165.0))
    sun_zen = float(rng.uniform(30.0, 45.0))
    max_shift_px = max(4.0, 0.15 * n)
    cloud_h = float(rng.uniform(1000.0, 2500.0))
    cloud_h = min(cloud_h, max_shift_px * res_m / math.tan(math.radians(sun_zen)))
    offset = atmosphere.shadow_offset(cloud_h, sun_az, sun_zen, res_m)

    # --- terrain and layout ---------------------------------------------------
    water_dist = landcover.water_distance((h, w), rng)
    dem = terrain.make_dem((h, w), rng, res_m, water_dist)
    layout, mats = _materials_per_date((h, w), n_t, rng, dem, water_dist)
    classes = landcover.classes_per_date(mats)
    changed = classes[-1] != classes[0]
    change_type = np.zeros((h, w), dtype=np.uint8)
    change_type[changed & np.isin(classes[-1], (5, 6))] = 1
    change_type[changed & (classes[-1] == 4)] = 2
    change_type[changed & (classes[-1] == 0)] = 3
    roofs = (MAT["roof_concrete"], MAT["roof_tile"], MAT["roof_metal"])
    buildings = np.stack(
        [blockmean2(np.isin(m, roofs).astype(_F32)) >= 0.5 for m in mats]
    )  # fmt: skip

    # --- texture, vigour, shading -------------------------------------------------
    shade = terrain.hillshade(dem, res_m, sun_az, sun_zen)
    shade = _F32(1.0) + _F32(0.5) * (shade - _F32(1.0))
    tex = fractal_noise((h, w), rng, beta=3.0) * _F32(0.04)
    tex += fractal_noise((h, w), rng, beta=1.4) * _F32(0.03)
    tex += _F32(1.0)
    tex *= shade
    tex_hi = upsample2(tex)
    del tex, shade
    vig_hi = upsample2(fractal_noise((h, w), rng, beta=2.8) * _F32(0.1) + _F32(1.0))

    # --- spectral tables ------------------------------------------------------------
    band_specs = [(b.center_wavelength, b.full_width_half_max) for b in sens.bands]
    bg, dveg, atm, ship_vals = _spectral_tables(band_specs)
    n_b = len(band_specs)

    # --- per-date rendering -------------------------------------------------------
    image = np.empty((n_t, n_b, h, w), dtype=_F32)
    pan = np.empty((n_t, 2 * h, 2 * w), dtype=_F32)
    cloud_mask = np.zeros((n_t, h, w), dtype=bool)
    cirrus_mask = np.zeros((n_t, h, w), dtype=bool)
    shadow_mask = np.zeros((n_t, h, w), dtype=bool)
    ship_mask = np.zeros((n_t, h, w), dtype=bool)
    shifts = [(0.0, 0.0)] + [((t / (n_t - 1)) * mis[0], (t / (n_t - 1)) * mis[1])
                             for t in range(1, n_t)]  # fmt: skip
    if n_t > 1:
        shifts[-1] = mis
    all_ships: list[dict[str, Any]] = []
    stereo_texture = np.empty((h, w), dtype=_F32)
    hi = np.empty((2 * h, 2 * w), dtype=_F32)
    tmp = np.empty_like(hi)
    hi_work = (tmp, np.empty_like(hi))
    surf = np.empty((h, w), dtype=_F32)
    work = (np.empty_like(surf), np.empty_like(surf))
    for t in range(n_t):
        if clouds:
            cover = rng.uniform(0.05, 0.12) if t == 0 else rng.uniform(0.08, 0.25)
            op, sh, ci = atmosphere.cloud_layers(
                (h, w), rng, cover, rng.uniform(0.03, 0.15), offset
            )
            cloud_mask[t] = op > 0.5
            shadow_mask[t] = (sh > 0.5) & ~cloud_mask[t]
            cirrus_mask[t] = atmosphere.cirrus_visible(ci, op) & ~cloud_mask[t]
        else:
            op = sh = ci = None
        date_ships: list[dict[str, Any]] = []
        if ships:
            water_ok = (classes[t] == 0) & (classes[0] == 0)
            if op is not None:
                water_ok &= (op < 0.02) & (sh < 0.02) & (ci < 0.3)
            n_ships = int(np.clip(round(water_ok.sum() / 1500), 1, 40))
            date_ships = objects.place_ships(water_ok, rng, n_ships, res_m, t, water_dist)
        brightness = rng.uniform(0.8, 1.3, size=len(date_ships))
        mat_idx = mats[t].astype(np.intp)
        ftex = landcover.greenness(layout, mats[t], doys[t], vig_hi)
        ftex *= tex_hi
        ms = render.MixedPixels(mats[t], tex_hi, ftex)
        ship_cov = [render.ship_cover_1x(s, (h, w)) for s in date_ships]
        for b in range(n_b):
            ms.render(bg[b], dveg[b], surf, work[0])
            for (cov1, win), value in zip(ship_cov, ship_vals[b] * brightness, strict=True):
                surf[win] *= 1 - cov1
                surf[win] += cov1 * _F32(value)
            render.finish_band(
                surf, atm, b, op, sh, ci, shifts[t], _MS_SIGMA, rng, image[t, b], work
            )
        del ms
        # panchromatic band on the fine grid
        np.take(bg[n_b], mat_idx, out=hi)
        hi *= tex_hi
        np.take(dveg[n_b], mat_idx, out=tmp)
        tmp *= ftex
        hi += tmp
        if date_ships:
            render.blend_ships(hi, date_ships, list(ship_vals[n_b] * brightness))
        if t == 0:
            blockmean2(hi, out=stereo_texture)
        pshift = (2 * shifts[t][0], 2 * shifts[t][1])
        render.finish_band(hi, atm, n_b, op, sh, ci, pshift, _PAN_SIGMA, rng, pan[t], hi_work)
        del mat_idx, ftex
        for s in date_ships:
            render.ship_truth(s, (h, w), ship_mask[t], transform, res_m)
        all_ships.extend(date_ships)
    del hi, tmp, hi_work, work, surf
    del tex_hi, vig_hi

    # --- stereo -------------------------------------------------------------------------
    stereo_texture = ndimage.gaussian_filter(stereo_texture, _MS_SIGMA, truncate=3.5)
    left, right, disp, b2h = terrain.stereo_pair(stereo_texture, dem, res_m, rng)

    # --- wrap up -------------------------------------------------------------------------
    thermal = [b.name for b in sens.bands if b.center_wavelength > 3.0]
    attrs = {
        "sensor": sens.key,
        "seed": int(seed),
        "resolution": res,
        "pixel_size_m": res_m,
        "sun_azimuth": sun_az,
        "sun_zenith": sun_zen,
        "cloud_height_m": cloud_h,
        "units": "reflectance",
        "description": "satlearn.synth top-of-atmosphere reflectance",
    }
    if thermal:
        attrs["thermal_bands"] = ",".join(thermal)
        attrs["thermal_scaling"] = "(T_K - {:g}) / {:g}".format(*THERMAL_SCALE)
    tcoord = {"time": dates.astype("datetime64[ns]")}

    def grid(data: np.ndarray, dims: tuple[str, ...], name: str, **kw: Any) -> xr.DataArray:
        coords = tcoord if "time" in dims else {}
        return _dataarray(data, dims, coords, transform, crs_str, name, **kw)

    yx, tyx = ("y", "x"), ("time", "y", "x")
    img_da = _dataarray(
        image, ("time", "band", "y", "x"), {**tcoord, "band": list(sens.names)},
        transform, crs_str, "reflectance", attrs,
    )  # fmt: skip
    pan_attrs = {**attrs, "pan_weights": ",".join(f"{k}:{v}" for k, v in PAN_WEIGHTS.items())}
    pan_da = _dataarray(pan, tyx, tcoord, pan_transform, crs_str, "pan", pan_attrs)
    classes_attr = {"classes": ",".join(LAND_COVER_CLASSES)}
    return SyntheticScene(
        image=img_da,
        landcover=grid(classes[0].copy(), yx, "landcover", attrs=classes_attr),
        landcover_after=grid(classes, tyx, "landcover_after", attrs=classes_attr),
        change_mask=grid(changed, yx, "change_mask"),
        change_type=grid(change_type, yx, "change_type", attrs={"classes": ",".join(CHANGE_TYPES)}),
        cloud_mask=grid(cloud_mask, tyx, "cloud_mask"),
        cirrus_mask=grid(cirrus_mask, tyx, "cirrus_mask"),
        shadow_mask=grid(shadow_mask, tyx, "shadow_mask"),
        ships=all_ships,
        ship_mask=grid(ship_mask, tyx, "ship_mask"),
        buildings_mask=grid(buildings, tyx, "buildings_mask"),
        misregistration=tuple((float(a), float(b)) for a, b in shifts),
        pan=pan_da,
        dem=grid(dem, yx, "dem", attrs={"units": "m"}),
        stereo_left=grid(left, yx, "stereo_left"),
        stereo_right=grid(right, yx, "stereo_right"),
        disparity=grid(disp, yx, "disparity", attrs={"units": "pixel", "base_to_height": b2h}),
        base_to_height=b2h,
        sensor=sens.key,
        seed=int(seed),
        resolution=res,
        crs=crs_str,
        pixel_size_m=res_m,
        transform=transform,
        sun_azimuth=sun_az,
        sun_zenith=sun_zen,
        cloud_height_m=cloud_h,
        attrs=attrs,
    )
