"""Unit tests of the synth building blocks: spectra, atmosphere, noise, objects, rendering."""

from __future__ import annotations

import numpy as np
import pytest

from satlearn.synth.atmosphere import (
    CIRRUS_DETECTABLE,
    CIRRUS_PEAK,
    band_params,
    cirrus_visible,
    shadow_offset,
)
from satlearn.synth.noise import blockmean2, blur_and_shift, fractal_noise, upsample2
from satlearn.synth.objects import ship_coverage, ship_polygon
from satlearn.synth.render import MixedPixels
from satlearn.synth.spectra import LIBRARY, MATERIALS, WAVELENGTHS, band_value, material_luts


def test_spectral_tables_cover_visible_to_swir() -> None:
    assert WAVELENGTHS[0] == pytest.approx(0.40)
    assert WAVELENGTHS[-1] == pytest.approx(2.40)
    assert 15 <= WAVELENGTHS.size <= 25
    for name, values in LIBRARY.items():
        assert len(values) == WAVELENGTHS.size, name
        assert all(0.0 <= v <= 1.0 for v in values), name


def test_spectral_shapes() -> None:
    assert band_value("water", 0.49, 0.06) > 0.04
    assert band_value("water", 0.83, 0.1) < 0.012
    assert band_value("water", 1.61, 0.09) < 0.005
    red, nir = band_value("grass", 0.665, 0.03), band_value("grass", 0.833, 0.1)
    assert nir > 0.35
    assert (nir - red) / (nir + red) > 0.8
    assert band_value("grass", 1.61, 0.09) < nir  # leaf water absorption
    soil = [band_value("dry_soil", wl, 0.02) for wl in (0.45, 0.55, 0.65, 0.85, 1.2, 1.6)]
    assert np.all(np.diff(soil) > 0)
    assert band_value("asphalt", 0.56, 0.04) < 0.1 < band_value("concrete", 0.56, 0.04)


def test_thermal_band_is_scaled_temperature() -> None:
    water, asphalt = band_value("water", 10.9, 0.6), band_value("asphalt", 10.9, 0.6)
    assert 0.0 < water < asphalt < 1.0


def test_material_luts_shape() -> None:
    bg, veg = material_luts([(0.49, 0.06), (0.83, 0.1)])
    assert bg.shape == veg.shape == (2, len(MATERIALS))
    assert bg.dtype == np.float32


def test_atmosphere_parameters() -> None:
    p = band_params([(0.443, 0.02), (0.665, 0.03), (1.3735, 0.031), (10.9, 0.6)])
    assert p["path"][0] > p["path"][1] > 0  # blue-heavy path radiance
    assert p["trans"][2] < 0.01  # the cirrus band barely sees the ground
    # clear sky over land (reflectance 0.1-0.4) reads about 0.001 in the cirrus band
    assert 0.0005 < p["path"][2] + 0.25 * p["trans"][2] < 0.002
    assert p["cirrus"][2] > 5 * p["cirrus"][1]
    assert 0.6 < p["cloud"][1] < 0.8
    assert p["path"][3] == 0.0


def test_cirrus_band_absorption_leaves_neighbour_bands_alone() -> None:
    # The saturated 1.38 µm line must not darken the SWIR band next to it.
    p = band_params([(1.3735, 0.031), (1.6137, 0.091), (1.14, 0.02)])
    assert p["trans"][1] > 0.99
    assert p["path"][1] > 0.003


def test_cirrus_visible_is_the_cirrus_band_detection_level() -> None:
    just = CIRRUS_DETECTABLE / CIRRUS_PEAK
    ci = np.array([0.0, 0.9 * just, 1.1 * just, 0.5], np.float32)
    assert cirrus_visible(ci).tolist() == [False, False, True, True]
    # a thick cloud's semi-transparent edge is visible too; its faint halo is not
    cloud = np.array([0.0, 0.005, 0.05, 0.3], np.float32)
    assert cirrus_visible(np.zeros(4), cloud).tolist() == [False, False, True, True]
    assert cirrus_visible(ci, cloud).dtype == bool


