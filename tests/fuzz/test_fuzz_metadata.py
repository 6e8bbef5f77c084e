"""Fuzzing the scene metadata readers: Landsat MTL (ODL text and JSON) and Sentinel-2 XML."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, expect_clean, json_documents, mutated_bytes
from satlearn.datasets.landsat import LandsatScene, read_mtl
from satlearn.datasets.sentinel2 import read_safe_metadata
from satlearn.errors import DatasetError

pytestmark = pytest.mark.timeout(120)

L1_ID = "LC09_L1TP_020039_20230804_20230812_02_T1"
MTL = f"""GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{L1_ID}"
    PROCESSING_LEVEL = "L1TP"
    FILE_NAME_BAND_4 = "{L1_ID}_B4.TIF"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_9"
    DATE_ACQUIRED = 2023-08-04
    SCENE_CENTER_TIME = "16:19:21.7917421Z"
    SUN_AZIMUTH = 115.5
    SUN_ELEVATION = 58.5
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    RADIANCE_MULT_BAND_10 = 3.3420E-04
    RADIANCE_ADD_BAND_10 = 0.10000
    REFLECTANCE_MULT_BAND_4 = 2.0000E-05
    REFLECTANCE_ADD_BAND_4 = -0.100000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
  GROUP = LEVEL1_THERMAL_CONSTANTS
    K1_CONSTANT_BAND_10 = 774.8853
    K2_CONSTANT_BAND_10 = 1321.0789
  END_GROUP = LEVEL1_THERMAL_CONSTANTS
END_GROUP = LANDSAT_METADATA_FILE
END
"""
MTL_JSON = {
    "LANDSAT_METADATA_FILE": {
        "PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": L1_ID, "PROCESSING_LEVEL": "L2SP"},
        "IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_8", "SUN_ELEVATION": "60.0"},
        "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": {"REFLECTANCE_MULT_BAND_4": "2.75e-05"},
        "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS": {"TEMPERATURE_MULT_BAND_ST_B10": 0.003},
    }
}

L2A_XML = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2023-06-01T10:36:29.024Z</PRODUCT_START_TIME>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>05.09</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      <BOA_ADD_OFFSET_VALUES_LIST>
        <BOA_ADD_OFFSET band_id="0">-1000</BOA_ADD_OFFSET>
        <BOA_ADD_OFFSET band_id="3">-1000</BOA_ADD_OFFSET>
      </BOA_ADD_OFFSET_VALUES_LIST>
      <Spectral_Information_List>
        <Spectral_Information bandId="3" physicalBand="B4"/>
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""
TILE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd">
  <n1:Geometric_Info><Tile_Angles><Mean_Sun_Angle>
    <ZENITH_ANGLE unit="deg">27.5</ZENITH_ANGLE><AZIMUTH_ANGLE unit="deg">151.25</AZIMUTH_ANGLE>
  </Mean_Sun_Angle></Tile_Angles></n1:Geometric_Info>
</n1:Level-2A_Tile_ID>
"""
# Entity expansion (billion laughs) and an external entity: expat refuses the first
# (amplification limit) and never fetches the second; either way a clean error.
BOMBS = [
    '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    + "]><PRODUCT_TYPE>&h;</PRODUCT_TYPE>",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    "<PRODUCT_TYPE>&e;</PRODUCT_TYPE>",
    "<a>" * 100_000 + "</a>" * 100_000,
]


def _scene(path: Path) -> None:
    scene = expect_clean(lambda: LandsatScene(path), [path.name])
    if scene is None:
        return
    assert scene.sensor.key in ("landsat8", "landsat9")
    for band in ("B4", "B10"):
        got = expect_clean(lambda band=band: scene.scale_offset(band, "reflectance"), [path.name])
        if got is not None:
            assert all(isinstance(v, float) for v in got)
    expect_clean(lambda: scene.thermal_constants("B10"), [path.name])


