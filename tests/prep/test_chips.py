"""Chips: grids with overlap, balanced random chips, chip sets on disk and read back."""

from __future__ import annotations

import csv
import json

import dask.array as dsa
import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr
from affine import Affine

from conftest import CRS, TRANSFORM, make_dataarray, write_geotiff
from satlearn.datasets import get_dataset
from satlearn.datasets.chip_set import ChipDataset
from satlearn.errors import CRSMismatchError, DatasetError, InvalidInputError
from satlearn.prep.chips import (
    grid_chips,
    grid_windows,
    random_chips,
    write_chip_set,
)
from satlearn.vector import write_geojson

X0, Y0 = TRANSFORM.c, TRANSFORM.f


def scene(height=70, width=90, bands=3, dtype=np.float32, nodata=None):
    data = np.arange(bands * height * width, dtype=dtype).reshape(bands, height, width)
    return make_dataarray(data, names=["red", "green", "blue"][:bands], nodata=nodata)


def test_grid_windows_cover_the_raster_with_overlap_and_pad_only_the_far_edges():
    windows = grid_windows(70, 90, 32, overlap=8)
    assert sorted({w.row_off for w in windows}) == [0, 24, 48]
    assert sorted({w.col_off for w in windows}) == [0, 24, 48, 72]
    covered = np.zeros((70, 90), dtype=int)
    for w in windows:
        covered[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width] += 1
    assert covered.min() == 1
    assert max(w.row_off + w.height for w in windows) == 70  # clipped, not shifted
    dropped = grid_windows(70, 90, 32, overlap=8, drop_partial=True)
    assert all(w.width == 32 and w.height == 32 for w in dropped)
    assert len(dropped) == 2 * 3
    # An exact fit adds no sliver chip.
    assert [w.col_off for w in grid_windows(32, 56, 32, overlap=8)] == [0, 24]


def test_grid_chips_keep_values_and_georeferencing():
    da = scene()
    chips = list(grid_chips(da, 32, overlap=8))
    assert len(chips) == 12
    for window, chip in chips:
        assert chip.shape == (3, 32, 32) and chip.rio.crs == da.rio.crs
        t = chip.rio.transform()
        assert (t.c, t.f) == (X0 + 10 * window.col_off, Y0 - 10 * window.row_off)
        h, w = window.height, window.width
        np.testing.assert_array_equal(
            chip.values[:, :h, :w],
            da.values[:, window.row_off : window.row_off + h, window.col_off : window.col_off + w],
        )
        # The pixel coordinates continue the transform into the padding.
        np.testing.assert_allclose(chip.x.values, t.c + 10 * (np.arange(32) + 0.5))
    _, corner = chips[-1]
    assert np.isnan(corner.values[:, 22:, :]).all()  # rows 70..79 padded with NaN
    ints = list(grid_chips(scene(dtype=np.uint16, nodata=7), 32, overlap=8))
    assert ints[-1][1].dtype == np.uint16 and (ints[-1][1].values[:, 22:, :] == 7).all()


