"""Spectral indices over DataArrays: agreement with spyndex, nodata, scaling, errors, dask, faces.

The formula compiler is tested in test_spectral_formula.py, the two engines in
test_spectral_engines.py.
"""

from __future__ import annotations

import warnings

import dask.array
import numpy as np
import pytest
import spyndex
import xarray as xr

import satlearn.spectral as indices
from conftest import CRS, make_dataarray
from satlearn.bands import get_sensor
from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.spectral import _numba as numba_engine
from satlearn.spectral import (
    available_indices,
    compute_formula,
    compute_index,
    describe_index,
    index_names,
)

S2 = get_sensor("sentinel2_l1c")
SYMBOL_OF = {
    "coastal": "A", "blue": "B", "green": "G", "red": "R", "rededge1": "RE1",
    "rededge2": "RE2", "rededge3": "RE3", "nir": "N", "nir08": "N2", "nir09": "WV",
    "swir16": "S1", "swir22": "S2",
}  # fmt: skip
DEFAULTS = {k: c.default for k, c in spyndex.constants.items() if c.default is not None}
WAVELENGTHS = {
    "lambdaG": 559.8, "lambdaR": 664.6, "lambdaN": 832.8, "lambdaN2": 864.7,
    "lambdaS1": 1613.7, "lambdaS2": 2202.4,
}  # fmt: skip


def s2_dataarray(data: np.ndarray, **kwargs) -> xr.DataArray:
    da = make_dataarray(data, names=list(S2.names), **kwargs)
    da.attrs["sensor"] = "sentinel2_l1c"
    return da


def random_s2(shape=(12, 10), seed=0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return s2_dataarray(rng.uniform(0.01, 0.6, (len(S2.names), *shape)).astype(np.float32))


def spyndex_reference(da: xr.DataArray, short: str) -> np.ndarray:
    params = {SYMBOL_OF[b]: da.sel(band=b).values for b in S2.names if b in SYMBOL_OF}
    with np.errstate(all="ignore"):
        ref = spyndex.computeIndex(short, {**params, **DEFAULTS, **WAVELENGTHS})
    shape = da.isel(band=0).shape
    return np.broadcast_to(np.asarray(ref, dtype=np.float32), shape)


S2_INDICES = available_indices(random_s2((2, 2)))


# --------------------------------------------------------------------------- catalogue agreement


def test_sentinel2_supports_most_of_the_catalogue():
    assert len(S2_INDICES) > 200
    for short in ("NDVI", "EVI", "SAVI", "NDWI", "MNDWI", "NDBI", "NBR", "NDMI", "NDSI", "FAI"):
        assert short in S2_INDICES
    # Radar, kernel, thermal and PAR indices need what a Sentinel-2 scene lacks.
    for short in ("VHVVR", "kNDVI", "EBBI", "NIRvP"):
        assert short not in S2_INDICES


@pytest.mark.parametrize("short", S2_INDICES)
def test_every_supported_index_agrees_with_spyndex_on_random_data(short):
    da = random_s2()
    ours = compute_index(da, short)
    ref = spyndex_reference(da, short)
    assert ours.dtype == np.float32
    assert ours.name == short
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(ours.values), finite)
    np.testing.assert_allclose(ours.values[finite], ref[finite], rtol=2e-6, atol=1e-6)


def test_synthetic_scene_indices_agree_with_spyndex():
    synth = pytest.importorskip("satlearn.synth")
    scene = synth.make_scene(64, seed=0, sensor="sentinel2_l1c", n_dates=1)
    image = scene.image
    assert set(S2_INDICES) <= set(available_indices(image))
    names = ["NDVI", "EVI", "NDWI", "MNDWI", "NBR", "NDSI", "FAI", "GEMI"]
    stack = compute_index(image, names)
    assert stack.dims == ("band", "time", "y", "x")
    for short in names:
        ours = stack.sel(band=short).isel(time=0).values
        ref = spyndex_reference(image.isel(time=0), short)
        finite = np.isfinite(ref)
        np.testing.assert_allclose(ours[finite], ref[finite], rtol=2e-6, atol=1e-6)


# --------------------------------------------------------------------------- output shape


