"""UC Merced Land Use: class folders of RGB TIFFs, odd sizes, splits, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _classification_fixtures import pattern, truncate, write_plain_tiff

from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.images import fit_image, read_image
from satlearn.datasets.ucmerced import UCMerced, stratified_split
from satlearn.errors import InvalidInputError

CLASSES = ("agricultural", "beach", "river")


def make_ucmerced(
    tmp_path: Path, per_class: int = 5, odd: dict[str, tuple[int, int]] | None = None
) -> dict:
    """UCMerced_LandUse/Images/<class>/<class>NN.tif; returns {file name: (label, pixels)}."""
    images = tmp_path / "UCMerced_LandUse" / "Images"
    written = {}
    for cls in CLASSES:
        label = UCMerced.classes.index(cls)
        for i in range(per_class):
            name = f"{cls}{i:02d}.tif"
            h, w = (odd or {}).get(name, (32, 32))
            pixels = pattern(label * 100 + i, (3, h, w))
            write_plain_tiff(images / cls / name, pixels)
            written[name] = (label, pixels)
    return written


def test_reads_pixels_and_labels_exactly(tmp_path):
    written = make_ucmerced(tmp_path)
    ds = UCMerced(tmp_path, image_size=None)
    assert len(ds) == len(written)
    for sample in ds:
        label, pixels = written[Path(sample["meta"]["file"]).name]
        assert sample["label"] == label
        assert sample["image"].dtype == np.uint8
        np.testing.assert_array_equal(sample["image"], pixels)
    assert ds.describe()["class_counts"]["beach"] == 5
    assert "airplane" in ds.describe()["missing_classes"]


def test_registered_and_roots_at_any_level(tmp_path):
    make_ucmerced(tmp_path, per_class=1)
    cls = get_dataset("ucmerced")
    assert cls is UCMerced and len(cls.classes) == 21 and cls.bands == ("red", "green", "blue")
    for root in (tmp_path, tmp_path / "UCMerced_LandUse", tmp_path / "UCMerced_LandUse" / "Images"):
        assert len(UCMerced(root)) == 3


def test_odd_sized_chip_resized_by_default_and_true_size_reported(tmp_path):
    make_ucmerced(tmp_path, per_class=2, odd={"beach01.tif": (30, 32)})
    ds = UCMerced(tmp_path, image_size=32)
    odd = next(s for s in ds if s["meta"]["file"].endswith("beach01.tif"))
    assert odd["image"].shape == (3, 32, 32)
    assert odd["meta"]["size"] == (30, 32)
    keep = UCMerced(tmp_path, image_size=None)
    raw = next(s for s in keep if s["meta"]["file"].endswith("beach01.tif"))
    assert raw["image"].shape == (3, 30, 32)


def test_pad_reflects_edge_rows_instead_of_inventing_zeros(tmp_path):
    written = make_ucmerced(tmp_path, per_class=1, odd={"river00.tif": (30, 32)})
    ds = UCMerced(tmp_path, image_size=32, fit="pad")
    sample = next(s for s in ds if s["meta"]["file"].endswith("river00.tif"))
    pixels = written["river00.tif"][1]
    np.testing.assert_array_equal(sample["image"][:, :30], pixels)
    np.testing.assert_array_equal(sample["image"][:, 30], pixels[:, 29])
    np.testing.assert_array_equal(sample["image"][:, 31], pixels[:, 28])


def test_fit_image_shrinks_grows_and_rejects_unknown_mode():
    image = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    assert fit_image(image, (4, 6)).shape == (2, 4, 6)
    assert fit_image(image, 16).shape == (2, 16, 16)
    assert fit_image(image, 8) is image
    np.testing.assert_array_equal(fit_image(image, (4, 4), "pad"), image[:, :4, :4])
    with pytest.raises(InvalidInputError, match="fit"):
        fit_image(image, 4, "stretch")
    single = np.zeros((1, 5, 5), np.uint8)
    assert fit_image(single, 7).shape == (1, 7, 7)


def test_stratified_split_is_deterministic_disjoint_and_keeps_proportions(tmp_path):
    make_ucmerced(tmp_path, per_class=10)
    parts = {s: UCMerced(tmp_path, split=s, seed=3) for s in ("train", "val", "test")}
    files = {s: {str(f) for f in ds.files} for s, ds in parts.items()}
    assert sum(len(v) for v in files.values()) == 30
    assert not files["train"] & files["val"] and not files["train"] & files["test"]
    assert not files["val"] & files["test"]
    for cls in CLASSES:
        assert parts["train"].class_counts()[cls] == 6 and parts["test"].class_counts()[cls] == 2
    again = UCMerced(tmp_path, split="train", seed=3)
    assert [str(f) for f in again.files] == [str(f) for f in parts["train"].files]
    other = UCMerced(tmp_path, split="train", seed=4)
    assert {str(f) for f in other.files} != files["train"]


def test_stratified_split_rejects_bad_ratios():
    with pytest.raises(InvalidInputError, match="ratios"):
        stratified_split([0, 1], ratios=(0.5, 0.6, 0.2))


def test_torchgeo_split_file_picked_up_and_unknown_entry_named(tmp_path):
    make_ucmerced(tmp_path, per_class=3)
    (tmp_path / "uc_merced-val.txt").write_text("beach01.tif\nriver02.tif\n\n")
    ds = UCMerced(tmp_path, split="val")
    assert sorted(Path(f).name for f in ds.files) == ["beach01.tif", "river02.tif"]
    bad = tmp_path / "custom.txt"
    bad.write_text("beach01.tif\nforest07.tif\n")
    with pytest.raises(DatasetError, match=r"custom.txt, line 2: 'forest07.tif'"):
        UCMerced(tmp_path, split="test", split_file=bad)
    with pytest.raises(DatasetError, match="does not exist"):
        UCMerced(tmp_path, split="test", split_file=tmp_path / "absent.txt")


def test_unknown_class_folder_is_an_error_naming_it(tmp_path):
    make_ucmerced(tmp_path, per_class=1)
    write_plain_tiff(
        tmp_path / "UCMerced_LandUse/Images/volcano/volcano00.tif", pattern(0, (3, 8, 8))
    )
    with pytest.raises(DatasetError, match="volcano is not a known class folder"):
        UCMerced(tmp_path)


def test_file_named_for_another_class_is_not_given_the_folder_label(tmp_path):
    make_ucmerced(tmp_path, per_class=1)
    write_plain_tiff(tmp_path / "UCMerced_LandUse/Images/beach/river07.tif", pattern(0, (3, 8, 8)))
    with pytest.raises(
        DatasetError, match=r"river07.tif is named for class 'river' but lies in folder 'beach'"
    ):
        UCMerced(tmp_path)


def test_corrupt_files_skipped_counted_and_described(tmp_path):
    make_ucmerced(tmp_path, per_class=4)
    images = tmp_path / "UCMerced_LandUse" / "Images"
    (images / "beach" / "beach01.tif").write_bytes(b"")
    (images / "river" / "river02.tif").write_bytes(b"this is not a TIFF at all")
    truncate(images / "agricultural" / "agricultural03.tif", keep=0.3)
    (images / "river" / "notes.txt").write_text("not a sample")
    header = UCMerced(tmp_path)  # header check: empty and garbage files
    assert len(header) == 10 and len(header.skipped) == 2
    info = header.describe()
    assert info["skipped"] == 2
    assert {Path(s["file"]).name for s in info["skipped_files"]} == {"beach01.tif", "river02.tif"}
    truncated = next(i for i, f in enumerate(header.files) if f.name == "agricultural03.tif")
    with pytest.raises(DatasetError, match=r"agricultural03\.tif: unreadable"):
        header[truncated]
    full = UCMerced(tmp_path, verify="full")  # decoding also catches the truncated one
    assert len(full) == 9 and len(full.skipped) == 3
    assert all(
        s["label"] == UCMerced.classes.index(Path(s["meta"]["file"]).parent.name) for s in full
    )


def test_missing_root_and_empty_layout_say_what_to_fetch(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder"):
        UCMerced(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"no class folders.*UCMerced_LandUse.zip"):
        UCMerced(tmp_path)
    (tmp_path / "Images" / "beach").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no \.tif/\.tiff files"):
        UCMerced(tmp_path)


def test_bad_arguments_rejected(tmp_path):
    make_ucmerced(tmp_path, per_class=1)
    with pytest.raises(InvalidInputError, match="split"):
        UCMerced(tmp_path, split="holdout")
    with pytest.raises(InvalidInputError, match="verify"):
        UCMerced(tmp_path, verify="deep")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="fit"):
        UCMerced(tmp_path, fit="stretch")  # type: ignore[arg-type]


def test_read_image_names_unreadable_file(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8 garbage")
    with pytest.raises(DatasetError, match=r"x\.jpg: unreadable image"):
        read_image(path)


def test_transforms_and_dataloader_batches(tmp_path):
    torch = pytest.importorskip("torch")
    make_ucmerced(tmp_path, per_class=2, odd={"beach00.tif": (30, 32)})

    def scale(sample):
        sample["image"] = sample["image"].astype(np.float32) / 255
        return sample

    ds = UCMerced(tmp_path, image_size=32, transforms=scale)
    assert ds[0]["image"].dtype == np.float32
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 32, 32) and batch["image"].dtype == torch.float32
    assert batch["label"].shape == (2,)
