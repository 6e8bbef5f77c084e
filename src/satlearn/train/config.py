"""The training configuration: pydantic models, read from YAML.

One :class:`TrainConfig` says everything a run needs: the task, where the
data comes from, which bands, which model, how long and how fast to learn,
how to augment, the seed, where the bundle goes, and on which device. Unknown
keys are refused (a misspelt ``learning_rat`` would otherwise be silently
ignored), and every problem is reported as one
:class:`~satlearn.errors.InvalidInputError` line naming the key.

Examples
--------
>>> config = TrainConfig.model_validate({
...     "task": "segmentation",
...     "data": {"kind": "synthetic", "target": "water", "size": 128},
...     "model": {"name": "unet", "options": {"width": 8}},
...     "epochs": 2,
... })
>>> config.data.chip_size, config.schedule
(64, 'cosine')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from satlearn.errors import InvalidInputError

__all__ = [
    "TASKS",
    "AugmentConfig",
    "ChipsSource",
    "DatasetSource",
    "EarlyStopping",
    "LossConfig",
    "ModelConfig",
    "OsmSource",
    "OutputConfig",
    "SyntheticSource",
    "TrainConfig",
    "format_validation_error",
    "parse_data_source",
]

#: The tasks a run can learn.
TASKS = ("classification", "multilabel", "segmentation", "change", "superres", "detection")
Task = Literal["classification", "multilabel", "segmentation", "change", "superres", "detection"]

#: Synthetic truths and the task each one trains.
SYNTHETIC_TARGETS: dict[str, str] = {
    "water": "segmentation",
    "landcover": "segmentation",
    "buildings": "segmentation",
    "clouds": "segmentation",
    "change": "change",
    "superres": "superres",
    "ships": "detection",
    "landcover-chips": "classification",
    "landcover-multilabel": "multilabel",
}

#: The bundle task each training task writes (what prediction and the server read).
BUNDLE_TASKS: dict[str, str] = {
    "classification": "classification",
    "multilabel": "multilabel-classification",
    "segmentation": "semantic-segmentation",
    "change": "change-detection",
    "superres": "super-resolution",
    "detection": "object-detection",
}

#: The validation metric each task stops early on by default (all: higher is better).
DEFAULT_METRIC: dict[str, str] = {
    "classification": "macro_f1",
    "multilabel": "f1",
    "segmentation": "miou",
    "change": "f1",
    "superres": "psnr",
    "detection": "map50",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticSource(_Strict):
    """A synthetic scene (:func:`satlearn.synth.make_scene`) cut into chips with a truth.

    ``target`` picks the truth: ``water``, ``landcover``, ``buildings``,
    ``clouds`` (segmentation masks of date ``date``; ``clouds`` is thick cloud
    or detectable cirrus, as :func:`satlearn.ops.clouds.cloud_mask` defines
    cloud), ``change`` (date 0 and the last date, ``change_mask``),
    ``superres`` (the image itself, block-averaged by ``scale`` as input),
    ``ships`` (ship boxes), ``landcover-chips`` (each chip's majority land
    cover) and ``landcover-multilabel`` (the classes covering at least
    ``min_fraction`` of a chip). Pixels under thick clouds
    are left unlabelled for the ground-cover targets.

    ``seed`` is one scene's seed, or a list: the chips of every scene, in
    order (a few change events or ships per scene are few examples; several
    scenes give more).
    """

    kind: Literal["synthetic"]
    target: Literal[
        "water",
        "landcover",
        "buildings",
        "clouds",
        "change",
        "superres",
        "ships",
        "landcover-chips",
        "landcover-multilabel",
    ]
    size: int = Field(256, ge=64)
    seed: int | Annotated[list[int], Field(min_length=1)] = 0
    sensor: str = "sentinel2_l1c"
    clouds: bool = True
    chip_size: int = Field(64, ge=8)
    stride: int | None = Field(None, ge=1)
    date: int = Field(0, ge=0)
    scale: Literal[2, 3, 4] = 2
    min_fraction: float = Field(0.1, gt=0, le=1)


class DatasetSource(_Strict):
    """A registered dataset reader (:func:`satlearn.datasets.get_dataset`) on a root folder.

    ``split`` is read for training; ``val_split`` for validation, else a
    ``val_fraction`` of the training samples is held out.
    """

    kind: Literal["dataset"]
    name: str
    root: Path
    split: str | None = None
    val_split: str | None = None


class ChipsSource(_Strict):
    """A chip-set folder written by :func:`satlearn.prep.chips.write_chip_set`.

    Trains on its ``train`` chips and validates on its ``val`` chips (its
    spatial-block split); ``split: null`` reads every chip.
    """

    kind: Literal["chips"]
    root: Path
    split: str | None = "train"
    val_split: str | None = "val"


class OsmSource(_Strict):
    """An OpenStreetMap extract rasterised on a scene's grid, cut into segmentation chips.

    ``extract`` (``.osm.pbf``, ``.osm``, Overpass JSON, GeoJSON) is burned on
    ``scene``'s grid by :func:`satlearn.prep.osm.osm_targets` with the
    ``classes`` YAML (default: water, road, building); pixels within
    ``edge_ignore_px`` of a label edge are unlabelled.
    """

    kind: Literal["osm"]
    extract: Path
    scene: Path
    classes: Path | None = None
    chip_size: int = Field(64, ge=8)
    stride: int | None = Field(None, ge=1)
    edge_ignore_px: int = Field(0, ge=0)


DataSource = Annotated[
    SyntheticSource | DatasetSource | ChipsSource | OsmSource, Field(discriminator="kind")
]


class ModelConfig(_Strict):
    """A model of :func:`satlearn.models.build_model` by name, with its options."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class EarlyStopping(_Strict):
    """Stop when ``metric`` (on validation) has not improved for ``patience`` epochs.

    ``metric`` defaults to the task's main score (see :data:`DEFAULT_METRIC`);
    ``val_loss`` is also accepted (lower is better). ``patience`` 0 disables it.
    """

    metric: str | None = None
    patience: int = Field(5, ge=0)
    min_delta: float = Field(0.0, ge=0)