def test_single_index_keeps_coords_crs_and_transform():
    da = random_s2()
    ndvi = compute_index(da, "ndvi")
    assert ndvi.dims == ("y", "x")
    np.testing.assert_array_equal(ndvi.x, da.x)
    np.testing.assert_array_equal(ndvi.y, da.y)
    assert ndvi.rio.crs == CRS
    assert ndvi.rio.transform() == da.rio.transform()
    assert np.isnan(ndvi.rio.nodata)
    assert ndvi.attrs["long_name"] == "Normalized Difference Vegetation Index"
    assert ndvi.attrs["formula"] == "(N-R)/(N+R)"


def test_several_indices_stack_on_band_in_request_order():
    da = random_s2()
    stack = compute_index(da, ["ndwi", "NDVI", "ndvi", "savi"])
    assert stack.dims == ("band", "y", "x")
    assert stack.band.values.tolist() == ["NDWI", "NDVI", "SAVI"]
    assert stack.rio.crs == CRS
    np.testing.assert_array_equal(stack.sel(band="NDVI"), compute_index(da, "ndvi"))
    comma = compute_index(da, "ndvi, ndwi")
    assert comma.band.values.tolist() == ["NDVI", "NDWI"]


def test_names_are_case_insensitive_and_case_pairs_resolve():
    da = random_s2()
    assert compute_index(da, "Ndvi").name == "NDVI"
    assert compute_index(da, "bai").name == "BAI"  # BAI (burned area), not BaI (bareness)
    assert compute_index(da, "BaI").name == "BaI"
    assert compute_index(da, "msr705").name == "MSR705"
    assert compute_index(da, "mSR705").name == "mSR705"


# --------------------------------------------------------------------------- nodata, scale, zeros


def test_scaled_integer_bands_with_nodata_and_zero_denominators():
    rng = np.random.default_rng(1)
    dn = rng.integers(1001, 6000, (2, 8, 9)).astype(np.uint16)
    dn[:, 0, 0] = 0  # nodata in both bands
    dn[1, 0, 1] = 0  # nodata in nir only
    dn[:, 1, 0] = 1000  # reflectance 0 in both: 0 / 0
    da = make_dataarray(dn, names=["red", "nir"], nodata=0)
    da = da.assign_coords(scale=("band", [1e-4, 1e-4]), offset=("band", [-0.1, -0.1]))
    ndvi = compute_index(da, "ndvi").values
    red = dn[0].astype(np.float64) * 1e-4 - 0.1
    nir = dn[1].astype(np.float64) * 1e-4 - 0.1
    with np.errstate(all="ignore"):
        expected = (nir - red) / (nir + red)
    expected[0, 0] = expected[0, 1] = expected[1, 0] = np.nan
    np.testing.assert_allclose(ndvi, expected, rtol=1e-5, atol=1e-6)
    assert np.isnan(ndvi[[0, 0, 1], [0, 1, 0]]).all()
    assert not np.isinf(ndvi).any()


def test_float_nodata_value_is_masked():
    data = np.full((2, 3, 3), 0.4, dtype=np.float32)
    data[0, 2, 2] = -9999.0
    da = make_dataarray(data, names=["red", "nir"], nodata=-9999.0)
    ndvi = compute_index(da, "ndvi").values
    assert np.isnan(ndvi[2, 2])
    assert np.count_nonzero(np.isnan(ndvi)) == 1


# --------------------------------------------------------------------------- constants


def test_constants_override_defaults_by_keyword():
    da = random_s2()
    nir, red = da.sel(band="nir").values, da.sel(band="red").values
    savi = compute_index(da, "savi", L=0.25).values
    np.testing.assert_allclose(savi, 1.25 * (nir - red) / (nir + red + 0.25), rtol=1e-5)
    assert not np.allclose(savi, compute_index(da, "savi").values)
    stack = compute_index(da, ["savi", "ndvi"], L=0.25)  # unused by NDVI: fine
    np.testing.assert_array_equal(stack.sel(band="SAVI"), savi)


