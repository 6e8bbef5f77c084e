"""Fusion quality metrics (ERGAS, SAM, Q, Q2n, SSIM, PSNR) and the Wald protocol."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from conftest import make_dataarray
from satlearn.errors import CRSMismatchError, InvalidInputError
from satlearn.ops import quality
from satlearn.ops.quality import (
    ergas,
    psnr,
    q2n,
    quality_report,
    sam,
    ssim,
    uiqi,
    wald_degrade,
    wald_protocol,
)

RNG = np.random.default_rng(3)
CRS = "EPSG:32616"
MS_TRANSFORM = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3408645.0)
PAN_TRANSFORM = Affine(15.0, 0.0, 452467.5, 0.0, -15.0, 3408652.5)


def textured(shape: tuple[int, ...]) -> np.ndarray:
    from scipy import ndimage

    return 50 + 100 * ndimage.gaussian_filter(RNG.random(shape), (0, 1.5, 1.5)[-len(shape) :])


# --------------------------------------------------------------------------- ERGAS, SAM


def test_ergas_is_100_over_ratio_times_the_relative_rmse():
    ref = np.full((2, 8, 8), 100.0)
    assert ergas(ref, ref, ratio=4) == 0.0
    assert ergas(ref, ref + 10, ratio=2) == pytest.approx(5.0)
    assert ergas(ref, ref + 10, ratio=4) == pytest.approx(2.5)
    # Band 2 errs twice as much relative to its mean: sqrt((0.1^2 + 0.2^2) / 2).
    ref[1] = 50
    assert ergas(ref, ref + 10 * np.array([1, 1])[:, None, None], ratio=1) == pytest.approx(
        100 * np.sqrt((0.01 + 0.04) / 2)
    )


def test_ergas_rejects_zero_mean_bands_and_bad_ratio():
    with pytest.raises(InvalidInputError, match="zero mean"):
        ergas(np.zeros((1, 4, 4)), np.ones((1, 4, 4)), ratio=2)
    with pytest.raises(InvalidInputError, match="ratio"):
        ergas(np.ones((1, 4, 4)), np.ones((1, 4, 4)), ratio=0)


def test_sam_measures_angles_ignores_scale_and_skips_zero_vectors():
    ref = textured((4, 16, 16))
    assert sam(ref, 3 * ref) == pytest.approx(0.0, abs=1e-5)
    ref2 = np.stack([np.ones((2, 2)), np.zeros((2, 2))])
    fused = np.stack([np.ones((2, 2)), np.ones((2, 2))])
    assert sam(ref2, fused) == pytest.approx(45.0)
    fused[:, 0, 0] = 0  # a zero vector has no angle: left out
    assert sam(ref2, fused) == pytest.approx(45.0)
    with pytest.raises(InvalidInputError, match="every pixel vector is zero"):
        sam(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)))


def test_metrics_check_shapes_and_finiteness():
    with pytest.raises(InvalidInputError, match="differs"):
        sam(np.ones((2, 4, 4)), np.ones((2, 4, 5)))
    with pytest.raises(InvalidInputError, match="band, y, x"):
        sam(np.ones(4), np.ones(4))
    with pytest.raises(InvalidInputError, match="finite"):
        psnr(np.ones((1, 4, 4)), np.full((1, 4, 4), np.nan))
    with pytest.raises(InvalidInputError, match="empty"):
        psnr(np.ones((1, 0, 4)), np.ones((1, 0, 4)))
    # A (y, x) pair counts as one band.
    assert ergas(np.full((4, 4), 10.0), np.full((4, 4), 11.0), ratio=1) == pytest.approx(10.0)


# --------------------------------------------------------------------------- Q, Q2n


def test_uiqi_of_a_contrast_change_is_its_luminance_and_contrast_terms():
    ref = textured((2, 40, 40))
    assert uiqi(ref, ref, block_size=8) == pytest.approx(1.0)
    # fused = 2 ref: correlation 1, luminance 2*2/(1+4), contrast 2*2/(1+4).
    assert uiqi(ref, 2 * ref, block_size=8) == pytest.approx(0.64, abs=1e-6)
    noisy = ref + RNG.normal(0, 5, ref.shape)
    assert 0 < uiqi(ref, noisy, block_size=8) < 0.99


def test_uiqi_scores_equal_flat_windows_one_and_unequal_ones_by_luminance():
    flat = np.full((1, 16, 16), 4.0)
    assert uiqi(flat, flat, block_size=8) == pytest.approx(1.0)
    assert uiqi(flat, flat / 2, block_size=8) == pytest.approx(2 * 4 * 2 / (16 + 4))
    zeros = np.zeros((1, 16, 16))
    assert uiqi(zeros, zeros, block_size=8) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="smaller than block_size"):
        uiqi(flat, flat, block_size=32)
    with pytest.raises(InvalidInputError, match="block_size"):
        uiqi(flat, flat, block_size=1)


def test_cayley_dickson_products_keep_the_norm_multiplicative_up_to_octonions():
    for parts in (2, 4, 8):
        a = RNG.normal(size=(parts, 5))
        b = RNG.normal(size=(parts, 5))
        product = quality._cd_product(a, b)
        np.testing.assert_allclose(
            np.linalg.norm(product, axis=0),
            np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0),
        )
    # Quaternions: i * j = k, j * i = -k.
    i, j = np.eye(4)[1][:, None], np.eye(4)[2][:, None]
    np.testing.assert_array_equal(quality._cd_product(i, j)[:, 0], [0, 0, 0, 1])
    np.testing.assert_array_equal(quality._cd_product(j, i)[:, 0], [0, 0, 0, -1])


def test_q2n_is_one_for_identical_images_and_penalises_spectral_distortion():
    ref = textured((4, 64, 64))
    assert q2n(ref, ref) == pytest.approx(1.0)
    noisy = ref + RNG.normal(0, 1, ref.shape)
    swapped = ref[[1, 0, 2, 3]]
    assert q2n(ref, swapped) < q2n(ref, noisy) < 1.0


def test_q2n_pads_band_counts_to_a_power_of_two_and_handles_flat_blocks():
    for bands in (1, 3, 5):
        ref = textured((bands, 32, 32))
        assert q2n(ref, ref, block_size=16) == pytest.approx(1.0)
        assert q2n(ref, ref * 1.5, block_size=16) < 1.0
    flat = np.ones((2, 16, 16))
    assert q2n(flat, flat, block_size=8) == pytest.approx(1.0)


# --------------------------------------------------------------------------- SSIM, PSNR


def test_ssim_is_one_for_identical_bands_and_drops_with_noise():
    ref = textured((3, 32, 32))
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(ref, ref + RNG.normal(0, 10, ref.shape)) < 0.9
    assert ssim(ref, ref + RNG.normal(0, 10, ref.shape), data_range=1e6) > 0.99
    flat = np.ones((1, 12, 12))
    assert ssim(flat, flat) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="11 x 11"):
        ssim(np.ones((1, 9, 9)), np.ones((1, 9, 9)))


def test_psnr_follows_its_definition():
    ref = np.zeros((1, 4, 4))
    ref[0, 0, 0] = 1.0
    assert psnr(ref, ref + 0.1) == pytest.approx(20.0)
    assert psnr(ref, ref + 0.1, data_range=10) == pytest.approx(40.0)
    assert psnr(ref, ref) == np.inf
    with pytest.raises(InvalidInputError, match="data_range"):
        psnr(np.ones((1, 4, 4)), np.ones((1, 4, 4)))


def test_quality_report_gathers_every_metric():
    ref = textured((4, 40, 40))
    report = quality_report(ref, ref * 1.01, ratio=2, block_size=16)
    assert set(report) == {"ergas", "sam", "q", "q2n", "ssim", "psnr"}
    assert report["ergas"] == pytest.approx(0.5, rel=0.01)
    assert report["sam"] == pytest.approx(0.0, abs=1e-5)


# --------------------------------------------------------------------------- Wald protocol


def offset_pair(height: int = 40, width: int = 40, bands: int = 4):
    ms = textured((bands, height, width)).astype("float32")
    pan = textured((2 * height, 2 * width)).astype("float32")[None]
    ms_da = make_dataarray(ms, names=["blue", "green", "red", "nir"][:bands], crs=CRS,
                           transform=MS_TRANSFORM)  # fmt: skip
    pan_da = make_dataarray(pan, names=["pan"], crs=CRS, transform=PAN_TRANSFORM)
    return ms_da, pan_da


def test_wald_degrade_nests_the_grids_and_keeps_constant_images_constant():
    ms, pan = offset_pair(41, 39)
    ms_low, pan_low, reference = wald_degrade(ms, pan)
    assert ms_low.shape == (4, 20, 19)
    assert pan_low.shape == (40, 38) == reference.shape[1:]
    assert ms_low.rio.transform() == MS_TRANSFORM @ Affine.scale(2)
    assert pan_low.rio.transform() == MS_TRANSFORM == reference.rio.transform()
    assert list(ms_low.band.values) == ["blue", "green", "red", "nir"]
    np.testing.assert_array_equal(reference.values, ms.values[:, :40, :38])
    flat_ms = ms.copy(data=np.full(ms.shape, 7.0, dtype="float32"))
    flat_pan = pan.copy(data=np.full(pan.shape, 3.0, dtype="float32"))
    flat_low, flat_pan_low, _ = wald_degrade(flat_ms, flat_pan)
    np.testing.assert_allclose(flat_low.values, 7.0)
    # The pan grid reaches half a pan pixel short of the MS grid's last column: NaN there.
    np.testing.assert_allclose(flat_pan_low.values[:-1, :-1], 3.0, rtol=1e-6)


def test_wald_degrade_blurs_to_the_requested_mtf_gain():
    ms, pan = offset_pair(64, 64, 1)
    # A cosine at the coarse Nyquist frequency (period 4 fine pixels along x), peaking at
    # the centres of the 2 x 2 blocks the degradation averages.
    wave = np.cos(np.pi / 2 * np.arange(64) - np.pi / 4)
    ms = ms.copy(data=np.broadcast_to(wave, (1, 64, 64)).astype("float32"))
    for gain in (0.2, 0.3, 0.6):
        low, _, _ = wald_degrade(ms, pan, mtf_gain=gain)
        amplitude = np.abs(low.values[0, 16, 4:-4]).mean()
        assert amplitude == pytest.approx(gain, rel=0.03)


def test_wald_protocol_scores_a_perfect_fusion_perfectly():
    ms, pan = offset_pair()
    _, _, reference = wald_degrade(ms, pan)

    def oracle(ms_low, pan_low):
        assert pan_low.shape == reference.shape[1:]
        return reference

    scores = wald_protocol(ms, pan, method=oracle, block_size=16)
    assert scores["ergas"] == 0.0
    assert scores["sam"] == pytest.approx(0.0, abs=1e-5)
    assert scores["q"] == pytest.approx(1.0)
    assert scores["q2n"] == pytest.approx(1.0)
    assert scores["ssim"] == pytest.approx(1.0)
    assert scores["psnr"] == np.inf
    assert scores["ratio"] == 2.0
    # 40 x 40 MS pixels minus a 4-pixel border.
    assert scores["n_pixels"] == 32 * 32


def test_wald_protocol_runs_pansharpen_methods_with_their_options():
    ms, pan = offset_pair()
    brovey = wald_protocol(ms, pan, method="brovey", block_size=16)
    weighted = wald_protocol(ms, pan, method="brovey", weights=[1, 0, 0, 0], block_size=16)
    assert brovey["ergas"] != weighted["ergas"]
    assert set(brovey) == {"ergas", "sam", "q", "q2n", "ssim", "psnr", "ratio", "n_pixels"}


def test_wald_protocol_takes_plain_arrays_on_nested_grids():
    ms = textured((3, 32, 32))
    pan = textured((64, 64))
    scores = wald_protocol(ms, pan, method="hpf", ratio=2, block_size=16)
    assert scores["n_pixels"] == 24 * 24
    assert wald_protocol(ms, pan[None], method="mean", ratio=2, block_size=16)["q"] < 1
    with pytest.raises(InvalidInputError, match="ratio= is needed"):
        wald_protocol(ms, pan)
    with pytest.raises(InvalidInputError, match="both as DataArrays"):
        wald_protocol(xr.DataArray(ms, dims=("band", "y", "x")), pan, ratio=2)
    with pytest.raises(InvalidInputError, match="ms must be"):
        wald_protocol(ms[0], pan, ratio=2)


def test_wald_protocol_errors_name_the_problem():
    ms, pan = offset_pair()
    odd = make_dataarray(pan.values, crs=CRS, transform=Affine(12.0, 0, 452475, 0, -12, 3408645))
    with pytest.raises(InvalidInputError, match="not an integer"):
        wald_degrade(ms, odd)
    with pytest.raises(InvalidInputError, match="integer >= 2"):
        wald_degrade(ms, pan, ratio=1)
    with pytest.raises(InvalidInputError, match="too small"):
        wald_degrade(ms.isel(y=slice(0, 3)), pan)
    with pytest.raises(CRSMismatchError):
        wald_degrade(ms, pan.rio.write_crs("EPSG:4326"))
    with pytest.raises(InvalidInputError, match="the fusion has shape"):
        wald_protocol(ms, pan, method=lambda ms_low, pan_low: ms_low)
    with pytest.raises(InvalidInputError, match="no valid pixels"):
        wald_protocol(ms, pan, method=lambda ms_low, pan_low: xr.full_like(
            wald_degrade(ms, pan)[2], np.nan))  # fmt: skip


def test_wald_degrade_turns_nodata_into_nan():
    ms, pan = offset_pair()
    values = ms.values.copy()
    values[:, 10, 10] = 0
    ms = ms.copy(data=values).rio.write_nodata(0)
    pan_values = pan.values.copy()
    pan_values[0, 40, 40] = -1
    pan = pan.copy(data=pan_values).rio.write_nodata(-1)
    ms_low, pan_low, reference = wald_degrade(ms, pan)
    assert np.isnan(reference.values[:, 10, 10]).all()
    assert np.isnan(ms_low.values[:, 5, 5]).all()
    assert np.isnan(pan_low.values[20, 20])


def test_wald_protocol_on_real_landsat_ranks_hpf_above_brovey(shared_data):
    from satlearn.raster import open_raster

    folder = shared_data / "landsat8-l1t-crop"
    bands = [open_raster(folder / f"l8_B{i}.tif") for i in (2, 3, 4)]
    ms = xr.concat(bands, "band").assign_coords(band=["blue", "green", "red"])
    ms = ms.rio.write_crs(bands[0].rio.crs).rio.write_transform(bands[0].rio.transform())
    ms = ms.isel(y=slice(0, 200), x=slice(0, 200))
    pan = open_raster(folder / "l8_B8.tif").isel(y=slice(0, 402), x=slice(0, 402))
    hpf = wald_protocol(ms, pan, method="hpf")
    brovey = wald_protocol(ms, pan, method="brovey")
    assert hpf["ergas"] < brovey["ergas"]
    assert hpf["q2n"] > brovey["q2n"]
    assert 0.5 < hpf["q"] <= 1
