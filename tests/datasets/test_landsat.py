"""Landsat scenes: MTL parsing, DN to reflectance and kelvin, fill, layouts, the real L1T crop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from affine import Affine

from conftest import write_geotiff
from satlearn.bands import band_scale_offset
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.landsat import Landsat, open_landsat, read_mtl
from satlearn.errors import InvalidInputError, UnknownBandError

L1_ID = "LC09_L1TP_020039_20230804_20230812_02_T1"
L2_ID = "LC08_L2SP_020039_20230804_20230812_02_T1"
SUN_ELEVATION = 58.5
TRANSFORM = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3408645.0)
SHAPE = (6, 9)

L1_MTL = f"""GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{L1_ID}"
    PROCESSING_LEVEL = "L1TP"
    COLLECTION_NUMBER = 02
    FILE_NAME_BAND_4 = "{L1_ID}_B4.TIF"
    FILE_NAME_BAND_5 = "{L1_ID}_B5.TIF"
    FILE_NAME_BAND_10 = "{L1_ID}_B10.TIF"
    FILE_NAME_QUALITY_L1_PIXEL = "{L1_ID}_QA_PIXEL.TIF"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_9"
    SENSOR_ID = "OLI_TIRS"
    DATE_ACQUIRED = 2023-08-04
    SCENE_CENTER_TIME = "16:19:21.7917421Z"
    SUN_AZIMUTH = 115.5
    SUN_ELEVATION = {SUN_ELEVATION}
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    RADIANCE_MULT_BAND_4 = 9.7062E-03
    RADIANCE_ADD_BAND_4 = -48.53088
    RADIANCE_MULT_BAND_10 = 3.3420E-04
    RADIANCE_ADD_BAND_10 = 0.10000
    REFLECTANCE_MULT_BAND_4 = 2.0000E-05
    REFLECTANCE_ADD_BAND_4 = -0.100000
    REFLECTANCE_MULT_BAND_5 = 2.0000E-05
    REFLECTANCE_ADD_BAND_5 = -0.100000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
  GROUP = LEVEL1_THERMAL_CONSTANTS
    K1_CONSTANT_BAND_10 = 774.8853
    K2_CONSTANT_BAND_10 = 1321.0789
  END_GROUP = LEVEL1_THERMAL_CONSTANTS
