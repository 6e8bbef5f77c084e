"""``satlearn predict --resume`` SIGKILLed at seeded random moments: resumes to identical maps."""

from __future__ import annotations

import json

from fixtures_predict import make_scene
from fixtures_reliability import (
    KILL_ROUNDS,
    check_outputs,
    final_files,
    kill_chain,
    same_json,
    same_rasters,
)
from satlearn.raster import save_cog

KILLS = 9


def _features(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["features"]


def test_predict_resumes_after_sigkill(tmp_path, seg_bundle, fork_server, kill_tally):
    scene = tmp_path / "scene.tif"
    save_cog(make_scene(128, 160, seed=3), scene)

    def job(folder):
        argv = ["predict", str(seg_bundle), str(scene), str(folder), "--resume"]
        return {"kind": "cli", "argv": [*argv, "--batch-size", "2", "--probabilities"]}

    def check(folder):
        return check_outputs(folder, cogs=("classes.tif", "probabilities.tif"))

    def compare(folder, reference):
        assert final_files(folder) == final_files(reference)
        assert same_json(folder / "item.json", reference / "item.json")
        for name in ("classes.tif", "probabilities.tif"):
            assert same_rasters(folder / name, reference / name), name
        for path in reference.glob("*.geojson"):
            assert _features(folder / path.name) == _features(path), path.name

    done = kill_chain(
        fork_server, kill_tally, "predict", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check, compare=compare, seed=2,
    )  # fmt: skip
    assert done["kills"] >= KILLS
