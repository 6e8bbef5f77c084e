"""open_raster and save_cog: round trips, windows, lazy reads, band names, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dask.array
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

import satlearn
from conftest import CRS, TRANSFORM, make_dataarray, write_geotiff
from satlearn import raster
from satlearn.errors import (
    InvalidInputError,
    NotARasterError,
    RasterIOError,
    RasterNotFoundError,
    RasterWriteError,
    UnknownBandError,
    UnknownSensorError,
)
from satlearn.raster import info, open_raster, save_cog, validate_cog

RNG = np.random.default_rng(42)

DTYPES = {
    "uint8": (0, 255, 0),
    "uint16": (0, 10000, 0),
    "int16": (-2000, 2000, -9999),
    "float32": (-1.0, 1.0, np.nan),
}


def random_image(dtype: str, shape=(3, 300, 420)) -> np.ndarray:
    low, high, _ = DTYPES[dtype]
    if dtype.startswith("float"):
        return RNG.uniform(low, high, shape).astype(dtype)
    return RNG.integers(low, high, shape, endpoint=True).astype(dtype)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_cog_round_trip_keeps_values_crs_transform_nodata_and_band_names(tmp_path, dtype):
    data = random_image(dtype)
    nodata = DTYPES[dtype][2]
    data[:, :5, :7] = nodata
    da = make_dataarray(data, names=["red", "green", "nir"], nodata=nodata)

    path = save_cog(da, tmp_path / f"{dtype}.tif", blocksize=128)

    assert path == tmp_path / f"{dtype}.tif"
    assert validate_cog(path) == (True, [], [])
    back = open_raster(path)
    assert back.dims == ("band", "y", "x")
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.values, data)
    assert list(back.band.values) == ["red", "green", "nir"]
    assert back.rio.crs == rasterio.crs.CRS.from_string(CRS)
    assert back.rio.transform() == TRANSFORM
    np.testing.assert_array_equal(back.x.values, da.x.values)
    np.testing.assert_array_equal(back.y.values, da.y.values)
    if np.isnan(nodata):
        assert np.isnan(back.rio.nodata)
    else:
        assert back.rio.nodata == nodata
    with rasterio.open(path) as ds:
        assert ds.descriptions == ("red", "green", "nir")
        assert ds.overviews(1)  # "auto" built overviews for a 300 x 420 raster in 128 tiles
        assert ds.block_shapes[0] == (128, 128)


def test_dask_backed_array_is_written_block_by_block_with_equal_values(tmp_path):
    data = random_image("uint16", shape=(2, 700, 530))
    eager = make_dataarray(data, names=["red", "nir"], nodata=0)
    lazy = eager.chunk({"band": 1, "y": 256, "x": 200})
    assert isinstance(lazy.data, dask.array.Array)

    save_cog(lazy, tmp_path / "lazy.tif")
    save_cog(eager, tmp_path / "eager.tif")

    np.testing.assert_array_equal(open_raster(tmp_path / "lazy.tif").values, data)
    np.testing.assert_array_equal(open_raster(tmp_path / "eager.tif").values, data)
    assert validate_cog(tmp_path / "lazy.tif")[0]


def test_dask_array_of_another_dtype_is_cast_while_streaming(tmp_path):
    data = np.arange(2 * 64 * 64, dtype="int64").reshape(1, 128, 64) % 200
    da = make_dataarray(data).chunk({"y": 32})
    save_cog(da.astype("float32").chunk({"y": 32}).astype("int64"), tmp_path / "x.tif")
    np.testing.assert_array_equal(open_raster(tmp_path / "x.tif").values, data)


def test_two_dimensional_and_boolean_arrays_are_written_as_one_band(tmp_path):
    mask = make_dataarray(RNG.random((1, 64, 96)) > 0.5).isel(band=0, drop=True).rename("water")
    save_cog(mask, tmp_path / "mask.tif")
    back = open_raster(tmp_path / "mask.tif")
    assert back.dtype == np.uint8
    assert list(back.band.values) == ["water"]
    np.testing.assert_array_equal(back.values[0], mask.values.astype("uint8"))


def test_scale_and_offset_travel_as_band_coordinates(tmp_path):
    data = random_image("uint16", shape=(2, 32, 32))
    da = make_dataarray(data, names=["red", "nir"]).assign_coords(
        scale=("band", [1e-4, 2e-4]), offset=("band", [0.0, -0.1])
    )
    save_cog(da, tmp_path / "scaled.tif")
    back = open_raster(tmp_path / "scaled.tif")
    np.testing.assert_allclose(back.scale.values, [1e-4, 2e-4])
    np.testing.assert_allclose(back.offset.values, [0.0, -0.1])
    plain = make_dataarray(data)
    save_cog(plain, tmp_path / "plain.tif")
    assert "scale" not in open_raster(tmp_path / "plain.tif").coords


@pytest.mark.parametrize(
    ("overviews", "expected"), [(None, []), (0, []), (1, [2]), ("auto", [2, 4])]
)
def test_overview_levels(tmp_path, overviews, expected):
    da = make_dataarray(random_image("uint8", shape=(1, 512, 512)))
    save_cog(da, tmp_path / "o.tif", blocksize=128, overviews=overviews)
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert ds.overviews(1) == expected
    assert validate_cog(tmp_path / "o.tif")[0]


@pytest.mark.parametrize("compress", ["deflate", "lzw", "zstd", "none"])
def test_lossless_compressions_round_trip(tmp_path, compress):
    data = random_image("int16", shape=(1, 100, 100))
    save_cog(make_dataarray(data), tmp_path / "c.tif", compress=compress, blocksize=64)
    np.testing.assert_array_equal(open_raster(tmp_path / "c.tif").values, data)
    with rasterio.open(tmp_path / "c.tif") as ds:
        expected = None if compress == "none" else compress
        assert (ds.compression.name.lower() if ds.compression else None) == expected


def test_missing_crs_is_written_without_one(tmp_path):
    da = make_dataarray(random_image("uint8", shape=(1, 32, 32)), crs=None)
    save_cog(da, tmp_path / "nocrs.tif")
    assert open_raster(tmp_path / "nocrs.tif").rio.crs is None


# --------------------------------------------------------------------------- atomic writes


def test_failed_write_leaves_no_file_and_no_temporaries(tmp_path, monkeypatch):
    def broken_copy(*args, **kwargs):
        raise rasterio.errors.RasterioIOError("disk full")

    monkeypatch.setattr(raster.rasterio.shutil, "copy", broken_copy)
    with pytest.raises(RasterWriteError, match=r"out\.tif.*disk full"):
        save_cog(make_dataarray(random_image("uint8", shape=(1, 16, 16))), tmp_path / "out.tif")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_an_existing_file_intact(tmp_path, monkeypatch):
    first = make_dataarray(np.full((1, 16, 16), 7, dtype="uint8"))
    save_cog(first, tmp_path / "out.tif")
    before = (tmp_path / "out.tif").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(raster.rasterio.shutil, "copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_cog(make_dataarray(np.zeros((1, 16, 16), dtype="uint8")), tmp_path / "out.tif")
    assert (tmp_path / "out.tif").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]


def test_unwritable_destination_is_a_write_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RasterWriteError, match="file"):
        save_cog(make_dataarray(np.zeros((1, 16, 16), "uint8")), blocker / "sub" / "x.tif")


# --------------------------------------------------------------------------- bad inputs to save_cog


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compress": "gzip"}, "compress"),
        ({"blocksize": 100}, "multiple of 16"),
        ({"blocksize": 0}, "multiple of 16"),
        ({"overviews": "some"}, "overviews"),
        ({"overviews": -1}, "overviews"),
        ({"resampling": "magic"}, "resampling"),
        ({"nodata": 300}, "does not fit"),
    ],
)
def test_save_cog_rejects_bad_options(tmp_path, kwargs, message):
    da = make_dataarray(np.zeros((1, 16, 16), "uint8"))
    with pytest.raises(InvalidInputError, match=message):
        save_cog(da, tmp_path / "x.tif", **kwargs)
    assert not (tmp_path / "x.tif").exists()


def test_save_cog_rejects_bad_arrays(tmp_path):
    with pytest.raises(InvalidInputError, match="DataArray"):
        save_cog(np.zeros((1, 8, 8)), tmp_path / "x.tif")
    with pytest.raises(InvalidInputError, match=r"dims"):
        save_cog(
            xr.DataArray(np.zeros((2, 1, 8, 8)), dims=("time", "band", "y", "x")),
            tmp_path / "x.tif",
        )
    with pytest.raises(InvalidInputError, match="dtype complex"):
        save_cog(make_dataarray(np.zeros((1, 8, 8), "complex64")), tmp_path / "x.tif")
    with pytest.raises(InvalidInputError, match="empty"):
        save_cog(make_dataarray(np.zeros((1, 0, 8), "uint8")), tmp_path / "x.tif")


# --------------------------------------------------------------------------- reading


@pytest.fixture(scope="module")
def scene_cog(tmp_path_factory) -> tuple[Path, np.ndarray]:
    data = random_image("uint16", shape=(4, 600, 800))
    path = tmp_path_factory.mktemp("scene") / "scene.tif"
    save_cog(make_dataarray(data, names=["blue", "green", "red", "nir"], nodata=0), path)
    return path, data


def test_window_read_equals_the_slice_of_a_full_read(scene_cog):
    path, data = scene_cog
    full = open_raster(path)
    part = open_raster(path, window=((100, 250), (300, 333)))
    np.testing.assert_array_equal(part.values, data[:, 100:250, 300:333])
    np.testing.assert_array_equal(part.x.values, full.x.values[300:333])
    np.testing.assert_array_equal(part.y.values, full.y.values[100:250])
    assert part.rio.transform() == TRANSFORM @ Affine.translation(300, 100)


def test_window_is_clipped_to_the_raster(scene_cog):
    path, data = scene_cog
    part = open_raster(path, window=rasterio.windows.Window(790, 590, 50, 50))
    np.testing.assert_array_equal(part.values, data[:, 590:, 790:])


def test_bbox_read_covers_the_box_with_whole_pixels(scene_cog):
    path, data = scene_cog
    left, top = TRANSFORM @ (10, 20)  # pixel corner (col 10, row 20)
    bbox = (left + 3, top - 205, left + 101, top - 1)  # cuts into pixels on every side
    part = open_raster(path, bbox=bbox)
    assert part.shape == (4, 21, 11)
    np.testing.assert_array_equal(part.values, data[:, 20:41, 10:21])
    xmin, ymin, xmax, ymax = part.rio.bounds()
    assert xmin <= bbox[0] and ymin <= bbox[1] and xmax >= bbox[2] and ymax >= bbox[3]


def test_bbox_in_another_crs_is_transformed(scene_cog):
    path, _ = scene_cog
    full = open_raster(path)
    x0, y0, _, _ = full.rio.bounds()
    lonlat = rasterio.warp.transform_bounds(
        CRS, "EPSG:4326", x0 + 1000, y0 + 1000, x0 + 2000, y0 + 2000
    )
    part = open_raster(path, bbox=lonlat, bbox_crs="EPSG:4326")
    px0, py0, px1, py1 = part.rio.bounds()
    assert px0 <= x0 + 1000 and px1 >= x0 + 2000 and py0 <= y0 + 1000 and py1 >= y0 + 2000
    assert part.sizes["x"] < 130 and part.sizes["y"] < 130


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": ((700, 800), (0, 10))}, "outside"),
        ({"bbox": (0, 0, 10, 10)}, "outside"),
        ({"bbox": (10, 10, 0, 0)}, "empty or inverted"),
        ({"bbox": (1, 2, 3)}, "minx"),
        ({"bbox": (1, 2, 3, 4), "window": ((0, 1), (0, 1))}, "not both"),
    ],
)
def test_bad_windows_and_boxes_are_named(scene_cog, kwargs, message):
    path, _ = scene_cog
    with pytest.raises(InvalidInputError, match=message) as info:
        open_raster(path, **kwargs)
    assert str(path) in str(info.value)


def test_band_selection_by_name_and_index_keeps_requested_order(scene_cog):
    path, data = scene_cog
    picked = open_raster(path, bands=["nir", "red"])
    assert list(picked.band.values) == ["nir", "red"]
    np.testing.assert_array_equal(picked.values, data[[3, 2]])
    assert list(open_raster(path, bands=2).band.values) == ["green"]
    assert list(open_raster(path, bands="blue").band.values) == ["blue"]


@pytest.mark.parametrize(
    ("bands", "error", "message"),
    [
        ("swir16", UnknownBandError, "no band named 'swir16'; bands are blue, green, red, nir"),
        (5, UnknownBandError, "out of range 1..4"),
        (0, UnknownBandError, "1-based"),
        ([], InvalidInputError, "selects no band"),
        ([1.5], InvalidInputError, "not a name or an index"),
        ([True], InvalidInputError, "not a name or an index"),
    ],
)
def test_bad_band_selections(scene_cog, bands, error, message):
    path, _ = scene_cog
    with pytest.raises(error, match=message):
        open_raster(path, bands=bands)


def test_lazy_read_is_dask_backed_and_equals_the_eager_read(scene_cog):
    path, data = scene_cog
    lazy = open_raster(path, chunks=256, bands=["red", "nir"], window=((50, 400), (10, 700)))
    assert isinstance(lazy.data, dask.array.Array)
    assert lazy.chunks[0] == (1, 1)
    eager = open_raster(path, bands=["red", "nir"], window=((50, 400), (10, 700)))
    xr.testing.assert_identical(lazy.compute(), eager)
    np.testing.assert_array_equal(eager.values, data[[2, 3], 50:400, 10:700])
    assert lazy.rio.transform() == eager.rio.transform()
    for chunks in ("auto", True, {"band": 1, "y": 100, "x": 100}):
        np.testing.assert_array_equal(open_raster(path, chunks=chunks).values, data)


def test_band_names_come_from_descriptions_then_sensor_then_colours(tmp_path):
    data = np.zeros((3, 8, 8), "uint8")
    named = write_geotiff(tmp_path / "named.tif", data, descriptions=["B04", "B03", "B02"])
    assert list(open_raster(named).band.values) == ["B04", "B03", "B02"]
    assert list(open_raster(named, sensor="sentinel2_l1c").band.values) == ["red", "green", "blue"]

    plain4 = write_geotiff(tmp_path / "plain4.tif", np.zeros((4, 8, 8), "uint16"))
    assert list(open_raster(plain4).band.values) == ["b1", "b2", "b3", "b4"]
    by_sensor = open_raster(plain4, sensor="naip")
    assert list(by_sensor.band.values) == ["red", "green", "blue", "nir"]
    assert by_sensor.attrs["sensor"] == "naip"

    rgb = write_geotiff(tmp_path / "rgb.tif", data, photometric="RGB")
    assert list(open_raster(rgb).band.values) == ["red", "green", "blue"]

    with pytest.raises(UnknownSensorError, match="modis"):
        open_raster(plain4, sensor="modis")


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.tif"
    with pytest.raises(RasterNotFoundError, match=r"nope\.tif: no such file") as info:
        open_raster(missing)
    assert isinstance(info.value, FileNotFoundError)


def test_a_file_that_is_not_a_raster_is_named(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("this is not a GeoTIFF\n")
    with pytest.raises(NotARasterError, match=r"notes\.tif: not a raster GDAL can read"):
        open_raster(text)
    with pytest.raises(NotARasterError, match="is a directory"):
        open_raster(tmp_path)


def test_top_level_names():
    assert satlearn.open_raster is open_raster
    assert satlearn.save_cog is save_cog
    assert isinstance(satlearn.__version__, str)


# --------------------------------------------------------------------------- info


def test_info_describes_a_cog(scene_cog):
    path, _ = scene_cog
    report = info(path)
    assert report["width"] == 800 and report["height"] == 600 and report["count"] == 4
    assert report["dtype"] == "uint16"
    assert report["crs"] == CRS
    assert report["transform"] == list(TRANSFORM)[:6]
    assert report["nodata"] == 0
    assert report["is_cog"] is True
    assert report["overviews"] == [2]
    assert [b["name"] for b in report["bands"]] == ["blue", "green", "red", "nir"]
    json.dumps(report)  # serialisable as it is


def test_info_says_a_striped_tiff_is_not_a_cog(tmp_path):
    plain = write_geotiff(tmp_path / "plain.tif", np.zeros((2, 600, 600), "float32"), nodata=np.nan)
    report = info(plain)
    assert report["is_cog"] is False
    assert report["cog_errors"]
    assert report["nodata"] == "nan"
    png = write_geotiff(tmp_path / "pic.png", np.zeros((1, 8, 8), "uint8"), driver="PNG", crs=None)
    assert info(png)["is_cog"] is False
    assert "PNG" in info(png)["cog_errors"][0]


# --------------------------------------------------------------------------- bounded memory


def test_window_read_of_a_large_cog_does_not_load_the_file(tmp_path):
    """Read a 256 x 256 window of an 8192 x 8192 uint16 COG (128 MiB raw) in a fresh process."""
    big = make_dataarray(
        dask.array.random.default_rng(0).integers(
            0, 4000, (1, 8192, 8192), dtype="uint16", chunks=(1, 2048, 2048)
        ),
        nodata=0,
    )
    path = save_cog(big, tmp_path / "big.tif", overviews=None)
    raw_bytes = 8192 * 8192 * 2
    script = textwrap.dedent(
        f"""
        import resource, json
        from satlearn import open_raster
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        da = open_raster({str(path)!r}, window=((4000, 4256), (5000, 5256)))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"grew_kib": after - before, "shape": list(da.shape)}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GDAL_CACHEMAX": "512"},
    )
    result = json.loads(out.stdout)
    assert result["shape"] == [1, 256, 256]
    assert result["grew_kib"] * 1024 < raw_bytes / 8, result


