"""DeepSat SAT-6 CSV: satlearn's lazy row reader against pandas reading the whole file.

Kaggle's ``X_train_sat6.csv`` holds one 28x28x4 chip per row (3136 integers,
no header). A notebook user reads it with ``pandas.read_csv`` (every row into
memory, then ``.values.reshape``); satlearn's :class:`DeepSatSAT6` indexes the
line offsets once and parses one row per access, so a DataLoader worker holds
one chip, not the split (324,000 rows, ~1 GiB as uint8, ~8 GiB as pandas'
int64). Both read every chip once, in the same run; the script prints the
chips/s of each and the ratio.

Run: ``python benchmarks/bench_datasets.py [--chips 5000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def write_sat6_csv(root: Path, n: int) -> np.ndarray:
    """The published layout: ``(y, x, band)`` C order per row; one-hot labels."""
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28, 4), dtype=np.uint8)
    np.savetxt(root / "X_train_sat6.csv", images.reshape(n, -1), fmt="%d", delimiter=",")
    one_hot = np.eye(6, dtype=np.uint8)[np.arange(n) % 6]
    np.savetxt(root / "y_train_sat6.csv", one_hot, fmt="%d", delimiter=",")
    return images


def main() -> None:
    import pandas as pd

    from satlearn.datasets.deepsat import DeepSatSAT6

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chips", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = write_sat6_csv(root, args.chips)
        size = (root / "X_train_sat6.csv").stat().st_size / 2**20
        print(f"X_train_sat6.csv: {args.chips} chips, {size:.0f} MiB")

        start = time.perf_counter()
        ds = DeepSatSAT6(root, split="train", format="csv")
        opened = time.perf_counter() - start
        for i in range(len(ds)):
            chip = ds[i]["image"]
        ours = time.perf_counter() - start
        assert np.array_equal(chip, images[-1].transpose(2, 0, 1))

        start = time.perf_counter()
        frame = pd.read_csv(root / "X_train_sat6.csv", header=None)
        chips = frame.to_numpy().astype(np.uint8).reshape(-1, 28, 28, 4)
        peer = time.perf_counter() - start
        assert np.array_equal(chips, images)

    n = args.chips
    print(f"{'reader':<44}{'time s':>8}{'chips/s':>10}")
    print(f"{'satlearn DeepSatSAT6 (open ' + f'{opened * 1e3:.0f} ms, lazy rows)':<44}"
          f"{ours:8.2f}{n / ours:10.0f}")  # fmt: skip
    print(f"{'pandas.read_csv, whole file':<44}{peer:8.2f}{n / peer:10.0f}")
    print(f"ratio satlearn / pandas (chips/s): {peer / ours:.2f}x")


if __name__ == "__main__":
    main()
