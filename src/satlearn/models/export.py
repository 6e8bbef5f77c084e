"""Export a torch model as a satlearn bundle, and load its weights back.

:func:`export_bundle` writes, through :func:`satlearn.bundle.write_bundle`
(atomic, schema-checked):

``model.onnx``
    The graph, input ``"input"`` and output ``"output"``, with a free batch
    axis and free height and width (every satlearn model is fully
    convolutional or globally pooled).
``weights.safetensors``
    The state dict (``safetensors.torch``), to train further or to run in
    torch; loaded by :func:`load_torch_model`, never through pickle.
``bundle.json``
    task, classes, bands (in input order), normalisation (per-band mean and
    std), output normalisation (how an image output maps back to band values,
    or null), tile size, output semantics, metrics, training config, provenance
    (satlearn, torch and onnxruntime versions, creation time, the caller's
    data provenance), the model's registry name and config, and how it was
    exported (exporter, opset, probe shapes, the largest torch-vs-ONNX
    difference).

Before anything is written, two probe batches (batch 2 at the tile size, and
batch 1 at an odd size to exercise the free axes) run through torch and
through ONNX Runtime; a difference above ``tolerance`` (1e-4) refuses the
export with :class:`~satlearn.errors.BundleError`.

Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export based, the one
torch maintains) by default, falling back to the TorchScript exporter when it
fails for a model (``exporter="auto"``); ``bundle.json`` says which ran. The
dynamo path costs 5-30 s on 2 cores for a U-Net with free height and width
(symbolic shape reasoning), the TorchScript one about 2 s, so tests may ask
for ``exporter="legacy"``: both are held to the same probe check.

Examples
--------
>>> model = build_model("unet", in_channels=4, num_classes=2, width=8)  # doctest: +SKIP
>>> export_bundle(model, "models/water/1", task="semantic-segmentation",
...               classes=["land", "water"], bands=["blue", "green", "red", "nir"],
...               normalisation={"mean": [...], "std": [...]}, tile_size=256)  # doctest: +SKIP
>>> model = load_torch_model("models/water/1")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from satlearn.bundle import read_bundle, write_bundle
from satlearn.errors import BundleError, InvalidInputError, SatlearnError

__all__ = ["EXPORTERS", "TOLERANCE", "export_bundle", "load_torch_model"]

#: Largest accepted absolute difference between torch and ONNX Runtime outputs.
TOLERANCE = 1e-4
EXPORTERS = ("auto", "dynamo", "legacy")
INPUT_NAME = "input"
OUTPUT_NAME = "output"
# TorchScript exporter opset: 17 has every operator the models use (Resize
# cubic and nearest, DepthToSpace, Pad edge).
_LEGACY_OPSET = 17
# Probes larger than this are cropped: the check is about the graph, not the
# tile, and a 512 px U-Net probe would cost seconds on a CPU.
_MAX_PROBE = 64


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays, tuples and paths as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _classes(classes: Any, model: nn.Module, where: str) -> list[dict[str, Any]]:
    if classes is None:
        out: list[dict[str, Any]] = []
    elif isinstance(classes, Mapping):
        out = [{"id": int(k), "name": str(v)} for k, v in classes.items()]
    elif isinstance(classes, Sequence) and not isinstance(classes, str):
        out = []
        for i, c in enumerate(classes):
            if isinstance(c, Mapping):
                out.append({"id": int(c["id"]), "name": str(c.get("name", c["id"]))})
            else:
                out.append({"id": i, "name": str(c)})
    else:
        raise BundleError(f"{where}: classes must be a list of names, a dict id -> name or None")
    n = getattr(model, "config", {}).get("num_classes")
    # A single-logit binary model names both of its classes (background, target).
    if out and n is not None and len(out) != n and not (n == 1 and len(out) == 2):
        raise BundleError(f"{where}: {len(out)} classes given, but the model outputs {n}")
    return out


def _bands_and_normalisation(
    bands: Sequence[str], normalisation: Mapping[str, Any] | None, model: nn.Module, where: str
) -> tuple[list[str], dict[str, list[float]] | None]:
    in_channels = int(model.config["in_channels"])
    dates = int(getattr(model, "dates", 1))
    if isinstance(bands, str) or not all(isinstance(b, str) for b in bands):
        raise BundleError(f"{where}: bands must be a list of band names")
    bands = list(bands)
    if len(bands) * dates != in_channels:
        per = " per date" if dates > 1 else ""
        raise BundleError(
            f"{where}: {len(bands)} bands given{per}, but the model reads "
            f"{in_channels} input channels" + (f" ({dates} dates)" if dates > 1 else "")
        )
    if normalisation is None:
        return bands, None
    return bands, _mean_std(normalisation, (len(bands), in_channels), len(bands), "", where)


def _mean_std(
    normalisation: Mapping[str, Any], sizes: tuple[int, ...], n_bands: int, label: str, where: str
) -> dict[str, list[float]]:
    """Check a ``{"mean", "std"}`` mapping: numbers, finite, std > 0, one per band."""
    if not isinstance(normalisation, Mapping):
        raise BundleError(f"{where}: {label}normalisation must be a mapping with 'mean' and 'std'")
    norm: dict[str, list[float]] = {}
    for key in ("mean", "std"):
        if key not in normalisation:
            raise BundleError(f"{where}: {label}normalisation needs {key!r} (one value per band)")
        try:
            values = [float(v) for v in np.asarray(normalisation[key], dtype=np.float64).ravel()]
        except (TypeError, ValueError):
            raise BundleError(f"{where}: {label}normalisation {key!r} must be numbers") from None
        if len(values) not in sizes:
            raise BundleError(
                f"{where}: {label}normalisation {key!r} has {len(values)} values "
                f"for {n_bands} bands"
            )
        if not all(math.isfinite(v) for v in values) or (
            key == "std" and not all(v > 0 for v in values)
        ):
            raise BundleError(f"{where}: {label}normalisation {key!r} must be finite (std > 0)")
        norm[key] = values
    if len(norm["mean"]) != len(norm["std"]):
        raise BundleError(f"{where}: {label}normalisation mean and std differ in length")
    return norm


def _probes(model: nn.Module, tile_size: int | None, example_input: Any, where: str) -> list:
    in_channels = int(model.config["in_channels"])
    if example_input is not None:
        first = torch.as_tensor(np.asarray(example_input), dtype=torch.float32)
        if first.ndim != 4 or first.shape[1] != in_channels:
            raise BundleError(
                f"{where}: example_input must be (N, {in_channels}, H, W), got {tuple(first.shape)}"
            )
        if first.shape[0] == 1:
            # torch.export specialises a batch of 1 to the constant 1.
            first = first.repeat(2, 1, 1, 1)
    else:
        size = min(tile_size or 32, _MAX_PROBE)
        generator = torch.Generator().manual_seed(0)
        first = torch.randn(2, in_channels, size, size, generator=generator)
    # The second probe has batch 1 and (for free H/W) another, odd size, so a
    # graph that froze a shape at export is caught here, not in a server.
    h, w = first.shape[-2:]
    if getattr(model, "spatially_dynamic", True):
        h, w = h + 3, w + 1
    generator = torch.Generator().manual_seed(1)
    second = torch.randn(1, in_channels, h, w, generator=generator)
    return [first[:3], second]


def _dynamic_export(model: nn.Module, probe: torch.Tensor, spatial: bool) -> bytes:
    dim = torch.export.Dim.DYNAMIC
    axes = {0: dim, 2: dim, 3: dim} if spatial else {0: dim}
    exporter_logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = exporter_logger.level
    # The exporter logs one line per operator of torch's optional vision
    # package that it cannot register (satlearn does not use that package);
    # keep those out of the user's console.
    exporter_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # torch.export's own pytree code trips torch's deprecation of
            # LeafSpec isinstance checks (torch 2.13): a third-party warning.
            warnings.filterwarnings(
                "ignore", message=r".*treespec, LeafSpec.*", category=FutureWarning
            )
            program = torch.onnx.export(
                model,
                (probe,),
                dynamo=True,
                dynamic_shapes=(axes,),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                verbose=False,
            )
    finally:
        exporter_logger.setLevel(level)
    return program.model_proto.SerializeToString()


def _legacy_export(model: nn.Module, probe: torch.Tensor, spatial: bool) -> bytes:
    axes = {0: "batch", 2: "y", 3: "x"} if spatial else {0: "batch"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch warns that the TorchScript exporter is deprecated; choosing it
        # (or falling back to it) is deliberate here, and recorded in bundle.json.
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=r"The feature will be removed.*")
        torch.onnx.export(
            model,
            (probe,),
            buffer,
            dynamo=False,
            opset_version=_LEGACY_OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
        )
    return buffer.getvalue()


def _max_difference(onnx_bytes: bytes, model: nn.Module, probes: list, where: str) -> float:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        worst = 0.0
        for probe in probes:
            with torch.no_grad():
                expected = model(probe).numpy()
            got = session.run(None, {INPUT_NAME: probe.numpy()})[0]
            if got.shape != expected.shape:
                raise BundleError(
                    f"{where}: ONNX output shape {got.shape} differs from torch's "
                    f"{expected.shape} for input {tuple(probe.shape)}"
                )
            diff = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
            worst = max(worst, diff if math.isfinite(diff) else math.inf)
    except SatlearnError:
        raise
    except Exception as err:  # onnxruntime raises its own untyped errors
        raise BundleError(f"{where}: ONNX Runtime cannot run the exported graph: {err}") from None
    return worst


def export_bundle(
    model: nn.Module,
    directory: str | os.PathLike[str],
    *,
    task: str,
    classes: Sequence[Any] | Mapping[int, str] | None,
    bands: Sequence[str],
    normalisation: Mapping[str, Any] | None,
    tile_size: int | None,
    metrics: Mapping[str, Any] | None = None,
    training_config: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    example_input: Any = None,
    overwrite: bool = False,
    activation: str | None = None,
    exporter: str = "auto",
    tolerance: float = TOLERANCE,
    output_normalisation: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a bundle (ONNX + safetensors + bundle.json).

    Parameters
    ----------
    model : torch.nn.Module
        A model of :func:`satlearn.models.build_model` (it needs
        ``model.config``). It is copied to the CPU in eval mode for the export;
        the caller's model is left as it was (device and mode).
    directory : path
        The bundle folder (by convention ``ROOT/NAME/VERSION``).
    task : str
        The bundle task, e.g. ``"classification"``, ``"semantic-segmentation"``,
        ``"change-detection"``, ``"super-resolution"``, ``"object-detection"``.
    classes : list of str, dict of int to str, list of {"id", "name"}, or None
        Class names (a list gives ids 0..n-1). Their number must match the
        model's outputs (a one-logit binary model may name two).
    bands : list of str
        Band names in input order; for change models, the bands of one date
        (the input holds both dates: before then after).
    normalisation : dict or None
        ``{"mean": [...], "std": [...]}`` per band (or per input channel),
        applied by the caller before the model: ``(x - mean) / std``.
    tile_size : int or None
        The tile size the model was trained on (for super-resolution: the
        low-resolution input's).
    metrics, training_config, provenance : dict, optional
        Recorded as given (numpy numbers are converted); ``provenance`` gets
        the satlearn, torch and onnxruntime versions and the creation time.
    example_input : array-like, optional
        A (N, C, H, W) probe batch; default a seeded random batch of 2 at
        ``min(tile_size, 64)``.
    overwrite : bool
        Replace an existing bundle folder.
    activation : {"softmax", "sigmoid", None}, optional
        How to read the logits; default sigmoid for one output class, softmax
        for several (pass ``"sigmoid"`` for a multi-label classifier).
    exporter : {"auto", "dynamo", "legacy"}
        ``"auto"``: dynamo, then the TorchScript exporter if dynamo fails.
    tolerance : float
        Largest accepted torch-vs-ONNX absolute difference.
    output_normalisation : dict, optional
        For a model whose output is an image in a normalised space (a
        super-resolution model trained on normalised targets): ``{"mean":
        [...], "std": [...]}`` per output band, recorded in bundle.json as
        ``output_normalisation`` with the formula ``value = output * std +
        mean``, which prediction must apply. None (the default) records null:
        the outputs are read as they are (logits, heatmaps).

    Returns
    -------
    pathlib.Path
        The bundle folder.

    Raises
    ------
    BundleError
        The model cannot be exported, ONNX Runtime disagrees with torch by more
        than ``tolerance``, the bands, classes or normalisation do not fit the
        model, or the folder exists (without ``overwrite``).

    Examples
    --------
    >>> model = build_model("resnet-classifier", in_channels=3, num_classes=2, width=8)
    ... # doctest: +SKIP
    >>> export_bundle(model, "models/chips/1", task="classification", classes=["no", "yes"],
    ...               bands=["red", "green", "blue"], normalisation=None, tile_size=32)
    ... # doctest: +SKIP
    PosixPath('models/chips/1')
    """
    from satlearn import __version__

    where = f"bundle {os.fspath(directory)}"
    config = getattr(model, "config", None)
    if not isinstance(model, nn.Module) or not isinstance(config, Mapping):
        raise BundleError(f"{where}: export needs a satlearn model (built by build_model)")
    if exporter not in EXPORTERS:
        raise InvalidInputError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if activation not in (None, "softmax", "sigmoid"):
        raise InvalidInputError(
            f"activation must be 'softmax', 'sigmoid' or None, got {activation!r}"
        )
    if tile_size is not None and (
        isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1
    ):
        raise BundleError(f"{where}: tile_size must be a positive integer or None")
    class_list = _classes(classes, model, where)
    band_list, norm = _bands_and_normalisation(bands, normalisation, model, where)
    out_norm: dict[str, Any] | None = None
    if output_normalisation is not None:
        # An image output has one channel per band (super-resolution keeps the bands).
        out_norm = {
            **_mean_std(output_normalisation, (len(band_list),), len(band_list), "output ", where),
            "inverse": "value = output * std + mean",
        }

    cpu_model = copy.deepcopy(model).cpu().eval()
    spatial = bool(getattr(cpu_model, "spatially_dynamic", True))
    probes = _probes(cpu_model, tile_size, example_input, where)
    used = exporter
    fallback_reason = None
    onnx_bytes = b""
    if exporter in ("auto", "dynamo"):
        try:
            onnx_bytes = _dynamic_export(cpu_model, probes[0], spatial)
            used = "dynamo"
        except Exception as err:  # the exporter raises many untyped errors
            if exporter == "dynamo":
                raise BundleError(f"{where}: torch.onnx (dynamo) cannot export: {err}") from None
            fallback_reason = f"{type(err).__name__}: {str(err)[:300]}"
    if not onnx_bytes:
        try:
            onnx_bytes = _legacy_export(cpu_model, probes[0], spatial)
        except Exception as err:  # the exporter raises many untyped errors
            raise BundleError(f"{where}: torch.onnx (TorchScript) cannot export: {err}") from None
        used = "legacy"
    difference = _max_difference(onnx_bytes, cpu_model, probes, where)
    if not difference <= tolerance:
        raise BundleError(
            f"{where}: ONNX Runtime output differs from torch by {difference:.3g} "
            f"(more than {tolerance:g}); not written"
        )

    import onnx
    import onnxruntime
    import safetensors.torch

    opset = next(
        (o.version for o in onnx.load_from_string(onnx_bytes).opset_import if o.domain == ""),
        None,
    )
    output = dict(cpu_model.output) if hasattr(cpu_model, "output") else {"kind": "logits"}
    if output.get("kind") == "logits":
        n = config.get("num_classes")
        output["activation"] = activation or ("sigmoid" if n == 1 else "softmax")
    meta: dict[str, Any] = {
        "task": task,
        "classes": class_list,
        "bands": band_list,
        "normalisation": norm,
        "output_normalisation": out_norm,
        "tile_size": tile_size,
        "output": output,
        "model": {"name": config["name"], "config": dict(config)},
        "metrics": dict(metrics or {}),
        "training_config": dict(training_config or {}),
        "provenance": {
            **dict(provenance or {}),
            "satlearn": __version__,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        },
        "satlearn_version": __version__,
        "export": {
            "exporter": used,
            "opset": opset,
            "dynamic_axes": ["batch", "y", "x"] if spatial else ["batch"],
            "probe_shapes": [list(p.shape) for p in probes],
            "max_abs_difference": difference,
            "tolerance": tolerance,
            **({"dynamo_error": fallback_reason} if fallback_reason else {}),
        },
    }
    if getattr(cpu_model, "dates", 1) > 1:
        meta["input_layout"] = {
            "dates": int(cpu_model.dates),
            "order": "date-major: all bands of the first date, then of the second",
        }
    state = {k: v.detach().contiguous() for k, v in cpu_model.state_dict().items()}
    weights = safetensors.torch.save(state, metadata={"model": str(config["name"])})
    return write_bundle(
        directory,
        model_onnx=onnx_bytes,
        metadata=_jsonable(meta),
        weights=weights,
        overwrite=overwrite,
    )


