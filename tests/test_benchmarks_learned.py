"""The learned-model benchmarks keep running: every task of both, in quick mode on tiny inputs.

The full runs take an hour; these runs use a handful of chips and a fraction of
the epochs so that a change that breaks a benchmark (an argument renamed, a
result key dropped, the seed loop broken) fails here and not in the next
person's measurement. The figures themselves are not asserted (they are
meaningless at this size), only that every task produced finite metrics and
that the summary over seeds is the mean and sample sd of the runs.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    # As when run as a script: its folder first on sys.path (for `import _bench`).
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


QUICK = ["--epochs-scale", "0.05", "--max-chips", "2"]


def test_real_data_benchmark_runs_every_task(shared_data, capsys):
    bench = load("bench_learned_real")
    results = bench.main([*QUICK, "--seed", "0"])

    assert set(results) == set(bench.TASKS)
    for task, runs in results.items():
        assert len(runs) == 1, task
        # A precision is NaN when a smoke-trained model predicts nothing at all (0 / 0);
        # every other figure must be a number.
        assert runs[0] and all(
            math.isfinite(v) or (k.endswith("precision") and math.isnan(v))
            for k, v in runs[0].items()
        ), (task, runs[0])
    out = capsys.readouterr().out
    for task in bench.TASKS:
        assert f"-- {task}: seeds 0 --" in out
    assert "determinism holds per machine only" in out


def test_real_data_benchmark_summary_is_mean_and_sd_over_seeds(shared_data, capsys):
    bench = load("bench_learned_real")
    results = bench.main(["clouds", *QUICK, "--seeds", "0,1"])

    iou = [run["unet_iou"] for run in results["clouds"]]
    out = capsys.readouterr().out
    assert "-- clouds: seeds 0,1 --" in out
    row = next(line for line in out.splitlines() if line.startswith("unet_iou"))
    *_, mean, sd = row.split()
    assert float(mean) == pytest.approx(np.mean(iou), abs=1e-4)
    assert float(sd) == pytest.approx(np.std(iou, ddof=1), abs=1e-4)
    # The verdict on the goal is printed from the same runs.
    verdict = "met" if bench.goal_met("clouds", results["clouds"]) else "NOT met"
    assert f"goal: unet_iou mean >= 0.86 and sd <= 0.01 (rules: 0.816): {verdict}" in out


def test_real_data_benchmark_refuses_bad_seeds():
    bench = load("bench_learned_real")
    with pytest.raises(SystemExit):
        bench.main(["--seeds", "0,one"])


def test_synthetic_benchmark_runs_every_task(capsys):
    bench = load("bench_learned_vs_classical")
    tiny = ["--train-size", "128", "--test-size", "128", "--epochs-scale", "0.1"]
    per_seed = bench.main([*tiny, "--steps-per-epoch", "2", "--seed", "3"])

    assert len(per_seed) == 1
    tasks = {row[0] for row in per_seed[0]}
    assert {"water", "change", "clouds", "superres x2", "ships", "land cover"} <= tasks
    for _task, _metric, learned, classical, _what in per_seed[0]:
        assert math.isfinite(learned) and math.isfinite(classical)
    assert "training seeds 3" in capsys.readouterr().out


def test_synthetic_benchmark_summary_is_mean_and_sd_over_seeds(capsys):
    bench = load("bench_learned_vs_classical")
    rows = [
        [("water", "IoU", 0.5, 0.4, ""), ("water", "F1", 0.6, 0.5, "")],
        [("water", "IoU", 0.7, 0.4, ""), ("water", "F1", 0.8, 0.5, "")],
    ]
    summary = bench.summarise([0, 1], rows)
    assert summary[0][:2] == ("water", "IoU")
    assert summary[0][2] == pytest.approx(0.6)
    assert summary[0][3] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summary[0][5] == 0.0
    assert "over training seeds 0,1" in capsys.readouterr().out
