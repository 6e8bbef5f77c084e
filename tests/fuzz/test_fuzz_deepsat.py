"""Fuzzing DeepSat SAT-4/6: the Kaggle CSVs (pixels, one-hot labels, annotations) and the .mat."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, expect_clean, mutated_bytes
from satlearn.datasets.deepsat import DeepSatSAT6

pytestmark = pytest.mark.timeout(120)

_RNG = np.random.default_rng(0)
PIXELS = _RNG.integers(0, 256, (2, 28 * 28 * 4))
LABELS = np.eye(6, dtype=int)[[0, 4]]
X_CSV = "\n".join(",".join(map(str, row)) for row in PIXELS).encode() + b"\n"
Y_CSV = "\n".join(",".join(map(str, row)) for row in LABELS).encode() + b"\n"
ANNOTATIONS = (
    b"building,1,0,0,0,0,0\nbarren_land,0,1,0,0,0,0\ntrees,0,0,1,0,0,0\n"
    b"grassland,0,0,0,1,0,0\nroad,0,0,0,0,1,0\nwater,0,0,0,0,0,1\n"
)


def _mat_bytes() -> bytes:
    buffer = io.BytesIO()
    x = PIXELS.reshape(2, 28, 28, 4).transpose(1, 2, 3, 0).astype(np.uint8)  # 28x28x4xN
    scipy.io.savemat(
        buffer,
        {
            "train_x": x,
            "train_y": LABELS.T.astype(np.uint8),
            "annotations": np.array(
                ["building", "barren_land", "trees", "grassland", "road", "water"], dtype=object
            ),
        },
    )
    return buffer.getvalue()


MAT = _mat_bytes()
NAMES = ["X_train_sat6.csv", "y_train_sat6.csv", "sat6annotations.csv", "sat-6-full.mat", "deepsat"]


def _read_all(root: Path, **kwargs) -> None:
    ds = expect_clean(lambda: DeepSatSAT6(root, **kwargs), NAMES)
    if ds is None:
        return
    for i in range(len(ds)):
        sample = expect_clean(lambda i=i: ds[i], NAMES)
        if sample is not None:
            assert sample["image"].shape == (4, 28, 28) and sample["image"].dtype == np.uint8
            assert 0 <= sample["label"] < 6
    ds.close()


@FUZZ
@given(
    which=st.sampled_from(["X", "y", "annotations"]),
    data=st.data(),
)
def test_csvs_read_or_name_the_file(which, data):
    files = {"X": X_CSV, "y": Y_CSV, "annotations": ANNOTATIONS}
    files[which] = data.draw(mutated_bytes(files[which]), label=which)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "X_train_sat6.csv").write_bytes(files["X"])
        (root / "y_train_sat6.csv").write_bytes(files["y"])
        (root / "sat6annotations.csv").write_bytes(files["annotations"])
        _read_all(root, format="csv")


@FUZZ
@given(mat=st.one_of(mutated_bytes(MAT, max_mutations=6), st.binary(max_size=300)))
def test_mat_reads_or_names_the_file(mat):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sat-6-full.mat").write_bytes(mat)
        _read_all(root, format="mat")
