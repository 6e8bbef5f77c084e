"""Surface materials and their reflectance spectra.

Each material spectrum is a small table of directional-hemispherical
reflectance at 23 wavelengths from 0.40 to 2.40 µm. The values are smoothed
approximations, resampled by hand, of representative laboratory spectra of the
same materials in

* the USGS Spectral Library Version 7 (Kokaly, R. F. et al., 2017, U.S.
  Geological Survey Data Series 1035, doi:10.5066/F7RR1WDJ): lawn grass, dry
  grass, conifer and deciduous canopies, soils, tap/sea water, concrete,
  asphalt, galvanized sheet metal, paints;
* the ECOSTRESS spectral library 1.0 (Meerdink, S. K. et al., 2019, Remote
  Sensing of Environment 230, 111196, doi:10.1016/j.rse.2019.05.015):
  construction concrete, asphalt roofing and road, terracotta roofing tile,
  non-photosynthetic vegetation, soils.

They are not exact copies of any one library entry: they keep the features
that matter for the tests and the demos (water dark beyond 0.7 µm, the red
edge and the 1.4/1.9 µm water absorptions of leaves, the monotonic rise of
dry soil, the flat grey of concrete, the dark asphalt).

A band's value is the mean of the interpolated spectrum over the band's
full width at half maximum (9 samples). Thermal bands (centre > 3 µm, only
Landsat's TIRS) are not reflectances: they carry a scaled brightness
temperature ``(T - 250 K) / 100 K`` with per-material kinetic temperatures
below (about 0.3-0.6); see :data:`THERMAL_SCALE`.

Examples
--------
>>> from satlearn.synth.spectra import band_value
>>> round(band_value("water", 0.8328, 0.106), 3)
0.007
>>> band_value("grass", 0.8328, 0.106) > 5 * band_value("grass", 0.6646, 0.031)
True
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LIBRARY",
    "MATERIALS",
    "MATERIAL_CLASS",
    "PAN_WAVELENGTHS",
    "PAN_WEIGHTS",
    "THERMAL_SCALE",
    "WAVELENGTHS",
    "band_value",
    "material_luts",
]

#: Wavelengths (µm) of the spectral tables.
WAVELENGTHS = np.array(
    [0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.68, 0.70, 0.72, 0.75, 0.80, 0.90,
     1.00, 1.10, 1.20, 1.30, 1.40, 1.50, 1.65, 1.80, 2.00, 2.20, 2.40]
)  # fmt: skip

#: Reflectance tables (same order as :data:`WAVELENGTHS`).
LIBRARY: dict[str, tuple[float, ...]] = {
    # deep clear lake / river water (USGS and ECOSTRESS tap and sea water)
    "water": (0.050, 0.055, 0.050, 0.040, 0.025, 0.018, 0.015, 0.013, 0.011, 0.009, 0.008,
              0.006, 0.005, 0.004, 0.003, 0.003, 0.002, 0.002, 0.002, 0.001, 0.001, 0.001,
              0.001),
    # sediment-laden flood water
    "turbid_water": (0.050, 0.060, 0.070, 0.085, 0.080, 0.070, 0.065, 0.060, 0.050, 0.035,
                     0.025, 0.015, 0.010, 0.008, 0.006, 0.005, 0.003, 0.003, 0.003, 0.002,
                     0.002, 0.002, 0.002),
    # green lawn grass / green crop canopy (USGS Lawn_Grass GDS91)
    "grass": (0.030, 0.040, 0.045, 0.100, 0.070, 0.045, 0.040, 0.100, 0.250, 0.420, 0.470,
              0.490, 0.480, 0.450, 0.400, 0.420, 0.250, 0.280, 0.330, 0.250, 0.100, 0.160,
              0.100),
    # closed conifer/deciduous forest canopy (darker visible and NIR, shadowed)
    "forest": (0.020, 0.025, 0.030, 0.060, 0.045, 0.030, 0.025, 0.060, 0.150, 0.280, 0.330,
               0.350, 0.340, 0.320, 0.270, 0.280, 0.150, 0.170, 0.200, 0.150, 0.060, 0.090,
               0.050),
    # senescent dry grass (USGS Grass_dry, non-photosynthetic vegetation)
    "dry_grass": (0.060, 0.080, 0.100, 0.140, 0.180, 0.220, 0.240, 0.250, 0.270, 0.290,
                  0.320, 0.360, 0.390, 0.410, 0.420, 0.420, 0.300, 0.350, 0.400, 0.360,
                  0.260, 0.320, 0.250),
    # forest floor litter
    "litter": (0.040, 0.050, 0.070, 0.090, 0.120, 0.150, 0.160, 0.170, 0.180, 0.200, 0.220,
               0.250, 0.280, 0.300, 0.310, 0.310, 0.220, 0.260, 0.300, 0.270, 0.200, 0.240,
               0.190),
    # moist tilled loam (cropland between crops)
    "loam": (0.050, 0.060, 0.080, 0.100, 0.120, 0.140, 0.150, 0.160, 0.170, 0.180, 0.200,
             0.220, 0.240, 0.260, 0.270, 0.280, 0.220, 0.260, 0.300, 0.290, 0.220, 0.270,
             0.240),
    # dry bright soil / bare ground
    "dry_soil": (0.080, 0.100, 0.130, 0.170, 0.220, 0.260, 0.280, 0.290, 0.300, 0.310,
                 0.330, 0.350, 0.370, 0.390, 0.400, 0.410, 0.410, 0.420, 0.440, 0.440,
                 0.420, 0.420, 0.400),
    # construction concrete
    "concrete": (0.200, 0.240, 0.270, 0.290, 0.300, 0.310, 0.310, 0.320, 0.320, 0.330,
                 0.340, 0.350, 0.360, 0.370, 0.370, 0.370, 0.330, 0.350, 0.370, 0.360,
                 0.320, 0.330, 0.300),
    # asphalt road
    "asphalt": (0.050, 0.055, 0.060, 0.065, 0.070, 0.075, 0.078, 0.080, 0.082, 0.085, 0.090,
                0.095, 0.100, 0.105, 0.110, 0.115, 0.110, 0.120, 0.130, 0.130, 0.120, 0.120,
                0.110),
    # terracotta roofing tile
    "roof_tile": (0.060, 0.070, 0.080, 0.100, 0.200, 0.300, 0.330, 0.350, 0.370, 0.390,
                  0.410, 0.430, 0.450, 0.470, 0.480, 0.490, 0.470, 0.490, 0.500, 0.500,
                  0.470, 0.460, 0.440),
    # galvanized sheet-metal roof
    "roof_metal": (0.350, 0.360, 0.370, 0.370, 0.370, 0.370, 0.370, 0.370, 0.370, 0.370,
                   0.360, 0.350, 0.340, 0.340, 0.330, 0.330, 0.320, 0.320, 0.310, 0.310,
                   0.300, 0.300, 0.290),
    # painted steel ship deck (white/grey paint)
    "ship_deck": (0.280, 0.300, 0.310, 0.310, 0.310, 0.300, 0.300, 0.300, 0.300, 0.300,
                  0.290, 0.280, 0.270, 0.260, 0.250, 0.240, 0.220, 0.220, 0.210, 0.200,
                  0.180, 0.170, 0.160),
}  # fmt: skip

#: Kinetic surface temperature (K) per spectrum, for thermal bands.
TEMPERATURE_K: dict[str, float] = {
    "water": 289.0, "turbid_water": 291.0, "grass": 297.0, "forest": 294.0,
    "dry_grass": 304.0, "litter": 299.0, "loam": 301.0, "dry_soil": 307.0,
    "concrete": 309.0, "asphalt": 313.0, "roof_tile": 310.0, "roof_metal": 315.0,
    "ship_deck": 300.0,
}  # fmt: skip

#: Thermal bands hold ``(T - offset) / scale`` with T in kelvin.
THERMAL_SCALE: tuple[float, float] = (250.0, 100.0)

#: Materials of the material map: (name, land-cover class id, background
#: spectrum, vegetation spectrum). A pixel's reflectance is
#: ``(1 - f) * background + f * vegetation`` with ``f`` its green fraction.
MATERIALS: tuple[tuple[str, int, str, str], ...] = (
    ("water", 0, "water", "water"),
    ("forest", 1, "litter", "forest"),
    ("cropland", 2, "loam", "grass"),
    ("grassland", 3, "dry_grass", "grass"),
    ("bare_soil", 4, "dry_soil", "grass"),
    ("built_up", 5, "urban", "grass"),
    ("road", 6, "asphalt", "grass"),
    ("roof_concrete", 5, "concrete", "concrete"),
    ("roof_tile", 5, "roof_tile", "roof_tile"),
    ("roof_metal", 5, "roof_metal", "roof_metal"),
    ("flood_water", 0, "turbid_water", "turbid_water"),
    ("clearing", 4, "litter", "grass"),
    ("construction", 5, "dry_soil", "grass"),
)

#: Material id to land-cover class id.
MATERIAL_CLASS = np.array([m[1] for m in MATERIALS], dtype=np.uint8)

#: Panchromatic response: weights at representative blue, green, red, NIR.
PAN_WAVELENGTHS: dict[str, tuple[float, float]] = {
    "blue": (0.490, 0.065),
    "green": (0.560, 0.035),
    "red": (0.665, 0.030),
    "nir": (0.833, 0.100),
}
PAN_WEIGHTS: dict[str, float] = {"blue": 0.2, "green": 0.35, "red": 0.3, "nir": 0.15}


def _spectrum(name: str) -> np.ndarray:
    if name == "urban":  # mixed pavement, concrete and roofs
        return 0.55 * np.asarray(LIBRARY["concrete"]) + 0.45 * np.asarray(LIBRARY["asphalt"])
    return np.asarray(LIBRARY[name], dtype=float)


def _temperature(name: str) -> float:
    if name == "urban":
        return 0.55 * TEMPERATURE_K["concrete"] + 0.45 * TEMPERATURE_K["asphalt"]
    return TEMPERATURE_K[name]


def band_value(name: str, center: float, fwhm: float) -> float:
    """Value of spectrum ``name`` in a band of centre ``center`` and width ``fwhm`` (µm).

    Reflectance for bands below 3 µm (mean over the FWHM of the linearly
    interpolated table), scaled brightness temperature above.

    Examples
    --------
    >>> round(band_value("dry_soil", 2.2024, 0.175), 2)
    0.42
    """
    if center > 3.0:
        off, scale = THERMAL_SCALE
        return (_temperature(name) - off) / scale
    wl = np.linspace(center - fwhm / 2.0, center + fwhm / 2.0, 9)
    return float(np.interp(wl, WAVELENGTHS, _spectrum(name)).mean())


def material_luts(bands: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Background and vegetation look-up tables, shape (n_bands, n_materials).

    Parameters
    ----------
    bands : list of (centre, fwhm)
        Band centre wavelengths and widths in µm.

    Returns
    -------
    (background, vegetation) : tuple of numpy.ndarray
        float32 tables; the reflectance of material ``m`` with green fraction
        ``f`` in band ``b`` is ``bg[b, m] + f * (veg[b, m] - bg[b, m])``.

    Examples
    --------
    >>> bg, veg = material_luts([(0.665, 0.03), (0.833, 0.1)])
    >>> bg.shape
    (2, 13)
    """
    bg = np.array([[band_value(m[2], c, w) for m in MATERIALS] for c, w in bands])
    veg = np.array([[band_value(m[3], c, w) for m in MATERIALS] for c, w in bands])
    return bg.astype(np.float32), veg.astype(np.float32)
