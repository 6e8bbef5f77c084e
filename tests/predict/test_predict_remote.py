"""satlearn.predict over HTTP: the scene is read by range requests, only the blocks it needs."""

from __future__ import annotations

import numpy as np

from satlearn.predict import predict
from satlearn.raster import save_cog
from satlearn.testing import RangeHTTPServer


def test_a_scene_behind_a_url_predicts_like_the_local_file(seg_bundle, scene_factory, tmp_path):
    scene = scene_factory(300, 410)
    path = save_cog(scene, tmp_path / "served" / "scene.tif", blocksize=128)
    local = predict(seg_bundle, str(path), tile_size=64).values
    with RangeHTTPServer(tmp_path / "served") as server:
        remote = predict(seg_bundle, server.url("scene.tif"), tile_size=64).values
        served = server.bytes_served
    assert np.array_equal(remote, local)
    # Windows, not the whole file again and again: a few times the file at most.
    assert 0 < served < 4 * path.stat().st_size
