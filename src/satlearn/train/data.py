"""Training samples for every task, from a synthetic scene, a dataset or a chip set.

Whatever the source, a sample is a dict of NumPy arrays in the task's shape:

================  ==========================================================
task              keys
================  ==========================================================
classification    ``image (C, H, W)``, ``label`` int
multilabel        ``image``, ``label (K,)`` float32 0/1
segmentation      ``image``, ``mask (H, W)`` int64 (255 = unlabelled)
change            ``image``, ``image2`` (second date), ``mask`` 0/1 (255 = unlabelled)
superres          ``image (C, h, w)`` low resolution, ``target (C, h*s, w*s)``
detection         ``image``, ``boxes (n, 4)`` x0, y0, x1, y1, ``box_labels (n,)``
================  ==========================================================

:class:`TrainingSet` turns such a sequence into a torch dataset: band
selection is already done; it augments (training only) and normalises with
the per-band statistics of :func:`band_statistics`.

Examples
--------
>>> from satlearn.train.config import parse_data_source
>>> data = load_task_data("segmentation", parse_data_source(
...     {"kind": "synthetic", "target": "water", "size": 128, "chip_size": 32}))
>>> data.classes, data.train[0]["image"].shape
(['other', 'water'], (13, 32, 32))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.train.config import ChipsSource, DatasetSource, OsmSource, SyntheticSource

__all__ = [
    "IGNORE",
    "TaskData",
    "TrainingSet",
    "band_statistics",
    "collate",
    "foreground_subset",
    "has_foreground",
    "load_task_data",
    "select_bands",
    "skipped_summary",
]

#: Mask value of unlabelled pixels (not counted by losses and metrics).
IGNORE = 255
#: Skipped files listed by name in provenance (all are counted).
SKIPPED_LISTED = 20

Sample = dict[str, Any]


@dataclass
class TaskData:
    """Training and validation samples of one task, with what describes them."""

    task: str
    train: Sequence[Sample]
    val: Sequence[Sample]
    bands: list[str]
    classes: list[str]
    tile_size: int
    scale: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


def select_bands(available: Sequence[str], wanted: Sequence[str] | None, where: str) -> list[int]:
    """Indices of ``wanted`` band names in ``available`` (all when ``wanted`` is None).

    Raises
    ------
    UnknownBandError
        A wanted band is not available; the message lists those that are.

    Examples
    --------
    >>> select_bands(["red", "green", "blue"], ["blue", "red"], "scene")
    [2, 0]
    """
    available = [str(b) for b in available]
    if wanted is None:
        return list(range(len(available)))
    missing = [b for b in wanted if b not in available]
    if missing:
        raise UnknownBandError(
            f"{where} has no band {', '.join(map(repr, missing))}; it has {', '.join(available)}"
        )
    return [available.index(b) for b in wanted]


def _chip_windows(height: int, width: int, chip: int, stride: int) -> list[tuple[int, int]]:
    if chip > min(height, width):
        raise InvalidInputError(f"chip_size {chip} is larger than the {height} x {width} scene")
    ys = range(0, height - chip + 1, stride)
    xs = range(0, width - chip + 1, stride)
    return [(y, x) for y in ys for x in xs]


def _chips(array: np.ndarray, windows: list[tuple[int, int]], chip: int) -> np.ndarray:
    """Stack of chips ``(n, ..., chip, chip)`` cut from the last two axes."""
    view = np.lib.stride_tricks.sliding_window_view(array, (chip, chip), axis=(-2, -1))
    ys = np.array([w[0] for w in windows])
    xs = np.array([w[1] for w in windows])
    # view[..., y, x, :, :] -> (n, ..., chip, chip)
    return np.ascontiguousarray(np.moveaxis(view[..., ys, xs, :, :], -3, 0))


def _synthetic(
    task: str, src: SyntheticSource, bands: Sequence[str] | None
) -> tuple[list[Sample], list[str], list[str], dict[str, Any]]:
    """Samples of one scene, or of each scene of a list of seeds, concatenated."""
    seeds = src.seed if isinstance(src.seed, list) else [src.seed]
    samples: list[Sample] = []
    for seed in seeds:
        more, names, classes, provenance = _synthetic_scene(task, src, seed, bands)
        samples += more
    provenance.update(seed=src.seed, chips=len(samples))
    return samples, names, classes, provenance


def _synthetic_scene(
    task: str, src: SyntheticSource, seed: int, bands: Sequence[str] | None
) -> tuple[list[Sample], list[str], list[str], dict[str, Any]]:
    from satlearn.synth import make_scene
    from satlearn.synth.landcover import LAND_COVER_CLASSES

    scene = make_scene(
        src.size,
        seed=seed,
        sensor=src.sensor,
        clouds=src.clouds,
        ships=src.target == "ships",
        n_dates=max(2, src.date + 1),
    )
    names = [str(b) for b in scene.image["band"].values]
    index = select_bands(names, bands, f"synthetic scene ({src.sensor})")
    date = src.date
    image = scene.image.values[:, index].astype(np.float32)  # (time, band, y, x)
    clouds = scene.cloud_mask.values
    h, w = image.shape[-2:]
    chip = src.chip_size
    windows = _chip_windows(h, w, chip, src.stride or chip)
    images = _chips(image[date], windows, chip)
    n = len(windows)

    def masked(mask: np.ndarray, cloudy: np.ndarray) -> np.ndarray:
        out = mask.astype(np.int64)
        out[cloudy] = IGNORE  # ground truth under thick cloud is not visible
        return _chips(out, windows, chip)

    target = src.target
    samples: list[Sample]
    if target in ("water", "landcover", "buildings", "clouds"):
        cover = scene.landcover_after.values[date]
        truth, classes = {
            "water": (cover == 0, ["other", "water"]),
            "landcover": (cover, list(LAND_COVER_CLASSES)),
            "buildings": (scene.buildings_mask.values[date], ["background", "building"]),
            # Cloud = thick cloud or detectable cirrus: what
            # satlearn.ops.clouds.cloud_mask calls cloud ("thin cirrus included").
            "clouds": (clouds[date] | scene.cirrus_mask.values[date], ["clear", "cloud"]),
        }[target]
        cloudy = np.zeros_like(clouds[date]) if target == "clouds" else clouds[date]
        masks = masked(truth, cloudy)
        samples = [{"image": images[i], "mask": masks[i]} for i in range(n)]
    elif target == "change":
        second = _chips(image[-1], windows, chip)
        masks = masked(scene.change_mask.values, clouds[0] | clouds[-1])
        classes = ["no_change", "change"]
        samples = [{"image": images[i], "image2": second[i], "mask": masks[i]} for i in range(n)]
    elif target == "superres":
        s = src.scale
        if chip % s:
            raise InvalidInputError(f"chip_size {chip} is not a multiple of scale {s}")
        # Wald protocol: the input is the truth block-averaged by the scale.
        low = images.reshape(n, -1, chip // s, s, chip // s, s).mean(axis=(3, 5))
        classes = []
        samples = [{"image": low[i].astype(np.float32), "target": images[i]} for i in range(n)]
    elif target == "ships":
        classes = ["ship"]
        ships = [sh for sh in scene.ships if sh["date_index"] == date]
        bbox = np.array([sh["bbox"] for sh in ships], dtype=np.float32).reshape(-1, 4)
        # bbox is (min_row, min_col, max_row, max_col) with exclusive maxima.
        boxes_xy = bbox[:, [1, 0, 3, 2]]
        centre_x = (boxes_xy[:, 0] + boxes_xy[:, 2]) / 2
        centre_y = (boxes_xy[:, 1] + boxes_xy[:, 3]) / 2
        samples = []
        for i, (y0, x0) in enumerate(windows):
            inside = (
                (centre_x >= x0)
                & (centre_x < x0 + chip)
                & (centre_y >= y0)
                & (centre_y < y0 + chip)
            )
            boxes = np.clip(boxes_xy[inside] - [x0, y0, x0, y0], 0, chip).astype(np.float32)
            samples.append(
                {"image": images[i], "boxes": boxes, "box_labels": np.zeros(len(boxes), np.int64)}
            )
    else:  # landcover-chips / landcover-multilabel
        classes = list(LAND_COVER_CLASSES)
        k = len(classes)
        cover = _chips(scene.landcover_after.values[date].astype(np.int64), windows, chip)
        cloud_share = _chips(clouds[date], windows, chip).reshape(n, -1).mean(axis=1)
        flat = cover.reshape(n, -1) + k * np.arange(n)[:, None]
        share = np.bincount(flat.ravel(), minlength=n * k).reshape(n, k) / (chip * chip)
        # Chips mostly under cloud show no land cover to learn from.
        keep = np.flatnonzero(cloud_share <= 0.5)
        if target == "landcover-chips":
            labels = share.argmax(axis=1)
            samples = [{"image": images[i], "label": int(labels[i])} for i in keep]
        else:
            present = (share >= src.min_fraction).astype(np.float32)
            samples = [{"image": images[i], "label": present[i]} for i in keep]
    provenance = {
        "source": "synthetic",
        "target": target,
        "size": src.size,
        "seed": src.seed,
        "sensor": src.sensor,
        "date": date,
        "chip_size": chip,
        "chips": len(samples),
    }
    return samples, [names[i] for i in index], classes, provenance


def _osm(
    src: OsmSource, bands: Sequence[str] | None
) -> tuple[list[Sample], list[str], list[str], dict[str, Any]]:
    """Chips of a scene with OSM targets burned on its grid (255 near edges: unlabelled)."""
    from satlearn.prep.osm import osm_targets
    from satlearn.raster import open_raster

    scene = open_raster(src.scene)
    names = [str(b) for b in scene["band"].values]
    index = select_bands(names, bands, f"scene {src.scene}")
    targets = osm_targets(
        src.extract, scene, classes=src.classes, edge_ignore_px=src.edge_ignore_px
    )
    chip = src.chip_size
    windows = _chip_windows(scene.sizes["y"], scene.sizes["x"], chip, src.stride or chip)
    images = _chips(scene.values[index].astype(np.float32), windows, chip)
    masks = _chips(targets.mask.values.astype(np.int64), windows, chip)  # its 255 is IGNORE
    samples = [{"image": images[i], "mask": masks[i]} for i in range(len(windows))]
    classes = [name or f"class_{i}" for i, name in enumerate(targets.classes)]
    provenance = {
        "source": "osm",
        "extract": str(src.extract),
        "scene": str(src.scene),
        "classes_file": str(src.classes) if src.classes else None,
        "chip_size": chip,
        "chips": len(samples),
        "labelled_fraction": targets.fractions(),
    }
    return samples, [names[i] for i in index], classes, provenance


class _Adapted(Sequence):
    """A dataset reader seen as task samples of the selected bands (read lazily)."""

    def __init__(
        self, reader: Any, task: str, index: list[int], scale: int, indices: Sequence[int]
    ) -> None:
        self.reader, self.task, self.index, self.scale = reader, task, index, scale
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Sample:  # type: ignore[override]
        raw = self.reader[self.indices[i]]
        return adapt_sample(raw, self.task, self.index, scale=self.scale)


def adapt_sample(raw: Sample, task: str, index: list[int], *, scale: int = 2) -> Sample:
    """A dataset reader's sample as a task sample of the selected bands."""
    image = np.asarray(raw["image"], dtype=np.float32)
    if task == "change":
        if "image2" in raw:
            first, second = image, np.asarray(raw["image2"], dtype=np.float32)
        elif image.ndim == 4:
            first, second = image[0], image[-1]
        else:
            raise InvalidInputError("a change sample needs 'image2' or a (time, band, y, x) image")
        return {
            "image": first[index],
            "image2": second[index],
            "mask": np.asarray(raw["mask"], dtype=np.int64),
        }
    image = image[index]
    if task in ("classification", "multilabel"):
        label = raw["label"]
        if task == "multilabel":
            return {"image": image, "label": np.asarray(label, dtype=np.float32)}
        return {"image": image, "label": int(label)}
    if task == "segmentation":
        return {"image": image, "mask": np.asarray(raw["mask"], dtype=np.int64)}
    if task == "superres":
        c, h, w = image.shape
        h, w = h - h % scale, w - w % scale
        target = image[:, :h, :w]
        low = target.reshape(c, h // scale, scale, w // scale, scale).mean(axis=(2, 4))
        return {"image": low.astype(np.float32), "target": target}
    boxes = np.asarray(raw.get("boxes", np.zeros((0, 4))), dtype=np.float32).reshape(-1, 4)
    labels = raw.get("box_labels", raw.get("labels"))
    labels = np.zeros(len(boxes), np.int64) if labels is None else np.asarray(labels, np.int64)
    return {"image": image, "boxes": boxes, "box_labels": labels}


def has_foreground(sample: Sample) -> bool:
    """Whether a mask sample holds a labelled pixel of a class other than 0, or a box."""
    if "boxes" in sample:
        return len(sample["boxes"]) > 0
    mask = np.asarray(sample["mask"])
    return bool(((mask != 0) & (mask != IGNORE)).any())


def foreground_subset(samples: Sequence[Sample], share: float, seed: int = 0) -> list[Sample]:
    """Every sample with foreground, and enough of the others to make it ``share`` of the set.

    Rare targets (a few change events or ships in a scene) leave most chips
    empty: a model trained on all of them sees the target in a few batches an
    epoch and learns to predict background. This keeps every chip with
    foreground (see :func:`has_foreground`) and a seeded random subset of the
    empty ones, in the original order; when foreground chips already make up
    ``share`` or more, every sample is kept.

    Raises
    ------
    InvalidInputError
        ``share`` outside (0, 1), or no sample with foreground.

    Examples
    --------
    >>> chips = [{"mask": np.full((2, 2), int(i < 2))} for i in range(10)]
    >>> len(foreground_subset(chips, 0.5))  # both foreground chips, two empty ones
    4
    """
    if not 0 < share < 1:
        raise InvalidInputError(f"foreground_share must be in (0, 1), got {share!r}")
    flags = np.array([has_foreground(s) for s in samples], dtype=bool)
    n_fg = int(flags.sum())
    if n_fg == 0:
        raise InvalidInputError(
            f"foreground_share {share}: none of the {len(samples)} training samples holds "
            "foreground (a class other than 0, or a box)"
        )
    empty = np.flatnonzero(~flags)
    n_empty = min(len(empty), round(n_fg * (1 - share) / share))
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([np.flatnonzero(flags), rng.choice(empty, n_empty, False)]))
    return [samples[i] for i in keep]


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * fraction)
    if fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def load_task_data(
    task: str,
    source: SyntheticSource | DatasetSource | ChipsSource | OsmSource,
    *,
    bands: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    scale: int = 2,
    strict: bool = False,
) -> TaskData:
    """Training and validation samples of ``task`` from a data source.

    Readers skip files they cannot read (a truncated JPEG, a text file named
    ``.jpg``) rather than fail a whole dataset for one; the skips are not
    silent: ``provenance["skipped"]`` holds their count and the first
    :data:`SKIPPED_LISTED` files with the reason (see :func:`skipped_summary`
    for one line), and ``strict=True`` makes any skip an error.

    Parameters
    ----------
    task : str
        One of :data:`satlearn.train.config.TASKS`.
    source : SyntheticSource, DatasetSource, ChipsSource or OsmSource
        Where the samples come from.
    bands : sequence of str, optional
        Band names to keep, in order (default: all).
    val_fraction : float
        Share held out for validation when the source has no validation split
        (0: validate on the training samples).
    seed : int
        Seeds the split.
    scale : int
        Super-resolution factor for dataset sources (synthetic ones carry
        their own).
    strict : bool
        Refuse a dataset whose reader skipped any file.

    Raises
    ------
    UnknownBandError, DatasetError, InvalidInputError, NoValidDataError
        Missing bands, unreadable dataset (or, with ``strict``, any skipped
        file), no sample at all.
    """
    if isinstance(source, SyntheticSource):
        samples, names, classes, provenance = _synthetic(task, source, bands)
        if not samples:
            raise NoValidDataError(
                f"synthetic scene (target {source.target!r}) gave no usable chip"
            )
        train_idx, val_idx = _split(len(samples), val_fraction, seed)
        train: Sequence[Sample] = [samples[i] for i in train_idx]
        val: Sequence[Sample] = [samples[i] for i in val_idx] if len(val_idx) else train
        return TaskData(
            task=task,
            train=train,
            val=val,
            bands=names,
            classes=classes,
            tile_size=source.chip_size // (source.scale if task == "superres" else 1),
            scale=source.scale if task == "superres" else None,
            provenance=provenance,
        )

    if isinstance(source, OsmSource):
        samples, names, classes, provenance = _osm(source, bands)
        train_idx, val_idx = _split(len(samples), val_fraction, seed)
        train = [samples[i] for i in train_idx]
        val = [samples[i] for i in val_idx] if len(val_idx) else train
        return TaskData(task, train, val, names, classes, source.chip_size, provenance=provenance)

    from satlearn.datasets import get_dataset

    name = source.name if isinstance(source, DatasetSource) else "chips"
    cls = get_dataset(name)
    reader = cls(source.root, split=source.split)
    if len(reader) == 0:
        raise NoValidDataError(f"{name}: no sample under {source.root}")
    where = f"{name} dataset at {source.root}"
    index = select_bands(list(reader.bands), bands, where)
    val_reader = cls(source.root, split=source.val_split) if source.val_split else None
    skipped = _skipped(source.root, reader, val_reader)
    if strict and skipped["count"]:
        from satlearn.errors import DatasetError

        raise DatasetError(f"{where}: strict: {skipped_summary(skipped)}")
    if val_reader is not None and len(val_reader):
        train = _Adapted(reader, task, index, scale, range(len(reader)))
        val = _Adapted(val_reader, task, index, scale, range(len(val_reader)))
    else:  # no validation split (or an empty one): hold out a fraction
        train_idx, val_idx = _split(len(reader), val_fraction, seed)
        train = _Adapted(reader, task, index, scale, train_idx)
        val = _Adapted(reader, task, index, scale, val_idx) if len(val_idx) else train
    first = train[0]["image"]
    return TaskData(
        task=task,
        train=train,
        val=val,
        bands=[str(reader.bands[i]) for i in index],
        classes=[str(c) for c in reader.classes],
        tile_size=int(first.shape[-1]),
        scale=scale if task == "superres" else None,
        provenance={
            "source": name,
            "root": str(source.root),
            "split": source.split,
            "val_split": source.val_split,
            "samples": len(reader),
            "skipped": skipped,
        },
    )