def test_shadow_offset_points_away_from_sun() -> None:
    assert shadow_offset(1000.0, 180.0, 45.0, 10.0) == (-100, 0)  # sun south: shadow north
    assert shadow_offset(1000.0, 90.0, 45.0, 10.0) == (0, -100)  # sun east: shadow west


def test_shadow_offset_is_the_shared_sun_geometry_rounded() -> None:
    from satlearn import sun

    for azimuth, zenith, height in ((150.0, 35.0, 1500.0), (250.0, 60.0, 800.0), (10.0, 5.0, 9e3)):
        dy, dx = sun.shadow_offset(height, azimuth, zenith, 20.0)
        offset = shadow_offset(height, azimuth, zenith, 20.0)
        assert offset == (round(dy), round(dx))
        assert all(type(v) is int for v in offset)


def test_fractal_noise_normalised_and_deterministic() -> None:
    a = fractal_noise((64, 80), np.random.default_rng(5), beta=3.0)
    b = fractal_noise((64, 80), np.random.default_rng(5), beta=3.0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (64, 80)
    assert abs(float(a.mean())) < 1e-5
    assert float(a.std()) == pytest.approx(1.0, abs=1e-4)
    smooth = fractal_noise((64, 64), np.random.default_rng(5), beta=4.0)
    rough = fractal_noise((64, 64), np.random.default_rng(5), beta=1.0)
    assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(rough, axis=1)).mean()


def test_upsample_then_blockmean_preserves_smooth_fields() -> None:
    yy, xx = np.mgrid[0:48, 0:40].astype(np.float32)
    field = np.sin(yy / 7.0) * np.cos(xx / 5.0) + 0.01 * xx
    up = upsample2(field)
    assert up.shape == (96, 80)
    np.testing.assert_allclose(blockmean2(up)[2:-2, 2:-2], field[2:-2, 2:-2], atol=0.02)


def test_blur_and_shift_moves_content() -> None:
    img = np.zeros((64, 64), np.float32)
    img[30, 20] = 1.0
    out = blur_and_shift(img, 0.6, (2.0, -3.0))
    assert np.unravel_index(np.argmax(out), out.shape) == (32, 17)
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-3)
    plain = blur_and_shift(img, 0.6)
    assert np.unravel_index(np.argmax(plain), plain.shape) == (30, 20)


def test_ship_coverage_area_and_polygon() -> None:
    cov, _, _ = ship_coverage(20.0, 20.0, length_px=12.0, width_px=3.0, heading_deg=30.0)
    area = float(cov.sum()) / 4  # fine pixels are a quarter of a scene pixel
    assert 0.85 * 36 < area <= 36
    poly = ship_polygon(20.0, 20.0, 12.0, 3.0, 0.0)  # heading north: long along rows
    np.testing.assert_allclose(poly[0], poly[-1])
    assert np.ptp(poly[:, 0]) == pytest.approx(12.0)
    assert np.ptp(poly[:, 1]) == pytest.approx(3.0)


def test_mixed_pixels_equal_block_mean_of_fine_rendering() -> None:
    rng = np.random.default_rng(0)
    mat = rng.integers(0, 4, size=(32, 48)).astype(np.uint8)
    mat[:16, :24] = 2  # some pure blocks
    tex = rng.uniform(0.9, 1.1, size=mat.shape).astype(np.float32)
    ftex = rng.uniform(0.0, 1.0, size=mat.shape).astype(np.float32)
    bg = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    dveg = np.array([0.05, -0.1, 0.2, 0.0], np.float32)
    out = np.empty((16, 24), np.float32)
    MixedPixels(mat, tex, ftex).render(bg, dveg, out, np.empty_like(out))
    fine = bg[mat] * tex + dveg[mat] * ftex
    np.testing.assert_allclose(out, blockmean2(fine), rtol=1e-5, atol=1e-6)
