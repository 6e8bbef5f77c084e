"""satlearn.predict resume: a run killed with SIGKILL resumes without redoing finished rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fixtures_predict import read_outputs
from satlearn.errors import InvalidInputError
from satlearn.predict import predict
from satlearn.raster import save_cog

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from satlearn.predict import predict

    bundle, scene, out, after = sys.argv[1:5]
    seen = []

    def on_progress(done, total):
        seen.append(done)
        if len(seen) == int(after):
            os.kill(os.getpid(), signal.SIGKILL)

    predict(bundle, scene, tile_size=64, overlap=16, out=out, probabilities=True,
            on_progress=on_progress)
    """
)


@pytest.fixture
def tall_scene(tmp_path, scene_factory):
    # 1300 rows: six stretches of 256 rows in one column band.
    return save_cog(scene_factory(1300, 200, seed=4), tmp_path / "tall.tif", blocksize=128)


def test_resume_after_sigkill_redoes_nothing_and_matches(seg_bundle, tall_scene, tmp_path):
    out = tmp_path / "killed"
    run = subprocess.run(
        [sys.executable, "-c", KILLER, str(seg_bundle), str(tall_scene), str(out), "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    # Nothing stands under a final name; the journal holds the two finished stretches.
    assert not (out / "classes.tif").exists()
    journal = (out / ".satlearn-predict" / "journal.txt").read_text().split()
    assert journal == ["0:0", "0:1"]

    written = []
    predict(seg_bundle, tall_scene, tile_size=64, overlap=16, out=out, probabilities=True,
            resume=True, on_progress=lambda done, total: written.append(done))  # fmt: skip
    assert len(written) == 6 - 2  # only the stretches the killed run had not finished
    assert not (out / ".satlearn-predict").exists()

    fresh = predict(seg_bundle, tall_scene, tile_size=64, overlap=16, out=tmp_path / "fresh",
                    probabilities=True)  # fmt: skip
    for resumed, uninterrupted in zip(read_outputs(out), read_outputs(fresh), strict=True):
        assert np.array_equal(resumed, uninterrupted)


def test_resume_with_other_settings_is_refused(seg_bundle, tall_scene, tmp_path):
    out = tmp_path / "killed"
    subprocess.run(
        [sys.executable, "-c", KILLER, str(seg_bundle), str(tall_scene), str(out), "1"],
        capture_output=True,
        timeout=300,
    )
    with pytest.raises(InvalidInputError, match="other settings"):
        predict(seg_bundle, tall_scene, tile_size=64, overlap=32, out=out, probabilities=True,
                resume=True)  # fmt: skip
    # Without --resume the old state is cleared and the run starts afresh.
    folder = predict(seg_bundle, tall_scene, tile_size=64, overlap=32, out=out)
    assert (folder / "classes.tif").is_file() and not (folder / ".satlearn-predict").exists()
    assert os.listdir(folder)
