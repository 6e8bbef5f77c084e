"""``satlearn chips`` SIGKILLed at seeded random moments: resumes to the same chips and index."""

from __future__ import annotations

import numpy as np

from conftest import write_geotiff
from fixtures_reliability import KILL_ROUNDS, check_outputs, final_files, kill_chain, same_rasters

KILLS = 9


def test_chips_resume_after_sigkill(tmp_path, fork_server, kill_tally):
    rng = np.random.default_rng(5)
    scene = write_geotiff(
        tmp_path / "scene.tif",
        rng.integers(1, 3000, (3, 160, 192)).astype(np.uint16),
        nodata=0,
        descriptions=["red", "green", "blue"],
    )
    labels = write_geotiff(
        tmp_path / "labels.tif", rng.integers(0, 3, (1, 160, 192)).astype(np.uint8)
    )

    def job(folder):
        argv = ["chips", str(scene), str(labels), str(folder), "--size", "32", "--overlap", "0"]
        return {"kind": "cli", "argv": argv}

    def compare(folder, reference):
        names = final_files(reference)
        assert final_files(folder) == names
        assert (folder / "index.csv").read_text() == (reference / "index.csv").read_text()
        for name in names:
            if name.endswith(".tif"):
                assert same_rasters(folder / name, reference / name), name

    done = kill_chain(
        fork_server, kill_tally, "chips", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check_outputs, compare=compare, seed=4,
    )  # fmt: skip
    assert done["kills"] >= KILLS
