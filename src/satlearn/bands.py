"""Band names and sensor profiles.

satlearn labels the ``band`` coordinate of every raster with a *band name*:
the STAC ``eo:common_name`` where that name is unique within the sensor
(``blue``, ``red``, ``nir``, ``swir16`` ...), and a numbered form where the
STAC list has one name for several bands (Sentinel-2's three red-edge bands are
``rededge1``, ``rededge2``, ``rededge3``; STAC calls all three ``rededge``).
The STAC name itself is kept in :attr:`Band.common_name` for catalogue output.

One deliberate choice: a sensor's single broad near-infrared band is named
``nir`` even where STAC's list calls it ``nir08`` (Landsat 8/9 OLI band 5), so
that an index such as NDVI finds ``nir`` on every sensor, as spyndex's ``N``
does. Sentinel-2, which has both, keeps ``nir`` (B08) and ``nir08`` (B8A).

Wavelengths are centre and full width at half maximum in micrometres, from the
operators' published specifications: ESA Sentinel-2A MSI spectral response
(S2-PDGS-TAS-DI-PSD), USGS Landsat 8/9 OLI/TIRS band designations, Planet
imagery product specification (PSB.SD and PS2), Leica ADS100 (NAIP), Maxar
WorldView-3 data sheet.

Examples
--------
>>> from satlearn.bands import get_sensor
>>> s2 = get_sensor("sentinel2_l1c")
>>> s2.to_name("B08"), s2.to_id("nir")
('nir', 'B08')
>>> s2.band("rededge1").center_wavelength
0.7041
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.errors import SatlearnError, UnknownBandError, UnknownSensorError

__all__ = [
    "SENSORS",
    "STAC_COMMON_NAMES",
    "Band",
    "Sensor",
    "band_indices",
    "band_positions",
    "band_scale_offset",
    "get_sensor",
    "known_band_names",
    "nodata_value",
    "reflectance",
    "stac_common_name",
]

#: The ``eo:common_name`` values allowed by the STAC eo extension (v1.0-v1.1).
STAC_COMMON_NAMES: tuple[str, ...] = (
    "coastal", "blue", "green", "red", "rededge", "yellow", "pan", "nir",
    "nir08", "nir09", "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12",
)  # fmt: skip


@dataclass(frozen=True)
class Band:
    """One band of a sensor.

    Attributes
    ----------
    id : str
        The operator's band id (``"B08"``, ``"B5"``, ``"BAND_N"``).
    name : str
        satlearn's band name, unique within the sensor; the ``band`` coordinate.
    common_name : str or None
        The STAC ``eo:common_name``, or None where STAC has none.
    center_wavelength : float
        Centre wavelength in micrometres.
    full_width_half_max : float
        Bandwidth in micrometres.
    resolution : float
        Native ground sample distance in metres.
    """

    id: str
    name: str
    common_name: str | None
    center_wavelength: float
    full_width_half_max: float
    resolution: float


@dataclass(frozen=True)
class Sensor:
    """A sensor profile: an ordered tuple of bands with two-way lookup."""

    key: str
    title: str
    bands: tuple[Band, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Band ids in band order."""
        return tuple(b.id for b in self.bands)

    @property
    def names(self) -> tuple[str, ...]:
        """Band names in band order."""
        return tuple(b.name for b in self.bands)

    def band(self, key: str) -> Band:
        """Return the band whose id or name is ``key``.

        Ids match case-insensitively and without leading zeros, so ``"B8"``,
        ``"b08"`` and ``"B08"`` are the same Sentinel-2 band.

        Raises
        ------
        UnknownBandError
            If no band has that id or name; the message lists the known ones.
        """
        for b in self.bands:
            if key == b.name:
                return b
        wanted = _normalise_id(key)
        for b in self.bands:
            if wanted == _normalise_id(b.id):
                return b
        raise UnknownBandError(
            f"unknown band {key!r} for sensor {self.key!r}; known ids: "
            f"{', '.join(self.ids)}; known names: {', '.join(self.names)}"
        )

    def to_name(self, band_id: str) -> str:
        """Band id (``"B08"``) to band name (``"nir"``)."""
        return self.band(band_id).name

    def to_id(self, name: str) -> str:
        """Band name (``"nir"``) to band id (``"B08"``)."""
        return self.band(name).id

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self.band(key)
        except UnknownBandError:
            return False
        return True


def _normalise_id(band_id: str) -> str:
    # "B08" == "b8" == "B8": upper-case, drop zeros that lead a number.
    return re.sub(r"(?<![0-9])0+(?=[0-9])", "", band_id.strip().upper())


