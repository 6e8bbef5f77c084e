"""Augmentations that respect imagery, applied identically to image and target.

Geometric changes (random crop, flip, 90-degree rotation) keep pixels whole,
so no resampling blurs the bands or mixes mask labels; they are applied with
the same draw to every spatial member of a sample: ``image``, the second
date ``image2``, the ``mask``, the super-resolution ``target`` (at its own
scale) and the ``boxes``. Radiometric changes act per band: a gain (the
same for both dates, so it never fakes a change) and Gaussian noise scaled by
each band's standard deviation (input images only, never the target).

Draws come from a :class:`numpy.random.Generator` the caller seeds per
(epoch, sample), so a run is reproducible whatever the number of DataLoader
workers.

Examples
--------
>>> import numpy as np
>>> from satlearn.train.config import AugmentConfig
>>> aug = Augment(AugmentConfig(crop=8))
>>> sample = {"image": np.zeros((3, 16, 16), np.float32), "mask": np.zeros((16, 16), np.int64)}
>>> out = aug(sample, np.random.default_rng(0))
>>> out["image"].shape, out["mask"].shape
((3, 8, 8), (8, 8))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError
from satlearn.train.config import AugmentConfig

__all__ = ["Augment", "transform_boxes"]

_SPATIAL = ("image", "image2", "mask")


def transform_boxes(
    boxes: np.ndarray, *, height: int, width: int, rot90: int = 0, flip: bool = False
) -> np.ndarray:
    """Boxes ``x0, y0, x1, y1`` after ``np.flip(a, -1)`` (if ``flip``) then ``np.rot90(a, rot90)``.

    Coordinates are continuous pixel edges (``0..width``), so a box covering
    pixel columns ``c0..c1-1`` has ``x0 = c0`` and ``x1 = c1``.

    Examples
    --------
    >>> transform_boxes(np.array([[0., 0., 2., 1.]]), height=4, width=5, rot90=1)
    array([[0., 3., 1., 5.]], dtype=float32)
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
    h, w = height, width
    if flip:
        b[:, [0, 2]] = w - b[:, [2, 0]]
    for _ in range(rot90 % 4):
        # np.rot90 (counter-clockwise): pixel (r, c) goes to (w - 1 - c, r),
        # so edge point (x, y) goes to (y, w - x); the image becomes w x h.
        b = np.stack([b[:, 1], w - b[:, 2], b[:, 3], w - b[:, 0]], axis=1)
        h, w = w, h
    return b


class Augment:
    """A random augmentation of training samples (see the module docstring).

    Parameters
    ----------
    config : AugmentConfig
        Which augmentations, and how strong.
    std : array_like, optional
        Per-band standard deviation of the raw data, the unit of ``noise``
        (default 1).
    scale : int
        The super-resolution factor: a sample's ``target`` is ``scale`` times
        larger than its ``image``.
    """

    def __init__(self, config: AugmentConfig, *, std: Any = None, scale: int = 1) -> None:
        self.config = config
        self.std = None if std is None else np.asarray(std, dtype=np.float32)
        self.scale = int(scale)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Return an augmented copy of ``sample`` (arrays are not modified in place)."""
        cfg = self.config
        out = dict(sample)
        height, width = np.shape(sample["image"])[-2:]
        if cfg.crop is not None:
            if cfg.crop > min(height, width):
                raise InvalidInputError(
                    f"augment.crop {cfg.crop} is larger than a {height} x {width} sample"
                )
            y0 = int(rng.integers(0, height - cfg.crop + 1))
            x0 = int(rng.integers(0, width - cfg.crop + 1))
            self._crop(out, y0, x0, cfg.crop)
            height = width = cfg.crop
        flip = bool(cfg.flip and rng.random() < 0.5)
        k = int(rng.integers(0, 4)) if cfg.rotate90 else 0
        if flip or k:
            for key in (*_SPATIAL, "target"):
                if key in out:
                    a = np.asarray(out[key])
                    a = np.flip(a, axis=-1) if flip else a
                    out[key] = np.ascontiguousarray(np.rot90(a, k, axes=(-2, -1)))
            if "boxes" in out:
                out["boxes"] = transform_boxes(
                    out["boxes"], height=height, width=width, rot90=k, flip=flip
                )
        self._radiometry(out, rng)
        # Drawn last, and only when asked for, so other configurations keep their
        # random sequence (and their bit-exact results).
        if cfg.swap_dates and "image2" in out and rng.random() < 0.5:
            # A change mask says where the dates differ, whichever comes first:
            # the swapped pair is another valid sample (Daudt et al. 2018 trained
            # on both orders).
            out["image"], out["image2"] = out["image2"], out["image"]
        return out

    def _crop(self, out: dict[str, Any], y0: int, x0: int, size: int) -> None:
        for key in _SPATIAL:
            if key in out:
                window = np.asarray(out[key])[..., y0 : y0 + size, x0 : x0 + size]
                out[key] = np.ascontiguousarray(window)
        if "target" in out:
            s = self.scale
            window = np.asarray(out["target"])[
                ..., y0 * s : (y0 + size) * s, x0 * s : (x0 + size) * s
            ]
            out["target"] = np.ascontiguousarray(window)
        if "boxes" in out:
            boxes = np.asarray(out["boxes"], dtype=np.float32).reshape(-1, 4) - [x0, y0, x0, y0]
            boxes = np.clip(boxes, 0, size)
            # A box mostly cut away is no longer an object to find.
            keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
            out["boxes"] = boxes[keep]
            if "box_labels" in out:
                out["box_labels"] = np.asarray(out["box_labels"])[keep]

    def _radiometry(self, out: dict[str, Any], rng: np.random.Generator) -> None:
        cfg = self.config
        if not (cfg.brightness or cfg.noise):
            return
        n_bands = np.shape(out["image"])[0]
        gain = np.ones(n_bands, np.float32)
        if cfg.brightness:
            gain = rng.uniform(1 - cfg.brightness, 1 + cfg.brightness, n_bands).astype(np.float32)
        std = self.std if self.std is not None else np.ones(n_bands, np.float32)
        for key in ("image", "image2"):
            if key in out:
                a = np.asarray(out[key], dtype=np.float32) * gain[:, None, None]
                if cfg.noise:
                    sigma = (cfg.noise * std)[:, None, None]
                    a = a + rng.standard_normal(a.shape, dtype=np.float32) * sigma
                out[key] = a
        if "target" in out:  # the high-resolution truth keeps the gain, gets no noise
            out["target"] = np.asarray(out["target"], dtype=np.float32) * gain[:, None, None]
