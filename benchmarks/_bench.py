"""What several benchmarks share: the machine's description and the --seeds option.

Benchmarks are scripts (``python benchmarks/bench_X.py``), so their folder is
first on ``sys.path`` and ``import _bench`` finds this module.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), or ``"unknown CPU"``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def parse_seeds(text: str) -> list[int]:
    """``--seeds 0,1,2`` as a list of ints; an argparse error that says what to give."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: give integers like 0,1,2") from None
    if not seeds:
        raise argparse.ArgumentTypeError("--seeds: give at least one seed")
    return seeds


def add_seed_options(parser: argparse.ArgumentParser, *, seed_help: str) -> None:
    """``--seed N`` or ``--seeds 0,1,2`` (mutually exclusive; both default to None)."""
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help=seed_help)
    seeds.add_argument(
        "--seeds",
        type=parse_seeds,
        default=None,
        metavar="0,1,2",
        help="several training seeds: each run is printed, then mean and sd of every metric",
    )