def test_parameters_without_defaults_are_needed_and_can_be_arrays():
    da = random_s2()
    assert "NIRvP" not in available_indices(da)
    assert "NIRvP" in available_indices(da, PAR=1.5)
    with pytest.raises(InvalidInputError, match="NIRvP needs PAR"):
        compute_index(da, "nirvp")
    nirvp = compute_index(da, "nirvp", PAR=2.0).values
    nir, red = da.sel(band="nir").values, da.sel(band="red").values
    np.testing.assert_allclose(nirvp, (nir - red) / (nir + red) * nir * 2.0, rtol=1e-5)
    # Kernel indices take per-pixel kernel values.
    knn = np.ones(da.shape[1:], dtype=np.float32)
    knr = xr.full_like(da.isel(band=0, drop=True), 0.5)
    kndvi = compute_index(da, "kndvi", kNN=knn, kNR=knr).values
    np.testing.assert_allclose(kndvi, 1.0 / 3.0, rtol=1e-6)
    with pytest.raises(InvalidInputError, match="has 3 dims"):
        compute_index(da, "kndvi", kNN=np.ones((1, *da.shape[1:])), kNR=knr)


def test_wavelength_constants_come_from_the_sensor():
    da = random_s2()
    assert "FAI" in available_indices(da)
    del da.attrs["sensor"]
    assert "FAI" not in available_indices(da)
    fai = compute_index(da, "fai", lambdaN=832.8, lambdaR=664.6, lambdaS1=1613.7)
    da.attrs["sensor"] = "sentinel2_l1c"
    np.testing.assert_allclose(fai, compute_index(da, "fai"), rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"Lx": 0.5}, "constant 'Lx' is not used by SAVI"),
        ({"N": 0.5}, "'N' is a band symbol"),
        ({"L": "half"}, "is not a number"),
        ({"L": True}, "is not a number"),
    ],
)
def test_bad_constants_are_refused(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        compute_index(random_s2(), "savi", **kwargs)


# --------------------------------------------------------------------------- errors and lookups


def test_missing_bands_are_named():
    da = make_dataarray(np.ones((2, 4, 4), dtype=np.float32), names=["red", "nir"])
    with pytest.raises(UnknownBandError, match=r"NBR needs band\(s\) S2 \(swir22\).*red, nir"):
        compute_index(da, "nbr")
    assert "NDVI" in available_indices(da)
    assert "NBR" not in available_indices(da)


def test_unknown_index_suggests_close_names():
    with pytest.raises(InvalidInputError, match="did you mean NDVI"):
        compute_index(random_s2(), "ndvj")
    with pytest.raises(InvalidInputError, match="unknown spectral index 'zzzzzz'"):
        compute_index(random_s2(), "zzzzzz")


@pytest.mark.parametrize(
    ("value", "name", "message"),
    [
        (np.ones((2, 3)), "ndvi", "must be an xarray.DataArray"),
        (xr.DataArray(np.ones((2, 3)), dims=("y", "x")), "ndvi", r"must have dims \(band, y, x\)"),
        (
            xr.DataArray(np.ones((1, 2, 3), dtype=bool), dims=("band", "y", "x")),
            "ndvi",
            "numeric bands",
        ),
        (None, [], "no index name"),
        (None, ["ndvi", 3], "must be a string"),
        (None, 3, "must be a string"),
    ],
)
def test_bad_inputs_are_refused(value, name, message):
    da = random_s2() if value is None else value
    with pytest.raises(InvalidInputError, match=message):
        compute_index(da, name)


def test_threads_must_be_positive():
    with pytest.raises(InvalidInputError, match="threads must be a positive int"):
        compute_index(random_s2(), "ndvi", threads=0)


def test_band_ids_are_translated_with_the_sensor():
    data = np.random.default_rng(2).uniform(0.1, 0.5, (2, 5, 5)).astype(np.float32)
    da = make_dataarray(data, names=["B04", "B08"])
    with pytest.raises(UnknownBandError):
        compute_index(da, "ndvi")
    da.attrs["sensor"] = "sentinel2_l2a"
    np.testing.assert_allclose(
        compute_index(da, "ndvi"), (data[1] - data[0]) / (data[1] + data[0]), rtol=1e-6
    )
    da.attrs["sensor"] = "no-such-sensor"
    assert "NDVI" not in available_indices(da)


def test_single_rededge_band_stands_for_re1():
    data = np.random.default_rng(3).uniform(0.1, 0.5, (2, 4, 4)).astype(np.float32)
    da = make_dataarray(data, names=["rededge", "nir"])
    ndre = compute_index(da, "ndrei")  # (N - RE1) / (N + RE1)
    np.testing.assert_allclose(ndre, (data[1] - data[0]) / (data[1] + data[0]), rtol=1e-6)


def test_describe_index_and_index_names():
    info = describe_index("evi")
    assert info["short_name"] == "EVI"
    assert set(info["bands"]) == {"N", "R", "B"}
    assert info["band_names"]["N"] == ["nir"]
    assert info["constants"] == {"g": 2.5, "C1": 6.0, "C2": 7.5, "L": 1.0}
    assert info["reference"].startswith("https://doi.org/")
    assert len(index_names()) == len(spyndex.indices)


def test_result_without_spatial_reference_still_computes():
    da = xr.DataArray(np.full((2, 3, 3), 0.5, np.float32), dims=("band", "y", "x"))
    da = da.assign_coords(band=["red", "nir"])
    ndvi = compute_index(da, "ndvi")
    assert ndvi.rio.crs is None
    np.testing.assert_array_equal(ndvi, 0.0)


# --------------------------------------------------------------------------- dask


def test_dask_backed_input_stays_lazy_and_matches_numpy():
    da = random_s2((40, 30))
    lazy = da.copy(data=dask.array.from_array(da.values, chunks=(1, 16, 16)))
    result = compute_index(lazy, ["ndvi", "evi"])
    assert result.chunks is not None
    np.testing.assert_array_equal(result.values, compute_index(da, ["ndvi", "evi"]).values)


def test_describe_index_refuses_a_non_string():
    with pytest.raises(InvalidInputError, match="must be a string"):
        describe_index(3)


# --------------------------------------------------------------------------- compiled kernel

JIT_SAMPLE = ["NDVI", "EVI", "GEMI", "MSAVI", "BAI", "TDVI", "MTCI", "ARVI"]


@pytest.fixture
def jit_always(monkeypatch):
    """Send every array, however small, through the numba kernel."""
    pytest.importorskip("numba")
    monkeypatch.setattr(numba_engine, "_JIT_MIN_PIXELS", 0)


def test_compiled_kernel_rounds_like_the_numpy_program(jit_always, monkeypatch):
    da = random_s2((40, 37), seed=3)
    jitted = compute_index(da, JIT_SAMPLE, threads=2).values
    monkeypatch.setattr(numba_engine, "_JIT_MIN_PIXELS", 1 << 62)
    plain = compute_index(da, JIT_SAMPLE, threads=2).values
    # Same float32 steps in the same order: bit for bit, NaN in the same places.
    np.testing.assert_array_equal(jitted, plain)


def test_the_ops_face_serves_the_same_functions():
    # satlearn.ops.indices.compute_index(da, name) is where users and outside checks call it.
    import satlearn.ops.indices as face

    for name in face.__all__:
        assert getattr(face, name) is getattr(indices, name)


# --------------------------------------------------------------------------- faces and old names


def test_the_package_keeps_every_public_name_of_the_old_module():
    old = {"BAND_SYMBOLS", "available_indices", "compute_index", "describe_index",
           "index_names", "resolve_index_name"}  # fmt: skip
    assert old | {"compute_formula"} == set(indices.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in indices.__all__:
            assert getattr(indices, name) is not None


@pytest.mark.parametrize("module", ["satlearn.spectral", "satlearn.ops.indices"])
def test_evaluate_formula_is_the_old_name_of_compute_formula(module):
    import importlib

    face = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.compute_formula"):
        old = face.evaluate_formula
    assert old is compute_formula
    assert "evaluate_formula" not in face.__all__
    with pytest.raises(AttributeError, match="no attribute 'evaluate_formul'"):
        face.evaluate_formul  # noqa: B018


def test_the_catalogue_and_kernel_load_no_xarray_and_compute_index_loads_it_on_first_use():
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "heavy = ('dask', 'numba', 'rasterio', 'rioxarray', 'spyndex', 'xarray')\n"
        "import satlearn.spectral as s\n"
        "from satlearn.spectral import compute_formula, resolve_index_name\n"
        "before = sorted(m for m in heavy if m in sys.modules)\n"
        "assert {'compute_index', 'available_indices'} <= set(dir(s))\n"
        "from satlearn.spectral import compute_index\n"
        "from satlearn.spectral._dataarray import compute_index as real\n"
        "assert compute_index is real and s.compute_index is real\n"
        "print(json.dumps([before, sorted(m for m in heavy if m in sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []
    assert {"xarray", "rioxarray", "dask"} <= set(after)
    assert "numba" not in after and "spyndex" not in after  # on the first large array / look-up
