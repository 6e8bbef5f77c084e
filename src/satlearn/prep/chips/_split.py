"""Train/val/test splits drawn per spatial block of chips."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from satlearn.errors import InvalidInputError


def block_splits(
    n_rows: int, n_cols: int, block: int, split: Sequence[float], seed: int
) -> tuple[np.ndarray, list[str]]:
    """Split index of every grid cell, drawn per spatial block of ``block`` x ``block`` chips."""
    names = ["train", "val", "test"][: len(split)]
    fractions = np.asarray(split, dtype=np.float64)
    if (
        len(split) not in (1, 2, 3)
        or (fractions < 0).any()
        or not math.isclose(fractions.sum(), 1.0, abs_tol=1e-6)
    ):
        raise InvalidInputError(
            f"split must be 1-3 fractions (train, val, test) >= 0 summing to 1, got {tuple(split)}"
        )
    block_rows, block_cols = math.ceil(n_rows / block), math.ceil(n_cols / block)
    rows = np.arange(n_rows) // block
    cols = np.arange(n_cols) // block
    # Chips per block: edge blocks hold fewer, so shares are counted in chips,
    # not blocks (else a split can draw only a corner block and end up empty).
    chips = np.outer(
        np.bincount(rows, minlength=block_rows), np.bincount(cols, minlength=block_cols)
    )
    order = np.random.default_rng(seed).permutation(block_rows * block_cols)
    # Each shuffled block goes to the split its middle chip falls in, cumulatively.
    counts = chips.ravel()[order]
    middle = (np.cumsum(counts) - counts / 2) / counts.sum()
    shuffled_split = np.searchsorted(np.cumsum(fractions), middle, side="right")
    block_split = np.empty(order.size, dtype=np.int64)
    block_split[order] = np.minimum(shuffled_split, len(names) - 1)
    # Coarse blocks can leave a wanted split empty: give it the smallest block
    # of the largest split, while that split keeps at least one block.
    sizes = chips.ravel()
    for wanted in np.flatnonzero(fractions > 0):
        if (block_split == wanted).any():
            continue
        donor = int(np.bincount(block_split, minlength=len(names)).argmax())
        candidates = np.flatnonzero(block_split == donor)
        if candidates.size > 1:
            block_split[candidates[np.argmin(sizes[candidates])]] = wanted
    block_split = block_split.reshape(block_rows, block_cols)
    return block_split[rows[:, None], cols[None, :]], names
