"""Corrupt rasters: each entry point reads correctly or raises satlearn's error naming the file.

Each corrupt file is made from a valid GeoTIFF written here (a tiled, deflated
COG and a striped, uncompressed GeoTIFF): truncated at several offsets (inside
the TIFF header, inside the first IFD, inside a tile, a few bytes short), the
magic bytes replaced, every block offset (TileOffsets / StripOffsets) patched
past the end of the file, a 10^6 x 10^6 size patched into ImageWidth and
ImageLength, zero bytes, and a directory under a raster's name. tifffile
locates the tags; ``struct`` patches the IFD entries in place.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from conftest import make_dataarray, write_geotiff
from satlearn import open_raster, save_cog
from satlearn.cli import app
from satlearn.errors import NotARasterError, RasterIOError, SatlearnError
from satlearn.raster import info, validate_cog

pytestmark = pytest.mark.timeout(120)

RUNNER = CliRunner()
SIZE = 256
BLOCK = 64


def _tags(path: Path) -> dict[str, tifffile.TiffTag]:
    with tifffile.TiffFile(path) as tif:
        return {tag.name: tag for tag in tif.pages[0].tags.values()}


def _offsets(path: Path) -> tuple[list[int], list[int]]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return [int(o) for o in page.dataoffsets], [int(c) for c in page.databytecounts]


def _patch_offsets_past_end(data: bytes, tag: tifffile.TiffTag) -> bytes:
    """Every block offset of the (LONG or LONG8) offsets tag pointed past the end of the file."""
    patched = bytearray(data)
    code = {4: "<I", 16: "<Q"}[int(tag.dtype)]
    step = struct.calcsize(code)
    where = tag.valueoffset  # the array (or the value itself, when it fits in the entry)
    for i in range(tag.count):
        struct.pack_into(code, patched, where + i * step, len(data) + 4096 * (i + 1))
    return bytes(patched)


def _patch_huge_size(data: bytes, tags: dict[str, tifffile.TiffTag]) -> bytes:
    """ImageWidth and ImageLength rewritten as LONG 1 000 000 (a classic-TIFF IFD entry)."""
    patched = bytearray(data)
    for name in ("ImageWidth", "ImageLength"):
        tag = tags[name]
        struct.pack_into("<HHII", patched, tag.offset, tag.code, 4, 1, 1_000_000)
    return bytes(patched)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    """The two valid sources and their pixels."""
    root = tmp_path_factory.mktemp("valid")
    pixels = np.random.default_rng(18).integers(1, 10_000, (2, SIZE, SIZE), dtype=np.uint16)
    cog = save_cog(
        make_dataarray(pixels, names=["red", "nir"]),
        root / "cog.tif",
        blocksize=BLOCK,
        overviews=None,
    )
    strips = write_geotiff(root / "strips.tif", pixels, compress="none", blockysize=16)
    return {"cog": (cog, pixels), "strips": (strips, pixels)}


# Cases whose header does not open: every entry point fails at open.
_UNOPENABLE = ["zero-bytes", "directory", "wrong-magic", "cut-in-tiff-header", "cut-in-ifd"]
# Cases whose header opens but whose pixels are (partly) missing.
_BROKEN_PIXELS = ["cut-in-first-block", "cut-mid-block", "cut-10-bytes-short", "offsets-past-end"]


def _make(case: str, source: Path, folder: Path) -> Path:
    path = folder / f"{source.stem}-{case}.tif"
    data = source.read_bytes()
    offsets, counts = _offsets(source)
    tags = _tags(source)
    middle = len(offsets) // 2
    content = {
        "zero-bytes": lambda: b"",
        "wrong-magic": lambda: b"GIF8" + data[4:],
        "cut-in-tiff-header": lambda: data[:6],
        "cut-in-ifd": lambda: data[: tags["ImageWidth"].offset + 30],
        "cut-in-first-block": lambda: data[: offsets[0] + 10],
        "cut-mid-block": lambda: data[: offsets[middle] + counts[middle] // 2],
        "cut-10-bytes-short": lambda: data[:-10],
        "offsets-past-end": lambda: _patch_offsets_past_end(
            data, tags["TileOffsets" if "TileOffsets" in tags else "StripOffsets"]
        ),
        "huge-size": lambda: _patch_huge_size(data, tags),
    }
    if case == "directory":
        path.mkdir()
        return path
    path.write_bytes(content[case]())
    return path


def _raises_naming(path: Path, call, kind: type[SatlearnError] = RasterIOError) -> SatlearnError:
    with pytest.raises(kind) as caught:
        call()
    assert str(path) in str(caught.value), caught.value
    assert "\n" not in str(caught.value)
    return caught.value


def _cli_info(path: Path):
    return RUNNER.invoke(app, ["info", str(path)])


def _assert_cli_one_line(result, path: Path) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], lines
    assert "Traceback" not in result.output


@pytest.mark.parametrize("source", ["cog", "strips"])
@pytest.mark.parametrize("case", _UNOPENABLE)
def test_a_file_that_does_not_open_fails_every_entry_point(samples, tmp_path, source, case):
    path = _make(case, samples[source][0], tmp_path)
    started = time.monotonic()
    error = _raises_naming(path, lambda: open_raster(path), NotARasterError)
    _raises_naming(path, lambda: open_raster(path, chunks=BLOCK), NotARasterError)
    _raises_naming(path, lambda: open_raster(path, window=((0, 8), (0, 8))), NotARasterError)
    _raises_naming(path, lambda: validate_cog(path), NotARasterError)
    _raises_naming(path, lambda: info(path), NotARasterError)
    _assert_cli_one_line(_cli_info(path), path)
    assert time.monotonic() - started < 10  # a local failure is immediate; this guards hangs
    if case == "zero-bytes":
        assert "empty (0 bytes)" in str(error)
    if case == "directory":
        assert "is a directory" in str(error)


@pytest.mark.parametrize("source", ["cog", "strips"])
@pytest.mark.parametrize("case", _BROKEN_PIXELS)
def test_missing_pixels_raise_and_intact_ones_read_correctly(samples, tmp_path, source, case):
    valid, pixels = samples[source]
    path = _make(case, valid, tmp_path)
    # The header is whole, so the metadata reads; the pixels must not come back as zeros.
    error = _raises_naming(path, lambda: open_raster(path))
    assert "truncated or corrupt" in str(error)
    lazy = open_raster(path, chunks=BLOCK)
    assert lazy.shape == pixels.shape
    _raises_naming(path, lambda: lazy.values)
    # Block by block: each block either reads the original pixels or raises.
    broken = 0
    for row in range(0, SIZE, BLOCK):
        window = ((row, row + BLOCK), (0, SIZE))
        try:
            part = open_raster(path, window=window).values
        except RasterIOError as err:
            message = str(err)
            broken += 1
            assert str(path) in message
        else:
            np.testing.assert_array_equal(part, pixels[:, row : row + BLOCK])
    assert broken >= 1
    is_valid, errors, _ = validate_cog(path)
    assert not is_valid
    assert any("past the end of the file" in e and "truncated" in e for e in errors), errors


@pytest.mark.parametrize("case", _BROKEN_PIXELS)
def test_info_reports_missing_pixels_and_a_computing_verb_fails(samples, tmp_path, case):
    path = _make(case, samples["cog"][0], tmp_path)
    # info describes the header and says why the file is not a valid COG.
    report = info(path)
    assert report["width"] == SIZE and report["is_cog"] is False
    assert any("truncated" in e for e in report["cog_errors"])
    shown = _cli_info(path)
    assert shown.exit_code == 0 and "valid COG: no" in shown.stdout and "truncated" in shown.stdout
    result = RUNNER.invoke(app, ["index", str(path), "ndvi", str(tmp_path / "ndvi.tif")])
    _assert_cli_one_line(result, path)
    assert "truncated or corrupt" in result.stderr
    assert not (tmp_path / "ndvi.tif").exists()


def test_the_unopenable_cases_fail_a_computing_verb_in_one_line(samples, tmp_path):
    for case in ("zero-bytes", "wrong-magic", "directory"):
        path = _make(case, samples["cog"][0], tmp_path)
        result = RUNNER.invoke(app, ["index", str(path), "ndvi", str(tmp_path / f"{case}.tif")])
        _assert_cli_one_line(result, path)


@pytest.mark.parametrize("source", ["cog", "strips"])
def test_a_huge_declared_size_never_allocates_it(samples, tmp_path, source):
    valid, pixels = samples[source]
    path = _make("huge-size", valid, tmp_path)
    # 2 x 10^6 x 10^6 uint16 is 3.6 TiB: refused before NumPy allocates.
    error = _raises_naming(path, lambda: open_raster(path))
    assert "eagerly needs" in str(error) and "memory" in str(error)
    # Lazily it opens (big chunks keep dask's graph small; none is computed).
    lazy = open_raster(path, chunks={"band": 1, "y": 250_000, "x": 250_000})
    assert lazy.shape == (2, 1_000_000, 1_000_000)
    # Blocks the header does not list raise; none is silently zero.
    far = ((999_000, 999_000 + BLOCK), (999_000, 999_000 + BLOCK))
    _raises_naming(path, lambda: open_raster(path, window=far))
    _raises_naming(path, lambda: open_raster(path, chunks=BLOCK, window=far).values)
    # The first tile is still where the header says; a strip is now shorter than
    # a 10^6-pixel row needs, so it raises.
    corner = ((0, 16), (0, 16))
    if source == "cog":
        np.testing.assert_array_equal(open_raster(path, window=corner).values, pixels[:, :16, :16])
    else:
        _raises_naming(path, lambda: open_raster(path, window=corner))
    is_valid, errors, _ = validate_cog(path)
    assert not is_valid
    assert any("1000000 x 1000000 pixels need" in e and "corrupt" in e for e in errors), errors
    shown = _cli_info(path)
    assert shown.exit_code == 0 and "the header is corrupt" in shown.stdout


@pytest.mark.parametrize("case", ["zero-bytes", "directory", "garbage", "cut-netcdf-header"])
def test_a_broken_netcdf_name_is_a_clear_error(tmp_path, case):
    # open_raster hands .nc paths to satlearn.netcdf; the same local checks run first.
    path = tmp_path / "scene.nc"
    if case == "directory":
        path.mkdir()
    else:
        content = {
            "zero-bytes": b"",
            "garbage": bytes(range(256)) * 4,
            "cut-netcdf-header": b"CDF\x01\x00\x00",
        }[case]
        path.write_bytes(content)
    error = _raises_naming(path, lambda: open_raster(path), SatlearnError)
    if case in ("zero-bytes", "directory"):
        assert isinstance(error, NotARasterError)
    _assert_cli_one_line(_cli_info(path), path)
