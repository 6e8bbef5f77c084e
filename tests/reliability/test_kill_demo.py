"""``satlearn demo`` SIGKILLed at seeded random moments: re-running gives the same outputs."""

from __future__ import annotations

from fixtures_reliability import (
    KILL_ROUNDS,
    check_outputs,
    final_files,
    kill_chain,
    same_json,
    same_rasters,
)

KILLS = 6


def test_demo_reruns_after_sigkill(tmp_path, fork_server, kill_tally):
    def job(folder):
        argv = ["demo", "--out", str(folder), "--size", "96", "--steps", "water,clouds,indices"]
        return {"kind": "cli", "argv": argv}

    def compare(folder, reference):
        names = final_files(reference)
        assert final_files(folder) == names
        for name in names:
            if name.endswith(".tif"):
                assert same_rasters(folder / name, reference / name), name
            elif name.endswith(".json"):
                assert same_json(folder / name, reference / name), name

    done = kill_chain(
        fork_server, kill_tally, "demo", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check_outputs, compare=compare, seed=6,
    )  # fmt: skip
    assert done["kills"] >= KILLS
