"""``satlearn predict``: a scene in, a folder of outputs out; bad input is one line."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from typer.testing import CliRunner

from satlearn.cli import app
from satlearn.raster import save_cog

RUNNER = CliRunner()


def test_predict_writes_the_outputs_and_names_them(seg_bundle, scene, tmp_path):
    path = save_cog(scene, tmp_path / "scene.tif", blocksize=128)
    out = tmp_path / "out"
    result = RUNNER.invoke(app, ["predict", str(seg_bundle), str(path), str(out),
                                 "--tile-size", "64", "--probabilities"])  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("classes.tif", "probabilities.tif", "polygons.parquet", "item.json"):
        assert f"wrote {out / name}" in result.output
    with rasterio.open(out / "classes.tif") as src:
        assert src.count == 1 and src.shape == (300, 410)
    item = json.loads((out / "item.json").read_text())
    assert item["properties"]["satlearn:tile_size"] == 64


def test_change_pair_from_the_command_line(change_bundle, scene_factory, tmp_path):
    before = save_cog(scene_factory(128, 128, seed=1), tmp_path / "a.tif", blocksize=128)
    after = save_cog(scene_factory(128, 128, seed=2), tmp_path / "b.tif", blocksize=128)
    out = tmp_path / "out"
    result = RUNNER.invoke(app, ["predict", str(change_bundle), str(before), str(out),
                                 "--after", str(after), "--no-vectors"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with rasterio.open(out / "classes.tif") as src:
        assert set(np.unique(src.read(1))) <= {0, 1}


def test_bad_input_is_one_line(seg_bundle, scene, tmp_path):
    missing = RUNNER.invoke(app, ["predict", str(seg_bundle), str(tmp_path / "no.tif"),
                                  str(tmp_path / "o")])  # fmt: skip
    assert missing.exit_code == 1
    assert missing.output.strip().startswith("error:") and len(missing.output.splitlines()) == 1
    path = save_cog(scene, tmp_path / "scene.tif", blocksize=128)
    overlap = RUNNER.invoke(app, ["predict", str(seg_bundle), str(path), str(tmp_path / "o"),
                                  "--tile-size", "64", "--overlap", "64"])  # fmt: skip
    assert overlap.exit_code == 1 and "overlap (64) must be smaller" in overlap.output
    not_a_bundle = RUNNER.invoke(app, ["predict", str(tmp_path), str(path), str(tmp_path / "o")])
    assert not_a_bundle.exit_code == 1 and "error:" in not_a_bundle.output