@FUZZ
@given(text=mutated_bytes(MTL.encode()))
def test_mtl_text_parses_or_names_the_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{L1_ID}_MTL.txt"
        path.write_bytes(text)
        groups = expect_clean(lambda: read_mtl(path), [path.name])
        if groups is not None:
            assert groups and all(isinstance(g, dict) for g in groups.values())
        _scene(path)


@FUZZ
@given(text=json_documents(MTL_JSON))
def test_mtl_json_parses_or_names_the_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{L1_ID}_MTL.json"
        path.write_bytes(text)
        expect_clean(lambda: read_mtl(path), [path.name])
        _scene(path)


def _safe(root: Path, product: bytes, tile: bytes) -> None:
    safe = root / "S2B_MSIL2A_X.SAFE"
    granule = safe / "GRANULE" / "L2A_T32TNS"
    granule.mkdir(parents=True)
    (safe / "MTD_MSIL2A.xml").write_bytes(product)
    (granule / "MTD_TL.xml").write_bytes(tile)
    meta = expect_clean(lambda: read_safe_metadata(safe), ["MTD_MSIL2A.xml", "MTD_TL.xml"])
    if meta is not None:
        assert meta.level in ("L1C", "L2A")
        assert isinstance(meta.quantification, float)
        assert all(isinstance(v, float) for v in meta.offsets.values())
        for angle in (meta.sun_zenith, meta.sun_azimuth):
            assert angle is None or isinstance(angle, float)


@FUZZ
@given(
    product=st.one_of(mutated_bytes(L2A_XML.encode()), st.sampled_from(BOMBS).map(str.encode)),
)
def test_sentinel2_product_xml_parses_or_names_the_file(product):
    with tempfile.TemporaryDirectory() as tmp:
        _safe(Path(tmp), product, TILE_XML.encode())


@FUZZ
@given(tile=mutated_bytes(TILE_XML.encode()))
def test_sentinel2_tile_xml_parses_or_names_the_file(tile):
    with tempfile.TemporaryDirectory() as tmp:
        _safe(Path(tmp), L2A_XML.encode(), tile)


def test_a_sun_on_the_horizon_is_a_clean_error(tmp_path):
    # Found by fuzzing: SUN_ELEVATION = 0 divided by sin(0) (ZeroDivisionError).
    path = tmp_path / f"{L1_ID}_MTL.txt"
    path.write_text(MTL.replace("SUN_ELEVATION = 58.5", "SUN_ELEVATION = 0"))
    with pytest.raises(DatasetError, match="SUN_ELEVATION"):
        LandsatScene(path).scale_offset("B4", "reflectance")


@pytest.mark.parametrize("value", ['"high"', "[1]", "nan"])
def test_a_sun_elevation_that_is_not_a_number_is_a_clean_error(tmp_path, value):
    # Found by fuzzing: float('high') raised ValueError naming no file.
    path = tmp_path / f"{L1_ID}_MTL.json"
    doc = json.loads(json.dumps(MTL_JSON))
    doc["LANDSAT_METADATA_FILE"]["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] = json.loads(
        value if value != "nan" else "NaN"
    )
    path.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="SUN_ELEVATION"):
        LandsatScene(path)


@pytest.mark.parametrize("band_id", ["²", "99"])
def test_an_offset_band_id_of_odd_digits_is_a_clean_error(tmp_path, band_id):
    # '²'.isdigit() is True but int('²') raises ValueError: it escaped naming no file.
    product = L2A_XML.replace('band_id="0"', f'band_id="{band_id}"').encode()
    safe = tmp_path / "S2B_MSIL2A_X.SAFE"
    (safe / "GRANULE" / "L2A_T32TNS").mkdir(parents=True)
    (safe / "MTD_MSIL2A.xml").write_bytes(product)
    with pytest.raises(DatasetError, match="unknown band_id"):
        read_safe_metadata(safe)