#: The losses each task accepts besides ``default`` (the task's own, see
#: :mod:`satlearn.train.losses`).
TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "segmentation": ("bce", "weighted-bce", "bce+dice", "focal"),
    "change": ("bce", "weighted-bce", "bce+dice", "focal"),
    "superres": ("l1", "mse"),
}


class LossConfig(_Strict):
    """The training loss; ``default`` is the task's own (see :mod:`satlearn.train.losses`).

    Segmentation and change accept ``bce`` (binary cross-entropy on a single
    logit, cross-entropy on several), ``weighted-bce`` (the same with the
    foreground classes weighted), ``bce+dice`` (cross-entropy + soft Dice) and
    ``focal`` (cross-entropy modulated by ``(1 - p_t) ** gamma``).
    Super-resolution accepts ``l1`` and ``mse`` (PSNR is an MSE score).

    ``pos_weight`` weights the foreground pixels of the cross-entropy terms
    (class 1 of a binary mask; every class but 0 of a multi-class one):
    ``"auto"`` computes it from the training targets (background pixels /
    foreground pixels, per class), a number sets it. ``weighted-bce`` uses
    ``"auto"`` when it is not given; ``bce``, ``bce+dice`` and ``focal`` are
    unweighted unless it is given. ``gamma`` is the focal exponent.

    Examples
    --------
    >>> LossConfig(name="weighted-bce").pos_weight is None
    True
    >>> LossConfig(name="focal", gamma=1.5, pos_weight=4).pos_weight
    4.0
    """

    name: Literal["default", "bce", "weighted-bce", "bce+dice", "focal", "l1", "mse"] = "default"
    pos_weight: Literal["auto"] | Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    #: None: 2 for ``focal`` (Lin et al. 2017), unset for every other loss.
    gamma: float | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _options_fit(self) -> LossConfig:
        if self.pos_weight is not None and self.name in ("default", "l1", "mse"):
            raise ValueError(
                f"pos_weight is an option of the cross-entropy losses, not of {self.name!r}"
            )
        if self.gamma is not None and self.name != "focal":
            raise ValueError(f"gamma is an option of the focal loss, not of {self.name!r}")
        return self


