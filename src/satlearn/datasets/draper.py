"""Draper Satellite Image Chronology (Kaggle, 2016): put five images of a place in time order.

Layout as Kaggle distributes it: ``train_sm/setN_D.jpeg`` and
``test_sm/setN_D.jpeg`` (the down-sampled images; the full-size ``train/``
and ``test/`` folders work the same), five JPEGs per set. In the training
sets ``D`` (1..5) is the day order; in the test sets the numbers were
assigned at random, so test samples carry no order.

A sample is one set: ``image`` ``(5, 3, h, w)`` uint8, the five images in a
deterministic shuffled order (seeded by ``seed`` and the set id, so the file
names cannot leak the answer), and ``order`` ``(5,)`` int64, the true day
(1..5) of each image in the stack. :func:`ordering_score` is the
competition's metric: Spearman's rank correlation between the predicted
and the true chronological order, averaged over sets.

Example
-------
>>> ds = DraperChronology("data/draper")  # doctest: +SKIP
>>> s = ds[0]  # doctest: +SKIP
>>> predicted = model_order(s["image"])  # stack indices, earliest first  # doctest: +SKIP
>>> ordering_score(predicted, np.argsort(s["order"]))  # doctest: +SKIP
0.8
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.datasets.images import Verify, fit_image, read_image
from satlearn.errors import DatasetError, InvalidInputError

__all__ = ["DraperChronology", "ordering_score"]

_NAME = re.compile(r"^set(\d+)_(\d+)\.jpe?g$", re.IGNORECASE)
_DAYS = 5


def ordering_score(predicted_order: Any, true_order: Any) -> float:
    """Spearman's rank correlation of a predicted order with the true one, as Draper scored.

    Both arguments list the same items (image ids or stack indices) from
    earliest to latest; each item's position in one list is compared with its
    position in the other. Given ``(n_sets, k)`` arrays, the score is the mean
    over sets (the competition's leaderboard figure). Equal to
    :func:`scipy.stats.spearmanr` on tie-free rankings; written out because
    the positions are permutations, for which the closed form is exact and
    vectorises over sets.

    Raises
    ------
    InvalidInputError
        If the shapes differ, a row repeats an item, or the two rows do not
        hold the same items.

    Examples
    --------
    >>> ordering_score([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    1.0
    >>> ordering_score([5, 4, 3, 2, 1], [1, 2, 3, 4, 5])
    -1.0
    >>> ordering_score([[2, 1, 3], [1, 2, 3]], [[1, 2, 3], [1, 2, 3]])
    0.75
    """
    pred = np.atleast_2d(np.asarray(predicted_order))
    true = np.atleast_2d(np.asarray(true_order))
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] < 2:
        raise InvalidInputError(
            f"ordering_score: orders of shape {np.shape(predicted_order)} and "
            f"{np.shape(true_order)}; need equal shapes (k,) or (n_sets, k), k >= 2"
        )
    sorted_pred, sorted_true = np.sort(pred, axis=1), np.sort(true, axis=1)
    repeated = (sorted_true[:, 1:] == sorted_true[:, :-1]).any()
    if repeated or (sorted_pred[:, 1:] == sorted_pred[:, :-1]).any():
        raise InvalidInputError("ordering_score: an order lists the same item twice")
    if not np.array_equal(sorted_pred, sorted_true):
        raise InvalidInputError(
            "ordering_score: the predicted and true orders hold different items"
        )
    # argsort of an order gives, item by item (items sorted), that item's position.
    d = np.argsort(pred, axis=1) - np.argsort(true, axis=1)
    k = pred.shape[1]
    rho = 1.0 - 6.0 * (d.astype(np.float64) ** 2).sum(axis=1) / (k * (k * k - 1))
    return float(rho.mean())


@register
class DraperChronology(SampleDataset):
    """Sets of five images of one place on five days, with their true order.

    Parameters
    ----------
    root
        Folder holding ``train_sm`` / ``test_sm`` (or ``train`` / ``test``).
    split
        ``"train"`` (default; ordered) or ``"test"`` (no ``order``).
    seed
        Seeds the per-set shuffle of the stack (None keeps file order 1..5).
    image_size
        None (default) keeps each set's size (batch with ``batch_size=1`` or
        a custom collate when sets differ); an int or ``(h, w)`` resizes every
        image so sets batch together.
    verify
        ``"header"`` (default) or ``"full"`` checks every file when the
        dataset is built; sets with a missing, unreadable or odd-sized image,
        or not exactly days 1..5, are skipped and counted. ``"none"`` checks
        only the file names.
    transforms
        Callable applied to each sample dict.

    Examples
    --------
    >>> ds = DraperChronology("data/draper", image_size=256)  # doctest: +SKIP
    >>> ds[0]["image"].shape, ds[0]["order"]  # doctest: +SKIP
    ((5, 3, 256, 256), array([3, 1, 5, 2, 4]))
    """

    name = "draper-chronology"
    task = "ordering"
    source = (
        "Draper Satellite Image Chronology, Kaggle competition 2016 (Draper); "
        "https://www.kaggle.com/c/draper-satellite-image-chronology"
    )
    manual_download = (
        "Accept the rules of https://www.kaggle.com/c/draper-satellite-image-chronology, download "
        "train_sm.zip and test_sm.zip (or train.zip / test.zip for full size) and unzip them into "
        "ROOT so that ROOT/train_sm/set1_1.jpeg exists."
    )
    bands = ("red", "green", "blue")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        seed: int | None = 0,
        image_size: int | tuple[int, int] | None = None,
        verify: Verify = "header",
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        if split not in ("train", "test"):
            raise InvalidInputError(f"{self.name}: split must be 'train' or 'test': {split!r}")
        if verify not in ("none", "header", "full"):
            raise InvalidInputError(f"{self.name}: verify must be none, header or full: {verify!r}")
        self.seed = seed
        self.image_size = image_size
        folder = next(
            (self.root / f for f in (f"{split}_sm", split) if (self.root / f).is_dir()), None
        )
        if folder is None:
            raise DatasetError(
                f"{self.name}: neither {split}_sm nor {split} in {self.root}. "
                f"{self.manual_download}"
            )
        self.folder = folder
        groups: dict[int, dict[int, Path]] = defaultdict(dict)
        for path in folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                groups[int(match[1])][int(match[2])] = path
        self.sets: list[tuple[int, list[Path]]] = []
        for set_id in sorted(groups):
            problem, files = self._check_set(groups[set_id], verify)
            if problem:
                self.skipped.append((f"{folder}/set{set_id}", problem))
            else:
                self.sets.append((set_id, files))
        if not self.sets and not self.skipped:
            raise DatasetError(f"{self.name}: no setN_D.jpeg files in {folder}")

    @staticmethod
    def _check_set(days: dict[int, Path], verify: str) -> tuple[str, list[Path]]:
        if sorted(days) != list(range(1, _DAYS + 1)):
            return f"has images for days {sorted(days)}, expected 1..5", []
        files = [days[d] for d in range(1, _DAYS + 1)]
        if verify == "none":
            return "", files
        sizes = set()
        for path in files:
            if path.stat().st_size == 0:
                return f"{path.name}: empty file", []
            try:
                if verify == "full":
                    image = read_image(path)
                    assert image is not None
                    sizes.add(image.shape[1:])
                else:
                    with Image.open(path) as img:  # header only: size without decoding
                        sizes.add((img.height, img.width))
            except (DatasetError, OSError) as exc:
                return f"{path.name}: unreadable image ({exc})", []
        if len(sizes) > 1:
            return f"images of different sizes {sorted(sizes)}", []
        return "", files

    def __len__(self) -> int:
        return len(self.sets)

    def _load(self, index: int) -> Sample:
        set_id, files = self.sets[index]
        perm = np.arange(_DAYS)
        if self.seed is not None:
            perm = np.random.default_rng((self.seed, set_id)).permutation(_DAYS)
        images = []
        for i in perm:
            image = read_image(files[i])
            assert image is not None
            image = image[:3]
            if self.image_size is not None:
                image = fit_image(image, self.image_size)
            images.append(image)
        if len({im.shape for im in images}) > 1:
            shapes = sorted({im.shape for im in images})
            raise DatasetError(f"{self.folder}/set{set_id}: images of different sizes {shapes}")
        sample: Sample = {
            "image": np.stack(images),
            "meta": {"set_id": set_id, "files": [str(files[i]) for i in perm]},
        }
        if self.split == "train":
            sample["order"] = (perm + 1).astype(np.int64)
        else:
            sample["meta"]["file_numbers"] = [int(i) + 1 for i in perm]
        return sample

    def describe(self) -> dict[str, Any]:
        """Base description plus the folder, set count and skipped sets."""
        info = super().describe()
        info["folder"] = str(self.folder)
        info["skipped_sets"] = [{"set": s, "reason": r} for s, r in self.skipped]
        return info
