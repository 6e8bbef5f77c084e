"""save_cog of a lazy array, a median composite and ``satlearn predict`` under an address-space cap.

Each job runs in a subprocess (benchmarks/bench_memory_caps.py): first on a
tiny input, so every library is loaded; then it caps itself with RLIMIT_AS
(the limit ``prlimit --as`` sets) at its peak virtual size so far plus a
share of the big job's data (1/4; 1/2 for save_cog, 3/4 for predict, see JOBS),
and runs the big job. A job that held its whole input or output would raise
MemoryError; these stream blocks. The benchmark runs the same with separate,
larger processes under prlimit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_memory_caps.py"

# (job, side in px, share): data 192 MiB, 162 MiB, 48 MiB (predict's float32
# scene); the cap is baseline + share x data.
# save_cog ends with GDAL's COG copy, whose overviews take ~38 % of a uint8
# image's size above the baseline (measured: +73 MiB for 192 MiB): 1/2 for it.
# predict ends with two save_cog (classes, probabilities): its prediction adds
# nothing above the baseline at 2048 px (bounded column bands), the two COG
# copies ~+12-16 MiB (GDAL's buffers follow the image's width), over 1/4 (12 MiB).
# 1/2 (24 MiB) passed alone but failed once inside the whole suite (GDAL's
# overview step could not allocate 1 MiB), so the test keeps 3/4 (36 MiB).
JOBS = [("save_cog", 8192, 0.5), ("composite", 1536, 0.25), ("predict", 2048, 0.75)]


def _run(bench_memory_caps, kind, size, share, folder, bundle=None):
    command = [sys.executable, str(BENCH), "--job", kind, "--size", str(size)]
    command += ["--dir", str(folder), "--self-cap", str(share)]
    if bundle is not None:
        command += ["--bundle", str(bundle)]
    env = {**os.environ, **bench_memory_caps.JOB_ENV}
    for key in [k for k in env if k.startswith("COV_CORE") or k.startswith("COVERAGE")]:
        env.pop(key)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("kind", "size", "share"), JOBS, ids=[k for k, *_ in JOBS])
def test_a_large_job_finishes_under_a_memory_cap(tmp_path, seg_bundle, kind, size, share):
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench_memory_caps
    finally:
        sys.path.remove(str(BENCH.parent))
    if kind == "predict":
        for side in (bench_memory_caps.TINY[kind], size):
            bench_memory_caps.write_scene(tmp_path / f"scene-{side}.tif", side)
    row = _run(
        bench_memory_caps, kind, size, share, tmp_path, seg_bundle if kind == "predict" else None
    )
    assert row["cap_bytes"] - row["baseline_vm_peak"] == pytest.approx(
        share * row["data_bytes"], abs=1
    )
    assert row["cap_bytes"] - row["baseline_vm_peak"] < row["data_bytes"]
    out = {"save_cog": "out.tif", "composite": "composite.tif", "predict": "pred/classes.tif"}
    from satlearn.raster import validate_cog

    assert validate_cog(tmp_path / out[kind])[0]