class AugmentConfig(_Strict):
    """Augmentations applied to training samples, identically to image and target.

    ``brightness`` is the half-range of a per-band gain (0.1: x0.9 to x1.1),
    ``noise`` the standard deviation of Gaussian noise in units of each band's
    standard deviation, ``crop`` the side of a random crop (None: no crop),
    ``swap_dates`` swaps the two dates of a change sample half of the time (a
    change mask is symmetric in time).
    """

    flip: bool = True
    rotate90: bool = True
    brightness: float = Field(0.0, ge=0, lt=1)
    noise: float = Field(0.0, ge=0)
    crop: int | None = Field(None, ge=4)
    swap_dates: bool = False


class OutputConfig(_Strict):
    """Where the bundle goes: ``directory/name/version``; checkpoints and log beside it.

    ``exporter`` picks the ONNX exporter of
    :func:`satlearn.models.export.export_bundle` (``legacy``, TorchScript, is
    several times faster to export; both are checked against torch).
    """

    directory: Path = Path("models")
    name: str = "model"
    version: str = "1"
    overwrite: bool = False
    checkpoints: Path | None = None
    exporter: Literal["auto", "dynamo", "legacy"] = "auto"

    @property
    def bundle_dir(self) -> Path:
        return self.directory / self.name / self.version

    @property
    def checkpoint_dir(self) -> Path:
        if self.checkpoints is not None:
            return self.checkpoints
        return self.directory / self.name / f".{self.version}.checkpoints"


