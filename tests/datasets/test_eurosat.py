"""EuroSAT: RGB JPEG and 13-band Sentinel-2 GeoTIFF class folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _classification_fixtures import pattern, smooth_rgb, truncate, write_geotiff, write_jpeg
from affine import Affine

from satlearn.bands import get_sensor
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.eurosat import EUROSAT_CLASSES, EuroSAT, EuroSATMS

CLASSES = ("Forest", "Highway", "SeaLake")
UTM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5600000.0)


def make_rgb(root: Path, folder: str = "EuroSAT_RGB", per_class: int = 4) -> dict:
    written = {}
    for cls in CLASSES:
        for i in range(1, per_class + 1):
            name = f"{cls}_{i}.jpg"
            decoded = write_jpeg(root / folder / cls / name, smooth_rgb(i, 16, 16))
            written[name] = (EUROSAT_CLASSES.index(cls), decoded, smooth_rgb(i, 16, 16))
    return written


def make_ms(root: Path, folder: str = "EuroSAT_MS", per_class: int = 3) -> dict:
    written = {}
    for k, cls in enumerate(CLASSES):
        for i in range(1, per_class + 1):
            name = f"{cls}_{i}.tif"
            pixels = pattern(10 * k + i, (13, 8, 8), np.uint16, high=10000)
            write_geotiff(root / folder / cls / name, pixels, crs="EPSG:32632", transform=UTM)
            written[name] = (EUROSAT_CLASSES.index(cls), pixels)
    return written


def test_rgb_reads_jpeg_pixels_in_rgb_order_and_labels(tmp_path):
    written = make_rgb(tmp_path)
    ds = EuroSAT(tmp_path)
    assert len(ds) == 12 and ds.bands == ("red", "green", "blue")
    for sample in ds:
        label, decoded, original = written[Path(sample["meta"]["file"]).name]
        assert sample["label"] == label and EUROSAT_CLASSES[label] in sample["meta"]["file"]
        np.testing.assert_array_equal(sample["image"], decoded)  # exactly what libjpeg decodes
        # and close to what was encoded: red ramps along x, green along y (no BGR, no transpose)
        assert np.abs(sample["image"].astype(int) - original).max() <= 8


def test_rgb_found_under_the_original_2750_folder_too(tmp_path):
    make_rgb(tmp_path, folder="2750", per_class=1)
    ds = get_dataset("eurosat")(tmp_path)
    assert ds.image_dir == tmp_path / "2750" and len(ds) == 3


def test_ms_reads_13_bands_uint16_with_georeferencing(tmp_path):
    written = make_ms(tmp_path)
    ds = get_dataset("eurosat-ms")(tmp_path)
    assert ds.bands == get_sensor("sentinel2_l1c").names
    assert ds.bands[7:9] == ("nir", "nir08")  # B08 then B8A
    assert len(ds) == 9
    for sample in ds:
        label, pixels = written[Path(sample["meta"]["file"]).name]
        assert sample["label"] == label
        assert sample["image"].dtype == np.uint16
        np.testing.assert_array_equal(sample["image"], pixels)
        assert sample["meta"]["crs"] == "EPSG:32632"
        assert Affine(*sample["meta"]["transform"]) == UTM


def test_ms_original_archive_layout(tmp_path):
    make_ms(tmp_path, folder="ds/images/remote_sensing/otherDatasets/sentinel_2/tif", per_class=1)
    assert len(EuroSATMS(tmp_path)) == 3


def test_ms_wrong_band_count_named(tmp_path):
    make_ms(tmp_path, per_class=1)
    path = tmp_path / "EuroSAT_MS" / "Forest" / "Forest_1.tif"
    write_geotiff(path, pattern(0, (3, 8, 8), np.uint16), crs="EPSG:32632", transform=UTM)
    ds = EuroSATMS(tmp_path)
    index = next(i for i, f in enumerate(ds.files) if f == path)
    with pytest.raises(DatasetError, match=r"Forest_1.tif: 3 bands, expected the 13"):
        ds[index]


def test_ms_file_broken_after_listing_names_it(tmp_path):
    make_ms(tmp_path, per_class=1)
    ds = EuroSATMS(tmp_path, verify="none")
    (ds.files[0]).write_bytes(b"II*\x00garbage")
    with pytest.raises(DatasetError, match=r"unreadable image"):
        ds[0]


def test_split_by_seed_and_torchgeo_lists_of_tif_names_select_jpegs(tmp_path):
    make_rgb(tmp_path, per_class=10)
    train = EuroSAT(tmp_path, split="train", seed=0)
    assert train.class_counts()["Forest"] == 6 and len(train) == 18
    (tmp_path / "eurosat-test.txt").write_text("Forest_3.tif\nSeaLake_10.tif\n")
    test = EuroSAT(tmp_path, split="test")
    assert [f.name for f in test.files] == ["Forest_3.jpg", "SeaLake_10.jpg"]
    assert test.labels.tolist() == [1, 9]


def test_numbering_sorted_naturally(tmp_path):
    make_rgb(tmp_path, per_class=10)
    ds = EuroSAT(tmp_path)
    forest = [f.name for f in ds.files if f.parent.name == "Forest"]
    assert (
        forest[:3] == ["Forest_1.jpg", "Forest_2.jpg", "Forest_3.jpg"]
        and forest[-1] == "Forest_10.jpg"
    )


def test_truncated_jpeg_among_many_skipped_with_full_verification(tmp_path):
    make_rgb(tmp_path, per_class=5)
    truncate(tmp_path / "EuroSAT_RGB" / "Highway" / "Highway_2.jpg", keep=0.6)
    ds = EuroSAT(tmp_path, verify="full")
    assert len(ds) == 14 and ds.describe()["skipped"] == 1
    assert ds.skipped[0][0].endswith("Highway_2.jpg")
    assert ds.class_counts()["Highway"] == 4


def test_unknown_class_and_mislabelled_file(tmp_path):
    make_rgb(tmp_path, per_class=1)
    write_jpeg(tmp_path / "EuroSAT_RGB" / "Forest" / "River_5.jpg", smooth_rgb(0, 8, 8))
    with pytest.raises(DatasetError, match=r"River_5.jpg is named for class 'River'"):
        EuroSAT(tmp_path)
    (tmp_path / "EuroSAT_RGB" / "Forest" / "River_5.jpg").unlink()
    write_jpeg(tmp_path / "EuroSAT_RGB" / "Desert" / "Desert_1.jpg", smooth_rgb(0, 8, 8))
    with pytest.raises(DatasetError, match="Desert is not a known class folder"):
        EuroSAT(tmp_path)


def test_download_spec_and_describe(tmp_path):
    make_rgb(tmp_path, per_class=1)
    (download,) = EuroSAT.downloads
    assert download.url.startswith("https://zenodo.org/") and download.extract
    assert EuroSATMS.downloads[0].sha256 is None  # not invented
    info = EuroSAT(tmp_path).describe()
    assert info["name"] == "eurosat" and info["samples"] == 3
    assert info["missing_classes"] == sorted(set(EUROSAT_CLASSES) - set(CLASSES))


def test_dataloader_batches_ms_samples(tmp_path):
    torch = pytest.importorskip("torch")
    make_ms(tmp_path, per_class=1)
    batch = next(iter(torch.utils.data.DataLoader(EuroSATMS(tmp_path), batch_size=2)))
    assert batch["image"].shape == (2, 13, 8, 8)
    assert batch["label"].tolist() == [1, 3]
