"""Registration: phase correlation, feature matching, shift fields, georeferenced layer, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import dask.array
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from scipy import ndimage
from skimage.registration import phase_cross_correlation
from typer.testing import CliRunner

from conftest import TRANSFORM, make_dataarray, write_geotiff
from satlearn.cli.app import app
from satlearn.errors import CRSMismatchError, InvalidInputError, UnknownBandError
from satlearn.ops.registration import (
    FeatureRegistration,
    PhaseCorrelation,
    coregister,
    coregister_series,
    fit_shift_field,
    match_features,
    phase_correlation,
    shift_field,
    shift_image,
)
from satlearn.raster import open_raster

MARGIN = 32


def texture(shape: tuple[int, int], seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    """A smooth random field with some larger structure, float32."""
    rng = np.random.default_rng(seed)
    fine = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    coarse = ndimage.gaussian_filter(rng.normal(size=shape), 4 * sigma)
    return (fine + 3 * coarse).astype(np.float32)


def fourier_shifted(image: np.ndarray, shift) -> np.ndarray:
    spectrum = ndimage.fourier_shift(np.fft.fft2(image), shift)
    return np.fft.ifft2(spectrum).real.astype(np.float32)


def shifted_pair(source, size, true, rng, noise, how="fourier"):
    """Crop a reference window and a moving window displaced by ``-true`` (not circular)."""
    top = rng.integers(MARGIN, source.shape[0] - size - MARGIN + 1)
    left = rng.integers(MARGIN, source.shape[1] - size - MARGIN + 1)
    big = source[top - MARGIN : top + size + MARGIN, left - MARGIN : left + size + MARGIN]
    moved = fourier_shifted(big, -true) if how == "fourier" else ndimage.shift(big, -true, order=3)
    inner = slice(MARGIN, MARGIN + size)
    reference = big[inner, inner].astype(np.float32)
    moving = moved[inner, inner].astype(np.float32)
    scale = noise * reference.std()
    reference = reference + rng.normal(0, scale, reference.shape).astype(np.float32)
    moving = moving + rng.normal(0, scale, moving.shape).astype(np.float32)
    return reference, moving


def rms_error(source, size, trials, seed, noise, how):
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(trials):
        true = rng.uniform(-20, 20, 2)
        reference, moving = shifted_pair(source, size, true, rng, noise, how)
        dy, dx, *_ = phase_correlation(reference, moving, upsample=100)
        errors.append(np.array([dy, dx]) - true)
    return float(np.sqrt(np.mean(np.square(errors))))


# --------------------------------------------------------------------------- phase correlation


@pytest.mark.parametrize("shift", [(3.0, -5.0), (-7.37, 12.21), (0.5, -0.25), (19.9, 20.0)])
def test_sign_convention_and_value_match_skimage(shift):
    reference = texture((128, 160))
    moving = fourier_shifted(reference, tuple(-s for s in shift))

    ours = phase_correlation(reference, moving, upsample=100, window=None, spectral_cutoff=None)
    theirs, _, _ = phase_cross_correlation(reference, moving, upsample_factor=100)

    np.testing.assert_allclose((ours.dy, ours.dx), theirs, atol=0.011)
    np.testing.assert_allclose((ours.dy, ours.dx), shift, atol=0.011)
    # ndimage.shift(moving, (dy, dx)) registers moving onto reference
    back = ndimage.shift(moving, (ours.dy, ours.dx), mode="grid-wrap", order=3)
    assert np.abs(back - reference)[20:-20, 20:-20].max() < 0.05 * np.ptp(reference)


def test_result_unpacks_as_dy_dx_first_and_is_a_named_tuple():
    reference = texture((96, 96))
    result = phase_correlation(reference, np.roll(reference, (2, -3), axis=(0, 1)))
    assert isinstance(result, PhaseCorrelation)
    dy, dx, confidence, error, peak = result
    assert (dy, dx) == pytest.approx((-2.0, 3.0), abs=0.05)
    assert 0.9 < confidence <= 1
    assert 0 <= error < 0.5
    assert 0.5 < peak <= 1


def test_accuracy_on_synthetic_texture_with_noise_within_20_pixels():
    source = texture((224 + 2 * MARGIN, 224 + 2 * MARGIN), seed=3)
    assert rms_error(source, 224, trials=12, seed=1, noise=0.05, how="fourier") <= 0.05


def test_accuracy_on_real_landsat_pan_shifted_by_splines(shared_data):
    with rasterio.open(shared_data / "landsat8-l1t-crop" / "l8_B8.tif") as src:
        pan = src.read(1, window=((0, 700), (0, 700))).astype(np.float32)
    assert rms_error(pan, 256, trials=10, seed=2, noise=0.05, how="spline") <= 0.05


def test_spectral_taper_improves_spline_shifted_real_like_texture():
    source = texture((192 + 2 * MARGIN, 192 + 2 * MARGIN), seed=5, sigma=0.7)
    rng = np.random.default_rng(9)
    errors = {None: [], 0.5: []}
    for _ in range(6):
        true = rng.uniform(-10, 10, 2)
        reference, moving = shifted_pair(source, 192, true, rng, 0.02, how="spline")
        for cutoff in errors:
            result = phase_correlation(reference, moving, spectral_cutoff=cutoff)
            errors[cutoff].append(np.hypot(result.dy - true[0], result.dx - true[1]))
    assert np.mean(errors[0.5]) < np.mean(errors[None])


def test_upsample_one_gives_whole_pixels_and_other_factors_their_grid():
    reference = texture((128, 128))
    moving = fourier_shifted(reference, (-4.3, 2.6))
    whole = phase_correlation(reference, moving, upsample=1)
    assert (whole.dy, whole.dx) == (4.0, -3.0)
    for factor in (4, 20, 1000):
        result = phase_correlation(reference, moving, upsample=factor)
        assert result.dy * factor == pytest.approx(round(result.dy * factor), abs=1e-9)
        assert abs(result.dy - 4.3) <= 0.5 / factor + 0.05
        assert abs(result.dx + 2.6) <= 0.5 / factor + 0.05


def test_confidence_is_low_for_unrelated_images_and_high_for_a_match():
    reference = texture((128, 128), seed=1)
    unrelated = texture((128, 128), seed=2)
    noise = np.random.default_rng(0).normal(size=(128, 128))
    matched = fourier_shifted(reference, (3.4, -1.2))

    good = phase_correlation(reference, matched)
    assert good.confidence > 0.8
    for other in (unrelated, noise):
        bad = phase_correlation(reference, other)
        assert bad.confidence < 0.35
        assert bad.error > 0.9
        assert bad.peak < good.peak / 5


def test_window_choices_on_non_periodic_crops():
    source = texture((256, 256), seed=4)
    reference, moving = source[40:200, 40:200], source[46:206, 37:197]
    for window in ("hann", "tukey"):
        result = phase_correlation(reference, moving, window=window)
        assert (result.dy, result.dx) == pytest.approx((6.0, -3.0), abs=0.05)
    # without a window the edges of non-periodic crops dominate the plain phase correlation
    bare = phase_correlation(reference, moving, window=None, spectral_cutoff=None)
    assert (bare.dy, bare.dx) != pytest.approx((6.0, -3.0), abs=0.5)


def test_odd_and_awkward_shapes_are_padded_and_still_right():
    source = texture((200, 200), seed=6)
    reference, moving = source[20:157, 20:171], source[25:162, 18:169]
    result = phase_correlation(reference, moving)
    assert (result.dy, result.dx) == pytest.approx((5.0, -2.0), abs=0.05)


def test_integer_and_uint16_inputs_are_accepted():
    source = (texture((160, 160), seed=7) * 500 + 5000).astype(np.uint16)
    result = phase_correlation(source[10:138, 10:138], source[14:142, 7:135])
    assert (result.dy, result.dx) == pytest.approx((4.0, -3.0), abs=0.05)


def cloudy_pair(seed=0, value=50.0):
    source = texture((224, 224), seed=seed)
    rng = np.random.default_rng(seed)
    true = np.array([6.3, -4.7])
    reference, moving = shifted_pair(source, 160, true, rng, 0.02)
    cloud = np.zeros(moving.shape, bool)
    cloud[20:90, 30:120] = True
    moving = moving.copy()
    moving[cloud] = value  # a bright, flat cloud that would dominate an unmasked match
    return reference, moving, cloud, true


def test_masked_registration_ignores_clouds():
    reference, moving, cloud, true = cloudy_pair()
    masked = phase_correlation(reference, moving, moving_mask=~cloud)
    np.testing.assert_allclose((masked.dy, masked.dx), true, atol=0.1)
    assert masked.confidence > 0.5


def test_nan_pixels_are_masked_automatically_and_integer_step_agrees_with_skimage():
    reference, moving, cloud, true = cloudy_pair(seed=1)
    moving[cloud] = np.nan
    ours = phase_correlation(reference, moving)
    np.testing.assert_allclose((ours.dy, ours.dx), true, atol=0.1)
    theirs = phase_cross_correlation(
        reference, np.nan_to_num(moving), reference_mask=np.ones_like(cloud), moving_mask=~cloud
    )[0]
    np.testing.assert_allclose((ours.dy, ours.dx), theirs, atol=1.0)


def test_reference_mask_alone_and_both_masks():
    reference, moving, cloud, true = cloudy_pair(seed=2, value=-30)
    swapped = phase_correlation(moving, reference, reference_mask=~cloud)
    np.testing.assert_allclose((swapped.dy, swapped.dx), -true, atol=0.1)
    both = phase_correlation(
        reference, moving, reference_mask=np.ones_like(cloud), moving_mask=~cloud
    )
    np.testing.assert_allclose((both.dy, both.dx), true, atol=0.1)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((8, 8)), np.zeros((8, 9))), {}, "differ in shape"),
        ((np.zeros((2, 8, 8)), np.zeros((2, 8, 8))), {}, "2-D image"),
        ((np.zeros((3, 8)), np.zeros((3, 8))), {}, "too small"),
        ((np.zeros((8, 8), complex), np.zeros((8, 8))), {}, "numeric"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"upsample": 0}, "upsample"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"upsample": 2.5}, "upsample"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"window": "boxcar"}, "window"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"spectral_cutoff": 0}, "spectral_cutoff"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"moving_mask": np.ones((4, 4))}, "mask shape"),
        ((np.zeros((8, 8)), np.zeros((8, 8))), {"moving_mask": np.zeros((8, 8))}, "valid"),
    ],
)
def test_phase_correlation_rejects_bad_input(args, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        phase_correlation(*args, **kwargs)


# --------------------------------------------------------------------------- features


def warped(image, angle=7.0, scale=1.06, shift=(9.0, -6.0)):
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    matrix[:, 2] += shift
    moving = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR)
    # match_features maps moving -> reference: the inverse of the warp
    return moving, np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))


@pytest.mark.parametrize(
    ("detector", "model"),
    [("orb", "similarity"), ("orb", "affine"), ("sift", "homography"), ("sift", "similarity")],
)
def test_features_recover_rotation_scale_and_translation(detector, model):
    reference = texture((320, 320), seed=11, sigma=1.5)
    moving, truth = warped(reference)

    result = match_features(reference, moving, model=model, detector=detector)

    assert isinstance(result, FeatureRegistration)
    assert result.model == model
    corners = np.array([[60.0, 60.0], [260.0, 60.0], [60.0, 260.0], [260.0, 260.0]])
    homogeneous = np.column_stack([corners, np.ones(4)])
    expected = (homogeneous @ truth.T)[:, :2]
    found = homogeneous @ result.matrix.T
    np.testing.assert_allclose(found[:, :2] / found[:, 2:], expected, atol=1.0)
    assert result.n_inliers >= 10
    assert result.rms < 1.5
    assert result.inliers.shape == result.residuals.shape == (len(result.moving_points),)


def test_akaze_works_or_says_it_is_missing_from_the_opencv_build():
    reference = texture((256, 256), seed=11, sigma=1.5)
    moving, truth = warped(reference, angle=3.0, scale=1.0)
    if not hasattr(cv2, "AKAZE_create"):
        with pytest.raises(InvalidInputError, match="not in this OpenCV build"):
            match_features(reference, moving, detector="akaze")
        return
    result = match_features(reference, moving, detector="akaze", model="affine")
    np.testing.assert_allclose(result.matrix, truth, atol=0.05 * np.abs(truth).max())


def test_features_respect_masks_and_fail_clearly_without_texture():
    reference = texture((256, 256), seed=12, sigma=1.5)
    moving, _ = warped(reference, angle=0, scale=1, shift=(5.0, 3.0))
    mask = np.zeros(reference.shape, bool)
    mask[:, :128] = True
    result = match_features(reference, moving, reference_mask=mask)
    assert (result.reference_points[:, 0] < 128).all()
    np.testing.assert_allclose(result.matrix[:2, 2], (-5.0, -3.0), atol=0.5)

    flat = np.full((64, 64), 7.0)
    with pytest.raises(InvalidInputError, match="feature matches"):
        match_features(flat, flat)
    with pytest.raises(InvalidInputError, match="no valid pixel"):
        match_features(reference, moving, reference_mask=np.zeros(reference.shape, bool))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "projective"}, "model"),
        ({"detector": "surf"}, "detector"),
        ({"ratio": 0}, "ratio"),
    ],
)
def test_features_reject_bad_arguments(kwargs, match):
    image = texture((64, 64))
    with pytest.raises(InvalidInputError, match=match):
        match_features(image, image, **kwargs)


# --------------------------------------------------------------------------- shift fields


def rotated_pair(size=320, angle=0.6):
    """A small rotation about the centre: local shifts vary linearly across the image."""
    reference = texture((size, size), seed=13, sigma=1.5)
    centre = (size - 1) / 2
    theta = np.deg2rad(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    # moving(p) = reference(R (p - c) + c): a moving pixel p lies on reference pixel R(p-c)+c
    moving = ndimage.affine_transform(
        reference, rotation, offset=centre - rotation @ [centre, centre], order=3
    )
    return reference, moving, rotation, centre


def test_shift_field_follows_a_rotation_and_the_affine_fit_recovers_it():
    reference, moving, rotation, centre = rotated_pair()
    field = shift_field(reference, moving, window_size_px=64, step_px=48, upsample=20)

    assert field.shifts.shape == (*field.dy.shape, 2)
    yy, xx = np.meshgrid(field.y, field.x, indexing="ij")
    points = np.stack([yy - centre, xx - centre], axis=-1)
    # a feature at moving p sits at reference R(p - c) + c; the shift is that minus p
    expected = points @ rotation.T - points
    np.testing.assert_allclose(field.shifts, expected, atol=0.1)
    assert (field.confidence > 0.5).all()

    model = fit_shift_field(field, degree=1)
    dy, dx = model(yy, xx)
    np.testing.assert_allclose(np.stack([dy, dx], -1), expected, atol=0.05)
    assert model.rms < 0.1
    assert model.n_used == field.dy.size
    translation = fit_shift_field(field, degree=0)
    assert len(translation.terms) == 1


def test_shift_field_skips_masked_windows_and_tapers_partial_ones():
    reference = texture((256, 256), seed=14)
    moving = fourier_shifted(reference, (-3.0, 2.0))
    mask = np.ones(reference.shape, bool)
    mask[:128, :128] = False
    mask[200:220, 200:220] = False
    field = shift_field(
        reference, moving, window_size_px=64, moving_mask=mask, window="tukey", upsample=1
    )
    assert np.isnan(field.dy[0, 0])
    assert field.confidence[0, 0] == 0
    good = np.isfinite(field.dy)
    np.testing.assert_allclose(field.dy[good], 3.0, atol=0.01)  # whole pixels
    np.testing.assert_allclose(field.dx[good], -2.0, atol=0.01)
    assert good.sum() >= field.dy.size - 9


def test_shift_field_in_small_batches_matches_one_batch():
    reference, moving, _, _ = rotated_pair(size=192)
    one = shift_field(reference, moving, window_size_px=48, upsample=10)
    many = shift_field(reference, moving, window_size_px=48, upsample=10, batch=3)
    np.testing.assert_array_equal(one.shifts, many.shifts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_size_px": 4}, "window_size"),
        ({"window_size_px": 500}, "window_size"),
        ({"window_size_px": 32, "step_px": 0}, "step"),
        ({"window_size_px": 32, "upsample": -1}, "upsample"),
        ({"window_size_px": 32, "window": "kaiser"}, "window"),
        ({"window_size_px": 32, "spectral_cutoff": -1}, "spectral_cutoff"),
    ],
)
def test_shift_field_rejects_bad_arguments(kwargs, match):
    image = texture((64, 64))
    with pytest.raises(InvalidInputError, match=match):
        shift_field(image, image, **kwargs)
    with pytest.raises(InvalidInputError, match="differ in shape"):
        shift_field(image, image[:32])


def test_fit_shift_field_needs_enough_confident_windows():
    image = texture((128, 128))
    field = shift_field(image, texture((128, 128), seed=99), window_size_px=64)
    with pytest.raises(InvalidInputError, match="windows with confidence"):
        fit_shift_field(field, degree=2, min_confidence=0.9)
    with pytest.raises(InvalidInputError, match="degree"):
        fit_shift_field(field, degree=-1)


def test_fit_shift_field_drops_an_outlier_window():
    reference = texture((256, 256), seed=15)
    field = shift_field(reference, fourier_shifted(reference, (-1.25, 0.5)), window_size_px=64)
    field.dx[1, 1] = 9.0  # a mismatched window
    model = fit_shift_field(field, degree=1, min_confidence=0.0)
    assert model.n_used == field.dx.size - 1
    dy, dx = model(128.0, 128.0)
    assert float(dy) == pytest.approx(1.25, abs=0.1)
    assert float(dx) == pytest.approx(-0.5, abs=0.1)


# --------------------------------------------------------------------------- shift_image


def test_shift_image_registers_and_fills_outside():
    reference = texture((96, 96), seed=16)
    moving = fourier_shifted(reference, (-2.0, 3.0))
    result = phase_correlation(reference, moving)
    back = shift_image(moving, (result.dy, result.dx))
    assert np.isnan(back[:2]).all()
    assert np.isnan(back[:, -3:]).all()
    np.testing.assert_allclose(back[10:-10, 10:-10], reference[10:-10, 10:-10], atol=0.05)

    counts = (reference * 100 + 1000).astype(np.uint16)
    shifted = shift_image(counts, (1.0, 0.0), fill=0)
    assert shifted.dtype == np.uint16
    assert (shifted[0] == 0).all()
    np.testing.assert_array_equal(shifted[1:], counts[:-1])

    holes = reference.copy()
    holes[50, 50] = np.nan
    moved = shift_image(holes, (0.0, 1.0), order=1, fill=-1.0)
    assert np.isnan(moved[50, 51])
    assert (moved[:, 0] == -1).all()


# --------------------------------------------------------------------------- georeferenced


def raster_pair(shift=(2.4, -3.6), size=128, names=("red", "nir"), dtype=np.float32):
    """Two georeferenced rasters on one grid; moving content displaced by -shift."""
    bands = [texture((size + 2 * MARGIN,) * 2, seed=20 + i) for i in range(len(names))]
    inner = slice(MARGIN, MARGIN + size)
    reference = np.stack([b[inner, inner] for b in bands]).astype(dtype)
    moving = np.stack([fourier_shifted(b, tuple(-s for s in shift))[inner, inner] for b in bands])
    return (
        make_dataarray(reference, names=list(names)),
        make_dataarray(moving.astype(dtype), names=list(names)),
    )


def test_coregister_updates_the_transform_so_the_rasters_align():
    reference, moving = raster_pair()
    fixed = coregister(reference, moving)

    assert fixed.attrs["registration_method"] == "phase"
    assert (fixed.attrs["registration_dy"], fixed.attrs["registration_dx"]) == pytest.approx(
        (2.4, -3.6), abs=0.03
    )
    transform = fixed.rio.transform()
    # moving content sits dx pixels right, dy pixels down of where it claimed
    assert transform.c == pytest.approx(TRANSFORM.c + (-3.6) * TRANSFORM.a, abs=0.3)
    assert transform.f == pytest.approx(TRANSFORM.f + 2.4 * TRANSFORM.e, abs=0.3)
    np.testing.assert_array_equal(fixed.values, moving.values)  # no resampling
    assert fixed.x.values[0] == pytest.approx(transform.c + transform.a / 2)
    # placed by its new transform on the reference grid, it matches the reference
    placed = fixed.rio.reproject_match(reference, resampling=rasterio.enums.Resampling.cubic)
    inner = (slice(None), slice(10, -10), slice(10, -10))
    diff = placed.values[inner] - reference.values[inner]
    assert np.abs(diff).mean() < 0.05 * reference.values.std()
    # a second pass finds nothing left to correct
    again = coregister(reference, placed.fillna(0))
    assert abs(again.attrs["registration_dx"]) < 0.05


def test_coregister_resample_returns_the_moving_raster_on_the_reference_grid():
    reference, moving = raster_pair(shift=(-1.7, 4.2))
    fixed = coregister(reference, moving, resample=True, resampling="cubic", band="red")
    assert fixed.rio.transform() == reference.rio.transform()
    inner = (slice(None), slice(10, -10), slice(10, -10))
    np.testing.assert_allclose(fixed.values[inner], reference.values[inner], atol=0.1)
    assert np.isnan(fixed.values[:, :, :4]).all()  # shifted in from outside


def test_coregister_handles_a_moving_raster_on_another_grid():
    reference, moving = raster_pair(shift=(1.5, -2.5), size=160)
    crop = moving.isel(y=slice(10, 150), x=slice(6, 150))
    crop = crop.rio.write_transform(TRANSFORM @ Affine.translation(6, 10))
    fixed = coregister(reference, crop)
    assert (fixed.attrs["registration_dy"], fixed.attrs["registration_dx"]) == pytest.approx(
        (1.5, -2.5), abs=0.08
    )
    placed = coregister(reference, crop, resample=True)
    assert placed.shape == reference.shape
    inner = (slice(None), slice(20, -20), slice(20, -20))
    np.testing.assert_allclose(placed.values[inner], reference.values[inner], atol=0.25)


def test_coregister_with_features_writes_a_rotated_transform_or_resamples():
    size = 256
    image = texture((size, size), seed=30, sigma=1.5)
    moving_image, truth = warped(image, angle=4.0, scale=1.0, shift=(6.0, -4.0))
    reference = make_dataarray(image[None], names=["nir"])
    moving = make_dataarray(moving_image[None], names=["nir"])

    fixed = coregister(reference, moving, method="features", detector="sift")
    assert fixed.attrs["registration_inliers"] >= 10
    transform = fixed.rio.transform()
    expected = TRANSFORM @ Affine(*truth[:2].ravel())
    np.testing.assert_allclose(transform[:6], expected[:6], atol=0.5)

    resampled = coregister(reference, moving, method="features", detector="sift", resample=True)
    inner = (0, slice(60, -60), slice(60, -60))
    assert np.nanmean(np.abs(resampled.values[inner] - image[inner[1:]])) < 0.1 * image.std()

    warped_back = coregister(
        reference, moving, method="features", model="homography", resample=True, detector="sift"
    )
    assert np.nanmean(np.abs(warped_back.values[inner] - image[inner[1:]])) < 0.1 * image.std()
    with pytest.raises(InvalidInputError, match="homography"):
        coregister(reference, moving, method="features", model="homography")


def test_coregister_is_lazy_for_dask_input_without_resampling_and_keeps_integer_nodata():
    reference, moving = raster_pair(dtype=np.float32)
    counts = (moving * 100 + 1000).astype(np.int16)
    counts.values[:, :5, :5] = -9999
    counts = counts.rio.write_nodata(-9999)
    lazy = counts.chunk({"band": 1, "y": 64, "x": 64})
    fixed = coregister(reference, lazy, band="nir")
    assert isinstance(fixed.data, dask.array.Array)
    assert fixed.attrs["registration_dx"] == pytest.approx(-3.6, abs=0.05)
    resampled = coregister(reference, lazy, band="nir", resample=True)
    assert resampled.dtype == np.int16
    assert (resampled.values[:, :, -3:] == -9999).all()


def test_coregister_errors():
    reference, moving = raster_pair()
    with pytest.raises(CRSMismatchError, match="CRS"):
        coregister(reference, moving.rio.write_crs("EPSG:4326"))
    with pytest.raises(UnknownBandError, match="swir16"):
        coregister(reference, moving, band="swir16")
    with pytest.raises(UnknownBandError, match="moving"):
        coregister(reference, moving.assign_coords(band=["a", "b"]))
    with pytest.raises(InvalidInputError, match="method"):
        coregister(reference, moving, method="optical-flow")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="resampling"):
        coregister(reference, moving, resampling="magic")
    with pytest.raises(InvalidInputError, match="DataArray"):
        coregister(reference.values, moving)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="dims"):
        coregister(reference.rename(y="row"), moving)


def test_coregister_matches_a_2d_raster_without_a_band_dim():
    reference, moving = raster_pair()
    fixed = coregister(reference.isel(band=0), moving.isel(band=0))
    assert fixed.attrs["registration_dy"] == pytest.approx(2.4, abs=0.05)


def stack_of(shifts, size=128):
    base = texture((size + 2 * MARGIN,) * 2, seed=40)
    inner = slice(MARGIN, MARGIN + size)
    dates = [fourier_shifted(base, (-dy, -dx))[inner, inner] for dy, dx in shifts]
    data = np.stack([np.stack([d, 2 * d]) for d in dates]).astype(np.float32)
    da = xr.DataArray(
        data,
        dims=("time", "band", "y", "x"),
        coords={"time": np.arange(len(shifts)), "band": ["red", "nir"]},
    )
    return da.rio.write_crs("EPSG:32633").rio.write_transform(TRANSFORM)


def test_coregister_series_aligns_every_date_to_the_reference_date():
    shifts = [(0.0, 0.0), (1.25, -0.75), (-3.5, 2.0)]
    stack = stack_of(shifts)
    aligned = coregister_series(stack, reference_index=0, resampling="cubic")
    np.testing.assert_allclose(aligned.registration_dy.values, [s[0] for s in shifts], atol=0.03)
    np.testing.assert_allclose(aligned.registration_dx.values, [s[1] for s in shifts], atol=0.03)
    assert aligned.dims == stack.dims
    assert aligned.rio.transform() == TRANSFORM
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    spread = np.nanmean(np.abs(aligned.values[inner] - aligned.values[0][None][inner]))
    assert spread < 0.02 * float(stack.std())
    last = coregister_series(stack, reference_index=-1)
    assert last.registration_dx.values[0] == pytest.approx(-2.0, abs=0.03)


def test_coregister_series_with_features_and_errors():
    shifts = [(0.0, 0.0), (4.0, -6.0)]
    stack = stack_of(shifts, size=192)
    aligned = coregister_series(stack, method="features", detector="sift")
    assert aligned.registration_dx.values[1] == pytest.approx(-6.0, abs=0.5)
    assert 0 < aligned.registration_confidence.values[1] <= 1
    with pytest.raises(InvalidInputError, match="time"):
        coregister_series(stack.isel(time=0))
    with pytest.raises(InvalidInputError, match="reference_index"):
        coregister_series(stack, reference_index=5)
    with pytest.raises(InvalidInputError, match="valid: shape"):
        coregister_series(stack, valid=np.ones((2, 5, 5), bool))


def test_coregister_series_on_the_synthetic_scene_recovers_its_misregistration():
    from satlearn.synth import make_scene

    scene = make_scene(256, seed=2, sensor="sentinel2_l1c", n_dates=2)
    clear = ~(scene.cloud_mask | scene.shadow_mask | scene.cirrus_mask)
    aligned = coregister_series(scene.image, band="red", valid=clear)
    found = (aligned.registration_dy.values[1], aligned.registration_dx.values[1])
    np.testing.assert_allclose(found, scene.misregistration[1], atol=0.15)
    # clouds and seasonal change between the dates lower the confidence
    assert aligned.registration_confidence.values[1] > 0.3


# --------------------------------------------------------------------------- CLI


def test_cli_register_writes_a_cog_and_reports_the_shift(tmp_path):
    reference, moving = raster_pair(shift=(3.2, -1.4))
    ref_path = write_geotiff(tmp_path / "ref.tif", reference.values, descriptions=["red", "nir"])
    mov_path = write_geotiff(tmp_path / "mov.tif", moving.values, descriptions=["red", "nir"])
    out = tmp_path / "out.tif"
    runner = CliRunner()

    result = runner.invoke(app, ["register", str(ref_path), str(mov_path), str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dy"] == pytest.approx(3.2, abs=0.05)
    assert report["dx"] == pytest.approx(-1.4, abs=0.05)
    assert len(report["transform"]) == 6
    written = open_raster(out)
    assert written.rio.transform().c == pytest.approx(report["transform"][2])

    resampled = tmp_path / "resampled.tif"
    result = runner.invoke(
        app,
        ["register", str(ref_path), str(mov_path), str(resampled), "--resample", "--band", "red"],
    )
    assert result.exit_code == 0, result.output
    assert "dy" in result.stdout
    assert "confidence" in result.stdout
    assert open_raster(resampled).rio.transform() == TRANSFORM

    result = runner.invoke(
        app,
        ["register", str(ref_path), str(mov_path), str(tmp_path / "f.tif"), "--method",
         "features", "--detector", "sift", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["method"] == "features"

    result = runner.invoke(app, ["register", str(ref_path), str(mov_path), str(out), "--band", "x"])
    assert result.exit_code == 1
    assert "error:" in result.stderr
    assert "no band named 'x'" in result.stderr


def test_windows_equal_scipy_signals_exactly():
    from scipy.signal import windows

    from satlearn.ops.registration._windows import window_1d

    for length in [*range(1, 40), 100, 257, 1000]:
        np.testing.assert_array_equal(
            window_1d("hann", length), windows.hann(length, sym=True).astype(np.float32)
        )
        np.testing.assert_array_equal(
            window_1d("tukey", length),
            windows.tukey(length, alpha=0.5, sym=True).astype(np.float32),
        )


# --------------------------------------------------------------------------- convention


def test_old_keyword_names_still_work_for_one_release_with_a_warning():
    reference = texture((128, 128), seed=5)
    moving = fourier_shifted(reference, (-1.5, 2.0))
    new = shift_field(reference, moving, window_size_px=64, step_px=32)
    with pytest.warns(DeprecationWarning, match=r"window_size=\.\.\.\) is spelt window_size_px"):
        old = shift_field(reference, moving, window_size=64, step_px=32)
    np.testing.assert_array_equal(old.shifts, new.shifts)
    with pytest.warns(DeprecationWarning, match="step_px"):
        old = shift_field(reference, moving, window_size_px=64, step=32)
    np.testing.assert_array_equal(old.shifts, new.shifts)

    image = texture((256, 256), seed=12, sigma=1.5)
    warped_image, _ = warped(image, angle=0, scale=1, shift=(5.0, 3.0))
    with pytest.warns(DeprecationWarning, match="ransac_threshold_px"):
        old_match = match_features(image, warped_image, ransac_threshold=3.0)
    new_match = match_features(image, warped_image, ransac_threshold_px=3.0)
    np.testing.assert_array_equal(old_match.matrix, new_match.matrix)


def test_method_model_and_detector_names_share_one_wording():
    reference, moving = raster_pair()
    with pytest.raises(InvalidInputError, match="unknown registration method 'optical-flow'"):
        coregister(reference, moving, method="optical-flow")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown model 'projective'; known: similarity"):
        coregister(reference, moving, method="features", model="projective")  # type: ignore[arg-type]
    # a phase match ignores the feature options, as before
    fixed = coregister(reference, moving, model="projective")  # type: ignore[arg-type]
    assert fixed.attrs["registration_method"] == "phase"
    # case does not matter: "Homography" is the homography, refused without resampling
    with pytest.raises(InvalidInputError, match="homography cannot be written"):
        coregister(reference, moving, method="Features", model="Homography")  # type: ignore[arg-type]


def test_a_transposed_or_dateless_raster_is_refused_by_the_common_check():
    from satlearn.errors import DimensionError

    reference, moving = raster_pair()
    with pytest.raises(DimensionError, match=r"moving must have dims \(band, y, x\) or \(y, x\)"):
        coregister(reference, moving.transpose("y", "x", "band"))
    with pytest.raises(DimensionError, match=r"stack must have dims \(time, band, y, x\)"):
        coregister_series(reference)


def test_importing_the_package_loads_numpy_only():
    # `satlearn register` and array users pay for scipy, cv2 and xarray on first use only.
    code = (
        "import sys\n"
        "import satlearn.ops.registration\n"
        "heavy = ('scipy', 'cv2', 'xarray', 'rioxarray', 'rasterio', 'dask')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
