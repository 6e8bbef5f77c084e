"""Geometric truths of satlearn.synth: misregistration, pan grid, stereo disparity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from satlearn.synth import SyntheticScene, make_scene
from satlearn.synth.noise import blockmean2
from satlearn.synth.spectra import PAN_WEIGHTS


@pytest.fixture(scope="module")
def clear_scene() -> SyntheticScene:
    return make_scene(256, seed=21, clouds=False, misregistration=(0.37, -0.62))


@pytest.mark.parametrize("band", ["nir", "swir16"])
def test_misregistration_matches_phase_cross_correlation(
    clear_scene: SyntheticScene, band: str
) -> None:
    registration = pytest.importorskip("skimage.registration")
    from skimage.filters import window

    ref = clear_scene.image.sel(band=band).values[0].astype(float)
    moving = clear_scene.image.sel(band=band).values[-1].astype(float)
    # a Hann window removes the edge discontinuity that biases FFT registration to 0
    hann = window("hann", ref.shape)
    shift, _, _ = registration.phase_cross_correlation(
        ref * hann, moving * hann, upsample_factor=100
    )
    assert clear_scene.misregistration[0] == (0.0, 0.0)
    assert clear_scene.misregistration[-1] == (0.37, -0.62)
    np.testing.assert_allclose(shift, clear_scene.misregistration[-1], atol=0.05)
    # the stored shift registers the moving date: shifting it back lowers the error
    back = ndimage.shift(moving, clear_scene.misregistration[-1], order=3, mode="nearest")
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(back - ref)[inner].mean() < np.abs(moving - ref)[inner].mean()


def test_pan_grid_and_consistency(clear_scene: SyntheticScene) -> None:
    pan = clear_scene.pan
    assert pan.dims == ("time", "y", "x")
    assert pan.shape == (2, 512, 512)
    assert pan.dtype == np.float32
    assert pan.rio.resolution() == (5.0, -5.0)
    np.testing.assert_allclose(pan.rio.bounds(), clear_scene.image.rio.bounds())
    assert pan.rio.crs == clear_scene.image.rio.crs
    img = clear_scene.image
    for t in range(2):
        equiv = sum(w * img.sel(band=b).values[t] for b, w in PAN_WEIGHTS.items())
        degraded = blockmean2(pan.values[t])
        r = np.corrcoef(degraded.ravel(), equiv.ravel())[0, 1]
        assert r > 0.97
        assert abs(float(degraded.mean()) - float(equiv.mean())) < 0.02
    # pan of a later date carries the same ground misregistration (twice in pan pixels)
    registration = pytest.importorskip("skimage.registration")
    from skimage.filters import window

    hann = window("hann", pan.shape[1:])
    shift, _, _ = registration.phase_cross_correlation(
        pan.values[0] * hann, pan.values[-1] * hann, upsample_factor=20
    )
    np.testing.assert_allclose(shift, 2 * np.array(clear_scene.misregistration[-1]), atol=0.1)
    # the pan band is sharper than an upsampled MS pan-equivalent
    equiv0 = sum(w * img.sel(band=b).values[0] for b, w in PAN_WEIGHTS.items())
    hf_pan = np.abs(np.diff(pan.values[0], axis=1)).mean()
    hf_ms = np.abs(np.diff(np.repeat(equiv0, 2, axis=1), axis=1)).mean()
    assert hf_pan > hf_ms


def test_disparity_follows_dem(clear_scene: SyntheticScene) -> None:
    dem = clear_scene.dem.values.astype(float)
    disp = clear_scene.disparity.values.astype(float)
    b2h = clear_scene.base_to_height
    assert b2h == pytest.approx(0.6)
    assert clear_scene.pixel_size_m == clear_scene.resolution == 10.0
    height = disp * clear_scene.pixel_size_m / b2h
    np.testing.assert_allclose(height, dem - dem.min(), atol=1e-3 * np.ptp(dem) + 1e-3)
    assert np.ptp(disp) > 2.0
    assert np.abs(np.diff(disp, axis=1)).max() < 0.8


def test_right_image_is_left_shifted_by_disparity(clear_scene: SyntheticScene) -> None:
    left = clear_scene.stereo_left.values.astype(float)
    right = clear_scene.stereo_right.values.astype(float)
    disp = clear_scene.disparity.values.astype(float)
    h, w = left.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    predicted = ndimage.map_coordinates(right, [rows, cols - disp], order=3, mode="nearest")
    textured = ndimage.generic_filter(left, np.std, size=5) > 0.01
    margin = int(np.ceil(disp.max())) + 4
    valid = textured.copy()
    valid[:, :margin] = False
    valid[:, -4:] = False
    assert valid.sum() > 0.3 * h * w
    err = np.abs(predicted - left)[valid]
    assert np.median(err) < 0.005
    assert np.corrcoef(predicted[valid], left[valid])[0, 1] > 0.98
    # and the unshifted right image is clearly worse
    assert np.median(np.abs(right - left)[valid]) > 2 * np.median(err)


def test_geographic_crs_sizes_in_metres() -> None:
    s = make_scene(96, seed=4, crs="EPSG:4326", resolution=1e-4, origin=(10.0, 45.0))
    assert s.image.rio.crs.to_epsg() == 4326
    assert s.transform.a == pytest.approx(1e-4)
    assert s.pixel_size_m == pytest.approx(11.132)
    disp, dem = s.disparity.values, s.dem.values
    np.testing.assert_allclose(
        disp * s.pixel_size_m / s.base_to_height, dem - dem.min(), atol=1e-3 * np.ptp(dem) + 1e-3
    )
    for ship in s.ships:
        minx, miny, maxx, maxy = ship["bounds"]
        assert 9.9 < minx < maxx < 10.02
        assert 44.98 < miny < maxy < 45.0
