"""Augmentations: one draw, applied identically to image, second date, mask, target and boxes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from satlearn.errors import InvalidInputError
from satlearn.train.augment import Augment, transform_boxes
from satlearn.train.config import AugmentConfig


def _boxes_of(mask: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(mask)
    out = [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndimage.find_objects(labels)]
    return np.array(sorted(out), dtype=np.float32).reshape(-1, 4)


def _sample(rng: np.random.Generator, size: int = 24) -> dict:
    image = rng.random((3, size, size)).astype(np.float32)
    mask = np.zeros((size, size), np.int64)
    mask[2:7, 3:12] = 1
    mask[15:22, 16:19] = 1
    image[0] = mask  # band 0 is the mask: the pairing is visible after any transform
    target = np.repeat(np.repeat(image, 2, axis=1), 2, axis=2)  # super-res truth, scale 2
    return {"image": image, "image2": image * 2, "mask": mask, "boxes": _boxes_of(mask),
            "box_labels": np.arange(2), "target": target}  # fmt: skip


@pytest.mark.parametrize("crop", [None, 16])
def test_every_member_gets_the_same_transform(crop) -> None:
    aug = Augment(AugmentConfig(flip=True, rotate90=True, crop=crop), scale=2)
    seen = set()
    for seed in range(24):
        s = _sample(np.random.default_rng(0))
        out = aug(s, np.random.default_rng(seed))
        np.testing.assert_array_equal(out["image"][0], out["mask"])
        np.testing.assert_array_equal(out["image2"], out["image"] * 2)
        up = np.repeat(np.repeat(out["image"], 2, axis=1), 2, axis=2)
        np.testing.assert_array_equal(out["target"], up)
        kept = out["boxes"]
        assert len(kept) == len(out["box_labels"])
        want = _boxes_of(out["mask"])
        np.testing.assert_array_equal(np.sort(kept, axis=0), np.sort(want, axis=0))
        seen.add(out["image"].tobytes())
        assert out["image"].flags["C_CONTIGUOUS"]
        assert s["mask"][2, 3] == 1  # the input is not modified in place
    assert len(seen) > 4  # the draws vary


@pytest.mark.parametrize("k", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_transform_boxes_follows_numpy(k, flip) -> None:
    mask = np.zeros((10, 14), bool)
    mask[1:4, 2:9] = True
    moved = np.rot90(np.flip(mask, -1) if flip else mask, k)
    got = transform_boxes(_boxes_of(mask), height=10, width=14, rot90=k, flip=flip)
    np.testing.assert_array_equal(got, _boxes_of(moved))


def test_radiometry_gain_is_shared_by_both_dates_and_noise_spares_the_target() -> None:
    aug = Augment(AugmentConfig(flip=False, rotate90=False, brightness=0.2), scale=1)
    s = {"image": np.ones((4, 8, 8), np.float32), "image2": np.full((4, 8, 8), 3, np.float32),
         "target": np.ones((4, 8, 8), np.float32)}  # fmt: skip
    out = aug(s, np.random.default_rng(1))
    gain = out["image"][:, 0, 0]
    assert np.all((gain >= 0.8) & (gain <= 1.2)) and np.ptp(gain) > 0
    np.testing.assert_allclose(out["image2"], out["image"] * 3)
    np.testing.assert_allclose(out["target"], out["image"])
    noisy = Augment(AugmentConfig(flip=False, rotate90=False, noise=0.5), std=[1, 1, 1, 0])
    out = noisy(s, np.random.default_rng(2))
    assert out["image"][:3].std() > 0.3 and np.all(out["image"][3] == 1)  # std 0: no noise
    np.testing.assert_array_equal(out["target"], s["target"])


def test_crop_drops_boxes_cut_away_and_rejects_too_large_crops() -> None:
    s = {"image": np.zeros((1, 20, 20), np.float32),
         "boxes": np.array([[0, 0, 3, 3], [15, 15, 20, 20]], np.float32),
         "box_labels": np.array([0, 1])}  # fmt: skip
    aug = Augment(AugmentConfig(flip=False, rotate90=False, crop=10))
    for seed in range(10):
        out = aug(s, np.random.default_rng(seed))
        assert out["image"].shape == (1, 10, 10)
        assert np.all(out["boxes"] >= 0) and np.all(out["boxes"] <= 10)
        assert len(out["boxes"]) <= 1  # the two boxes are 12 pixels apart
    with pytest.raises(InvalidInputError, match="larger"):
        Augment(AugmentConfig(crop=32))(s, np.random.default_rng(0))


def test_swap_dates_swaps_the_two_dates_half_the_time_and_keeps_the_mask() -> None:
    rng = np.random.default_rng(0)
    sample = _sample(rng)
    aug = Augment(AugmentConfig(flip=False, rotate90=False, swap_dates=True))
    swapped = 0
    for seed in range(200):
        out = aug(sample, np.random.default_rng(seed))
        np.testing.assert_array_equal(out["mask"], sample["mask"])
        if np.array_equal(out["image"], sample["image2"]):
            np.testing.assert_array_equal(out["image2"], sample["image"])
            swapped += 1
        else:
            np.testing.assert_array_equal(out["image"], sample["image"])
    assert 70 < swapped < 130
    # Off by default, and then the draws of the other augmentations are unchanged.
    plain = Augment(AugmentConfig())
    assert AugmentConfig().swap_dates is False
    a = plain(sample, np.random.default_rng(5))
    b = Augment(AugmentConfig(swap_dates=True))(sample, np.random.default_rng(5))
    np.testing.assert_array_equal(a["mask"], b["mask"])
