"""Fuzzing a chip set's index.csv and chipset.json through ChipDataset (beyond their encoding)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given

from conftest import write_geotiff
from fixtures_fuzz import FUZZ, expect_clean, json_documents, mutated_bytes
from satlearn.datasets.chip_set import ChipDataset

pytestmark = pytest.mark.timeout(120)

INDEX = (
    "id,image,mask,split,minx,miny,maxx,maxy\n"
    "c0,images/c0.tif,masks/c0.tif,train,399960.0,4999880.0,400120.0,5000040.0\n"
    "c1,images/c0.tif,masks/c0.tif,val,399960.0,4999880.0,400120.0,5000040.0\n"
)
INFO = {"classes": {"0": "background", "1": "building"}, "bands": ["red"], "ignore_index": 255}
NAMES = ["index.csv", "chipset.json", "chip c0", "chip c1"]


@pytest.fixture(scope="module")
def chip_root(tmp_path_factory):
    # The rasters are written once; each example rewrites index.csv and chipset.json.
    root = tmp_path_factory.mktemp("chips")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    write_geotiff(root / "images" / "c0.tif", np.ones((1, 16, 16), np.uint16))
    write_geotiff(root / "masks" / "c0.tif", np.zeros((1, 16, 16), np.uint8))
    return root


def _check(index: bytes, info: bytes, root: Path) -> None:
    (root / "index.csv").write_bytes(index)
    (root / "chipset.json").write_bytes(info)
    names = [*NAMES, str(root)]
    ds = expect_clean(lambda: ChipDataset(root, split=None), names)
    if ds is None:
        return
    assert len(ds.class_ids) == len(ds.classes)
    assert isinstance(ds.ignore_index, int)
    if len(ds):  # one sample: the rows share their rasters, and reading costs time
        sample = expect_clean(lambda: ds[0], names)
        if sample is not None:
            assert sample["image"].shape == (1, 16, 16)
            assert len(sample["meta"]["bounds"]) == 4


@FUZZ
@given(index=mutated_bytes(INDEX.encode()))
@example(index=INDEX.encode().replace(b",val,", b",val\n"))  # short row: split None, sort fails
@example(index=INDEX.encode().replace(b"4999880.0", b"x"))  # float('x') in the bounds
@example(index=INDEX.encode().replace(b",images/c0.tif,masks", b",,masks").replace(b",val", b""))
def test_chip_index_parses_or_names_the_file(index, chip_root):
    _check(index, json.dumps(INFO).encode(), chip_root)


@FUZZ
@given(info=json_documents(INFO))
@example(info=b'{"classes": {"x": "a"}}')  # int('x')
@example(info=b'{"classes": [], "ignore_index": [1]}')  # list.values(), int([1])
@example(info=b"[1]")  # not an object
@example(info=b'{"bands": 5}')
@example(info=b'{"\xff": 1}')  # not UTF-8
@example(info=b"[" * 100_000 + b"]" * 100_000)  # RecursionError in json
def test_chipset_json_parses_or_names_the_file(info, chip_root):
    _check(INDEX.encode(), info, chip_root)
