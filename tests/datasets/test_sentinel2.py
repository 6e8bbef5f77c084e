"""Sentinel-2 .SAFE products: L1C and L2A layouts, scaling, resampling, sun angles, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from satlearn.bands import band_scale_offset, get_sensor
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.sentinel2 import Sentinel2Safe, open_safe, read_safe_metadata
from satlearn.errors import InvalidInputError, UnknownBandError

N = 24  # pixels of a 10 m band; 20 m bands have 12, 60 m bands 4
LEFT, TOP = 600000.0, 5100000.0
TILE = "T32TNS"
STAMP = "20230601T103629"
L1C_SENSOR = get_sensor("sentinel2_l1c")

L1C_XML = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2023-06-01T10:36:29.024Z</PRODUCT_START_TIME>
      <PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="x"><SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME></Datatake>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
        <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>
      {offsets}
      <Spectral_Information_List>{spectral}</Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-1C_User_Product>
"""

L2A_XML = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2023-06-01T10:36:29.024Z</PRODUCT_START_TIME>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      {offsets}
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""

TILE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd">
  <n1:Geometric_Info>
    <Tile_Angles>
      <Mean_Sun_Angle>
        <ZENITH_ANGLE unit="deg">27.5</ZENITH_ANGLE>
        <AZIMUTH_ANGLE unit="deg">151.25</AZIMUTH_ANGLE>
      </Mean_Sun_Angle>
      <Mean_Viewing_Incidence_Angle_List>
        <Mean_Viewing_Incidence_Angle bandId="0">
          <ZENITH_ANGLE unit="deg">5.0</ZENITH_ANGLE>
          <AZIMUTH_ANGLE unit="deg">100.0</AZIMUTH_ANGLE>
        </Mean_Viewing_Incidence_Angle>
      </Mean_Viewing_Incidence_Angle_List>
    </Tile_Angles>
  </n1:Geometric_Info>
</n1:Level-1C_Tile_ID>
"""


def write_jp2(path: Path, data: np.ndarray, resolution: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="JP2OpenJPEG",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="uint16",
        crs="EPSG:32632",
        transform=Affine(resolution, 0, LEFT, 0, -resolution, TOP),
        QUALITY=100,
        REVERSIBLE="YES",  # lossless, so the test can compare exact values
    ) as dst:
        dst.write(data, 1)


def band_data(seed: int, resolution: int) -> np.ndarray:
    n = N * 10 // resolution
    data = np.random.default_rng(seed).integers(1, 12000, (n, n)).astype(np.uint16)
    data[0, 0] = 0  # a nodata pixel in every band
    return data


def offsets_xml(tag: str, value: int = -1000) -> str:
    items = "".join(f'<{tag} band_id="{i}">{value}</{tag}>' for i in range(13))
    return f"<Radiometric_Offset_List>{items}</Radiometric_Offset_List>"


def make_l1c(root: Path, *, baseline: str = "05.09", offsets: bool = True, tile_xml: bool = True):
    """An L1C .SAFE with every band at its native resolution; returns (product, {id: data})."""
    product = root / f"S2B_MSIL1C_{STAMP}_N0509_R008_{TILE}_20230601T124142.SAFE"
    granule = product / "GRANULE" / f"L1C_{TILE}_A032577_{STAMP}"
    spectral = "".join(
        f'<Spectral_Information bandId="{i}" physicalBand="{b.id.replace("B0", "B")}"/>'
        for i, b in enumerate(L1C_SENSOR.bands)
    )
    granule.mkdir(parents=True)
    (product / "MTD_MSIL1C.xml").write_text(
        L1C_XML.format(
            baseline=baseline,
            offsets=offsets_xml("RADIO_ADD_OFFSET") if offsets else "",
            spectral=spectral,
        )
    )
    if tile_xml:
        (granule / "MTD_TL.xml").write_text(TILE_XML)
    data = {}
    for seed, band in enumerate(L1C_SENSOR.bands):
        res = int(band.resolution)
        data[band.id] = band_data(seed, res)
        write_jp2(granule / "IMG_DATA" / f"{TILE}_{STAMP}_{band.id}.jp2", data[band.id], res)
    return product, data


L2A_FILES = {
    10: ("B02", "B03", "B04", "B08"),
    20: ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12"),
    60: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"),
}


def make_l2a(root: Path, *, baseline: str = "05.09"):
    """An L2A .SAFE laid out in R10m/R20m/R60m; returns (product, {(id, res): data})."""
    product = root / f"S2B_MSIL2A_{STAMP}_N0509_R008_{TILE}_20230601T140000.SAFE"
    granule = product / "GRANULE" / f"L2A_{TILE}_A032577_{STAMP}"
    granule.mkdir(parents=True)
    offsets = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(13))
    (product / "MTD_MSIL2A.xml").write_text(
        L2A_XML.format(
            baseline=baseline,
            offsets=f"<BOA_ADD_OFFSET_VALUES_LIST>{offsets}</BOA_ADD_OFFSET_VALUES_LIST>",
        )
    )
    data = {}
    for res, ids in L2A_FILES.items():
        for band_id in ids:
            # Each resolution's file holds its own values (ESA resamples them itself),
            # so a test can tell which file was read.
            data[band_id, res] = band_data(res * 100 + int(band_id[1:].replace("A", "9")), res)
            path = granule / "IMG_DATA" / f"R{res}m" / f"{TILE}_{STAMP}_{band_id}_{res}m.jp2"
            write_jp2(path, data[band_id, res], res)
    return product, data


def block_average(data: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the non-zero pixels of each factor x factor block, rounded half up as GDAL does."""
    n = data.shape[0] // factor
    blocks = data.astype(np.float64).reshape(n, factor, n, factor)
    valid = blocks > 0
    counts = valid.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, (blocks * valid).sum(axis=(1, 3)) / counts, 0.0)
    return np.floor(mean + 0.5).astype(np.uint16)


