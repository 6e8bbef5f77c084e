"""Draper Satellite Image Chronology: five-image sets, shuffled stacks, the Spearman score."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from _classification_fixtures import smooth_rgb, truncate, write_jpeg

from satlearn.datasets import DatasetError, get_dataset
from satlearn.datasets.draper import DraperChronology, ordering_score
from satlearn.errors import InvalidInputError


def make_sets(root, folder="train_sm", set_ids=(1, 2, 3), size=(12, 16)):
    decoded = {}
    for s in set_ids:
        for day in range(1, 6):
            image = smooth_rgb(10 * s + day, *size)
            image[2] = 30 * day  # the blue level tells the day, so the order can be checked
            decoded[(s, day)] = write_jpeg(root / folder / f"set{s}_{day}.jpeg", image)
    return decoded


def test_stack_is_shuffled_deterministically_and_order_is_the_truth(tmp_path):
    decoded = make_sets(tmp_path)
    ds = get_dataset("draper-chronology")(tmp_path, seed=7)
    assert ds.task == "ordering" and len(ds) == 3
    shuffled_any = False
    for sample in ds:
        set_id = sample["meta"]["set_id"]
        assert sample["image"].shape == (5, 3, 12, 16) and sample["image"].dtype == np.uint8
        assert sorted(sample["order"].tolist()) == [1, 2, 3, 4, 5]
        for image, day in zip(sample["image"], sample["order"], strict=True):
            np.testing.assert_array_equal(image, decoded[(set_id, int(day))])
        shuffled_any |= sample["order"].tolist() != [1, 2, 3, 4, 5]
    assert shuffled_any
    again = DraperChronology(tmp_path, seed=7)
    assert all(np.array_equal(a["order"], b["order"]) for a, b in zip(ds, again, strict=True))
    plain = DraperChronology(tmp_path, seed=None)
    assert plain[0]["order"].tolist() == [1, 2, 3, 4, 5]


def test_true_order_scores_one_through_the_metric(tmp_path):
    make_sets(tmp_path)
    sample = DraperChronology(tmp_path, seed=3)[1]
    truth = np.argsort(sample["order"])  # stack indices, earliest first
    assert ordering_score(truth, truth) == 1.0
    assert ordering_score(truth[::-1], truth) == -1.0


def test_ordering_score_matches_scipy_and_averages_sets():
    rng = np.random.default_rng(0)
    preds = np.array([rng.permutation(5) + 1 for _ in range(20)])
    truth = np.tile(np.arange(1, 6), (20, 1))
    expected = np.mean(
        [scipy.stats.spearmanr(p, t).statistic for p, t in zip(preds, truth, strict=True)]
    )
    # with truth 1..5, spearmanr of the id lists is the correlation of positions
    assert ordering_score(preds, truth) == pytest.approx(expected)
    assert ordering_score([3, 1, 2], [1, 2, 3]) == pytest.approx(-0.5)
    assert ordering_score(["b", "a"], ["a", "b"]) == -1.0


def test_ordering_score_rejects_malformed_orders():
    with pytest.raises(InvalidInputError, match="shape"):
        ordering_score([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(InvalidInputError, match="same item twice"):
        ordering_score([1, 1, 3], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="different items"):
        ordering_score([1, 2, 4], [1, 2, 3])
    with pytest.raises(InvalidInputError, match="shape"):
        ordering_score([1], [1])


def test_incomplete_corrupt_and_odd_sized_sets_skipped_and_counted(tmp_path):
    make_sets(tmp_path, set_ids=(1, 2, 3, 4, 5), size=(64, 64))
    folder = tmp_path / "train_sm"
    (folder / "set2_4.jpeg").unlink()
    (folder / "set3_2.jpeg").write_bytes(b"")
    truncate(folder / "set4_5.jpeg", keep=0.8)
    write_jpeg(folder / "set5_1.jpeg", smooth_rgb(0, 60, 64))
    (folder / "notes.txt").write_text("ignored")
    header = DraperChronology(tmp_path)
    assert [s for s, _ in header.sets] == [1, 4]  # the truncated set4 passes a header check
    full = DraperChronology(tmp_path, verify="full")
    assert [s for s, _ in full.sets] == [1]
    info = full.describe()
    assert info["skipped"] == 4
    reasons = {d["set"].rsplit("/", 1)[1]: d["reason"] for d in info["skipped_sets"]}
    assert "days [1, 2, 3, 5]" in reasons["set2"] and "empty" in reasons["set3"]
    assert "unreadable" in reasons["set4"] and "different sizes" in reasons["set5"]
    unchecked = DraperChronology(tmp_path, verify="none")
    index = [s for s, _ in unchecked.sets].index(5)
    with pytest.raises(DatasetError, match="set5: images of different sizes"):
        unchecked[index]


def test_test_split_has_no_order_and_image_size_resizes(tmp_path):
    make_sets(tmp_path, folder="test", set_ids=(7,))
    ds = DraperChronology(tmp_path, split="test", image_size=8)
    sample = ds[0]
    assert "order" not in sample and sorted(sample["meta"]["file_numbers"]) == [1, 2, 3, 4, 5]
    assert sample["image"].shape == (5, 3, 8, 8)


def test_missing_folder_and_arguments(tmp_path):
    with pytest.raises(DatasetError, match=r"neither train_sm nor train.*kaggle"):
        DraperChronology(tmp_path)
    (tmp_path / "train_sm").mkdir()
    with pytest.raises(DatasetError, match=r"no setN_D\.jpeg"):
        DraperChronology(tmp_path)
    with pytest.raises(InvalidInputError, match="split"):
        DraperChronology(tmp_path, split="val")
    with pytest.raises(InvalidInputError, match="verify"):
        DraperChronology(tmp_path, verify="some")  # type: ignore[arg-type]


def test_dataloader_batches_sets(tmp_path):
    torch = pytest.importorskip("torch")
    make_sets(tmp_path, set_ids=(1, 2))
    batch = next(iter(torch.utils.data.DataLoader(DraperChronology(tmp_path), batch_size=2)))
    assert batch["image"].shape == (2, 5, 3, 12, 16) and batch["order"].shape == (2, 5)
