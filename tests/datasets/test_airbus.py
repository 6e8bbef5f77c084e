"""Airbus Ship Detection: Kaggle's run-length encoding and the reader over the published layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.airbus import AirbusShips, rle_decode, rle_encode

# --- the encoding ------------------------------------------------------------------------------


def test_rle_decode_is_column_major_and_one_based() -> None:
    # Pixel 1 is the top-left; pixel 2 is the one below it (column-major), pixel 5 tops column 2.
    mask = rle_decode("1 1 5 2 16 1", shape=(4, 4))
    expected = np.zeros((4, 4), dtype=bool)
    expected[0, 0] = True
    expected[0:2, 1] = True
    expected[3, 3] = True
    np.testing.assert_array_equal(mask, expected)


def test_rle_decode_non_square_image() -> None:
    # 2 rows x 3 columns: pixels 3..4 are column 1 (rows 0 and 1).
    mask = rle_decode("3 2", shape=(2, 3))
    np.testing.assert_array_equal(mask, [[False, True, False], [False, True, False]])


def test_rle_empty_string_is_empty_mask_and_back() -> None:
    mask = rle_decode("", shape=(768, 768))
    assert mask.shape == (768, 768) and not mask.any()
    assert rle_encode(mask) == ""


def test_rle_encode_known_string() -> None:
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[1:3, 0] = 1  # pixels 2, 3
    mask[:, 1] = 1  # pixels 5..8
    mask[3, 3] = 1  # pixel 16 (the last one: a run that ends at the image's end)
    assert rle_encode(mask) == "2 2 5 4 16 1"


def test_rle_encode_rejects_non_2d() -> None:
    with pytest.raises(DatasetError, match="2-D"):
        rle_encode(np.zeros((2, 2, 2)))


@settings(max_examples=200, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_rle_round_trip_is_lossless(mask: np.ndarray) -> None:
    text = rle_encode(mask)
    np.testing.assert_array_equal(rle_decode(text, shape=mask.shape), mask)
    # and the string itself is canonical: re-encoding the decoded mask gives it back
    assert rle_encode(rle_decode(text, shape=mask.shape)) == text


@pytest.mark.parametrize(
    ("rle", "problem"),
    [
        ("1 5 20", "odd number of tokens"),
        ("10 2 5 1", "do not increase"),
        ("5 2 5 1", "do not increase"),
        ("1 4 3 1", "overlapping"),
        ("15 3", "runs past the image"),
        ("0 2", "below 1"),
        ("1 0", "length < 1"),
        ("1 x", "not an integer"),
    ],
)
def test_rle_decode_rejects_malformed(rle: str, problem: str) -> None:
    with pytest.raises(DatasetError, match=problem):
        rle_decode(rle, shape=(4, 4))


# --- the reader --------------------------------------------------------------------------------


def _write_jpeg(path: Path, rgb: tuple[int, int, int], size: int = 768) -> None:
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = rgb[::-1]  # OpenCV writes BGR
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 100])


def _ship(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((768, 768), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.fixture
def airbus_root(tmp_path: Path) -> Path:
    ship_a = _ship(10, 20, 100, 104)  # 10 rows x 4 columns
    ship_b = _ship(700, 768, 760, 768)  # touches the bottom-right corner
    ship_c = _ship(0, 1, 0, 1)  # a single pixel: "1 1"
    rows = [
        "ImageId,EncodedPixels",
        f"aaa.jpg,{rle_encode(ship_a)}",
        "bbb.jpg,",
        f"aaa.jpg,{rle_encode(ship_b)}",
        f"ccc.jpg,{rle_encode(ship_c)}",
    ]
    (tmp_path / "train_ship_segmentations_v2.csv").write_text("\n".join(rows) + "\n")
    # Kaggle's ImageId is the file name, extension included: train_v2/aaa.jpg
    for name in ("aaa.jpg", "bbb.jpg", "ccc.jpg"):
        _write_jpeg(tmp_path / "train_v2" / name, (200, 60, 10))
    return tmp_path


def test_reader_ships_masks_boxes(airbus_root: Path) -> None:
    ds = AirbusShips(airbus_root)
    assert len(ds) == 3
    assert ds.describe()["ships"] == 3
    assert ds.describe()["images_with_ships"] == 2

    first = ds[0]
    assert first["meta"]["id"] == "aaa.jpg"
    assert first["image"].shape == (3, 768, 768) and first["image"].dtype == np.uint8
    # RGB order, not OpenCV's BGR
    red, green, blue = (int(first["image"][i].mean()) for i in range(3))
    assert abs(red - 200) <= 2 and abs(green - 60) <= 2 and abs(blue - 10) <= 2
    np.testing.assert_array_equal(first["boxes"], [[100, 10, 104, 20], [760, 700, 768, 768]])
    np.testing.assert_array_equal(first["labels"], [1, 1])
    expected = np.zeros((768, 768), dtype=np.int32)
    expected[10:20, 100:104] = 1
    expected[700:, 760:] = 2
    np.testing.assert_array_equal(first["instances"], expected)
    np.testing.assert_array_equal(first["mask"], (expected > 0).astype(np.uint8))

    empty = ds[1]
    assert empty["boxes"].shape == (0, 4) and not empty["mask"].any()
    assert ds[2]["boxes"].tolist() == [[0, 0, 1, 1]]


def test_registered_and_needs_manual_download() -> None:
    assert get_dataset("airbus-ships") is AirbusShips
    assert "kaggle" in AirbusShips.manual_download.lower()
    assert AirbusShips.downloads == ()


def test_bad_rle_row_names_file_and_line(airbus_root: Path) -> None:
    csv_path = airbus_root / "train_ship_segmentations_v2.csv"
    csv_path.write_text(csv_path.read_text() + "ddd.jpg,589800 100\n")  # past 768*768 = 589824
    with pytest.raises(DatasetError, match=r"line 6 \(ddd.jpg\).*runs past the image"):
        AirbusShips(airbus_root)


def test_bad_rle_row_skipped_and_counted(airbus_root: Path) -> None:
    csv_path = airbus_root / "train_ship_segmentations_v2.csv"
    csv_path.write_text(csv_path.read_text() + "aaa.jpg,5 2 1 1\n")
    ds = AirbusShips(airbus_root, skip_invalid=True)
    # the whole image goes, not just the bad ship: a partial label would be a wrong label
    assert [s["meta"]["id"] for s in ds] == ["bbb.jpg", "ccc.jpg"]
    assert ds.describe()["skipped"] == 1
    assert "do not increase" in ds.skipped[0][1]


def test_wrong_header(tmp_path: Path) -> None:
    (tmp_path / "train_ship_segmentations_v2.csv").write_text("ImageId,Pixels\na.jpg,\n")
    with pytest.raises(DatasetError, match="header"):
        AirbusShips(tmp_path)


def test_wrong_column_count(tmp_path: Path) -> None:
    csv_path = tmp_path / "train_ship_segmentations_v2.csv"
    csv_path.write_text("ImageId,EncodedPixels\na.jpg,1 2,3\n")
    with pytest.raises(DatasetError, match="line 2: expected 2 columns"):
        AirbusShips(tmp_path)


def test_missing_csv_and_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        AirbusShips(tmp_path)
    (tmp_path / "train_ship_segmentations_v2.csv").write_text("ImageId,EncodedPixels\n")
    with pytest.raises(DatasetError, match="no images"):
        AirbusShips(tmp_path)


def test_missing_and_corrupt_images(airbus_root: Path) -> None:
    (airbus_root / "train_v2" / "bbb.jpg").unlink()
    (airbus_root / "train_v2" / "ccc.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    ds = AirbusShips(airbus_root)
    with pytest.raises(DatasetError, match=r"bbb\.jpg.*missing"):
        ds[1]
    with pytest.raises(DatasetError, match="not a readable JPEG"):
        ds[2]


def test_image_smaller_than_runs(airbus_root: Path) -> None:
    _write_jpeg(airbus_root / "train_v2" / "aaa.jpg", (1, 2, 3), size=256)
    with pytest.raises(DatasetError, match="runs past its 256x256 image"):
        AirbusShips(airbus_root)[0]


def test_test_split_and_unknown_split(airbus_root: Path) -> None:
    _write_jpeg(airbus_root / "test_v2" / "zzz.jpg", (5, 5, 5), size=64)
    ds = AirbusShips(airbus_root, split="test", transforms=lambda s: {**s, "seen": True})
    sample = ds[0]
    assert set(sample) == {"image", "meta", "seen"}
    assert sample["image"].shape == (3, 64, 64)
    with pytest.raises(DatasetError, match="unknown split"):
        AirbusShips(airbus_root, split="val")
