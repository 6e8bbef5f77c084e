"""write_scene: a synthetic scene to COGs, resumable, refusing to mix scenes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from satlearn import open_raster
from satlearn.errors import InvalidInputError
from satlearn.raster import validate_cog
from satlearn.synth import make_scene
from satlearn.synth.export import REFLECTANCE_SCALE, to_digital_numbers, write_scene


@pytest.fixture(scope="module")
def scene():
    return make_scene(96, seed=11)


def test_image_is_written_as_scaled_uint16_that_reads_back_as_reflectance(scene, tmp_path):
    written = write_scene(scene, tmp_path)
    date = str(np.datetime_as_string(scene.image.time.values[0], unit="D"))
    image = open_raster(written[f"image_{date}"])
    assert image.dtype == np.uint16
    assert image.rio.nodata == 0
    np.testing.assert_allclose(image.scale.values, REFLECTANCE_SCALE)
    reflectance = image.values * image.scale.values[:, None, None]
    np.testing.assert_allclose(reflectance, scene.image.isel(time=0).values, atol=1e-4 + 1e-9)
    assert list(image.band.values) == list(scene.image.band.values)
    assert image.rio.crs == scene.image.rio.crs
    assert image.rio.transform() == scene.image.rio.transform()
    for path in written.values():
        if path.suffix == ".tif":
            assert validate_cog(path)[0], path


def test_truths_round_trip(scene, tmp_path):
    written = write_scene(scene, tmp_path)
    landcover = open_raster(written["landcover"])
    np.testing.assert_array_equal(landcover.values[0], scene.landcover.values)
    assert landcover.dtype == np.uint8
    change = open_raster(written["change_mask"])
    np.testing.assert_array_equal(change.values[0].astype(bool), scene.change_mask.values)
    dem = open_raster(written["dem"])
    np.testing.assert_allclose(dem.values[0], scene.dem.values)
    manifest = json.loads(written["scene"].read_text())
    assert manifest["seed"] == 11 and manifest["height"] == 96
    assert set(manifest["files"]) == set(written) - {"scene"}


def test_the_rectified_stereo_pair_and_its_base_to_height_are_written(scene, tmp_path):
    written = write_scene(scene, tmp_path)
    for name in ("stereo_left", "stereo_right"):
        pair = open_raster(written[name])
        assert list(pair.band.values) == ["pan"] and pair.dtype == np.uint16
        reflectance = pair.values[0] * float(pair.scale.values[0])
        np.testing.assert_allclose(reflectance, getattr(scene, name).values, atol=1e-4 + 1e-9)
    manifest = json.loads(written["scene"].read_text())
    assert manifest["base_to_height"] == pytest.approx(scene.base_to_height)


def test_an_interrupted_run_resumes_keeping_complete_files(scene, tmp_path):
    written = write_scene(scene, tmp_path)
    kept = written["landcover"]
    os.utime(kept, (1_000_000, 1_000_000))
    written["dem"].unlink()  # as if the run had stopped before writing it
    again = write_scene(scene, tmp_path)
    assert again["dem"].exists()
    assert kept.stat().st_mtime == 1_000_000  # not rewritten
    write_scene(scene, tmp_path, overwrite=True)
    assert kept.stat().st_mtime != 1_000_000


def test_a_folder_holding_another_scene_is_refused(scene, tmp_path):
    write_scene(scene, tmp_path)
    other = make_scene(96, seed=12)
    with pytest.raises(InvalidInputError, match="different synthetic scene"):
        write_scene(other, tmp_path)


def test_digital_numbers_reserve_zero_for_nodata(scene):
    dn = to_digital_numbers(scene.image.isel(time=0) * 0.0)
    assert int(dn.min()) == 1
    assert dn.rio.nodata == 0
