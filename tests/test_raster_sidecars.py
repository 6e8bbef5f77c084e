"""Local sidecar files (.hdr, .aux.xml, .ovr, .msk, .tfw, .wld) are found, in this
process and in child processes of a process that imported satlearn.

GDAL finds a sidecar by listing the raster's folder; satlearn's cloud default
GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR must therefore stay on remote opens and
never leak into os.environ, which every child process inherits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from conftest import CRS, TRANSFORM, write_geotiff
from satlearn import raster
from satlearn.raster import info, open_raster
from satlearn.testing import RangeHTTPServer

DATA = np.arange(2 * 64 * 48, dtype="uint16").reshape(2, 64, 48)
WORLD = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4200000.0)
# A world file gives the centre of the top-left pixel, not its corner.
WORLD_FILE = "10.0\n0.0\n0.0\n-10.0\n500005.0\n4199995.0\n"


def _envi(folder: Path) -> Path:
    path = write_geotiff(folder / "scene.img", DATA, driver="ENVI")
    assert (folder / "scene.hdr").exists()
    return path


def _aux_xml(folder: Path) -> Path:
    path = write_geotiff(folder / "aux.tif", DATA)
    (folder / "aux.tif.aux.xml").write_text(
        "<PAMDataset>"
        '<PAMRasterBand band="1"><Description>red</Description></PAMRasterBand>'
        '<PAMRasterBand band="2"><Description>nir</Description></PAMRasterBand>'
        "</PAMDataset>\n"
    )
    return path


def _ovr(folder: Path) -> Path:
    path = write_geotiff(folder / "ovr.tif", DATA)
    # TIFF_USE_OVR puts the overviews in an external .ovr beside the file.
    with rasterio.Env(TIFF_USE_OVR=True), rasterio.open(path, "r+") as dataset:
        dataset.build_overviews([2, 4])
    assert (folder / "ovr.tif.ovr").exists()
    return path


def _msk(folder: Path) -> Path:
    path = folder / "msk.tif"
    mask = np.full((64, 48), 255, dtype="uint8")
    mask[:8] = 0
    with (
        rasterio.Env(GDAL_TIFF_INTERNAL_MASK=False),
        rasterio.open(
            path, "w", driver="GTiff", width=48, height=64, count=2, dtype="uint16",
            crs=CRS, transform=TRANSFORM,
        ) as dst,
    ):  # fmt: skip
        dst.write(DATA)
        dst.write_mask(mask)
    assert (folder / "msk.tif.msk").exists()
    return path


def _tfw(folder: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        path = write_geotiff(folder / "plain.tif", DATA, crs=None, transform=None)
    (folder / "plain.tfw").write_text(WORLD_FILE)
    return path


def _wld(folder: Path) -> Path:
    path = folder / "picture.png"
    Image.fromarray((DATA[0] % 256).astype("uint8")).save(path)
    (folder / "picture.wld").write_text(WORLD_FILE)
    return path


# What each sidecar adds, as satlearn.raster.info reports it.
SIDECARS = {
    "hdr": (_envi, lambda r: r["driver"] == "ENVI" and r["transform"] == list(TRANSFORM)[:6]),
    "aux.xml": (_aux_xml, lambda r: [b["description"] for b in r["bands"]] == ["red", "nir"]),
    "ovr": (_ovr, lambda r: r["overviews"] == [2, 4]),
    "msk": (_msk, lambda r: r["bands"][0]["mask_flags"] == ["per_dataset"]),
    "tfw": (_tfw, lambda r: r["transform"] == list(WORLD)[:6]),
    "wld": (_wld, lambda r: r["transform"] == list(WORLD)[:6]),
}


@pytest.fixture(scope="module")
def sidecar_files(tmp_path_factory) -> dict[str, Path]:
    files = {}
    # Explicitly list folders while writing, whatever the environment says.
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="FALSE"):
        for kind, (make, _) in SIDECARS.items():
            files[kind] = make(tmp_path_factory.mktemp(kind.replace(".", "_")))
    return files


def test_importing_satlearn_and_reading_remotely_leave_the_environment_alone(tmp_path):
    before = {k: v for k, v in os.environ.items() if k.startswith(("GDAL_", "VSI_"))}
    write_geotiff(tmp_path / "served.tif", DATA)
    with RangeHTTPServer(tmp_path) as server:
        open_raster(server.url("served.tif"), chunks=32).compute()
    after = {k: v for k, v in os.environ.items() if k.startswith(("GDAL_", "VSI_"))}
    assert after == before
    assert "GDAL_DISABLE_READDIR_ON_OPEN" not in after


@pytest.mark.parametrize("kind", list(SIDECARS))
def test_sidecar_is_found_in_process(sidecar_files, kind):
    _, expected = SIDECARS[kind]
    report = info(sidecar_files[kind])
    assert expected(report), report


@pytest.mark.parametrize("kind", ["hdr", "ovr", "aux.xml"])
def test_sidecar_is_found_by_lazy_reads_in_dask_threads(sidecar_files, kind):
    path = sidecar_files[kind]
    lazy = open_raster(path, chunks=16)
    np.testing.assert_array_equal(lazy.values, open_raster(path).values)
    assert lazy.rio.transform() == TRANSFORM
    if kind == "aux.xml":
        assert list(lazy.band.values) == ["red", "nir"]


def test_sidecars_are_found_in_a_child_of_a_process_that_imported_satlearn(sidecar_files):
    assert "satlearn.raster" in sys.modules  # this process imported it
    script = textwrap.dedent(
        """
        import json, sys
        from satlearn.raster import info
        print(json.dumps({kind: info(path) for kind, path in json.loads(sys.argv[1]).items()}))
        """
    )
    paths = json.dumps({kind: str(path) for kind, path in sidecar_files.items()})
    out = subprocess.run(
        [sys.executable, "-c", script, paths], capture_output=True, text=True, check=True
    )
    reports = json.loads(out.stdout)
    for kind, (_, expected) in SIDECARS.items():
        assert expected(reports[kind]), (kind, reports[kind])


def test_cli_in_a_child_process_reads_an_envi_scene_by_its_hdr(sidecar_files):
    # The case: a script that imported satlearn runs the CLI through subprocess.
    assert "satlearn.raster" in sys.modules
    cli = Path(sys.executable).with_name("satlearn")
    out = subprocess.run(
        [str(cli), "info", "--json", str(sidecar_files["hdr"])], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["driver"] == "ENVI"
    assert report["crs"] == raster.open_raster(sidecar_files["hdr"]).rio.crs.to_string()