def load_torch_model(
    bundle_dir: str | os.PathLike[str], *, device: str | torch.device | None = None
) -> nn.Module:
    """Rebuild a bundle's torch model from its config and ``weights.safetensors``.

    Parameters
    ----------
    bundle_dir : path
        A bundle folder written by :func:`export_bundle`.
    device : str or torch.device, optional
        Where to put the model (default the CPU).

    Returns
    -------
    torch.nn.Module
        In eval mode.

    Raises
    ------
    BundleError
        Not a bundle, no weights, no ``model`` entry, an unknown model or
        config, or weights that do not fit the architecture.

    Examples
    --------
    >>> model = load_torch_model("models/water/1")  # doctest: +SKIP
    >>> logits = model(torch.as_tensor(tile))  # doctest: +SKIP
    """
    import safetensors.torch

    from satlearn.models.registry import build_model

    bundle = read_bundle(bundle_dir)
    where = f"bundle {bundle.path}"
    entry = bundle.metadata.get("model")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("config"), Mapping):
        raise BundleError(f"{where}: bundle.json has no 'model' config to rebuild a torch model")
    if bundle.weights_path is None:
        raise BundleError(f"{where}: weights.safetensors is missing")
    config = dict(entry["config"])
    try:
        model = build_model(**config)
    except (InvalidInputError, TypeError) as err:
        raise BundleError(f"{where}: cannot rebuild model {entry.get('name')!r}: {err}") from None
    try:
        state = safetensors.torch.load_file(str(bundle.weights_path), device="cpu")
    except Exception as err:  # safetensors raises its own SafetensorError
        raise BundleError(f"{where}: weights.safetensors is unreadable: {err}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise BundleError(
            f"{where}: weights.safetensors does not fit model {config.get('name')!r}: {err}"
        ) from None
    model.eval()
    return model.to(device) if device is not None else model
