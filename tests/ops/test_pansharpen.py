"""Pansharpening: kernels, grid handling, the chunked two-pass path, GDAL agreement.

The command line is tested in tests/cli/test_cli_pansharpen.py."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from conftest import make_dataarray, write_geotiff
from satlearn.errors import CRSMismatchError, DimensionError, InvalidInputError
from satlearn.ops import pansharpen as ps
from satlearn.ops.pansharpen import (
    FusionStatistics,
    brovey,
    component_substitution,
    estimate_statistics,
    fast_ihs,
    gdal_pansharpen,
    gram_schmidt,
    hpf,
    method_parameters,
    mtf_sigma,
    pansharpen,
    pansharpen_arrays,
    pca,
    resample_to_pan,
    simple_mean,
)
from satlearn.ops.quality import sam, wald_protocol
from satlearn.raster import open_raster

RNG = np.random.default_rng(7)
MS_TRANSFORM = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3408645.0)
# Landsat 8's layout: the 15 m pan grid starts half a pan pixel before the MS grid.
PAN_TRANSFORM = Affine(15.0, 0.0, 452467.5, 0.0, -15.0, 3408652.5)
CRS = "EPSG:32616"


def smooth_field(shape: tuple[int, ...], sigma: float = 2.0) -> np.ndarray:
    from scipy import ndimage

    field = ndimage.gaussian_filter(RNG.random(shape), sigma)
    return (field - field.min()) / np.ptp(field)


def moved(da: xr.DataArray, transform: Affine) -> xr.DataArray:
    """The same values on another grid (rioxarray reads the transform from the coords)."""
    values = da.values if da.ndim == 3 else da.values[None]
    return make_dataarray(values, names=list(da.band.values), crs=CRS, transform=transform)


def scene_pair(height: int = 48, width: int = 40, bands: int = 3):
    """A smooth MS with its pan made of the same surface, on Landsat-like offset grids."""
    fine = 0.1 + smooth_field((bands, 2 * height + 2, 2 * width + 2), 3.0)
    ms = fine[:, 1::2, 1::2][:, :height, :width].astype("float32") * 1000
    pan = (fine.mean(axis=0)[: 2 * height, : 2 * width] * 1000).astype("float32")
    ms_da = make_dataarray(
        ms, names=["blue", "green", "red", "nir"][:bands], crs=CRS, transform=MS_TRANSFORM
    )
    pan_da = make_dataarray(pan[None], names=["pan"], crs=CRS, transform=PAN_TRANSFORM)
    return ms_da, pan_da


@pytest.fixture(scope="module")
def scene():
    from satlearn.synth import make_scene

    return make_scene(64, seed=0, n_dates=1)


# --------------------------------------------------------------------------- kernels


def test_brovey_output_reproduces_the_pan_through_the_weights_and_keeps_spectral_angles():
    ms = RNG.uniform(10, 100, (3, 16, 16))
    pan = RNG.uniform(10, 100, (16, 16))
    weights = [0.2, 0.3, 0.5]
    out = brovey(ms, pan, weights=weights)
    np.testing.assert_allclose(np.tensordot(weights, out, axes=1), pan, rtol=1e-10)
    assert sam(ms, out) < 1e-5
    # GDAL's default weights are 1/B.
    np.testing.assert_allclose(brovey(ms, pan), brovey(ms, pan, weights=[1 / 3] * 3))


def test_brovey_gives_zero_where_the_pseudo_pan_is_zero():
    ms = np.ones((2, 2, 2))
    ms[:, 0, 0] = 0
    out = brovey(ms, np.full((2, 2), 5.0))
    assert np.all(out[:, 0, 0] == 0)
    assert np.all(out[:, 1, 1] == 5.0)


def test_simple_mean_averages_each_band_with_the_pan():
    out = simple_mean(np.array([[[2.0]], [[4.0]]]), np.array([[6.0]]))
    np.testing.assert_array_equal(out[:, 0, 0], [4.0, 5.0])


def test_kernels_reject_a_pan_off_the_ms_grid_and_non_3d_ms():
    with pytest.raises(InvalidInputError, match="resample the MS"):
        brovey(np.ones((2, 4, 4)), np.ones((8, 8)))
    with pytest.raises(InvalidInputError, match="band, y, x"):
        simple_mean(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(InvalidInputError, match="3 values"):
        brovey(np.ones((3, 4, 4)), np.ones((4, 4)), weights=[1, 2])
    with pytest.raises(InvalidInputError, match="finite"):
        brovey(np.ones((2, 4, 4)), np.ones((4, 4)), weights=[1, np.nan])
    # A (1, H, W) pan is accepted as (H, W); integers are computed in float.
    out = simple_mean(np.ones((1, 2, 2), dtype="uint8"), np.full((1, 2, 2), 2, dtype="uint8"))
    assert out.dtype == np.float32
    assert out[0, 0, 0] == 1.5


def test_component_substitution_with_unit_gains_makes_the_intensity_the_matched_pan():
    ms = RNG.uniform(0, 1, (3, 10, 10))
    pan = RNG.uniform(0, 1, (10, 10))
    weights = np.array([0.5, 0.25, 0.25])
    out = component_substitution(
        ms, pan, weights=weights, gains=[1, 1, 1], pan_gain=2.0, pan_offset=0.5
    )
    np.testing.assert_allclose(np.tensordot(weights, out, axes=1), 2 * pan + 0.5)


def test_gram_schmidt_and_ihs_leave_the_ms_alone_when_the_pan_is_their_intensity():
    ms = 1 + smooth_field((3, 64, 64), 8.0)
    pan = ms.mean(axis=0)
    # The pan is matched to I with the low-passed pan's spread: a smooth scene keeps them equal.
    np.testing.assert_allclose(gram_schmidt(ms, pan), ms, atol=0.02)
    np.testing.assert_allclose(fast_ihs(ms, pan), ms, atol=0.02)


def test_pca_puts_the_pan_into_the_first_principal_component():
    ms = 1 + smooth_field((3, 32, 32))
    pan = RNG.uniform(0, 1, (32, 32))
    out = pca(ms, pan)
    stats = estimate_statistics(ms, pan, sigma_px=1.0)
    first = np.linalg.eigh(stats.cov[:3, :3])[1][:, -1]
    projected = np.tensordot(first, out, axes=1)
    assert abs(np.corrcoef(projected.ravel(), pan.ravel())[0, 1]) > 0.999


def test_hpf_adds_nothing_from_a_flat_pan_and_its_modulation_keeps_angles():
    ms = 1 + smooth_field((2, 24, 24))
    flat = np.full((24, 24), 3.0)
    for injection in ("local", "global", "modulation"):
        np.testing.assert_allclose(hpf(ms, flat, sigma_px=1.0, injection=injection), ms, rtol=1e-6)
    pan = 1 + RNG.random((24, 24))
    assert sam(ms, hpf(ms, pan, sigma_px=1.0, injection="modulation")) < 1e-5
    assert sam(ms, hpf(ms, pan, sigma_px=1.0, injection="global", gains=[1.0, -1.0])) > 1.0


def test_hpf_local_gains_follow_the_sign_of_each_bands_relation_to_the_pan():
    pan = smooth_field((40, 40), 1.0) + 1
    from scipy import ndimage

    low = ndimage.gaussian_filter(pan, 1.0)
    ms = np.stack([low, 3 - low])  # the second band is anti-correlated with the pan
    out = hpf(ms, pan, sigma_px=1.0, window_px=5, regularization=1e-9)
    detail = pan - low
    np.testing.assert_allclose(out[0] - ms[0], detail, atol=1e-3)
    np.testing.assert_allclose(out[1] - ms[1], -detail, atol=1e-3)


def test_hpf_rejects_bad_options():
    with pytest.raises(InvalidInputError, match="injection"):
        hpf(np.ones((1, 8, 8)), np.ones((8, 8)), sigma_px=1.0, injection="sideways")
    with pytest.raises(InvalidInputError, match="window"):
        hpf(np.ones((1, 8, 8)), np.ones((8, 8)), sigma_px=1.0, window_px=0)


def test_mtf_sigma_gives_the_requested_gain_at_the_coarse_nyquist():
    for ratio in (2, 4):
        sigma = mtf_sigma(ratio, mtf_gain=0.3)
        frequency = 1 / (2 * ratio)
        assert np.exp(-2 * np.pi**2 * sigma**2 * frequency**2) == pytest.approx(0.3)
    with pytest.raises(InvalidInputError, match="mtf_gain"):
        mtf_sigma(2, mtf_gain=1.5)
    with pytest.raises(InvalidInputError, match="ratio"):
        mtf_sigma(0)


def test_auto_weights_recover_the_pan_spectral_response():
    ms = RNG.uniform(0, 1, (3, 2000))
    true = np.array([0.6, 0.4, 0.0])
    stack = np.vstack([ms, true @ ms, true @ ms])
    stats = FusionStatistics(stack.mean(axis=1), np.cov(stack), stack.shape[1])
    weights = method_parameters("brovey", stats, count=3, weights="auto")["weights"]
    np.testing.assert_allclose(weights, true, atol=1e-6)
    assert stats.count == 3


def test_method_parameters_need_statistics_and_known_names():
    with pytest.raises(InvalidInputError, match="statistics"):
        method_parameters("gram-schmidt", None, count=3)
    with pytest.raises(InvalidInputError, match="unknown pansharpening method"):
        method_parameters("wavelets", None, count=3)
    with pytest.raises(InvalidInputError, match="'auto'"):
        method_parameters("brovey", None, count=3, weights="best")
    with pytest.raises(InvalidInputError, match="all zero"):
        method_parameters("brovey", None, count=2, weights=[0, 0])
    stack = RNG.random((5, 100))
    stats = FusionStatistics(stack.mean(axis=1), np.cov(stack), 100)
    with pytest.raises(InvalidInputError, match="injection"):
        method_parameters("hpf", stats, count=3, injection="sideways")
    assert method_parameters("gs", stats, count=3)["gains"].shape == (3,)
    assert method_parameters("mean", None, count=3) == {}


def test_statistics_need_valid_pixels():
    with pytest.raises(InvalidInputError, match="valid pixels"):
        estimate_statistics(np.full((2, 4, 4), np.nan), np.ones((4, 4)), sigma_px=1.0)


# --------------------------------------------------------------------------- grids


def test_resample_to_pan_honours_the_half_pixel_offset_of_the_grids():
    height, width = 20, 24
    cols = np.broadcast_to(np.arange(width, dtype="float32"), (height, width))
    ms = make_dataarray(np.stack([cols, np.ones_like(cols)]), crs=CRS, transform=MS_TRANSFORM)
    pan = np.ones((1, 2 * height, 2 * width), "float32")
    pan = make_dataarray(pan, crs=CRS, transform=PAN_TRANSFORM)
    up = resample_to_pan(ms, pan, resampling="bilinear")
    # Pan column c has its centre at MS column coordinate (c + 0.5) / 2 - 0.25, i.e. the
    # ramp value (c + 0.5) / 2 - 0.75 (MS pixel centres sit at k + 0.5).
    expected = (np.arange(2 * width) + 0.5) / 2 - 0.75
    np.testing.assert_allclose(up.values[0, 10, 4:-4], expected[4:-4], atol=1e-4)
    assert up.rio.transform() == PAN_TRANSFORM
    assert list(up.band.values) == ["b1", "b2"]


def test_pansharpen_returns_the_pan_grid_with_ms_band_names(scene):
    ms = scene.image.isel(time=0).sel(band=["blue", "green", "red", "nir"])
    pan = scene.pan.isel(time=0)
    for method in ps.METHODS:
        out = pansharpen(ms, pan, method=method)
        assert out.dims == ("band", "y", "x")
        assert out.shape == (4, *pan.shape)
        assert out.dtype == np.float32
        assert list(out.band.values) == ["blue", "green", "red", "nir"]
        assert out.rio.transform() == pan.rio.transform()
        assert out.rio.crs == pan.rio.crs
        assert out.attrs["pansharpen_method"] == method
        assert np.isfinite(out.values).all()


def test_every_method_but_the_mean_improves_on_the_upsampled_ms_for_the_synthetic_scene(scene):
    ms = scene.image.isel(time=0).sel(band=["blue", "green", "red", "nir"])
    pan = scene.pan.isel(time=0)

    def upsampled_only(ms_low, pan_low):
        return resample_to_pan(ms_low, pan_low)

    baseline = wald_protocol(ms, pan, method=upsampled_only, block_size=16)
    for method in ("brovey", "ihs", "gram-schmidt", "hpf"):
        scores = wald_protocol(ms, pan, method=method, weights="auto", block_size=16)
        assert scores["ergas"] < baseline["ergas"], method


def test_chunked_path_matches_the_in_memory_path():
    ms, pan = scene_pair(60, 52, 4)
    for method, options in [
        ("brovey", {"weights": [0.1, 0.2, 0.3, 0.4]}),
        ("mean", {}),
        ("ihs", {}),
        ("gram-schmidt", {"weights": "auto"}),
        ("pca", {}),
        ("hpf", {}),
        ("hpf", {"injection": "global"}),
        ("hpf", {"injection": "modulation"}),
    ]:
        eager = pansharpen(ms, pan, method=method, **options)
        lazy = pansharpen(ms, pan, method=method, chunks=32, **options)
        assert lazy.chunks is not None
        np.testing.assert_allclose(lazy.values, eager.values, rtol=2e-4, atol=1e-2, err_msg=method)


def test_dask_inputs_stay_lazy_and_the_statistics_come_from_a_block_sample():
    ms, pan = scene_pair(64, 64, 3)
    lazy = pansharpen(ms.chunk({"y": 16, "x": 16}), pan, method="gram-schmidt", sample_pixels=1)
    assert lazy.chunks is not None
    assert lazy.data.chunksize[1:] == (128, 128)
    sampled = pansharpen(ms, pan, method="gram-schmidt", chunks=32, sample_pixels=2000)
    full = pansharpen(ms, pan, method="gram-schmidt")
    # One in four blocks gives nearly the whole-image statistics on this homogeneous scene.
    assert np.mean(np.abs(sampled.values - full.values)) < 0.05 * np.mean(np.abs(full.values))
    strided = pansharpen(ms, pan, method="ihs", sample_pixels=500)
    assert np.isfinite(strided.values).all()


def test_ms_nodata_and_pixels_outside_the_ms_become_nan():
    ms, pan = scene_pair(20, 20, 3)
    data = ms.values.copy()
    data[:, 5, 5] = 0
    ms = ms.copy(data=data).rio.write_nodata(0)
    # A pan shifted 10 pan pixels east reaches past the MS footprint.
    pan = moved(pan, PAN_TRANSFORM @ Affine.translation(10, 0))
    out = pansharpen(ms, pan, method="brovey")
    assert np.isnan(out.values[:, :, -5:]).all()
    assert np.isnan(out.values[:, 10, 0]).all()  # the nodata MS pixel
    assert np.isfinite(out.values[:, 30, 5]).all()
    assert np.isnan(out.rio.nodata)


def test_pan_nodata_becomes_nan():
    ms, pan = scene_pair(16, 16, 3)
    data = pan.values.copy()
    data[0, 3, 3] = -1
    pan = pan.copy(data=data).rio.write_nodata(-1)
    out = pansharpen(ms, pan, method="brovey", chunks=16)
    assert np.isnan(out.values[:, 3, 3]).all()
    assert np.isfinite(out.values[:, 4, 4]).all()


def test_pansharpen_errors_name_the_problem():
    ms, pan = scene_pair(16, 16, 3)
    with pytest.raises(CRSMismatchError, match="EPSG:32617"):
        pansharpen(ms, pan.rio.write_crs("EPSG:32617"))
    bare = make_dataarray(pan.values, crs=None, transform=PAN_TRANSFORM)
    with pytest.raises(CRSMismatchError, match="pan has no CRS"):
        pansharpen(ms, bare)
    far = moved(pan, PAN_TRANSFORM @ Affine.translation(10_000, 0))
    with pytest.raises(InvalidInputError, match="do not overlap"):
        pansharpen(ms, far)
    with pytest.raises(InvalidInputError, match="dims"):
        pansharpen(ms.isel(band=0), pan)
    with pytest.raises(InvalidInputError, match="dims"):
        pansharpen(ms, ms)
    with pytest.raises(InvalidInputError, match="DataArray"):
        pansharpen(ms.values, pan)
    with pytest.raises(InvalidInputError, match="DataArray"):
        pansharpen(ms, pan.values)
    with pytest.raises(InvalidInputError, match="too small"):
        pansharpen(ms.isel(x=[0]), pan)
    with pytest.raises(InvalidInputError, match="unknown pansharpening method"):
        pansharpen(ms, pan, method="wavelets")
    with pytest.raises(InvalidInputError, match="3 values"):
        pansharpen(ms, pan, weights=[1, 2])
    with pytest.raises(InvalidInputError, match="chunks"):
        pansharpen(ms, pan, chunks=4)
    with pytest.raises(InvalidInputError, match="injection"):
        pansharpen(ms, pan, method="hpf", injection="sideways")
    with pytest.raises(InvalidInputError, match="window"):
        pansharpen(ms, pan, method="hpf", window_px=0)
    with pytest.raises(InvalidInputError, match="resampling"):
        pansharpen(ms, pan, resampling="magic")


def test_ungeoreferenced_pair_with_transforms_only_is_fused():
    ms, pan = scene_pair(16, 16, 3)
    ms_bare = make_dataarray(ms.values, crs=None, transform=MS_TRANSFORM)
    pan_bare = make_dataarray(pan.values, crs=None, transform=PAN_TRANSFORM)
    np.testing.assert_allclose(
        pansharpen(ms_bare, pan_bare).values, pansharpen(ms, pan).values, rtol=1e-6
    )


# --------------------------------------------------------------------------- GDAL peer


def write_pair(tmp_path, ms: xr.DataArray, pan: xr.DataArray):
    ms_path = write_geotiff(tmp_path / "ms.tif", ms.values, crs=CRS, transform=ms.rio.transform())
    pan_path = write_geotiff(
        tmp_path / "pan.tif", pan.values, crs=CRS, transform=pan.rio.transform()
    )
    return ms_path, pan_path


def test_brovey_matches_gdal_vrt_pansharpening_on_nested_grids(tmp_path):
    ms, pan = scene_pair(40, 40, 3)
    aligned = moved(pan, MS_TRANSFORM @ Affine.scale(0.5))
    ms_path, pan_path = write_pair(tmp_path, ms, aligned)
    weights = [0.2, 0.5, 0.3]
    for resampling in ("bilinear", "cubic"):
        ours = pansharpen(ms, aligned, weights=weights, resampling=resampling).values
        theirs = gdal_pansharpen(ms_path, pan_path, weights=weights, resampling=resampling)
        assert theirs.rio.transform() == aligned.rio.transform()
        # Away from the edges (3 MS pixels), GDAL's RasterIO and its warper agree.
        inner = (slice(None), slice(6, -6), slice(6, -6))
        relative = np.abs(ours[inner] - theirs.values[inner]) / np.abs(theirs.values[inner])
        assert relative.max() < 1e-5, resampling


def test_gdal_pansharpen_reports_missing_files(tmp_path):
    with pytest.raises(InvalidInputError, match="no such file"):
        gdal_pansharpen(tmp_path / "ms.tif", tmp_path / "pan.tif")


def test_brovey_matches_gdal_on_the_real_spacenet_pair(shared_data, tmp_path):
    folder = shared_data / "spacenet6-pan-ms-solaris"
    ms = open_raster(folder / "ms1.tif")
    pan = open_raster(folder / "pan1.tif")
    # GDAL works in the pan's data type: a float pan keeps it from rounding.
    with rasterio.open(folder / "pan1.tif") as src:
        profile = src.profile | {"dtype": "float32"}
        values = src.read().astype("float32")
    with rasterio.open(tmp_path / "pan.tif", "w", **profile) as dst:
        dst.write(values)
    ours = pansharpen(ms, pan).values
    theirs = gdal_pansharpen(folder / "ms1.tif", tmp_path / "pan.tif", dtype="Float64").values
    inner = (slice(None), slice(8, -8), slice(8, -8))
    relative = np.abs(ours[inner] - theirs[inner]) / np.abs(theirs[inner])
    assert np.percentile(relative, 99.9) < 1e-5
    assert relative.max() < 2e-3  # where the cubic pseudo-pan nears zero


def test_hpf_beats_gdal_brovey_on_ergas_and_sam_for_both_real_pairs(shared_data):
    landsat = shared_data / "landsat8-l1t-crop"
    bands = [open_raster(landsat / f"l8_B{i}.tif") for i in (2, 3, 4, 5)]
    ms = xr.concat(bands, "band").assign_coords(band=["blue", "green", "red", "nir"])
    ms = ms.rio.write_transform(bands[0].rio.transform()).rio.write_crs(bands[0].rio.crs)
    spacenet = shared_data / "spacenet6-pan-ms-solaris"
    pairs = [
        (ms, open_raster(landsat / "l8_B8.tif")),
        (open_raster(spacenet / "ms1.tif"), open_raster(spacenet / "pan1.tif")),
    ]
    for ms_da, pan_da in pairs:
        reference = wald_protocol(ms_da, pan_da, method="brovey")
        best = wald_protocol(ms_da, pan_da, method="hpf")
        assert best["ergas"] < reference["ergas"]
        assert best["sam"] < reference["sam"]


def test_nearest_copies_ms_pixels_and_lanczos_goes_through_gdals_warper():
    ms, pan = scene_pair(24, 24, 3)
    nested = moved(pan, MS_TRANSFORM @ Affine.scale(0.5))
    nearest = resample_to_pan(ms, nested, resampling="nearest").values
    np.testing.assert_array_equal(nearest[:, ::2, ::2], ms.values)
    np.testing.assert_array_equal(nearest[:, 1::2, 1::2], ms.values)
    lanczos = resample_to_pan(ms, nested, resampling="lanczos").values
    cubic = resample_to_pan(ms, nested, resampling="cubic").values
    inner = (slice(None), slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(lanczos[inner], cubic[inner], rtol=0.05)
    lazy = pansharpen(ms, nested, resampling="lanczos", chunks=16).values
    np.testing.assert_allclose(lazy, pansharpen(ms, nested, resampling="lanczos").values, rtol=1e-5)


# --------------------------------------------------------------------------- swapped inputs


def test_a_pan_coarser_than_the_ms_is_refused_as_swapped_inputs():
    ms, pan = scene_pair(16, 16, 1)
    # One band each, so only the resolutions tell which is which.
    with pytest.raises(
        InvalidInputError, match=r"pan pixels \(30\) are coarser than the MS.*swapped"
    ):
        pansharpen(pan, ms.isel(band=0))


def test_a_multi_band_pan_is_refused_naming_the_band_count():
    ms, pan = scene_pair(16, 16, 3)
    with pytest.raises(InvalidInputError, match=r"got 3 bands.*swapped"):
        pansharpen(pan, ms)


def _keys_matrix(n_dst: int, n_src: int, scale: float, offset: float) -> tuple:
    """Dense float64 (n_dst, n_src) Keys-cubic (a = -0.5) matrix, edge taps repeated,
    and its support (the four taps of each row, zero weights included)."""
    u = (np.arange(n_dst) + 0.5) * scale + offset - 0.5
    base = np.floor(u)
    t = u - base
    weights = [
        -0.5 * t**3 + t**2 - 0.5 * t,
        1.5 * t**3 - 2.5 * t**2 + 1.0,
        -1.5 * t**3 + 2.0 * t**2 + 0.5 * t,
        0.5 * t**3 - 0.5 * t**2,
    ]
    matrix = np.zeros((n_dst, n_src))
    support = np.zeros((n_dst, n_src))
    for k, w in zip(range(-1, 3), weights, strict=True):
        taps = (np.arange(n_dst), np.clip(base + k, 0, n_src - 1).astype(int))
        np.add.at(matrix, taps, w)
        support[taps] = 1.0
    return matrix, support


@pytest.mark.parametrize("chunks", [None, 24])
def test_cubic_resampling_is_the_keys_matrix_product_within_float32_rounding(chunks):
    # Issue 11: the compiled separable pass must give what R @ band @ C.T gives
    # (GDAL's kernel), NaN (nodata) spreading over the kernel's whole reach,
    # and the same per dask block as for the whole array.
    rng = np.random.default_rng(11)
    data = rng.uniform(0.0, 1.0, (3, 40, 50)).astype(np.float32)
    data[1, 10, 20] = -1.0  # nodata
    ms_transform = Affine(30.0, 0.0, 600000.0, 0.0, -30.0, 5000000.0)
    pan_transform = Affine(15.0, 0.0, 600007.5, 0.0, -15.0, 4999992.5)  # Landsat-like offset
    ms = make_dataarray(data, transform=ms_transform, nodata=-1.0)
    pan = make_dataarray(np.ones((1, 78, 98), dtype=np.float32), transform=pan_transform)
    if chunks is not None:
        pan = pan.chunk({"y": chunks, "x": chunks})
    up = resample_to_pan(ms, pan, resampling="cubic").values

    rows, row_support = _keys_matrix(78, 40, 0.5, 0.25)
    cols, col_support = _keys_matrix(98, 50, 0.5, 0.25)
    nodata = (data == -1.0).astype(np.float64)
    expected = np.einsum("ir,brc,jc->bij", rows, np.where(data == -1.0, 0.0, data), cols)
    reached = np.einsum("ir,brc,jc->bij", row_support, nodata, col_support) > 0
    expected[reached] = np.nan
    assert np.array_equal(np.isnan(up), np.isnan(expected))
    # At 2x, 8 output rows and 8 output columns have a tap on the nodata pixel.
    assert np.isnan(up[1]).sum() == 64
    np.testing.assert_allclose(up, expected, rtol=0, atol=2e-6, equal_nan=True)


# --------------------------------------------------------------------------- the package face


def test_every_name_of_the_old_module_comes_from_the_face_without_a_warning():
    old_names = [
        "METHODS",
        "FusionStatistics",
        "brovey",
        "component_substitution",
        "estimate_statistics",
        "fast_ihs",
        "gdal_pansharpen",
        "gram_schmidt",
        "hpf",
        "method_parameters",
        "mtf_sigma",
        "pansharpen",
        "pca",
        "resample_to_pan",
        "simple_mean",
        # made public for satlearn.ops.quality
        "check_same_crs",
        "ms_bands",
        "pan_plane",
    ]
    for name in old_names:
        assert name in ps.__all__, name
        value = getattr(ps, name)
        if name != "METHODS":
            assert value.__module__.startswith("satlearn.ops.pansharpen._"), name


def test_importing_the_face_loads_no_heavy_library():
    heavy = ("xarray", "rioxarray", "rasterio", "scipy", "dask", "numba", "torch", "pandas")
    code = (
        "import sys\n"
        "from satlearn.ops.pansharpen import brovey, pansharpen\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_method_names_take_hyphens_and_the_underscore_spelling_warns_at_the_callers_line():
    assert ps.METHODS == ("brovey", "mean", "ihs", "gram-schmidt", "pca", "hpf")
    ms, pan = scene_pair(16, 16, 3)
    hyphen = pansharpen(ms, pan, method="gram-schmidt")
    # Recorded by hand: pytest.warns would also catch (and re-raise) rioxarray's own warnings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        underscore = pansharpen(ms, pan, method="gram_schmidt")
    [warning] = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "'gram_schmidt' is spelt 'gram-schmidt'" in str(warning.message)
    assert warning.filename == __file__
    np.testing.assert_array_equal(underscore.values, hyphen.values)
    assert underscore.attrs["pansharpen_method"] == "gram-schmidt"
    # Aliases stay silent; their underscore spellings warn like the names.
    assert pansharpen(ms, pan, method="GS").attrs["pansharpen_method"] == "gram-schmidt"
    assert ps.canonical_method("fast-ihs") == "ihs"
    with pytest.warns(DeprecationWarning, match="'simple-mean'") as caught:
        assert method_parameters("simple_mean", None, count=3) == {}
    assert [w.filename for w in caught] == [__file__]
    with pytest.warns(DeprecationWarning, match="spelt 'gram-schmidt'"):
        pansharpen_arrays(ms.values, ms.values[0], method="gram_schmidt")
    with pytest.raises(InvalidInputError, match="unknown pansharpening method 'wavelets'"):
        pansharpen_arrays(ms.values, ms.values[0], method="wavelets")


def test_the_whole_array_forms_are_pansharpen_arrays_and_agree_with_pansharpen():
    ms, pan = scene_pair(24, 24, 3)
    up = resample_to_pan(ms, pan).values
    plane = pan.values[0]
    np.testing.assert_array_equal(
        fast_ihs(up, plane, weights="auto"),
        pansharpen_arrays(up, plane, method="ihs", weights="auto"),
    )
    np.testing.assert_array_equal(
        gram_schmidt(up, plane, ratio=2.0), pansharpen_arrays(up, plane, method="gram-schmidt")
    )
    np.testing.assert_array_equal(pca(up, plane), pansharpen_arrays(up, plane, method="pca"))
    # At ratio 2 on a scene under sample_pixels both run the same statistics and kernel.
    for method in ps.METHODS:
        np.testing.assert_allclose(
            pansharpen_arrays(up, plane, method=method, ratio=2.0),
            pansharpen(ms, pan, method=method).values,
            rtol=1e-6,
            atol=1e-3,
            equal_nan=True,
            err_msg=method,
        )


def test_inputs_are_checked_by_check_raster_and_any_order_of_the_dims_still_works():
    ms, pan = scene_pair(16, 16, 3)
    with pytest.raises(DimensionError, match="ms must have dims"):
        pansharpen(ms.isel(band=0), pan)
    with pytest.raises(DimensionError, match=r"got 3 bands.*swapped"):
        pansharpen(ms, ms)
    with pytest.raises(DimensionError, match="time dimension"):
        pansharpen(ms.expand_dims(time=2), pan)
    with pytest.raises(DimensionError, match="numbers"):
        pansharpen(ms.astype(str), pan)
    expected = pansharpen(ms, pan).values
    swapped_dims = pansharpen(ms.transpose("y", "x", "band"), pan.isel(band=0).transpose())
    np.testing.assert_array_equal(swapped_dims.values, expected)


def test_the_old_keywords_sigma_and_window_still_work_with_a_warning():
    ms, pan = scene_pair(16, 16, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = pansharpen(ms, pan, method="hpf", window=3)
    [warning] = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert "window_px=" in str(warning.message)
    assert warning.filename == __file__
    new = pansharpen(ms, pan, method="hpf", window_px=3)
    np.testing.assert_array_equal(old.values, new.values)
    with pytest.raises(TypeError, match="new name"):
        pansharpen(ms, pan, window=3, window_px=3)
    x, p = 1 + smooth_field((2, 24, 24)), 1 + RNG.random((24, 24))
    with pytest.warns(DeprecationWarning, match="spelt") as caught:
        kernel = hpf(x, p, sigma=1.0, window=3)
    assert sorted(str(w.message).split("(")[1].split(")")[0] for w in caught) == [
        "sigma=...",
        "window=...",
    ]
    np.testing.assert_array_equal(kernel, hpf(x, p, sigma_px=1.0, window_px=3))
    with pytest.warns(DeprecationWarning, match="sigma_px="):
        estimate_statistics(x, p, sigma=1.0)
    with pytest.warns(DeprecationWarning, match="window_px="):
        assert method_parameters("mean", None, count=2, window=3) == {}


@pytest.mark.parametrize("resampling", ["cubic", "bilinear", "nearest", "lanczos"])
def test_fused_brovey_is_resample_then_brovey_within_float32_rounding(resampling):
    # Fixed-weight Brovey runs in one pass with the resampling (the compiled
    # separable kernels; lanczos warps with GDAL, then fuses per block): the
    # same values as the two steps apart, NaN (no data, outside the MS) in the
    # same places, and the numpy and dask paths bit for bit alike.
    ms, pan = scene_pair(20, 24, 3)
    data = ms.values.copy()
    data[:, 4, 6] = 0
    ms = ms.copy(data=data).rio.write_nodata(0)
    pan = moved(pan, PAN_TRANSFORM @ Affine.translation(6, -3))  # reaches past the MS
    weights = [0.2, 0.5, 0.3]
    fused = pansharpen(ms, pan, weights=weights, resampling=resampling)
    up = resample_to_pan(ms, pan, resampling=resampling)
    apart = brovey(up.values, pan.values[0], weights=weights)
    assert np.isnan(apart).any() and np.isfinite(apart).any()
    np.testing.assert_allclose(fused.values, apart, rtol=1e-6, atol=0, equal_nan=True)
    assert fused.rio.transform() == up.rio.transform() and np.isnan(fused.rio.nodata)
    assert fused.attrs["pansharpen_method"] == "brovey"
    lazy = pansharpen(ms, pan, weights=weights, resampling=resampling, chunks=16)
    if resampling != "lanczos":  # GDAL's warper differs a little per block
        np.testing.assert_array_equal(lazy.values, fused.values)