class TrainConfig(_Strict):
    """Everything a training run needs (see the module docstring).

    Attributes
    ----------
    task : str
        One of :data:`TASKS`.
    data : SyntheticSource | DatasetSource | ChipsSource
        Where samples come from (``kind`` picks the source).
    bands : list of str, optional
        Band names to read, in order (default: every band of the source).
    model : ModelConfig
        Model name and options.
    epochs, batch_size, learning_rate, weight_decay
        The optimisation (AdamW).
    schedule : {"cosine", "one-cycle"}
        The learning-rate schedule, stepped every batch.
    steps_per_epoch : int, optional
        Cap on the batches of one epoch (quick runs).
    val_fraction : float
        Share of samples held out for validation when the source has no
        validation split.
    loss : LossConfig
        The training loss (default: the task's own).
    foreground_share : float, optional
        Segmentation, change and detection: train on every chip that holds
        foreground (a class other than 0, or a box) and a seeded random
        subset of the empty ones, so that foreground chips make up this share
        (:func:`satlearn.train.data.foreground_subset`; 0.5 suits targets a few
        per cent of chips hold). Validation keeps every chip. None: all chips.
    early_stopping, augment, output : sub-configs
    seed : int
        Seeds the model initialisation, the shuffling and the augmentations.
    device : {"auto", "cpu", "cuda"}
        ``auto`` uses CUDA when present.
    num_workers : int, optional
        DataLoader worker processes (default ``min(2, cpus)``).
    resume : bool
        Continue from the last checkpoint when one exists.
    strict : bool
        Refuse to train when the dataset reader skipped any unreadable file
        (by default such files are left out, counted and recorded in the
        bundle's provenance as ``skipped``).
    """

    task: Task
    data: DataSource
    bands: list[str] | None = None
    model: ModelConfig
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    schedule: Literal["cosine", "one-cycle"] = "cosine"
    weight_decay: float = Field(1e-4, ge=0)
    steps_per_epoch: int | None = Field(None, ge=1)
    val_fraction: float = Field(0.2, ge=0, lt=1)
    loss: LossConfig = Field(default_factory=LossConfig)
    foreground_share: float | None = Field(None, gt=0, lt=1)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    seed: int = 0
    output: OutputConfig = Field(default_factory=OutputConfig)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int | None = Field(None, ge=0)
    resume: bool = False
    strict: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if isinstance(self.data, SyntheticSource):
            wanted = SYNTHETIC_TARGETS[self.data.target]
            if wanted != self.task:
                raise ValueError(
                    f"synthetic target {self.data.target!r} trains task {wanted!r}, "
                    f"not {self.task!r}"
                )
            if self.augment.crop is not None and self.augment.crop > self.data.chip_size:
                raise ValueError(
                    f"augment.crop {self.augment.crop} is larger than the chips "
                    f"({self.data.chip_size})"
                )
        if isinstance(self.data, OsmSource) and self.task != "segmentation":
            raise ValueError(f"an osm data source trains segmentation, not {self.task!r}")
        if self.loss.name != "default" and self.loss.name not in TASK_LOSSES.get(self.task, ()):
            accepted = ", ".join(("default", *TASK_LOSSES.get(self.task, ())))
            raise ValueError(
                f"loss {self.loss.name!r} does not fit task {self.task!r}; it accepts {accepted}"
            )
        if self.foreground_share is not None and self.task not in (
            "segmentation",
            "change",
            "detection",
        ):
            raise ValueError(
                f"foreground_share applies to segmentation, change and detection, not {self.task!r}"
            )
        if self.bands is not None and len(set(self.bands)) != len(self.bands):
            raise ValueError(f"bands repeat a name: {self.bands}")
        return self

    @property
    def stop_metric(self) -> str:
        """The validation metric early stopping and the best checkpoint follow."""
        return self.early_stopping.metric or DEFAULT_METRIC[self.task]

    @classmethod
    def from_dict(cls, data: Any, *, where: str = "config") -> TrainConfig:
        """Validate a mapping; problems raise one InvalidInputError naming the keys."""
        if not isinstance(data, dict):
            raise InvalidInputError(f"{where}: expected a mapping of settings, got {data!r}")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise InvalidInputError(format_validation_error(err, where)) from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Read and validate a YAML file.

        Relative paths inside it (data roots, output folder) are taken relative
        to the file's folder, so a config travels with its data.

        Raises
        ------
        InvalidInputError
            Unreadable file, invalid YAML, unknown keys or bad values.
        """
        file = Path(os.fspath(path))
        data = read_yaml(file)
        return cls.from_dict(rebase_paths(data, file.parent), where=f"config {file}")


def read_yaml(file: Path) -> Any:
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidInputError(f"config {file}: cannot read: {err.strerror or err}") from None
    # libyaml's parser where PyYAML has it: the same safe constructors, and it refuses
    # nesting past 1000 levels at once, where the pure-Python one took seconds to hit
    # the recursion limit (a 4 kB config of brackets: 4 s).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader: no Python tags
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())  # one line, for the CLI
        raise InvalidInputError(f"config {file}: not valid YAML: {problem}") from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise InvalidInputError(f"config {file}: not valid YAML: nested too deeply") from None


def rebase_paths(data: Any, base: Path) -> Any:
    """Make the relative paths of a config mapping relative to ``base``."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    data_keys = ("root", "extract", "scene", "classes")
    for section, keys in (("data", data_keys), ("output", ("directory", "checkpoints"))):
        part = out.get(section)
        if isinstance(part, dict):
            part = dict(part)
            for key in keys:
                value = part.get(key)
                if isinstance(value, str) and not Path(value).is_absolute():
                    part[key] = str(base / value)
            out[section] = part
    return out


def format_validation_error(err: ValidationError, where: str) -> str:
    """One line per pydantic error: unknown keys named as such, others as ``key: problem``."""
    problems = []
    for e in err.errors():
        # Tagged unions put the tag (e.g. 'synthetic') into the location: drop it.
        loc = ".".join(
            str(p) for p in e["loc"] if p not in ("synthetic", "dataset", "chips", "osm")
        )
        if e["type"] == "extra_forbidden":
            problems.append(f"unknown key {loc!r}")
        elif e["type"] == "missing":
            problems.append(f"missing key {loc!r}")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {msg}" if loc else msg)
    return f"{where}: " + "; ".join(problems)


class _DataOnly(_Strict):
    data: DataSource


def parse_data_source(
    data: Any, *, where: str = "data"
) -> SyntheticSource | DatasetSource | ChipsSource | OsmSource:
    """Validate a data-source mapping (the ``data`` section of a config).

    Examples
    --------
    >>> parse_data_source({"kind": "synthetic", "target": "water"}).size
    256
    """
    try:
        return _DataOnly.model_validate({"data": data}).data
    except ValidationError as err:
        raise InvalidInputError(format_validation_error(err, where)) from None
