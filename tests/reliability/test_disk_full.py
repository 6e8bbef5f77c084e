"""Disk full and read-only targets: a one-line error, no temporaries, the old output intact.

Each writer (save_cog, ``satlearn predict``, ``satlearn stac build``, ``satlearn
chips``) writes into an 8 MiB tmpfs the test mounts (root only; skipped
otherwise). "Full" leaves a few KiB free with a ballast file; "read-only"
remounts the tmpfs ``ro`` (root ignores chmod 555, so a read-only mount is
the honest test). A first, successful run leaves an output that the failed
run must not touch. A second set simulates ENOSPC in Python's and GDAL's
write paths where no tmpfs can be mounted.
"""

from __future__ import annotations

import errno
import hashlib

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_geotiff
from fixtures_predict import make_scene
from fixtures_reliability import check_outputs, final_files, temporaries
from satlearn.cli import app
from satlearn.errors import RasterWriteError, WriteError
from satlearn.raster import save_cog

RUNNER = CliRunner()


def _digest(folder):
    """A digest of every file under a final name below ``folder``."""
    h = hashlib.sha256()
    for name in final_files(folder):
        h.update(name.encode() + (folder / name).read_bytes())
    return h.hexdigest()


def _big_scene(tmp_path):
    # Random uint16 does not compress: ~12 MiB whatever the codec, more than the tmpfs holds.
    data = np.random.default_rng(0).integers(0, 65535, (3, 1024, 2048)).astype(np.uint16)
    return write_geotiff(tmp_path / "big.tif", data)


def _cli_fails_cleanly(argv, target_root):
    result = RUNNER.invoke(app, argv)
    # CliRunner reports an uncaught exception as exit status 1 too.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert not temporaries(target_root), temporaries(target_root)
    return lines[0]


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_save_cog_into_a_full_or_read_only_filesystem(tmp_path, small_fs, mode):
    from satlearn.raster import open_raster

    out = small_fs.path / "out.tif"
    save_cog(make_scene(64, 64), out)
    before = out.read_bytes()
    if mode == "full":
        small_fs.fill(leave_bytes=64 << 10)
        da = open_raster(_big_scene(tmp_path), chunks=256)
    else:
        small_fs.remount(read_only=True)
        da = make_scene(64, 96)
    with pytest.raises(RasterWriteError) as info:
        save_cog(da, out)
    assert str(out) in str(info.value)
    assert out.read_bytes() == before
    assert not temporaries(small_fs.path)
    with pytest.raises(RasterWriteError):
        save_cog(da, small_fs.path / "new.tif")
    assert not (small_fs.path / "new.tif").exists()
    assert not temporaries(small_fs.path)


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_predict_into_a_full_or_read_only_filesystem(tmp_path, small_fs, seg_bundle, mode):
    scene = tmp_path / "scene.tif"
    save_cog(make_scene(128, 128, seed=1), scene)
    out = small_fs.path / "pred"
    argv = ["predict", str(seg_bundle), str(scene), str(out), "--no-vectors"]
    assert RUNNER.invoke(app, argv).exit_code == 0
    before = _digest(out)
    big = tmp_path / "big-scene.tif"
    save_cog(make_scene(384, 512, seed=2), big)
    if mode == "full":
        small_fs.fill(leave_bytes=32 << 10)
    else:
        small_fs.remount(read_only=True)
    line = _cli_fails_cleanly(
        ["predict", str(seg_bundle), str(big), str(out), "--probabilities"], small_fs.path
    )
    assert str(out) in line
    assert _digest(out) == before and not check_outputs(out)


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_stac_build_into_a_full_or_read_only_filesystem(tmp_path, small_fs, mode):
    rasters = tmp_path / "rasters"
    rasters.mkdir()
    for i in range(3):
        data = np.random.default_rng(i).integers(1, 3000, (3, 128, 128)).astype(np.uint16)
        write_geotiff(rasters / f"s_2021-06-0{i + 1}.tif", data, nodata=0)
    out = small_fs.path / "cat"
    assert RUNNER.invoke(app, ["stac", "build", str(rasters), "-o", str(out)]).exit_code == 0
    before = _digest(out)
    if mode == "full":
        small_fs.fill(leave_bytes=8 << 10)
    else:
        small_fs.remount(read_only=True)
    line = _cli_fails_cleanly(["stac", "build", str(rasters), "-o", str(out)], small_fs.path)
    assert str(out) in line
    assert _digest(out) == before


@pytest.mark.parametrize("mode", ["full", "read-only"])
def test_chips_into_a_full_or_read_only_filesystem(tmp_path, small_fs, mode):
    rng = np.random.default_rng(3)
    scene = write_geotiff(
        tmp_path / "scene.tif", rng.integers(1, 65535, (3, 256, 256)).astype(np.uint16), nodata=0
    )
    labels = write_geotiff(
        tmp_path / "labels.tif", rng.integers(0, 3, (1, 256, 256)).astype(np.uint8)
    )
    out = small_fs.path / "chips"
    argv = ["chips", str(scene), str(labels), str(out), "--size", "64", "--overlap", "0"]
    assert RUNNER.invoke(app, [*argv[:3], str(small_fs.path / "first"), *argv[4:]]).exit_code == 0
    before = _digest(small_fs.path / "first")
    if mode == "full":
        small_fs.fill(leave_bytes=64 << 10)
    else:
        small_fs.remount(read_only=True)
    line = _cli_fails_cleanly(argv, small_fs.path)
    assert str(out) in line
    assert _digest(small_fs.path / "first") == before
    assert not check_outputs(small_fs.path)


# ------------------------------------------------------------------- simulated ENOSPC


def test_simulated_enospc_in_gdal_and_python_write_paths(tmp_path, monkeypatch):
    """Where no tmpfs can be mounted: ENOSPC raised inside the writers' own write calls."""
    import os

    import rasterio

    import satlearn.raster as raster_module

    out = tmp_path / "out.tif"
    save_cog(make_scene(64, 64), out)
    before = out.read_bytes()

    def no_space(*args, **kwargs):
        raise rasterio.errors.RasterioIOError("Free disk space available is 0 bytes")

    monkeypatch.setattr(raster_module.rasterio.shutil, "copy", no_space)
    with pytest.raises(RasterWriteError, match=r"out\.tif"):
        save_cog(make_scene(64, 64, seed=5), out)
    monkeypatch.undo()
    assert out.read_bytes() == before and not temporaries(tmp_path)

    import satlearn.predict._store as store_module

    def pwrite_full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module.os, "pwrite", pwrite_full)
    store = store_module.BlockStore(
        tmp_path / "pred", layers=1, height=8, width=8, settings={}, resume=False
    )
    try:
        with pytest.raises(WriteError, match="pred: cannot write: no space left on device"):
            store.write("0", (0, 8), (0, 8), np.zeros((1, 8, 8), np.uint8))
    finally:
        store.close()
    assert store.done == set()
