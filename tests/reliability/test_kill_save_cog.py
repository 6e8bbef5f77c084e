"""save_cog SIGKILLed at seeded random moments: never a partial COG under the final name."""

from __future__ import annotations

import numpy as np

from conftest import write_geotiff
from fixtures_reliability import check_outputs, kill_chain, same_rasters, temporaries

KILLS = 10


def test_save_cog_survives_sigkill(tmp_path, fork_server, kill_tally):
    rng = np.random.default_rng(0)
    src = write_geotiff(
        tmp_path / "src.tif", rng.integers(0, 4000, (3, 384, 384)).astype(np.uint16)
    )

    def job(folder):
        return {"kind": "save_cog", "src": str(src), "dst": str(folder / "out.tif")}

    def check(folder):
        return check_outputs(folder, cogs=("out.tif",))

    def compare(folder, reference):
        assert same_rasters(folder / "out.tif", reference / "out.tif")

    from fixtures_reliability import KILL_ROUNDS

    done = kill_chain(
        fork_server, kill_tally, "save_cog", job, tmp_path,
        kills=KILLS * KILL_ROUNDS, check=check, compare=compare, seed=1,
    )  # fmt: skip
    assert done["kills"] >= KILLS
    assert not temporaries(tmp_path / "reference")