def upsample(data: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(data, factor, axis=0), factor, axis=1)


@pytest.fixture(scope="module")
def l1c(tmp_path_factory):
    return make_l1c(tmp_path_factory.mktemp("l1c"))


@pytest.fixture(scope="module")
def l2a(tmp_path_factory):
    return make_l2a(tmp_path_factory.mktemp("l2a"))


def test_l1c_at_10m_names_every_band_and_upsamples_coarse_bands_by_nearest(l1c):
    product, data = l1c
    da = open_safe(product)
    assert list(da.band.values) == list(L1C_SENSOR.names)
    assert da.shape == (13, N, N)
    assert da.dtype == np.uint16
    np.testing.assert_array_equal(da.sel(band="blue").values, data["B02"])
    np.testing.assert_array_equal(da.sel(band="rededge1").values, upsample(data["B05"], 2))
    np.testing.assert_array_equal(da.sel(band="cirrus").values, upsample(data["B10"], 6))
    assert da.rio.crs.to_epsg() == 32632
    assert tuple(da.rio.transform())[:6] == (10.0, 0.0, LEFT, 0.0, -10.0, TOP)
    assert da.rio.nodata == 0
    assert float(da.x[0]) == LEFT + 5 and float(da.y[0]) == TOP - 5


def test_l1c_scale_offset_metadata_and_sun_angles(l1c):
    product, data = l1c
    da = open_safe(product, bands=["red", "B08"])
    assert list(da.band.values) == ["red", "nir"]
    # Baseline 04.00 on: reflectance = (DN - 1000) / 10000.
    assert band_scale_offset(da, 0) == pytest.approx((1e-4, -0.1))
    reflectance = da * da.scale + da.offset
    assert float(reflectance[1, 5, 7]) == pytest.approx((int(data["B08"][5, 7]) - 1000) / 1e4)
    assert da.attrs["sensor"] == "sentinel2_l1c"
    assert da.attrs["datetime"] == "2023-06-01T10:36:29.024Z"
    assert da.attrs["processing_baseline"] == "05.09"
    assert da.attrs["spacecraft"] == "Sentinel-2B"
    # The mean *sun* angles, not the viewing angles that also have ZENITH_ANGLE tags.
    assert da.attrs["sun_zenith"] == 27.5 and da.attrs["sun_azimuth"] == 151.25
    assert da.attrs["product"] == product.name