def test_grid_chips_of_a_dask_cube_stay_lazy_and_read_only_their_window():
    reads = []

    def block(block_info=None):
        reads.append(block_info[None]["array-location"])
        (t0, t1), (b0, b1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        return np.full((t1 - t0, b1 - b0, y1 - y0, x1 - x0), y0 + x0, dtype=np.float32)

    data = dsa.map_blocks(block, chunks=((2,), (3,), (64,) * 4, (64,) * 4), dtype=np.float32)
    cube = xr.DataArray(data, dims=("time", "band", "y", "x"))
    chips = grid_chips(cube, 64, transform=TRANSFORM, crs=CRS)
    _, chip = next(chips)
    assert chip.chunks is not None and reads == []
    assert chip.shape == (2, 3, 64, 64) and chip.rio.crs.to_epsg() == 32633
    assert float(chip.values[0, 0, 0, 0]) == 0.0
    assert len(reads) == 1  # one block of sixteen


def test_plain_arrays_get_a_transform_and_errors_name_the_problem():
    _, chip = next(grid_chips(np.ones((40, 40), dtype=np.uint8), 16, transform=TRANSFORM))
    assert chip.dims == ("y", "x") and chip.rio.transform() == TRANSFORM
    with pytest.raises(InvalidInputError, match="overlap 32 must be smaller than the chip size 32"):
        grid_windows(100, 100, 32, overlap=32)
    with pytest.raises(InvalidInputError, match=r"chip size 64 is larger than the scene \(40 x 50"):
        list(grid_chips(np.zeros((40, 50)), 64))
    with pytest.raises(InvalidInputError, match="positive int"):
        grid_windows(10, 10, 0)
    with pytest.raises(InvalidInputError, match="overlap must be"):
        grid_windows(10, 10, 4, overlap=-1)
    with pytest.raises(InvalidInputError, match=r"dims must end with \(y, x\)"):
        list(grid_chips(xr.DataArray(np.zeros((4, 4)), dims=("a", "b")), 2))
    with pytest.raises(InvalidInputError, match="at least 2 dims"):
        list(grid_chips(np.zeros(10), 2))
    cube = np.zeros((2, 3, 20, 20))
    assert next(grid_chips(cube, 10, crs=CRS))[1].dims == ("dim_0", "dim_1", "y", "x")
    renamed = next(grid_chips(scene(), 32, transform=Affine(1, 0, 0, 0, -1, 0), crs="EPSG:3857"))
    assert renamed[1].rio.crs.to_epsg() == 3857


def test_random_chips_balance_a_rare_class():
    mask = np.zeros((200, 200), dtype=np.uint8)
    mask[10:14, 150:154] = 1  # 16 of 40,000 pixels
    mask[100:, :] = 2
    da = scene(200, 200)
    balanced = list(random_chips(da, mask, 16, 60, seed=0))
    centres = [int(m.values[8, 8]) for _, _, m in balanced]
    assert np.bincount(centres, minlength=3).tolist() == [20, 20, 20]
    uniform = list(random_chips(da, mask, 16, 60, balance=False, seed=0))
    assert sum(bool((m.values == 1).any()) for _, _, m in uniform) < 5
    for window, image, chip_mask in balanced:
        r, c = window.row_off, window.col_off
        assert 0 <= r <= 200 - 16 and 0 <= c <= 200 - 16
        np.testing.assert_array_equal(image.values, da.values[:, r : r + 16, c : c + 16])
        np.testing.assert_array_equal(chip_mask.values, mask[r : r + 16, c : c + 16])
        assert chip_mask.rio.transform() == image.rio.transform()
    again = [w for w, _, _ in random_chips(da, mask, 16, 60, seed=0)]
    assert again == [w for w, _, _ in balanced]


def test_random_chips_ignore_classes_and_reject_bad_masks():
    mask = xr.DataArray(np.full((1, 40, 40), 255, dtype=np.uint8))
    mask[0, :5, :5] = 3
    chips = list(random_chips(np.zeros((40, 40)), mask, 8, 4, ignore=[255], crs=CRS))
    assert all((m.values == 3).any() for _, _, m in chips)
    signed = np.full((40, 40), -1, dtype=np.int16)
    assert len(list(random_chips(np.zeros((40, 40)), signed, 8, 3))) == 3
    assert len(list(random_chips(np.zeros((40, 40)), np.ones((40, 40), bool), 8, 2))) == 2
    with pytest.raises(InvalidInputError, match="all ignored"):
        list(random_chips(np.zeros((40, 40)), mask, 8, 4, ignore=[255, 3]))
    with pytest.raises(InvalidInputError, match=r"mask shape \(30, 40\) does not match"):
        list(random_chips(np.zeros((40, 40)), np.zeros((30, 40), np.uint8), 8, 1))
    with pytest.raises(InvalidInputError, match="integer classes"):
        list(random_chips(np.zeros((40, 40)), np.zeros((40, 40)), 8, 1))
    with pytest.raises(InvalidInputError, match="n must be"):
        list(random_chips(np.zeros((40, 40)), np.zeros((40, 40), np.uint8), 8, -1))


# ----------------------------------------------------------------------------- chip sets


def labelled_scene(tmp_path):
    image = np.random.default_rng(0).integers(1, 1000, (3, 70, 90)).astype(np.uint16)
    image[:, :, 80:] = 0  # a nodata strip on the east
    mask = np.zeros((1, 70, 90), dtype=np.uint8)
    mask[0, 10:30, 10:40] = 1
    mask[0, 50:60, 20:70] = 2
    scene_path = write_geotiff(
        tmp_path / "scene.tif", image, nodata=0, descriptions=["red", "green", "blue"]
    )
    mask_path = write_geotiff(tmp_path / "mask.tif", mask)
    return scene_path, mask_path, image, mask[0]


def read_index(out):
    with (out / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_chip_set_from_a_label_raster_writes_chips_index_and_reads_back(tmp_path):
    scene_path, mask_path, image, mask = labelled_scene(tmp_path)
    out = tmp_path / "chips"
    summary = write_chip_set(
        scene_path, mask_path, out, size=32, overlap=8, block=1, seed=3, max_nodata=1.0
    )
    rows = read_index(out)
    assert summary.written == len(rows) == 12 and summary.resumed == 0
    assert sum(summary.splits.values()) == 12
    assert set(rows[0]) >= {"id", "image", "mask", "minx", "miny", "maxx", "maxy", "crs", "split"}
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    # Class counts in the index add up to the labelled pixels each chip holds.
    for row in rows:
        r0, c0 = int(row["row"]), int(row["col"])
        window = mask[r0 : r0 + 32, c0 : c0 + 32]
        assert int(row["count_1"]) == int((window == 1).sum())
        assert int(row["count_2"]) == int((window == 2).sum())
        assert float(row["minx"]) == X0 + 10 * c0 and float(row["maxy"]) == Y0 - 10 * r0
        assert row["crs"] == "EPSG:32633"
    with rasterio.open(out / rows[-1]["image"]) as ds, rasterio.open(out / rows[-1]["mask"]) as dm:
        assert ds.transform == TRANSFORM @ Affine.translation(72, 48)
        assert ds.descriptions == ("red", "green", "blue") and ds.nodata == 0
        assert (ds.read()[:, 22:, :] == 0).all()  # padded with nodata
        assert dm.nodata == 255 and (dm.read(1)[22:, :] == 255).all()
        np.testing.assert_array_equal(ds.read()[:, :22, :18], image[:, 48:, 72:])
    dataset = get_dataset("chips")(out, split=None)
    assert len(dataset) == 12 and dataset.bands == ("red", "green", "blue")
    sample = dataset[0]
    assert sample["image"].shape == (3, 32, 32) and sample["mask"].shape == (32, 32)
    np.testing.assert_array_equal(sample["mask"], mask[:32, :32])
    assert sample["meta"]["crs"] == "EPSG:32633"
    train = ChipDataset(out, split="train")
    assert len(train) == summary.splits["train"]
    assert train.describe()["classes"] == ["0", "1", "2"]
    info = json.loads((out / "chipset.json").read_text())
    assert info["size"] == 32 and info["ignore_index"] == 255


def test_chip_set_resumes_and_skips_nodata_chips(tmp_path):
    scene_path, mask_path, _, _ = labelled_scene(tmp_path)
    out = tmp_path / "chips"
    first = write_chip_set(scene_path, mask_path, out, size=16, overlap=0, max_nodata=0.3)
    # Columns 80.. are nodata and rows 70.. padding: the chips of column 80 and of
    # row 64 (6 of 16 rows inside) hold too little data.
    assert first.skipped_nodata == 5 + 5 and first.written == 4 * 5
    rows_first = read_index(out)
    victim = out / "images" / "r0000_c0000.tif"
    victim.unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    again = write_chip_set(scene_path, mask_path, out, size=16, overlap=0, max_nodata=0.3)
    assert again.written == 1 and again.resumed == 19
    after = {p.name: p.stat().st_mtime_ns for p in (out / "images").iterdir()}
    assert all(after[name] == t for name, t in before.items())
    assert read_index(out) == rows_first  # counts and valid fractions read back from disk
    empty = write_chip_set(
        scene_path,
        mask_path,
        tmp_path / "labelled",
        size=16,
        overlap=0,
        skip_empty=True,
        max_nodata=1.0,
    )
    assert empty.skipped_empty > 0
    assert all(int(r["count_1"]) + int(r["count_2"]) > 0 for r in read_index(tmp_path / "labelled"))


def test_chip_set_from_vector_labels_in_another_crs_with_class_names(tmp_path):
    scene_path, _, _, mask = labelled_scene(tmp_path)
    polygons = [
        (shapely.box(X0 + 100, Y0 - 300, X0 + 400, Y0 - 100), "field"),
        (shapely.box(X0 + 200, Y0 - 600, X0 + 700, Y0 - 500), "road"),
    ]
    import rasterio.warp

    features = [
        {
            "type": "Feature",
            "geometry": rasterio.warp.transform_geom(CRS, "EPSG:4326", shapely.geometry.mapping(g)),
            "properties": {"kind": kind},
        }
        for g, kind in polygons
    ]
    labels = write_geojson(features, tmp_path / "labels.geojson")  # WGS 84
    out = tmp_path / "chips"
    summary = write_chip_set(scene_path, labels, out, size=32, overlap=8, attribute="kind")
    info = json.loads((out / "chipset.json").read_text())
    assert info["classes"] == {"0": "0", "1": "field", "2": "road"}
    assert set(summary.class_pixels) == {"0", "1", "2"}
    dataset = ChipDataset(out, split=None)
    by_id = {dataset[i]["meta"]["id"]: dataset[i]["mask"] for i in range(len(dataset))}
    # The reprojected polygons burn exactly where the raster mask has its classes.
    np.testing.assert_array_equal(by_id["r0000_c0000"], mask[:32, :32])
    np.testing.assert_array_equal(by_id["r0002_c0001"][:22], mask[48:70, 24:56])
    explicit = write_chip_set(
        scene_path,
        [
            {"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": {}}
            for g, _ in polygons
        ],
        tmp_path / "binary",
        size=32,
        overlap=8,
        class_names=["background", "object"],
    )
    assert set(explicit.class_pixels) == {"0", "1"}
    assert (
        json.loads((tmp_path / "binary" / "chipset.json").read_text())["classes"]["1"] == "object"
    )


def test_chip_set_bad_input_names_the_input(tmp_path):
    scene_path, mask_path, _, _ = labelled_scene(tmp_path)
    out = tmp_path / "chips"
    with pytest.raises(InvalidInputError, match=r"scene\.tif: chip size 128 is larger"):
        write_chip_set(scene_path, mask_path, out, size=128)
    with pytest.raises(InvalidInputError, match="overlap 32 must be smaller"):
        write_chip_set(scene_path, mask_path, out, size=32, overlap=32)
    with pytest.raises(InvalidInputError, match="split must be"):
        write_chip_set(scene_path, mask_path, out, size=32, overlap=8, split=(0.5, 0.1))
    with pytest.raises(InvalidInputError, match="block must be"):
        write_chip_set(scene_path, mask_path, out, size=32, overlap=8, block=0)
    with pytest.raises(InvalidInputError, match="max_nodata"):
        write_chip_set(scene_path, mask_path, out, size=32, overlap=8, max_nodata=2)
    other = write_geotiff(tmp_path / "utm32.tif", np.zeros((1, 70, 90), np.uint8), crs="EPSG:32632")
    with pytest.raises(CRSMismatchError, match=r"utm32\.tif: label raster CRS EPSG:32632"):
        write_chip_set(scene_path, other, out, size=32, overlap=8)
    shifted = write_geotiff(
        tmp_path / "shifted.tif",
        np.zeros((1, 70, 90), np.uint8),
        transform=TRANSFORM @ Affine.translation(1, 0),
    )
    with pytest.raises(InvalidInputError, match=r"shifted\.tif: label raster grid"):
        write_chip_set(scene_path, shifted, out, size=32, overlap=8)
    two = write_geotiff(tmp_path / "two.tif", np.zeros((2, 70, 90), np.uint8))
    with pytest.raises(InvalidInputError, match="one band"):
        write_chip_set(scene_path, two, out, size=32, overlap=8)
    far = write_geojson(
        [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.box(0, 0, 10, 10)),
                "properties": {"c": 1},
            }
        ],
        tmp_path / "far.geojson",
        crs=CRS,
    )
    with pytest.raises(DatasetError, match=r"far\.geojson: labels .* outside .*scene\.tif"):
        write_chip_set(scene_path, far, out, size=32, overlap=8)
    with pytest.raises(DatasetError, match=r"far\.geojson: feature 0 lacks attribute 'class'"):
        write_chip_set(scene_path, far, out, size=32, overlap=8, attribute="class")
    with pytest.raises(InvalidInputError, match="needs a"):
        write_chip_set(xr.DataArray(np.zeros((40, 40)), dims=("y", "x")), mask_path, out, size=8)
    assert not out.exists()


@pytest.mark.parametrize("seed", range(6))
def test_block_splits_count_chips_and_leave_no_wanted_split_empty(seed):
    from satlearn.prep.chips._split import block_splits

    # 5 x 5 chips in blocks of 4: blocks of 16, 4, 4 and 1 chips.
    cells, names = block_splits(5, 5, 4, (0.8, 0.1, 0.1), seed)
    counts = np.bincount(cells.ravel(), minlength=3)
    assert names == ["train", "val", "test"]
    assert (counts > 0).all()
    assert counts[0] >= counts[1] and counts[0] >= counts[2]
    # Blocks stay whole: every 4 x 4 block holds one split.
    assert len(set(cells[:4, :4].ravel())) == 1
    # Many blocks: the chip shares follow the fractions.
    many, _ = block_splits(40, 40, 4, (0.8, 0.1, 0.1), seed)
    shares = np.bincount(many.ravel(), minlength=3) / many.size
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.06)
