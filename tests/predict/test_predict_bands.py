"""satlearn.predict over several column bands: bounded width, identical pixels, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures_predict import read_outputs
from satlearn.predict import predict
from satlearn.predict._stream import band_width_for
from satlearn.raster import save_cog

# Polygons are left out: tracing the random model's regions would take most of the time.
OPTIONS = {"tile_size": 64, "overlap": 16, "probabilities": True, "vectors": False}


class _Stop(Exception):
    pass


@pytest.fixture
def wide_scene(tmp_path, scene_factory):
    # 1100 px wide: three column bands of 512 px with 64 px tiles.
    return save_cog(scene_factory(300, 1100, seed=5), tmp_path / "wide.tif", blocksize=128)


def test_band_width_follows_the_tile_not_the_scene():
    assert band_width_for(64) == 512
    assert band_width_for(16) == 512
    assert band_width_for(256) == 2048
    assert band_width_for(512) == 4096


def test_a_run_stopped_in_a_later_band_resumes_to_the_same_pixels(seg_bundle, wide_scene, tmp_path):
    out = tmp_path / "stopped"
    seen = []

    def stop_after_four(done, total):
        seen.append(done)
        if len(seen) == 4:  # two stretches of 256 rows per band: bands 0 and 1 done
            raise _Stop

    with pytest.raises(_Stop):
        predict(seg_bundle, wide_scene, out=out, on_progress=stop_after_four, **OPTIONS)
    state = out / ".satlearn-predict"
    assert (state / "journal.txt").read_text().split() == ["0:0", "0:1", "1:0", "1:1"]
    # The band width is part of the settings: the journal's keys name bands.
    assert json.loads((state / "settings.json").read_text())["band_width"] == 512

    resumed = []
    predict(seg_bundle, wide_scene, out=out, resume=True,
            on_progress=lambda done, total: resumed.append(done), **OPTIONS)  # fmt: skip
    assert len(resumed) == 2  # only band 2's two stretches
    fresh = predict(seg_bundle, wide_scene, out=tmp_path / "fresh", **OPTIONS)
    for got, want in zip(read_outputs(out), read_outputs(fresh), strict=True):
        assert np.array_equal(got, want)


def test_bands_do_not_change_the_pixels(seg_bundle, wide_scene, tmp_path):
    # The whole scene in 512 px bands against a lazy run in 300 px chunks, each
    # predicted in its own bands: other cuts, one tile grid (the scene's).
    from satlearn.raster import open_raster

    streamed = predict(seg_bundle, wide_scene, tile_size=64, overlap=16)
    lazy = predict(seg_bundle, open_raster(wide_scene, chunks={"y": -1, "x": 300}), tile_size=64,
                   overlap=16)  # fmt: skip
    assert np.array_equal(streamed.values, lazy.values)
    assert len(np.unique(streamed.values)) > 1
