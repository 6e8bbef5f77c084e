"""Start-up: how long the satlearn command takes to answer --help and a config error.

What is compared, in the same run, each command as ``--runs`` fresh processes
(median and best, wall clock, stdout discarded):

* ``satlearn --help``, ``satlearn change --help`` and ``satlearn train
  broken.yaml`` (a config with an unknown key: exits 1 with one error line);
* the peer a user would reach for first: ``rio --help`` (rasterio's CLI,
  click-based, in the same virtualenv);
* with ``--before SRC``, the same satlearn commands with ``PYTHONPATH=SRC``
  (a checkout of an older ``src`` folder, e.g. ``git archive REV src | tar
  -x -C /tmp/before``), to show a change's effect.

Ratios: satlearn's median / rio's median, and now / before.

Run: ``python benchmarks/bench_startup.py [--runs N] [--before /tmp/before/src]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _time(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--before", type=Path, help="an older src folder to compare with")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(tmp) / "broken.yaml"
        broken.write_text("task: classification\nlearning_rat: 0.1\n")
        satlearn = [sys.executable, "-m", "satlearn"]
        commands = {
            "satlearn --help": [*satlearn, "--help"],
            "satlearn change --help": [*satlearn, "change", "--help"],
            "satlearn train broken.yaml": [*satlearn, "train", str(broken)],
        }
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        peer, peer_best = _time([str(BIN / "rio"), "--help"], env, args.runs)
        print(f"{'command':<28} {'median s':>9} {'best s':>7} {'/ rio':>6}", end="")
        print(f" {'before s':>9} {'now/before':>10}" if args.before else "")
        print(f"{'rio --help (peer)':<28} {peer:9.3f} {peer_best:7.3f} {1:6.2f}")
        for name, argv in commands.items():
            median, best = _time(argv, env, args.runs)
            line = f"{name:<28} {median:9.3f} {best:7.3f} {median / peer:6.2f}"
            if args.before:
                old_env = {**env, "PYTHONPATH": str(args.before)}
                old, _ = _time(argv, old_env, args.runs)
                line += f" {old:9.3f} {median / old:10.2f}"
            print(line)


if __name__ == "__main__":
    main()