END_GROUP = LANDSAT_METADATA_FILE
END
"""


def dn(seed: int, low: int = 5000, high: int = 30000) -> np.ndarray:
    data = np.random.default_rng(seed).integers(low, high, (1, *SHAPE)).astype(np.uint16)
    data[0, 0, 0] = 0  # fill
    return data


def make_l1(folder):
    folder.mkdir(parents=True)
    (folder / f"{L1_ID}_MTL.txt").write_text(L1_MTL)
    data = {b: dn(i) for i, b in enumerate(("B4", "B5", "B10"))}
    for band, values in data.items():
        write_geotiff(folder / f"{L1_ID}_{band}.TIF", values, crs="EPSG:32616", transform=TRANSFORM)
    qa = np.full((1, *SHAPE), 21824, np.uint16)  # clear land, C2
    qa[0, 1, 2] = 1  # designated fill although the DN is not 0
    write_geotiff(folder / f"{L1_ID}_QA_PIXEL.TIF", qa, crs="EPSG:32616", transform=TRANSFORM)
    return folder, data


def make_l2_json(folder, *, parameters: bool = True):
    folder.mkdir(parents=True)
    groups = {
        "PRODUCT_CONTENTS": {
            "LANDSAT_PRODUCT_ID": L2_ID,
            "PROCESSING_LEVEL": "L2SP",
            "FILE_NAME_BAND_4": f"{L2_ID}_SR_B4.TIF",
            "FILE_NAME_BAND_ST_B10": f"{L2_ID}_ST_B10.TIF",
        },
        "IMAGE_ATTRIBUTES": {
            "SPACECRAFT_ID": "LANDSAT_8",
            "DATE_ACQUIRED": "2023-08-04",
            "SCENE_CENTER_TIME": "16:19:21Z",
            "SUN_ELEVATION": "60.0",
            "SUN_AZIMUTH": 120.0,
        },
    }
    if parameters:
        groups["LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"] = {
            "REFLECTANCE_MULT_BAND_4": "2.75e-05",
            "REFLECTANCE_ADD_BAND_4": "-0.2",
        }
        groups["LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"] = {
            "TEMPERATURE_MULT_BAND_ST_B10": "0.00341802",
            "TEMPERATURE_ADD_BAND_ST_B10": "149.0",
        }
    (folder / f"{L2_ID}_MTL.json").write_text(json.dumps({"LANDSAT_METADATA_FILE": groups}))
    data = {"B4": dn(7), "B10": dn(8, 40000, 50000)}
    write_geotiff(folder / f"{L2_ID}_SR_B4.TIF", data["B4"], crs="EPSG:32616", transform=TRANSFORM)
    write_geotiff(
        folder / f"{L2_ID}_ST_B10.TIF", data["B10"], crs="EPSG:32616", transform=TRANSFORM
    )
    return folder, data


def test_read_mtl_parses_groups_quotes_and_numbers(tmp_path):
    folder, _ = make_l1(tmp_path / "l1")
    mtl = read_mtl(folder / f"{L1_ID}_MTL.txt")
    assert mtl["PRODUCT_CONTENTS"]["LANDSAT_PRODUCT_ID"] == L1_ID
    assert mtl["PRODUCT_CONTENTS"]["COLLECTION_NUMBER"] == 2
    assert mtl["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] == SUN_ELEVATION
    assert mtl["LEVEL1_RADIOMETRIC_RESCALING"]["REFLECTANCE_MULT_BAND_4"] == 2e-5
    assert mtl["IMAGE_ATTRIBUTES"]["DATE_ACQUIRED"] == "2023-08-04"


def test_level1_toa_reflectance_is_the_usgs_formula_with_sun_elevation(tmp_path):
    folder, data = make_l1(tmp_path / "l1")
    da = open_landsat(folder)
    assert list(da.band.values) == ["red", "nir"]  # the reflective bands present
    assert da.dtype == np.float32 and da.attrs["units"] == "1"
    expected = (2e-5 * data["B4"][0].astype(np.float64) - 0.1) / math.sin(
        math.radians(SUN_ELEVATION)
    )
    expected[0, 0] = np.nan  # DN 0
    expected[1, 2] = np.nan  # QA_PIXEL bit 0
    np.testing.assert_allclose(da.sel(band="red").values, expected, rtol=1e-6)
    assert da.attrs["sensor"] == "landsat9" and da.attrs["level"] == 1
    assert da.attrs["datetime"] == "2023-08-04T16:19:21.7917421Z"
    assert da.attrs["sun_zenith"] == pytest.approx(90 - SUN_ELEVATION)
    assert da.attrs["sun_azimuth"] == 115.5
    assert da.rio.crs.to_epsg() == 32616 and da.rio.transform() == TRANSFORM
    assert np.isnan(da.rio.nodata)


def test_level1_brightness_temperature_from_radiance_and_k1_k2(tmp_path):
    folder, data = make_l1(tmp_path / "l1")
    bt = open_landsat(folder / f"{L1_ID}_MTL.txt", product="brightness-temperature")
    assert list(bt.band.values) == ["lwir11"] and bt.attrs["units"] == "K"
    radiance = 3.342e-4 * data["B10"][0].astype(np.float64) + 0.1
    expected = 1321.0789 / np.log(774.8853 / radiance + 1)
    expected[0, 0] = expected[1, 2] = np.nan
    np.testing.assert_allclose(bt.values[0], expected, rtol=1e-6)


def test_dn_product_keeps_stored_values_with_scale_offset_to_reflectance(tmp_path):
    folder, data = make_l1(tmp_path / "l1")
    da = open_landsat(folder, bands=["B4", "lwir11"], product="dn")
    assert da.dtype == np.uint16 and da.rio.nodata == 0
    np.testing.assert_array_equal(da.sel(band="red").values, data["B4"][0])
    sine = math.sin(math.radians(SUN_ELEVATION))
    assert band_scale_offset(da, 0) == pytest.approx((2e-5 / sine, -0.1 / sine))
    assert band_scale_offset(da, 1) == pytest.approx((3.342e-4, 0.1))  # radiance


def test_level2_json_surface_reflectance_and_temperature(tmp_path):
    folder, data = make_l2_json(tmp_path / "l2")
    sr = open_landsat(folder, bands="red")
    expected = data["B4"][0] * 2.75e-5 - 0.2
    expected[0, 0] = np.nan
    np.testing.assert_allclose(sr.values[0], expected, rtol=1e-5)
    assert sr.attrs["sensor"] == "landsat8" and sr.attrs["level"] == 2
    st = open_landsat(folder, product="brightness-temperature")
    assert list(st.band.values) == ["lwir11"]
    kelvin = st.values[0][1:, 1:]
    np.testing.assert_allclose(kelvin, data["B10"][0][1:, 1:] * 0.00341802 + 149.0, rtol=1e-6)
    assert np.nanmin(st.values) > 250 and np.nanmax(st.values) < 330
    lazy = open_landsat(folder, bands="red", chunks=4)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, sr.values)


def test_level2_without_parameter_groups_uses_the_collection2_constants(tmp_path):
    folder, _ = make_l2_json(tmp_path / "l2", parameters=False)
    # Without FILE_NAME entries the files are still found by their suffixes.
    da = open_landsat(folder, bands=["red", "lwir11"], product="dn")
    assert band_scale_offset(da, 0) == pytest.approx((2.75e-5, -0.2))
    assert band_scale_offset(da, 1) == pytest.approx((0.00341802, 149.0))


def test_wrong_products_bands_and_files_are_named(tmp_path):
    folder, _ = make_l1(tmp_path / "l1")
    with pytest.raises(InvalidInputError, match="product must be one of"):
        open_landsat(folder, product="radiance")
    with pytest.raises(InvalidInputError, match=r"lwir11 \(B10\) has no reflectance"):
        open_landsat(folder, bands=["red", "lwir11"])
    with pytest.raises(InvalidInputError, match=r"red \(B4\) has no brightness-temperature"):
        open_landsat(folder, bands="red", product="brightness-temperature")
    with pytest.raises(UnknownBandError, match="'rededge1' for sensor 'landsat9'"):
        open_landsat(folder, bands="rededge1")
    with pytest.raises(DatasetError, match="no file for band B6"):
        open_landsat(folder, bands="swir16")
    with pytest.raises(DatasetError, match="no such Landsat scene"):
        open_landsat(tmp_path / "missing")
    with pytest.raises(DatasetError, match=r"no \*_MTL\.txt or \*_MTL\.json"):
        open_landsat(tmp_path)
    # A band on another grid (a pan-like 15 m file) beside the 30 m ones.
    write_geotiff(
        folder / f"{L1_ID}_B8.TIF",
        np.ones((1, 12, 18), np.uint16),
        crs="EPSG:32616",
        transform=Affine(15.0, 0, 452475.0, 0, -15.0, 3408645.0),
    )
    with pytest.raises(InvalidInputError, match="another grid"):
        open_landsat(folder, bands=["red", "pan"], product="dn")


def test_bad_mtl_files_say_which_line(tmp_path):
    folder, _ = make_l1(tmp_path / "l1")
    mtl = folder / f"{L1_ID}_MTL.txt"
    mtl.write_text(L1_MTL.replace("  GROUP = IMAGE_ATTRIBUTES\n", "  garbage here\n"))
    with pytest.raises(DatasetError, match="line 11 is not KEY = VALUE"):
        open_landsat(folder)
    mtl.write_text(L1_MTL.replace("END_GROUP = PRODUCT_CONTENTS", "END_GROUP = OTHER"))
    with pytest.raises(DatasetError, match="closes group 'OTHER'"):
        open_landsat(folder)
    mtl.write_text("\n\nEND\n")
    with pytest.raises(DatasetError, match="not an MTL file"):
        open_landsat(folder)
    mtl.write_text(L1_MTL.replace("LANDSAT_9", "LANDSAT_7"))
    with pytest.raises(DatasetError, match="'LANDSAT_7'; only Landsat 8 and 9"):
        open_landsat(folder)
    mtl.write_text(L1_MTL.replace("    SUN_ELEVATION = 58.5\n", ""))
    with pytest.raises(DatasetError, match="no SUN_ELEVATION in the MTL"):
        open_landsat(folder)
    mtl.unlink()
    (folder / "x_MTL.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="holds an object"):
        open_landsat(folder)
    (folder / "x_MTL.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        open_landsat(folder)
    with pytest.raises(DatasetError, match="cannot read the MTL"):
        read_mtl(folder / "absent_MTL.txt")


def test_landsat_dataset_one_sample_per_scene(tmp_path):
    make_l1(tmp_path / "a" / L1_ID)
    make_l2_json(tmp_path / "b" / L2_ID)
    cls = get_dataset("landsat_c2")
    assert cls is Landsat
    ds = cls(tmp_path, bands=["red"])
    assert len(ds) == 2 and ds.bands == ("red",)
    first = ds[0]
    assert first["image"].shape == (1, *SHAPE) and first["image"].dtype == np.float32
    assert first["meta"]["id"] == L1_ID and first["meta"]["crs"] == "EPSG:32616"
    assert ds[1]["meta"]["level"] == 2
    assert "earthexplorer.usgs.gov" in cls.manual_download
    with pytest.raises(DatasetError, match="no \\*_MTL"):
        cls(_empty(tmp_path))
    with pytest.raises(InvalidInputError, match="product must be one of"):
        cls(tmp_path, product="toa")


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_real_landsat8_l1t_crop_reflectance_and_temperature(shared_data):
    # A pre-collection (LGN00) L1T scene whose files were renamed l8_B*.tif: found by suffix.
    folder = shared_data / "landsat8-l1t-crop"
    mtl = read_mtl(folder / "l8_MTL.txt")
    toa = open_landsat(folder, bands=["red", "nir"])
    assert toa.shape == (2, 603, 627) and toa.attrs["sensor"] == "landsat8"
    raw = open_landsat(folder, bands=["red", "nir"], product="dn").values.astype(np.float64)
    sine = math.sin(math.radians(mtl["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"]))
    rescale = mtl["RADIOMETRIC_RESCALING"]
    for row, col in ((0, 0), (300, 311), (602, 626), (123, 456)):
        for i, n in enumerate((4, 5)):
            by_hand = (
                rescale[f"REFLECTANCE_MULT_BAND_{n}"] * raw[i, row, col]
                + rescale[f"REFLECTANCE_ADD_BAND_{n}"]
            ) / sine
            assert float(toa[i, row, col]) == pytest.approx(by_hand, rel=1e-5)
    assert 0 <= float(np.nanmedian(toa.sel(band="red"))) < 0.3
    bt = open_landsat(folder, product="brightness-temperature")
    assert list(bt.band.values) == ["lwir11", "lwir12"]
    assert float(np.nanmin(bt)) > 250 and float(np.nanmax(bt)) < 320
    assert 275 < float(np.nanmedian(bt)) < 310  # a Gulf coast August afternoon
    pan = open_landsat(folder, bands="pan")
    assert pan.shape == (1, 1207, 1254)