def _b(id_: str, name: str, common: str | None, cw: float, fwhm: float, res: float) -> Band:
    return Band(id_, name, common, cw, fwhm, res)


_S2_L1C = (
    _b("B01", "coastal", "coastal", 0.4427, 0.021, 60),
    _b("B02", "blue", "blue", 0.4924, 0.066, 10),
    _b("B03", "green", "green", 0.5598, 0.036, 10),
    _b("B04", "red", "red", 0.6646, 0.031, 10),
    _b("B05", "rededge1", "rededge", 0.7041, 0.015, 20),
    _b("B06", "rededge2", "rededge", 0.7405, 0.015, 20),
    _b("B07", "rededge3", "rededge", 0.7828, 0.020, 20),
    _b("B08", "nir", "nir", 0.8328, 0.106, 10),
    _b("B8A", "nir08", "nir08", 0.8647, 0.021, 20),
    _b("B09", "nir09", "nir09", 0.9451, 0.020, 60),
    _b("B10", "cirrus", "cirrus", 1.3735, 0.031, 60),
    _b("B11", "swir16", "swir16", 1.6137, 0.091, 20),
    _b("B12", "swir22", "swir22", 2.2024, 0.175, 20),
)

_LANDSAT_OLI_TIRS = (
    _b("B1", "coastal", "coastal", 0.443, 0.016, 30),
    _b("B2", "blue", "blue", 0.482, 0.060, 30),
    _b("B3", "green", "green", 0.561, 0.057, 30),
    _b("B4", "red", "red", 0.655, 0.037, 30),
    _b("B5", "nir", "nir08", 0.865, 0.028, 30),
    _b("B6", "swir16", "swir16", 1.609, 0.085, 30),
    _b("B7", "swir22", "swir22", 2.201, 0.187, 30),
    _b("B8", "pan", "pan", 0.590, 0.173, 15),
    _b("B9", "cirrus", "cirrus", 1.373, 0.021, 30),
    _b("B10", "lwir11", "lwir11", 10.895, 0.590, 100),
    _b("B11", "lwir12", "lwir12", 12.005, 1.010, 100),
)

_NAIP_WAVELENGTHS = {  # Leica ADS100, the NAIP camera since 2016
    "red": (0.634, 0.060),
    "green": (0.560, 0.054),
    "blue": (0.456, 0.072),
    "nir": (0.876, 0.087),
}


def _rgbn(res: float) -> tuple[Band, ...]:
    return tuple(
        _b(f"B{i}", name, name, *_NAIP_WAVELENGTHS[name], res)
        for i, name in enumerate(("red", "green", "blue", "nir"), start=1)
    )


SENSORS: dict[str, Sensor] = {
    s.key: s
    for s in (
        Sensor("sentinel2_l1c", "Sentinel-2 MSI Level-1C (13 bands)", _S2_L1C),
        Sensor(
            "sentinel2_l2a",
            "Sentinel-2 MSI Level-2A (12 bands, no cirrus B10)",
            tuple(b for b in _S2_L1C if b.id != "B10"),
        ),
        Sensor("landsat8", "Landsat 8 OLI/TIRS", _LANDSAT_OLI_TIRS),
        Sensor("landsat9", "Landsat 9 OLI-2/TIRS-2", _LANDSAT_OLI_TIRS),
        Sensor(
            "planetscope4",
            "PlanetScope 4-band (PS2 / PS2.SD)",
            (
                _b("B1", "blue", "blue", 0.490, 0.050, 3),
                _b("B2", "green", "green", 0.565, 0.036, 3),
                _b("B3", "red", "red", 0.665, 0.030, 3),
                _b("B4", "nir", "nir", 0.865, 0.040, 3),
            ),
        ),
        Sensor(
            "planetscope8",
            "PlanetScope 8-band (SuperDove PSB.SD)",
            (
                _b("B1", "coastal", "coastal", 0.443, 0.021, 3),
                _b("B2", "blue", "blue", 0.490, 0.050, 3),
                _b("B3", "green1", None, 0.531, 0.036, 3),
                _b("B4", "green", "green", 0.565, 0.036, 3),
                _b("B5", "yellow", "yellow", 0.610, 0.020, 3),
                _b("B6", "red", "red", 0.665, 0.030, 3),
                _b("B7", "rededge", "rededge", 0.705, 0.016, 3),
                _b("B8", "nir", "nir", 0.865, 0.040, 3),
            ),
        ),
        Sensor("naip", "NAIP aerial RGBN (0.6 m)", _rgbn(0.6)),
        Sensor("deepsat", "DeepSat SAT-4/SAT-6 RGBN chips (NAIP, 1 m)", _rgbn(1.0)),
        Sensor(
            "worldview3",
            "WorldView-3 (8 multispectral + pan)",
            (
                _b("BAND_C", "coastal", "coastal", 0.425, 0.050, 1.24),
                _b("BAND_B", "blue", "blue", 0.480, 0.060, 1.24),
                _b("BAND_G", "green", "green", 0.545, 0.070, 1.24),
                _b("BAND_Y", "yellow", "yellow", 0.605, 0.040, 1.24),
                _b("BAND_R", "red", "red", 0.660, 0.060, 1.24),
                _b("BAND_RE", "rededge", "rededge", 0.725, 0.040, 1.24),
                _b("BAND_N", "nir", "nir", 0.8325, 0.125, 1.24),
                _b("BAND_N2", "nir09", "nir09", 0.950, 0.180, 1.24),
                _b("BAND_P", "pan", "pan", 0.625, 0.350, 0.31),
            ),
        ),
    )
}