def _skipped(root: Path, *readers: Any) -> dict[str, Any]:
    """What the readers skipped: ``{"count", "found", "files": [{"file", "reason"}, ...]}``.

    ``found`` counts the samples the readers found, skipped ones included.
    """
    seen: dict[str, str] = {}
    for reader in readers:
        for file, reason in getattr(reader, "skipped", None) or ():
            # Readers prefix the reason with the path; the file is named once.
            seen.setdefault(str(file), str(reason).removeprefix(f"{file}: "))
    listed = []
    for file, reason in list(seen.items())[:SKIPPED_LISTED]:
        path = Path(file)
        name = path.relative_to(root) if path.is_relative_to(root) else path
        listed.append({"file": str(name), "reason": reason})
    found = sum(len(r) for r in readers if r is not None) + len(seen)
    return {"count": len(seen), "found": found, "files": listed}


def skipped_summary(skipped: dict[str, Any], *, shown: int = 3) -> str:
    """One line for a ``provenance["skipped"]`` record: the count and the first few files.

    Examples
    --------
    >>> skipped_summary({"count": 2, "found": 50, "files": [
    ...     {"file": "a.jpg", "reason": "empty file"}, {"file": "b.jpg", "reason": "truncated"}]},
    ...     shown=1)
    'skipped 2 of 50 samples as unreadable: a.jpg (empty file), and 1 more'
    """
    count = int(skipped["count"])
    files = skipped["files"][:shown]
    names = ", ".join(f"{f['file']} ({f['reason']})" for f in files)
    more = f", and {count - len(files)} more" if count > len(files) else ""
    of = f" of {skipped['found']}" if "found" in skipped else ""
    return f"skipped {count}{of} samples as unreadable: {names}{more}"


