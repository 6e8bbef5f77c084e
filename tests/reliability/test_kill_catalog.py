"""``satlearn stac build`` SIGKILLed at seeded random moments: the catalogue is whole or absent."""

from __future__ import annotations

import numpy as np

from conftest import write_geotiff
from fixtures_reliability import KILL_ROUNDS, check_outputs, final_files, kill_chain, same_json

KILLS = 9


def test_stac_build_survives_sigkill(tmp_path, fork_server, kill_tally):
    rasters = tmp_path / "rasters"
    rng = np.random.default_rng(4)
    for name in ("a_2021-06-01", "a_2021-07-01", "b_2021-06-01", "c_2021-08-01"):
        (rasters / name[0]).mkdir(parents=True, exist_ok=True)
        data = rng.integers(1, 3000, (3, 64, 64)).astype(np.uint16)
        write_geotiff(rasters / name[0] / f"{name}.tif", data, nodata=0)

    def job(folder):
        return {"kind": "cli", "argv": ["stac", "build", str(rasters), "-o", str(folder / "cat")]}

    def check(folder):
        problems = check_outputs(folder)
        cat = folder / "cat"
        if cat.exists() and not (cat / "catalog.json").is_file():
            problems.append("cat/ exists without its catalog.json")
        return problems

    def compare(folder, reference):
        assert final_files(folder) == final_files(reference)
        for name in final_files(reference):
            if name.endswith(".json"):
                assert same_json(folder / name, reference / name), name

    done = kill_chain(
        fork_server, kill_tally, "stac build", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check, compare=compare, seed=3,
    )  # fmt: skip
    assert done["kills"] >= KILLS