_ALIASES = {
    "sentinel2": "sentinel2_l1c",
    "s2": "sentinel2_l1c",
    "s2_l1c": "sentinel2_l1c",
    "s2_l2a": "sentinel2_l2a",
    "landsat": "landsat8",
    "l8": "landsat8",
    "l9": "landsat9",
    "planetscope": "planetscope4",
    "wv3": "worldview3",
    "sat4": "deepsat",
    "sat6": "deepsat",
}


def get_sensor(name: str) -> Sensor:
    """Return the profile of a sensor by key or alias.

    Keys are case-insensitive, and ``-`` or spaces read as ``_``
    (``"Sentinel-2_L2A"`` is ``"sentinel2_l2a"``).

    Raises
    ------
    UnknownSensorError
        If the name is not known; the message lists the known sensors.

    Examples
    --------
    >>> get_sensor("landsat8").to_name("B5")
    'nir'
    """
    key = re.sub(r"[\s\-]+", "_", name.strip().lower()).replace("sentinel_2", "sentinel2")
    key = _ALIASES.get(key, key)
    try:
        return SENSORS[key]
    except KeyError:
        raise UnknownSensorError(
            f"unknown sensor {name!r}; known sensors: {', '.join(SENSORS)}"
        ) from None


def known_band_names() -> frozenset[str]:
    """Every band name used by any sensor profile."""
    return frozenset(b.name for s in SENSORS.values() for b in s.bands)


_NUMBERED = re.compile(r"^(rededge|green)\d$")


def stac_common_name(name: str) -> str | None:
    """The STAC ``eo:common_name`` for a satlearn band name, or None.

    >>> stac_common_name("rededge2"), stac_common_name("B05")
    ('rededge', None)
    """
    if name in STAC_COMMON_NAMES:
        return name
    match = _NUMBERED.match(name)
    if match and match.group(1) == "rededge":
        return "rededge"
    return None


def band_positions(da: Any) -> dict[str, int]:
    """Band name -> position along a DataArray's ``band`` dim.

    Names are the ``band`` coordinate's values. Where ``da.attrs["sensor"]``
    names a known sensor, its band ids are translated as well (``"B08"`` is
    also found as ``"nir"``); a name already present wins over a translation.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((2, 1, 1)), dims=("band", "y", "x"),
    ...                   coords={"band": ["B04", "B08"]}, attrs={"sensor": "sentinel2_l2a"})
    >>> band_positions(da)
    {'B04': 0, 'B08': 1, 'red': 0, 'nir': 1}
    """
    names = [str(b) for b in da.coords["band"].values] if "band" in da.coords else []
    positions = {name: i for i, name in enumerate(names)}
    sensor = da.attrs.get("sensor")
    if sensor:
        try:
            profile = get_sensor(str(sensor))
        except SatlearnError:
            profile = None
        if profile is not None:
            for i, name in enumerate(names):
                if name in profile:
                    positions.setdefault(profile.band(name).name, i)
    return positions


def band_scale_offset(da: Any, position: int) -> tuple[float, float]:
    """``(scale, offset)`` of the band at ``position``: physical = stored * scale + offset.

    Read from the ``scale`` / ``offset`` coordinates along ``band`` that
    :func:`satlearn.open_raster` attaches; ``(1.0, 0.0)`` where there are none.
    """
    scale = offset = None
    if "scale" in da.coords and "band" in da.coords["scale"].dims:
        scale = float(da.coords["scale"].values[position])
    if "offset" in da.coords and "band" in da.coords["offset"].dims:
        offset = float(da.coords["offset"].values[position])
    return (1.0 if scale is None else scale), (0.0 if offset is None else offset)


