"""Planet Amazon: train_v2.csv tags to 17-label vectors, JPEG and BGRN GeoTIFF chips."""

from __future__ import annotations

import numpy as np
import pytest
from _classification_fixtures import pattern, smooth_rgb, truncate, write_geotiff, write_jpeg

from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.planet import PLANET_LABELS, PlanetAmazon
from satlearn.errors import InvalidInputError

TAGS = ["haze primary", "clear primary water road", "cloudy", "agriculture artisinal_mine clear"]


def make_planet(root, tags=TAGS, tif=True, jpg=True):
    rows = ["image_name,tags"] + [f"train_{i},{t}" for i, t in enumerate(tags)]
    (root / "train_v2.csv").write_text("\n".join(rows) + "\n")
    written = {}
    for i in range(len(tags)):
        decoded = (
            write_jpeg(root / "train-jpg" / f"train_{i}.jpg", smooth_rgb(i, 16, 16))
            if jpg
            else None
        )
        bgrn = pattern(i, (4, 16, 16), np.uint16, high=20000)
        if tif:
            write_geotiff(root / "train-tif-v2" / f"train_{i}.tif", bgrn, crs=None, transform=None)
        written[f"train_{i}"] = (decoded, bgrn)
    return written


def test_labels_are_17_vectors_in_documented_order(tmp_path):
    make_planet(tmp_path)
    ds = get_dataset("planet-amazon")(tmp_path)
    assert len(PLANET_LABELS) == 17 and list(PLANET_LABELS) == sorted(PLANET_LABELS)
    assert ds.task == "multilabel" and len(ds) == 4
    for i, tags in enumerate(TAGS):
        label = ds[i]["label"]
        assert label.shape == (17,) and label.dtype == np.uint8
        assert {PLANET_LABELS[j] for j in np.flatnonzero(label)} == set(tags.split())
    counts = ds.describe()["label_counts"]
    assert counts["primary"] == 2 and counts["clear"] == 2 and counts["blow_down"] == 0


def test_jpg_and_bgrn_tif_pixels(tmp_path):
    written = make_planet(tmp_path)
    jpg = PlanetAmazon(tmp_path)
    tif = PlanetAmazon(tmp_path, format="tif")
    assert jpg.bands == ("red", "green", "blue")
    assert tif.bands == ("blue", "green", "red", "nir")
    for i in range(4):
        decoded, bgrn = written[f"train_{i}"]
        np.testing.assert_array_equal(jpg[i]["image"], decoded)
        assert tif[i]["image"].dtype == np.uint16
        np.testing.assert_array_equal(tif[i]["image"], bgrn)
        assert tif[i]["meta"]["image_name"] == f"train_{i}"


def test_wrong_header_unknown_tag_and_bad_row_named(tmp_path):
    make_planet(tmp_path)
    csv = tmp_path / "train_v2.csv"
    good = csv.read_text()
    csv.write_text(good.replace("image_name,tags", "name,labels"))
    with pytest.raises(DatasetError, match=r"train_v2.csv, row 1: header"):
        PlanetAmazon(tmp_path)
    csv.write_text(good.replace("cloudy", "cloudy smoke"))
    with pytest.raises(
        DatasetError, match=r"train_v2.csv, row 4: unknown tag 'smoke' for 'train_2'"
    ):
        PlanetAmazon(tmp_path)
    csv.write_text(good + "train_9,clear,extra\n")
    with pytest.raises(DatasetError, match=r"row 6: expected image_name,tags"):
        PlanetAmazon(tmp_path)


def test_missing_and_corrupt_chips_skipped_and_reported(tmp_path):
    make_planet(tmp_path)
    (tmp_path / "train-jpg" / "train_1.jpg").unlink()
    (tmp_path / "train-jpg" / "train_2.jpg").write_bytes(b"")
    truncate(tmp_path / "train-jpg" / "train_3.jpg", keep=0.5)
    ds = PlanetAmazon(tmp_path, verify="full")
    assert [n for n in ds.names] == ["train_0"]
    info = ds.describe()
    assert info["skipped"] == 3
    reasons = {s["file"].rsplit("/", 1)[1]: s["reason"] for s in info["skipped_files"]}
    assert reasons["train_1.jpg"] == "missing file" and reasons["train_2.jpg"] == "empty file"
    assert "unreadable" in reasons["train_3.jpg"]
    assert info["label_counts"]["haze"] == 1  # the labels stay aligned with the kept chips
    assert len(PlanetAmazon(tmp_path, verify="none")) == 3  # only the missing one is dropped


def test_test_split_unlabelled_from_sample_submission(tmp_path):
    (tmp_path / "sample_submission_v2.csv").write_text(
        "image_name,tags\ntest_0,primary clear\nfile_0,primary clear\n"
    )
    write_jpeg(tmp_path / "test-jpg" / "test_0.jpg", smooth_rgb(0, 8, 8))
    write_jpeg(tmp_path / "test-jpg-additional" / "file_0.jpg", smooth_rgb(1, 8, 8))
    ds = PlanetAmazon(tmp_path, split="test")
    assert len(ds) == 2 and "label" not in ds[0] and "label_counts" not in ds.describe()
    assert ds.files[1].parent.name == "test-jpg-additional"


def test_wrong_band_count_and_arguments(tmp_path):
    make_planet(tmp_path, tags=["clear"])
    write_geotiff(
        tmp_path / "train-tif-v2" / "train_0.tif",
        pattern(0, (3, 8, 8), np.uint16),
        crs=None,
        transform=None,
    )
    with pytest.raises(DatasetError, match=r"train_0\.tif: 3 bands, expected 4"):
        PlanetAmazon(tmp_path, format="tif")[0]
    with pytest.raises(InvalidInputError, match="split"):
        PlanetAmazon(tmp_path, split="val")
    with pytest.raises(InvalidInputError, match="format"):
        PlanetAmazon(tmp_path, format="png")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="verify"):
        PlanetAmazon(tmp_path, verify="all")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match=r"sample_submission_v2\.csv not found.*kaggle"):
        PlanetAmazon(tmp_path, split="test")


def test_empty_table_and_dataloader(tmp_path):
    (tmp_path / "train_v2.csv").write_text("image_name,tags\n\n")
    assert len(PlanetAmazon(tmp_path)) == 0
    torch = pytest.importorskip("torch")
    make_planet(tmp_path)
    batch = next(
        iter(torch.utils.data.DataLoader(PlanetAmazon(tmp_path, format="tif"), batch_size=2))
    )
    assert batch["image"].shape == (2, 4, 16, 16) and batch["label"].shape == (2, 17)