def test_l1c_at_20m_averages_fine_bands_leaving_nodata_out(l1c):
    product, data = l1c
    fine = data["B04"].copy()
    assert fine[0, 0] == 0
    da = open_safe(product, bands=["red", "rededge1", "coastal"], resolution=20)
    assert da.shape == (3, N // 2, N // 2)
    assert tuple(da.rio.transform())[:6] == (20.0, 0.0, LEFT, 0.0, -20.0, TOP)
    np.testing.assert_array_equal(da.sel(band="red").values, block_average(fine, 2))
    # The nodata pixel does not drag its block's mean down.
    assert da.sel(band="red").values[0, 0] == block_average(fine, 2)[0, 0] > 0
    np.testing.assert_array_equal(da.sel(band="rededge1").values, data["B05"])
    np.testing.assert_array_equal(da.sel(band="coastal").values, upsample(data["B01"], 3))


def test_lazy_read_matches_eager_block_for_block(l1c):
    product, _ = l1c
    for resolution in (10, 20):
        eager = open_safe(product, bands=["red", "swir16"], resolution=resolution)
        lazy = open_safe(product, bands=["red", "swir16"], resolution=resolution, chunks=7)
        assert lazy.chunks is not None and lazy.chunks[1][0] == 7
        np.testing.assert_array_equal(lazy.values, eager.values)
    auto = open_safe(product, bands="nir", chunks="auto")
    assert auto.chunks[1] == (N,)
    dict_chunks = open_safe(product, bands="nir", chunks={"y": 5, "x": 24})
    assert dict_chunks.chunks[1][0] == 5


def test_old_baseline_has_no_offset_and_trimmed_new_one_defaults_to_minus_1000(tmp_path):
    old, _ = make_l1c(tmp_path / "old", baseline="03.01", offsets=False, tile_xml=False)
    da = open_safe(old, bands=["red"])
    assert band_scale_offset(da, 0) == pytest.approx((1e-4, 0.0))
    assert "sun_zenith" not in da.attrs
    trimmed, _ = make_l1c(tmp_path / "new", baseline="04.00", offsets=False)
    assert band_scale_offset(open_safe(trimmed, bands=["red"]), 0) == pytest.approx((1e-4, -0.1))


def test_l2a_reads_the_file_at_the_asked_resolution_else_resamples_the_finest(l2a):
    product, data = l2a
    meta = read_safe_metadata(product / "MTD_MSIL2A.xml")
    assert meta.level == "L2A" and meta.quantification == 10000
    assert meta.offsets["B04"] == -1000
    da = open_safe(product, bands=["blue", "nir", "coastal", "nir08"], resolution=20)
    assert da.attrs["sensor"] == "sentinel2_l2a"
    np.testing.assert_array_equal(da.sel(band="blue").values, data["B02", 20])  # ESA's own 20 m
    np.testing.assert_array_equal(da.sel(band="nir").values, block_average(data["B08", 10], 2))
    np.testing.assert_array_equal(da.sel(band="coastal").values, upsample(data["B01", 60], 3))
    np.testing.assert_array_equal(da.sel(band="nir08").values, data["B8A", 20])
    assert band_scale_offset(da, 3) == pytest.approx((1e-4, -0.1))
    full = open_safe(product)
    assert full.sizes["band"] == 12 and "cirrus" not in full.band.values
    with pytest.raises(UnknownBandError, match="'cirrus' for sensor 'sentinel2_l2a'"):
        open_safe(product, bands=["cirrus"])


def test_l2a_at_60m_and_custom_resampling(l2a):
    product, data = l2a
    da = open_safe(product, bands=["red", "nir"], resolution=60)
    np.testing.assert_array_equal(da.sel(band="red").values, data["B04", 60])
    np.testing.assert_array_equal(da.sel(band="nir").values, block_average(data["B08", 10], 6))
    nearest = open_safe(product, bands=["nir"], resolution=20, downsampling="nearest")
    assert nearest.shape == (1, N // 2, N // 2)
    assert not np.array_equal(nearest.values[0], block_average(data["B08", 10], 2))


def test_bad_products_name_the_file_and_the_problem(tmp_path, l1c):
    with pytest.raises(DatasetError, match=r"not a \.SAFE folder"):
        open_safe(tmp_path / "missing.SAFE")
    empty = tmp_path / "empty.SAFE"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no MTD_MSIL1C\.xml or MTD_MSIL2A\.xml"):
        open_safe(empty)
    (empty / "MTD_MSIL1C.xml").write_text("<broken")
    with pytest.raises(DatasetError, match=r"MTD_MSIL1C\.xml: not a readable"):
        open_safe(empty)
    (empty / "MTD_MSIL1C.xml").write_text(L1C_XML.format(baseline="05.09", offsets="", spectral=""))
    with pytest.raises(DatasetError, match="no GRANULE"):
        open_safe(empty)
    (empty / "GRANULE" / "L1C_T32TNS_A1").mkdir(parents=True)
    (empty / "GRANULE" / "L1C_T33UUP_A1").mkdir(parents=True)
    with pytest.raises(DatasetError, match="2 granules"):
        open_safe(empty)
    with pytest.raises(DatasetError, match="no JPEG 2000 file for band B04"):
        open_safe(empty, bands=["red"], granule="T33UUP")
    product, _ = l1c
    with pytest.raises(InvalidInputError, match="same band twice"):
        open_safe(product, bands=["red", "B04"])
    with pytest.raises(InvalidInputError, match="resolution"):
        open_safe(product, resolution=0)
    with pytest.raises(InvalidInputError, match="unknown resampling"):
        open_safe(product, upsampling="magic")
    with pytest.raises(InvalidInputError, match="chunks"):
        open_safe(product, bands="red", chunks="big")


def test_bad_metadata_values_and_corrupt_band_files(tmp_path):
    product, _ = make_l1c(tmp_path)
    mtd = product / "MTD_MSIL1C.xml"
    text = mtd.read_text()
    mtd.write_text(text.replace(">10000<", ">ten thousand<"))
    with pytest.raises(DatasetError, match="QUANTIFICATION_VALUE 'ten thousand'"):
        open_safe(product)
    bad_offsets = offsets_xml("RADIO_ADD_OFFSET").replace('band_id="3"', 'band_id="42"')
    mtd.write_text(L1C_XML.format(baseline="05.09", offsets=bad_offsets, spectral=""))
    with pytest.raises(DatasetError, match="unknown band_id '42'"):
        open_safe(product)
    mtd.write_text(L1C_XML.format(baseline="unknown", offsets="", spectral=""))
    assert band_scale_offset(open_safe(product, bands="red"), 0) == pytest.approx((1e-4, 0.0))
    mtd.write_text(text)
    tile = next(product.glob("GRANULE/*/MTD_TL.xml"))
    tile.write_text(TILE_XML.replace(">27.5<", ">n/a<"))
    with pytest.raises(DatasetError, match=r"MTD_TL\.xml: Mean_Sun_Angle ZENITH_ANGLE 'n/a'"):
        open_safe(product)
    tile.write_text(TILE_XML.replace("Mean_Sun_Angle", "Other_Angle"))
    assert "sun_zenith" not in open_safe(product, bands="red").attrs
    jp2 = next(product.glob("GRANULE/*/IMG_DATA/*_B04.jp2"))
    jp2.write_bytes(b"not a jpeg 2000 file")
    with pytest.raises(DatasetError, match=r"_B04\.jp2: cannot read"):
        open_safe(product, bands=["red"])
    with pytest.raises(DatasetError, match=r"_B04\.jp2: cannot read"):
        open_safe(product, bands=["blue", "red"])
    with pytest.raises(DatasetError, match=r"_B04\.jp2: cannot read"):
        open_safe(product, bands=["blue", "red"], resolution=20)
    # A band file whose size disagrees with the tile grid of the others.
    write_jp2(jp2, np.ones((N - 2, N - 2), np.uint16), 10)
    with pytest.raises(DatasetError, match="expected"):
        open_safe(product, bands=["blue", "red"])


def test_sentinel2_safe_dataset_yields_one_sample_per_product(tmp_path):
    make_l1c(tmp_path / "a")
    make_l2a(tmp_path / "b")
    cls = get_dataset("sentinel2_safe")
    assert cls is Sentinel2Safe
    ds = cls(tmp_path, bands=["red", "nir"], resolution=20)
    assert len(ds) == 2 and ds.bands == ("red", "nir")
    first, second = ds[0], ds[1]
    assert first["image"].shape == (2, N // 2, N // 2)
    assert first["meta"]["sensor"] == "sentinel2_l1c"
    assert second["meta"]["sensor"] == "sentinel2_l2a"
    assert first["meta"]["crs"] == "EPSG:32632"
    assert first["meta"]["transform"] == (20.0, 0.0, LEFT, 0.0, -20.0, TOP)
    np.testing.assert_allclose(first["meta"]["offset"], [-0.1, -0.1])
    assert ds.describe()["samples"] == 2
    assert "dataspace.copernicus.eu" in cls.manual_download
    with pytest.raises(DatasetError, match=r"no <product>\.SAFE folder"):
        cls(tmp_path / "a" / next((tmp_path / "a").iterdir()).name / "GRANULE")
