"""DSTL Feature Detection: the published CSVs and TIFFs, and polygons scaled as the competition did.

Grid of the fixture image: Xmax = 0.0093, Ymin = -0.009. Hand-computed pixel
coordinates of the rectangle x in [0.001, 0.0025], y in [-0.005, -0.002]:

three_band, 20 x 30 (H x W):  W' = 30*30/31 = 29.0323, H' = 20*20/21 = 19.0476
    x' = 0.001/0.0093*29.0323 = 3.122 .. 0.0025/0.0093*29.0323 = 7.804 -> columns 4..7
    y' = 0.002/0.009*19.0476 = 4.233 .. 0.005/0.009*19.0476 = 10.582 -> rows 5..10
    (pixel centres on integers; without the W/(W+1) factor x' would reach 8.06 and
    take column 8; with pixel corners on integers column 3 would join.)
M, 5 x 8:  W' = 64/9 = 7.111, H' = 25/6 = 4.167
    x' = 0.765 .. 1.912 -> column 1;  y' = 0.926 .. 2.315 -> rows 1..2
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from conftest import write_geotiff
from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.dstl import DSTL_CLASSES, Dstl, dstl_to_pixels

RECT = "((0.001 -0.002, 0.0025 -0.002, 0.0025 -0.005, 0.001 -0.005, 0.001 -0.002))"
# A small vehicle in the middle of the building rectangle: classes overlap.
CAR = "((0.0015 -0.003, 0.0021 -0.003, 0.0021 -0.0035, 0.0015 -0.0035, 0.0015 -0.003))"
IMAGE = "6120_2_2"


def _write_root(root: Path, *, wkt_rows: list[str] | None = None) -> Path:
    rows = wkt_rows
    if rows is None:
        rows = [f'{IMAGE},1,"MULTIPOLYGON ({RECT})"']
        rows += [f"{IMAGE},{k},MULTIPOLYGON EMPTY" for k in range(2, 10)]
        rows += [f'{IMAGE},10,"MULTIPOLYGON ({CAR})"']
    (root / "train_wkt_v4.csv").write_text(
        "ImageId,ClassType,MultipolygonWKT\n" + "\n".join(rows) + "\n"
    )
    # The published grid_sizes.csv has an unnamed first column.
    (root / "grid_sizes.csv").write_text(
        f",Xmax,Ymin\n{IMAGE},0.0093,-0.009\n6010_0_0,0.009,-0.0091\n"
    )
    (root / "three_band").mkdir()
    (root / "sixteen_band").mkdir()
    rng = np.random.default_rng(0)
    three = rng.integers(0, 2047, (3, 20, 30), dtype=np.uint16)
    write_geotiff(root / "three_band" / f"{IMAGE}.tif", three)
    write_geotiff(
        root / "sixteen_band" / f"{IMAGE}_M.tif", np.ones((8, 5, 8), dtype=np.uint16), crs=None
    )
    write_geotiff(root / "sixteen_band" / f"{IMAGE}_P.tif", np.ones((1, 21, 31), dtype=np.uint16))
    write_geotiff(root / "three_band" / "6010_0_0.tif", three)
    return root


def test_scaling_formula_of_the_competition() -> None:
    square = shapely.box(0.0, -0.009, 0.0093, 0.0)  # the whole grid
    pixels = dstl_to_pixels(square, 0.0093, -0.009, (20, 30))
    minx, miny, maxx, maxy = pixels.bounds
    assert (minx, miny) == (0.0, 0.0)
    assert maxx == pytest.approx(30 * 30 / 31)
    assert maxy == pytest.approx(20 * 20 / 21)


def test_three_band_masks_pixel_exact(tmp_path: Path) -> None:
    ds = Dstl(_write_root(tmp_path))
    assert len(ds) == 1
    sample = ds[0]
    assert sample["image"].shape == (3, 20, 30) and sample["image"].dtype == np.uint16
    mask = sample["mask"]
    assert mask.shape == (10, 20, 30) and mask.dtype == np.uint8
    buildings = np.zeros((20, 30), dtype=np.uint8)
    buildings[5:11, 4:8] = 1
    np.testing.assert_array_equal(mask[0], buildings)
    # car: x' = 0.0015/0.0093*29.032 = 4.68 .. 6.56 -> cols 5..6; y' = 6.35 .. 7.41 -> row 7
    car = np.zeros((20, 30), dtype=np.uint8)
    car[7, 5:7] = 1
    np.testing.assert_array_equal(mask[9], car)
    # the overlap is kept: those pixels are both a building and a small vehicle
    assert (mask[0][car == 1] == 1).all()
    assert not mask[1:9].any()
    assert sample["meta"] == {
        "id": IMAGE,
        "file": str(tmp_path / "three_band" / f"{IMAGE}.tif"),
        "product": "three_band",
        "xmax": 0.0093,
        "ymin": -0.009,
    }


def test_each_product_scaled_with_its_own_size(tmp_path: Path) -> None:
    ds = Dstl(_write_root(tmp_path), product="M")
    assert ds.bands[4] == "red" and len(ds.bands) == 8
    mask = ds[0]["mask"]
    assert mask.shape == (10, 5, 8)
    expected = np.zeros((5, 8), dtype=np.uint8)
    expected[1:3, 1] = 1
    np.testing.assert_array_equal(mask[0], expected)
    pan = Dstl(tmp_path, product="P")[0]
    assert pan["image"].shape == (1, 21, 31) and pan["mask"].shape == (10, 21, 31)


def test_missing_product_files_are_skipped_and_counted(tmp_path: Path) -> None:
    _write_root(tmp_path)
    with pytest.raises(DatasetError, match=r"no train images.*_A\.tif"):
        Dstl(tmp_path, product="A")


def test_test_split_has_no_mask(tmp_path: Path) -> None:
    ds = Dstl(_write_root(tmp_path), split="test")
    assert [s["meta"]["id"] for s in ds] == ["6010_0_0"]
    assert "mask" not in ds[0]


def test_describe_and_registry(tmp_path: Path) -> None:
    info = Dstl(_write_root(tmp_path)).describe()
    assert info["classes"] == list(DSTL_CLASSES)
    assert info["polygons_per_class"]["buildings"] == 1
    assert info["polygons_per_class"]["vehicle_small"] == 1
    assert info["polygons_per_class"]["road"] == 0
    assert info["bands"] == ["red", "green", "blue"]
    assert get_dataset("DSTL") is Dstl
    assert "kaggle" in Dstl.manual_download.lower()


def test_wkt_that_does_not_parse_names_file_and_row(tmp_path: Path) -> None:
    rows = [f'{IMAGE},1,"MULTIPOLYGON ({RECT})"', f'{IMAGE},2,"MULTIPOLYGON (((0 0, 1 0"']
    _write_root(tmp_path, wkt_rows=rows)
    with pytest.raises(DatasetError, match=r"train_wkt_v4\.csv, line 3 \(6120_2_2, class 2\)"):
        Dstl(tmp_path)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (f"{IMAGE},11,MULTIPOLYGON EMPTY", "not in 1..10"),
        (f"{IMAGE},one,MULTIPOLYGON EMPTY", "not an integer"),
        ("9999_9_9,1,MULTIPOLYGON EMPTY", "not in grid_sizes.csv"),
        (f"{IMAGE},1", "expected 3 columns"),
        (f'{IMAGE},1,"POINT (0 0)"', "expected a MultiPolygon"),
    ],
)
def test_bad_wkt_rows(tmp_path: Path, row: str, problem: str) -> None:
    _write_root(tmp_path, wkt_rows=[row])
    with pytest.raises(DatasetError, match=f"line 2.*{problem}"):
        Dstl(tmp_path)


def test_wrong_headers(tmp_path: Path) -> None:
    _write_root(tmp_path)
    (tmp_path / "grid_sizes.csv").write_text("ImageId,Xmax,Ymin\n6120_2_2,0.0093,-0.009\n")
    with pytest.raises(DatasetError, match=r"grid_sizes\.csv: header"):
        Dstl(tmp_path)
    (tmp_path / "grid_sizes.csv").write_text(",Xmax,Ymin\n6120_2_2,0.0093\n")
    with pytest.raises(DatasetError, match="line 2: expected ImageId,Xmax,Ymin"):
        Dstl(tmp_path)
    (tmp_path / "grid_sizes.csv").write_text(",Xmax,Ymin\n6120_2_2,0.0093,0.009\n")
    with pytest.raises(DatasetError, match="Ymin < 0"):
        Dstl(tmp_path)
    (tmp_path / "grid_sizes.csv").write_text(",Xmax,Ymin\n6120_2_2,0.0093,-0.009\n")
    (tmp_path / "train_wkt_v4.csv").write_text("ImageId,Class,WKT\n")
    with pytest.raises(DatasetError, match=r"train_wkt_v4\.csv: header"):
        Dstl(tmp_path)


def test_missing_files_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"grid_sizes\.csv not found"):
        Dstl(tmp_path)
    (tmp_path / "grid_sizes.csv").write_text(",Xmax,Ymin\n")
    with pytest.raises(DatasetError, match=r"train_wkt_v4\.csv not found"):
        Dstl(tmp_path)
    with pytest.raises(DatasetError, match="unknown product"):
        Dstl(tmp_path, product="SWIR")
    with pytest.raises(DatasetError, match="unknown split"):
        Dstl(tmp_path, split="val")


def test_corrupt_and_wrong_band_count_tiffs(tmp_path: Path) -> None:
    _write_root(tmp_path)
    (tmp_path / "three_band" / f"{IMAGE}.tif").write_bytes(b"II*\x00 truncated")
    with pytest.raises(DatasetError, match="not a readable GeoTIFF"):
        Dstl(tmp_path)[0]
    (tmp_path / "three_band" / f"{IMAGE}.tif").unlink()
    write_geotiff(tmp_path / "three_band" / f"{IMAGE}.tif", np.ones((4, 20, 30), np.uint16))
    with pytest.raises(DatasetError, match="has 4 bands, expected 3"):
        Dstl(tmp_path)[0]
