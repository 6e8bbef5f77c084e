"""Fuzzing Draper's labels, which are its file names (``setN_D.jpeg``: set id, day 1..5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from PIL import Image

from fixtures_fuzz import FUZZ, expect_clean, mutated_text, usable_file_name
from satlearn.datasets.draper import DraperChronology

pytestmark = pytest.mark.timeout(120)

NAMES = [f"set7_{d}.jpeg" for d in range(1, 6)]


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("draper") / "x.jpeg"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(path, quality=90)
    return path.read_bytes()


# The folder is made once; each example writes its files and removes them.
@FUZZ
@given(
    replaced=st.dictionaries(st.integers(0, 4), st.one_of(*(mutated_text(n) for n in NAMES))),
    extra=st.lists(mutated_text(NAMES[0]), max_size=1),
)
def test_set_and_day_file_names_parse_or_name_the_folder(replaced, extra, jpeg, tmp_path_factory):
    names = {*(replaced.get(i, n) for i, n in enumerate(NAMES)), *extra}
    assume(all(usable_file_name(n) for n in names))
    root = tmp_path_factory.getbasetemp() / "draper-fuzz"
    (root / "train_sm").mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / "train_sm" / name).write_bytes(jpeg)
    try:
        ds = expect_clean(lambda: DraperChronology(root, verify="none"), ["train_sm"])
        if ds is None:
            return
        assert len(ds) + len(ds.skipped) >= 1
        if len(ds):
            sample = expect_clean(lambda: ds[0], ["train_sm"])
            if sample is not None:
                assert sorted(sample["order"].tolist()) == [1, 2, 3, 4, 5]
                assert sample["image"].shape == (5, 3, 8, 8)
    finally:
        for path in (root / "train_sm").iterdir():
            path.unlink()