def band_statistics(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation over every pixel, in one streaming pass.

    Each sample's band moments are merged into running ones with Chan et
    al.'s pairwise update, so the pass holds one sample at a time and stays
    accurate in float64. The second date of change samples counts too. A
    constant band gets std 1 (so normalising never divides by zero).

    Examples
    --------
    >>> s = [{"image": np.full((2, 4, 4), v, np.float32)} for v in (1.0, 3.0)]
    >>> band_statistics(s)
    (array([2., 2.]), array([1., 1.]))
    """
    count = 0.0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    for sample in samples:
        for key in ("image", "image2"):
            if key not in sample:
                continue
            a = np.asarray(sample[key], dtype=np.float64)
            a = a.reshape(a.shape[0], -1)
            n = float(a.shape[1])
            mu = a.mean(axis=1)
            sq = ((a - mu[:, None]) ** 2).sum(axis=1)
            if mean is None or m2 is None:
                count, mean, m2 = n, mu, sq
                continue
            total = count + n
            delta = mu - mean
            mean = mean + delta * n / total
            m2 = m2 + sq + delta**2 * count * n / total
            count = total
    if mean is None or m2 is None:
        raise NoValidDataError("no training sample to compute band statistics from")
    if not np.all(np.isfinite(mean)):
        raise NoValidDataError("training images hold NaN or infinite values; fill nodata first")
    std = np.sqrt(m2 / count)
    std = np.where(std > 1e-12, std, 1.0)
    return mean, std


class TrainingSet:
    """A torch map-style dataset over task samples: augments, normalises, makes tensors.

    Parameters
    ----------
    samples : sequence of dict
        Task samples (see the module docstring).
    mean, std : array_like
        Per-band statistics; images (and the super-resolution target) become
        ``(x - mean) / std``.
    augment : callable, optional
        ``augment(sample, rng) -> sample``, applied before normalising.
    seed : int
        With :attr:`epoch` and the index, seeds each sample's augmentation.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        mean: Any,
        std: Any,
        *,
        augment: Any = None,
        seed: int = 0,
    ) -> None:
        self.samples = samples
        self.mean = np.asarray(mean, dtype=np.float32)[:, None, None]
        self.std = np.asarray(std, dtype=np.float32)[:, None, None]
        self.augment = augment
        self.seed = int(seed)
        #: Set by the training loop before each epoch (worker processes copy it).
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        sample = self.samples[index]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
            sample = self.augment(sample, rng)
        out: dict[str, Any] = {}
        for key, value in sample.items():
            if key in ("image", "image2", "target"):
                value = (np.asarray(value, dtype=np.float32) - self.mean) / self.std
                out[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
            elif key == "label":
                out[key] = torch.as_tensor(value)
            elif key in ("mask", "boxes", "box_labels"):
                out[key] = torch.from_numpy(np.ascontiguousarray(value))
        return out


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a batch; boxes and their labels stay lists (their count varies)."""
    import torch

    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [b[key] for b in batch]
        out[key] = values if key in ("boxes", "box_labels") else torch.stack(values)
    return out
