"""Fuzzing the Airbus run-length strings: rle_decode and the segmentation CSV of AirbusShips."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, NASTY_TOKENS, expect_clean, mutated_bytes, mutated_text
from satlearn.datasets.airbus import AirbusShips, rle_decode, rle_encode
from satlearn.errors import DatasetError

pytestmark = pytest.mark.timeout(120)

VALID = "1 3 10 2 20 5"
CSV = (
    "ImageId,EncodedPixels\n"
    "0001.jpg,1 3 10 2 20 5\n"
    "0001.jpg,500 7\n"
    "0002.jpg,\n"
    "0003.jpg,589000 100\n"
)

_numbers = st.one_of(
    st.integers(-5, 3000),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**63 - 1, 2**63, 2**62, -(2**63)]),
)
_tokens = st.one_of(_numbers.map(str), st.sampled_from(NASTY_TOKENS))
_structured = st.lists(_tokens, max_size=12).map(" ".join)
_shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


@FUZZ
@given(rle=st.one_of(_structured, mutated_text(VALID)), shape=_shapes)
def test_rle_decode_is_a_mask_or_a_clean_error(rle, shape):
    mask = expect_clean(lambda: rle_decode(rle, shape=shape), ["rle_decode"])
    if mask is None:
        return
    assert mask.shape == shape and mask.dtype == bool
    # A decoded mask holds exactly the pixels its runs name, and encodes back to them.
    values = [int(t) for t in rle.split()]
    assert int(mask.sum()) == sum(values[1::2])
    assert rle_decode(rle_encode(mask), shape=shape).tolist() == mask.tolist()


@FUZZ
@given(text=st.one_of(mutated_bytes(CSV.encode()), st.binary(max_size=64)))
def test_airbus_csv_reads_or_names_the_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "train_v2").mkdir()
        (root / "train_ship_segmentations_v2.csv").write_bytes(text)
        ds = expect_clean(
            lambda: AirbusShips(root), ["train_ship_segmentations_v2.csv", "airbus", str(root)]
        )
        if ds is not None:
            assert len(ds) >= 1
            for runs in ds._runs.values():
                for starts, lengths in runs:
                    assert (starts >= 0).all() and (lengths >= 1).all()
                    assert (starts + lengths <= 768 * 768).all()


@pytest.mark.parametrize("rle", [f"2 {2**63 - 1}", f"1 2 {2**63 - 1} 3"])
def test_a_run_whose_end_overflows_int64_is_refused(rle):
    # Found by fuzzing: start - 1 + length wrapped to a negative int64, passed the
    # bounds check and failed later with an IndexError.
    with pytest.raises(DatasetError, match="rle_decode: run-length encoding runs past the image"):
        rle_decode(rle, shape=(4, 4))


def test_a_csv_that_is_not_utf8_names_the_file(tmp_path):
    # Found by fuzzing: a UnicodeDecodeError escaped from the csv reader.
    (tmp_path / "train_ship_segmentations_v2.csv").write_bytes(b"\x80")
    with pytest.raises(DatasetError, match=r"train_ship_segmentations_v2\.csv: not UTF-8"):
        AirbusShips(tmp_path)
