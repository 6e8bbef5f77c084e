"""Task samples from synthetic scenes and dataset readers; statistics; the torch dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from satlearn.datasets.base import DATASETS, SampleDataset, register
from satlearn.errors import DatasetError, InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.synth import make_scene
from satlearn.train.config import parse_data_source
from satlearn.train.data import (
    IGNORE,
    TrainingSet,
    band_statistics,
    collate,
    foreground_subset,
    has_foreground,
    load_task_data,
    select_bands,
    skipped_summary,
)


def _synthetic(task, target, **kw):
    source = parse_data_source({"kind": "synthetic", "target": target, "size": 64, **kw})
    return load_task_data(task, source, val_fraction=0.25, bands=["green", "red", "nir"])


def test_water_chips_pair_with_the_scene_truth() -> None:
    data = _synthetic("segmentation", "water", chip_size=32)
    scene = make_scene(64, seed=0, ships=False)
    assert data.classes == ["other", "water"] and data.bands == ["green", "red", "nir"]
    assert len(data.train) == 3 and len(data.val) == 1
    chips = {s["image"].tobytes(): s for s in [*data.train, *data.val]}
    image = scene.image.sel(band=["green", "red", "nir"]).values[0]
    water = scene.landcover.values == 0
    cloud = scene.cloud_mask.values[0]
    for y in (0, 32):
        for x in (0, 32):
            s = chips[np.ascontiguousarray(image[:, y : y + 32, x : x + 32]).tobytes()]
            want = np.where(cloud[y : y + 32, x : x + 32], IGNORE, water[y : y + 32, x : x + 32])
            np.testing.assert_array_equal(s["mask"], want)


def test_cloud_chips_mark_thick_cloud_and_cirrus_and_label_every_pixel() -> None:
    data = _synthetic("segmentation", "clouds", chip_size=64, seed=1)
    scene = make_scene(64, seed=1, ships=False)
    want = scene.cloud_mask.values[0] | scene.cirrus_mask.values[0]
    thick = scene.cloud_mask.values[0]
    assert scene.cirrus_mask.values[0].any() and not np.array_equal(want, thick)
    [sample] = data.train
    np.testing.assert_array_equal(sample["mask"], want)  # clouds are never unlabelled


def test_a_list_of_seeds_concatenates_the_chips_of_each_scene() -> None:
    one = {seed: _synthetic("change", "change", chip_size=32, seed=seed) for seed in (2, 3)}
    both = _synthetic("change", "change", chip_size=32, seed=[2, 3])

    def chips(data):
        return {s["image"].tobytes() for s in [*data.train, *data.val]}

    assert chips(both) == chips(one[2]) | chips(one[3]) and len(chips(both)) == 8
    assert both.provenance["seed"] == [2, 3] and both.provenance["chips"] == 8
    with pytest.raises(InvalidInputError, match="seed"):
        parse_data_source({"kind": "synthetic", "target": "water", "seed": []})


def test_other_synthetic_targets() -> None:
    sr = _synthetic("superres", "superres", chip_size=16, scale=4)
    s = sr.train[0]
    assert s["image"].shape == (3, 4, 4) and s["target"].shape == (3, 16, 16)
    np.testing.assert_allclose(s["image"][:, 0, 0], s["target"][:, :4, :4].mean(axis=(1, 2)), 1e-6)
    assert sr.tile_size == 4 and sr.scale == 4
    change = _synthetic("change", "change", chip_size=32)
    assert set(change.train[0]) == {"image", "image2", "mask"}
    assert set(np.unique(change.train[0]["mask"])) <= {0, 1, IGNORE}
    chips = _synthetic("classification", "landcover-chips", chip_size=16, clouds=False)
    assert all(0 <= s["label"] < 7 for s in chips.train)
    multi = _synthetic("multilabel", "landcover-multilabel", chip_size=16, clouds=False)
    assert multi.train[0]["label"].shape == (7,) and multi.train[0]["label"].sum() >= 1
    ships = load_task_data(
        "detection",
        parse_data_source({"kind": "synthetic", "target": "ships", "size": 128, "chip_size": 32}),
        val_fraction=0,
    )
    boxes = np.concatenate([s["boxes"] for s in ships.train])
    assert len(boxes) >= 1 and np.all(boxes >= 0) and np.all(boxes <= 32)
    assert ships.val is ships.train  # val_fraction 0: validate on the training chips


def test_select_bands_names_the_missing_band() -> None:
    assert select_bands(["a", "b"], None, "x") == [0, 1]
    with pytest.raises(UnknownBandError, match=r"'swir9'.*a, b"):
        select_bands(["a", "b"], ["swir9"], "scene")


def test_band_statistics_equal_numpy_over_all_pixels() -> None:
    rng = np.random.default_rng(0)
    samples = [{"image": rng.normal(5, 2, (3, 8, 8)), "image2": rng.normal(1, 1, (3, 8, 8))}
               for _ in range(5)]  # fmt: skip
    stack = np.concatenate([np.concatenate([s["image"], s["image2"]], 1) for s in samples], 1)
    mean, std = band_statistics(samples)
    np.testing.assert_allclose(mean, stack.reshape(3, -1).mean(1))
    np.testing.assert_allclose(std, stack.reshape(3, -1).std(1))
    with pytest.raises(NoValidDataError):
        band_statistics([])
    with pytest.raises(NoValidDataError, match="NaN"):
        band_statistics([{"image": np.full((1, 2, 2), np.nan)}])


def test_training_set_normalises_and_collates_variable_boxes() -> None:
    samples = [{"image": np.full((2, 4, 4), 3.0, np.float32), "boxes": np.zeros((k, 4), np.float32),
                "box_labels": np.zeros(k, np.int64), "label": 1} for k in (0, 2)]  # fmt: skip
    ds = TrainingSet(samples, [1.0, 3.0], [2.0, 1.0])
    batch = collate([ds[0], ds[1]])
    assert batch["image"].shape == (2, 2, 4, 4) and batch["image"].dtype == torch.float32
    assert batch["image"][0, 0, 0, 0] == 1.0 and batch["image"][0, 1, 0, 0] == 0.0
    assert [len(b) for b in batch["boxes"]] == [0, 2]
    assert batch["label"].tolist() == [1, 1]


class _Toy(SampleDataset):
    name = "toy-test-reader"
    task = "segmentation"
    bands = ("red", "green", "nir")
    classes = ("a", "b")

    def __len__(self) -> int:
        return 10 if self.split != "val" else 3

    def _load(self, index: int) -> dict:
        image = np.full((3, 8, 8), index, np.float32)
        return {"image": image, "image2": image + 1, "mask": np.full((8, 8), index % 2),
                "label": index % 2, "boxes": np.array([[0, 0, 2, 2]], np.float32)}  # fmt: skip


@pytest.fixture
def toy(tmp_path):
    register(_Toy)
    yield tmp_path
    DATASETS.pop("toy-test-reader")


def test_dataset_source_every_task(toy) -> None:
    src = parse_data_source({"kind": "dataset", "name": "toy-test-reader", "root": str(toy)})
    seg = load_task_data("segmentation", src, bands=["nir", "red"], val_fraction=0.2)
    assert seg.bands == ["nir", "red"] and seg.classes == ["a", "b"]
    assert len(seg.train) == 8 and len(seg.val) == 2
    assert seg.train[0]["image"].shape == (2, 8, 8) and seg.tile_size == 8
    assert isinstance(load_task_data("classification", src).train[0]["label"], int)
    assert load_task_data("multilabel", src).train[0]["label"].dtype == np.float32
    ch = load_task_data("change", src).train[0]
    np.testing.assert_array_equal(ch["image2"], ch["image"] + 1)
    sr = load_task_data("superres", src, scale=4).train[0]
    assert sr["image"].shape == (3, 2, 2) and sr["target"].shape == (3, 8, 8)
    det = load_task_data("detection", src).train[0]
    assert det["boxes"].shape == (1, 4) and det["box_labels"].tolist() == [0]
    split = parse_data_source(
        {"kind": "dataset", "name": "toy-test-reader", "root": str(toy), "val_split": "val"}
    )
    both = load_task_data("segmentation", split)
    assert (len(both.train), len(both.val)) == (10, 3)
    with pytest.raises(UnknownBandError, match="toy-test-reader dataset"):
        load_task_data("segmentation", src, bands=["swir16"])


def _mask_chip(foreground: bool, ignore: bool = False) -> dict:
    mask = np.zeros((4, 4), np.int64)
    if ignore:
        mask[0, 0] = IGNORE  # unlabelled is not foreground
    if foreground:
        mask[1, 1] = 2
    return {"mask": mask}


def test_foreground_subset_keeps_every_foreground_chip_and_a_seeded_share_of_empty_ones() -> None:
    chips = [_mask_chip(i % 10 == 0, ignore=True) for i in range(100)]  # 10 % foreground
    half = foreground_subset(chips, 0.5, seed=3)
    assert len(half) == 20 and sum(has_foreground(c) for c in half) == 10
    order = [next(i for i, c in enumerate(chips) if c is h) for h in half]
    assert order == sorted(order)  # the original order
    assert [id(c) for c in foreground_subset(chips, 0.5, seed=3)] == [id(c) for c in half]
    assert [id(c) for c in foreground_subset(chips, 0.5, seed=4)] != [id(c) for c in half]
    assert len(foreground_subset(chips, 0.25)) == 40
    # Foreground already above the share: everything is kept.
    assert len(foreground_subset(chips, 0.05)) == 100
    boxes = [{"boxes": np.zeros((i % 2, 4), np.float32)} for i in range(6)]
    kept = foreground_subset(boxes, 0.75)  # 3 chips with a box, 1 without
    assert sorted(has_foreground(b) for b in kept) == [False, True, True, True]


def test_foreground_subset_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"none of the 3 training samples"):
        foreground_subset([_mask_chip(False, ignore=True)] * 3, 0.5)
    with pytest.raises(InvalidInputError, match=r"in \(0, 1\)"):
        foreground_subset([_mask_chip(True)], 1.0)


def _eurosat_with_two_broken_files(root, per_class: int = 5):
    """A EuroSAT RGB folder: 2 classes x ``per_class`` JPEGs, one truncated, one text."""
    from PIL import Image

    for name in ("AnnualCrop", "Forest"):
        for i in range(per_class):
            path = root / "EuroSAT_RGB" / name / f"{name}_{i + 1}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = np.random.default_rng(i).integers(0, 255, (16, 16, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(path)
    truncated = root / "EuroSAT_RGB" / "Forest" / "Forest_3.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    (root / "EuroSAT_RGB" / "AnnualCrop" / "AnnualCrop_2.jpg").write_text("not an image")
    return root


def test_skipped_files_are_counted_and_named_in_provenance(tmp_path) -> None:
    root = _eurosat_with_two_broken_files(tmp_path)
    source = parse_data_source({"kind": "dataset", "name": "eurosat", "root": str(root)})
    data = load_task_data("classification", source, val_fraction=0.25)
    assert len(data.train) + len(data.val) == 8
    skipped = data.provenance["skipped"]
    assert skipped["count"] == 2 and skipped["found"] == 10
    assert [f["file"] for f in skipped["files"]] == [
        "EuroSAT_RGB/AnnualCrop/AnnualCrop_2.jpg",
        "EuroSAT_RGB/Forest/Forest_3.jpg",
    ]
    assert all("unreadable image" in f["reason"] for f in skipped["files"])
    assert skipped_summary(skipped, shown=1) == (
        "skipped 2 of 10 samples as unreadable: EuroSAT_RGB/AnnualCrop/AnnualCrop_2.jpg ("
        + skipped["files"][0]["reason"]
        + "), and 1 more"
    )


def test_strict_makes_any_skipped_file_an_error(tmp_path) -> None:
    root = _eurosat_with_two_broken_files(tmp_path)
    source = parse_data_source({"kind": "dataset", "name": "eurosat", "root": str(root)})
    with pytest.raises(DatasetError, match=r"strict: skipped 2 of 10 samples .*AnnualCrop_2\.jpg"):
        load_task_data("classification", source, strict=True)
    (root / "EuroSAT_RGB" / "AnnualCrop" / "AnnualCrop_2.jpg").unlink()
    (root / "EuroSAT_RGB" / "Forest" / "Forest_3.jpg").unlink()
    clean = load_task_data("classification", source, strict=True)
    assert clean.provenance["skipped"] == {"count": 0, "found": 8, "files": []}