def test_local_format_with_a_sidecar_header_reads_eagerly_and_lazily(tmp_path):
    # ENVI keeps its georeferencing in a .hdr beside the data; GDAL finds it by
    # listing the folder, which satlearn's cloud default (EMPTY_DIR, remote only)
    # must not reach (see test_raster_sidecars.py for every sidecar kind).
    rng = np.random.default_rng(7)
    data = rng.integers(0, 1000, (3, 90, 70)).astype(np.int16)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"):
        path = write_geotiff(tmp_path / "scene.img", data, driver="ENVI")
    assert (tmp_path / "scene.hdr").exists()
    eager = open_raster(path)
    np.testing.assert_array_equal(eager.values, data)
    assert eager.rio.crs == CRS
    lazy = open_raster(path, chunks=32, bands=[1, 3], window=((5, 80), (10, 60)))
    assert lazy.chunks[1][0] == 32
    np.testing.assert_array_equal(lazy.values, data[[0, 2], 5:80, 10:60])
    assert lazy.rio.transform() == open_raster(path, window=((5, 80), (10, 60))).rio.transform()


# --------------------------------------------------------------------------- truncated files


@pytest.fixture(scope="module")
def truncated_cog(tmp_path_factory):
    """A 1024 x 1024 two-band COG with overviews, and copies cut short."""
    folder = tmp_path_factory.mktemp("truncated")
    data = np.random.default_rng(3).integers(0, 9999, (2, 1024, 1024)).astype("uint16")
    whole = save_cog(make_dataarray(data, nodata=0), folder / "whole.tif", blocksize=256)
    content = whole.read_bytes()
    half = folder / "half.tif"
    half.write_bytes(content[: len(content) // 2])
    # Ten bytes short: only the last tile of the full-resolution image is cut.
    short = folder / "short.tif"
    short.write_bytes(content[:-10])
    return whole, half, short, data


@pytest.mark.parametrize("which", ["half", "short"])
def test_a_truncated_cog_is_not_a_valid_cog(truncated_cog, which):
    whole, half, short, _ = truncated_cog
    assert validate_cog(whole) == (True, [], [])
    is_valid, errors, _ = validate_cog(half if which == "half" else short)
    assert is_valid is False
    assert len(errors) == 1
    assert errors[0].startswith("IFD 0 (image): ") and "the file is truncated" in errors[0]
    assert info(half if which == "half" else short)["is_cog"] is False


@pytest.mark.parametrize("chunks", [None, 256])
def test_reading_a_truncated_cog_raises_a_raster_io_error_naming_the_file(truncated_cog, chunks):
    _, half, _, data = truncated_cog
    with pytest.raises(RasterIOError, match=r"half\.tif: cannot read its pixels; .*truncated"):
        open_raster(half, chunks=chunks).values  # noqa: B018 - reading is the point
    # The overviews come first in a COG and are whole: a window of them still reads.
    np.testing.assert_array_equal(
        open_raster(half, window=((0, 64), (0, 64))).values, data[:, :64, :64]
    )


# --------------------------------------------------------------------------- chunk sizes


@pytest.mark.parametrize(
    "chunks",
    [0, -5, {"band": 1, "y": 0, "x": 256}, {"band": 1, "y": 256, "x": -5}, {"y": 2.5, "x": 8}],
)
def test_a_chunk_size_that_is_not_a_positive_integer_is_refused_before_reading(tmp_path, chunks):
    path = write_geotiff(tmp_path / "s.tif", RNG.integers(0, 9, (2, 40, 40)).astype("uint8"))
    with pytest.raises(
        InvalidInputError, match=r"s\.tif: chunk size .* must be a positive integer"
    ):
        open_raster(path, chunks=chunks)


def test_unknown_chunk_dims_are_refused(tmp_path):
    path = write_geotiff(tmp_path / "s.tif", RNG.integers(0, 9, (2, 40, 40)).astype("uint8"))
    with pytest.raises(InvalidInputError, match=r"unknown dims \['rows'\]"):
        open_raster(path, chunks={"rows": 8})


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (16, ((1, 1), (16, 16, 8), (16, 16, 8))),
        ({"band": -1, "y": 40, "x": -1}, ((2,), (40,), (40,))),
    ],
)
def test_minus_one_means_the_whole_dim(tmp_path, chunks, expected):
    path = write_geotiff(tmp_path / "s.tif", RNG.integers(0, 9, (2, 40, 40)).astype("uint8"))
    assert open_raster(path, chunks=chunks).chunks == expected
