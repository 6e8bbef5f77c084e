"""Fuzzing the label files of the class-folder datasets: UC Merced's and EuroSAT's split
lists (TorchGeo's ``<name>-<split>.txt``) and the file names that claim each chip's class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given
from PIL import Image

from fixtures_fuzz import FUZZ, expect_clean, mutated_bytes, mutated_text, usable_file_name
from satlearn.datasets.eurosat import EuroSAT
from satlearn.datasets.ucmerced import UCMerced

pytestmark = pytest.mark.timeout(120)

UCM_FILES = {"agricultural": ["agricultural00", "agricultural01"], "beach": ["beach00", "beach07"]}
EURO_FILES = {"Forest": ["Forest_1", "Forest_12"], "River": ["River_2", "River_10"]}
UCM_SPLIT = "agricultural01.tif\nbeach00.tif\n\nbeach07.tif\n"
EURO_SPLIT = "Forest_12.tif\nRiver_2.tif\nRiver_10.tif\n"


@pytest.fixture(scope="module")
def chips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chips")
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "chip.tif", format="TIFF")
    Image.fromarray(pixels).save(folder / "chip.jpg", quality=90)
    return {".tif": (folder / "chip.tif").read_bytes(), ".jpg": (folder / "chip.jpg").read_bytes()}


def _lay_out(root: Path, classes: dict[str, list[str]], suffix: str, chips: dict) -> None:
    for name, stems in classes.items():
        (root / name).mkdir(parents=True)
        for stem in stems:
            (root / name / f"{stem}{suffix}").write_bytes(chips[suffix])


def _check(ds_call, names: list[str], n_files: int) -> None:
    ds = expect_clean(ds_call, names)
    if ds is None:
        return
    assert len(ds) <= n_files * 3  # a list may name a file again, never an unknown one
    assert len(ds.labels) == len(ds.files)
    assert ((ds.labels >= 0) & (ds.labels < len(ds.classes))).all()
    for path, label in zip(ds.files, ds.labels, strict=True):
        assert path.parent.name == ds.classes[label]


@pytest.fixture(scope="module")
def ucm_root(tmp_path_factory, chips):
    root = tmp_path_factory.mktemp("ucm")
    _lay_out(root / "UCMerced_LandUse" / "Images", UCM_FILES, ".tif", chips)
    return root


@pytest.fixture(scope="module")
def euro_root(tmp_path_factory, chips):
    root = tmp_path_factory.mktemp("eurosat")
    _lay_out(root / "EuroSAT_RGB", EURO_FILES, ".jpg", chips)
    return root


# The class folders are laid out once per module; each example rewrites the list only.
@FUZZ
@given(listing=mutated_bytes(UCM_SPLIT.encode()))
@example(listing=b"beach00.tif\n\xff\xfe\n")  # not UTF-8: UnicodeDecodeError from read_text
def test_ucmerced_split_list_parses_or_names_the_file(listing, ucm_root):
    (ucm_root / "uc_merced-train.txt").write_bytes(listing)
    _check(
        lambda: UCMerced(ucm_root, split="train", image_size=None, verify="none"),
        ["uc_merced-train.txt"],
        4,
    )


@FUZZ
@given(listing=mutated_bytes(EURO_SPLIT.encode()))
@example(listing=b"River_2.tif\n\x80\n")
def test_eurosat_split_list_parses_or_names_the_file(listing, euro_root):
    (euro_root / "eurosat-val.txt").write_bytes(listing)
    _check(lambda: EuroSAT(euro_root, split="val", verify="none"), ["eurosat-val.txt"], 4)


# UC Merced claims a class by a digit suffix, EuroSAT by an underscore: the latter's
# rsplit is fuzzed here, the folder check they share with it.
@FUZZ
@given(name=mutated_text("River_10.jpg"))
def test_class_claimed_by_a_file_name_is_checked(name, euro_root):
    assume(usable_file_name(name))
    path = euro_root / "EuroSAT_RGB" / "River" / name
    if path.exists():  # one of the sample's own files
        _check(lambda: EuroSAT(euro_root, verify="none"), [name, "River"], 4)
        return
    path.write_bytes(b"")  # never decoded: verify="none"
    try:
        _check(lambda: EuroSAT(euro_root, verify="none"), [name, "River"], 5)
    finally:
        path.unlink()