def band_indices(image: Any, names: Sequence[str], *, what: str = "the scene") -> list[int]:
    """Positions of the named bands along ``band``; a missing one is named, with those present.

    Raises
    ------
    UnknownBandError
        ``{what} has no 'x' band; its bands are ...`` (one wording for every op).
    """
    lookup = band_positions(image)
    missing = [b for b in names if b not in lookup]
    if missing:
        have = (
            ", ".join(str(b) for b in image.coords["band"].values) if "band" in image.coords else ""
        )
        raise UnknownBandError(
            f"{what} has no {', '.join(repr(b) for b in missing)} band; its bands are "
            f"{have or 'unnamed'} (sensor ids such as B08 are translated when "
            "attrs['sensor'] is set)"
        )
    return [lookup[b] for b in names]


def nodata_value(da: Any) -> float | None:
    """The nodata value of a DataArray as stored (``rio.nodata``, else the encoded one)."""
    import rioxarray  # noqa: F401  (registers .rio; imported here, bands stays light)

    nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
    return None if nodata is None else float(nodata)


def reflectance(image: Any, bands: Sequence[str] | None = None) -> Any:
    """Bands as float32 physical values: scale and offset applied, nodata as NaN.

    The one place where stored values become reflectance (or radiance):
    ``physical = stored * scale + offset`` with the ``scale``/``offset``
    coordinates along ``band`` that :func:`satlearn.open_raster` attaches,
    and the raster's nodata value (``rio.nodata`` or the encoded one) as NaN.
    Lazy for dask-backed input; no scene-sized float64 temporary.

    Parameters
    ----------
    image : xarray.DataArray
        ``(band, y, x)`` or ``(time, band, y, x)``.
    bands : sequence of str, optional
        satlearn band names to select, in order (sensor ids are translated
        when ``attrs["sensor"]`` is set); all bands when omitted.

    Returns
    -------
    xarray.DataArray
        float32, the selected bands in order, with the input's coordinates
        (the ``scale``/``offset`` coordinates dropped: the values are
        physical now).

    Raises
    ------
    UnknownBandError
        A band of ``bands`` is missing; the message lists the bands present.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[[0, 5000]]], np.uint16), dims=("band", "y", "x"),
    ...                   coords={"band": ["nir"], "scale": ("band", [1e-4])})
    >>> da = da.rio.write_nodata(0)
    >>> reflectance(da).values.tolist()
    [[[nan, 0.5]]]
    """
    import xarray as xr  # kept out of this module's import: bands is imported everywhere

    if bands is not None:
        image = image.isel(band=band_indices(image, bands))
    n = image.sizes["band"]
    scale = np.array([band_scale_offset(image, i)[0] for i in range(n)], np.float32)
    offset = np.array([band_scale_offset(image, i)[1] for i in range(n)], np.float32)
    nodata = nodata_value(image)
    rescale = bool(np.any(scale != 1.0) or np.any(offset != 0.0))

    def kernel(block: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        out = block.astype(np.float32)  # one float32 copy; the rest is in place
        if nodata is not None and not np.isnan(nodata):
            out[block == nodata] = np.nan
        if rescale:
            out *= scale
            out += offset
        return out

    plain = image.drop_vars([c for c in ("scale", "offset") if c in image.coords])
    shape = [1] * plain.ndim
    shape[plain.dims.index("band")] = n
    if plain.chunks is None:
        # In memory: the kernel directly (apply_ufunc's bookkeeping costs more than
        # the arithmetic on a small image).
        return plain.copy(data=kernel(plain.values, scale.reshape(shape), offset.reshape(shape)))
    import dask.array as dsa

    # Lazy: scale and offset are cut along `band` like the image, so a block
    # holding some of the bands gets their factors only.
    band_chunks = plain.chunks[plain.dims.index("band")]
    factors = [
        dsa.from_array(v.reshape(shape), chunks=tuple(
            band_chunks if i == plain.dims.index("band") else (1,) for i in range(plain.ndim)
        ))
        for v in (scale, offset)
    ]  # fmt: skip
    out = plain.copy(
        data=dsa.map_blocks(
            kernel,
            plain.data,
            *factors,
            dtype=np.float32,
            meta=np.empty((0,) * plain.ndim, np.float32),
        )
    )
    return out

    plain = image.drop_vars([c for c in ("scale", "offset") if c in image.coords])
    out = xr.apply_ufunc(
        kernel, plain, dask="parallelized", output_dtypes=[np.float32], keep_attrs=True
    )
    return out
