"""Model bundles: a trained model as ONNX plus JSON metadata, never a pickle.

A bundle is a folder, by convention ``ROOT/NAME/VERSION/``, holding:

``model.onnx``
    The inference graph (ONNX), run with onnxruntime.
``bundle.json``
    What a caller needs to feed the graph and read its answer (schema below).
``weights.safetensors`` (optional)
    Training weights, for models that are trained further (deep learning).

Nothing on the load path unpickles: ONNX is a protobuf, the metadata JSON,
and safetensors a flat tensor file. So a bundle from elsewhere can be read
without running its author's code.

``bundle.json`` schema (format_version 1)
-----------------------------------------
Required keys:

``format_version`` : int
    ``1``. A reader refuses versions it does not know.
``task`` : str
    What the model does, e.g. ``"pixel-classification"``,
    ``"semantic-segmentation"``, ``"object-detection"``. Readers dispatch on it.

Keys with a meaning shared by every task (all optional):

``classes`` : list of ``{"id": int, "name": str}``
    The class ids the model outputs and their names.
``bands`` : list of str
    satlearn band names (STAC common names where known) the model reads, in
    order.
``inputs``, ``outputs`` : list of ``{"name": str, "dtype": str, "shape": list}``
    The ONNX graph's inputs and outputs (``shape`` entries are ints, or
    null for a free dimension). :func:`write_bundle` fills them from the
    graph when absent and checks them when given; :func:`read_bundle` checks
    them against ``model.onnx``.
``normalisation`` : dict
    How raw band values become model inputs (e.g. ``{"mean": [...], "std":
    [...]}``), for models whose graph does not include it.
``output_normalisation`` : dict or null
    For a model whose output is an image in a normalised space (super-
    resolution): ``{"mean", "std", "inverse": "value = output * std +
    mean"}`` per output band; null when outputs are read as they are.
``tile_size`` : int or null
    The chip size a convolutional model was trained on; null for per-pixel
    models.
``metrics`` : dict
    Scores measured at training time (name -> number or dict).
``provenance`` : dict
    Who made it and how: satlearn and library versions, creation time,
    training data, parameters.
``name``, ``version`` : str
    Recorded for display; the folder names are what :func:`resolve_bundle`
    uses.
``sha256`` : dict of str to str
    The SHA-256 (hex) of ``model.onnx`` and of ``weights.safetensors`` when
    present, filled in by :func:`write_bundle` (any value given is replaced)
    and checked by :func:`read_bundle`: a damaged or replaced file is refused
    with a :class:`~satlearn.errors.BundleError` naming it. This detects
    damage and edits of the payload, not forgery: whoever can edit the files
    can edit bundle.json too. Bundles written before the key existed have
    none and are read as before, unverified (:attr:`Bundle.verified` is
    False); no warning, since their owners can do nothing about it but
    re-export, and a warning on every load would drown useful ones.

Any other key is kept and handed back in :attr:`Bundle.metadata`
(task-specific settings, such as the pixel classifier's ``features``).

Examples
--------
>>> path = write_bundle("models/clouds/1", model_onnx=onnx_bytes,
...                     metadata={"task": "pixel-classification"})  # doctest: +SKIP
>>> bundle = read_bundle(resolve_bundle("models", "clouds"))  # doctest: +SKIP
>>> bundle.session().run(None, {"X": features})  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satlearn.atomic import replace_folder, temporary_sibling
from satlearn.errors import BundleError, InvalidInputError

__all__ = [
    "BUNDLE_JSON",
    "FORMAT_VERSION",
    "HASHED_FILES",
    "MODEL_ONNX",
    "WEIGHTS",
    "Bundle",
    "check_safe_name",
    "read_bundle",
    "resolve_bundle",
    "version_key",
    "write_bundle",
]

FORMAT_VERSION = 1
MODEL_ONNX = "model.onnx"
BUNDLE_JSON = "bundle.json"
WEIGHTS = "weights.safetensors"
#: The payload files whose SHA-256 bundle.json records.
HASHED_FILES = (MODEL_ONNX, WEIGHTS)
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Bundle names and versions come from outside (CLI, HTTP): a plain word of
# letters, digits, '.', '_' and '-', starting with a letter or digit, so that
# '..', absolute paths, separators and hidden names are impossible.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_NUMERIC_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")

# ONNX TensorProto element types -> numpy dtype names (the common ones).
_ONNX_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
}


@dataclass(frozen=True, eq=False)
class Bundle:
    """A bundle read from disk (see the module docstring for the layout).

    Attributes
    ----------
    path : pathlib.Path
        The bundle folder.
    task : str
        ``bundle.json``'s ``task``.
    classes : dict of int to str
        Class id -> name (empty when the task has no classes).
    bands : tuple of str
        Band names the model reads, in order.
    metadata : dict
        The whole of ``bundle.json``.
    format_version : int
        The bundle format version.
    verified : bool
        bundle.json records SHA-256 checksums and the files matched them
        (False for bundles written before checksums were recorded).

    Examples
    --------
    >>> bundle = read_bundle("models/landcover/1")  # doctest: +SKIP
    >>> bundle.task, bundle.classes  # doctest: +SKIP
    ('pixel-classification', {1: 'water', 2: 'forest'})
    """

    path: Path
    task: str
    classes: dict[int, str]
    bands: tuple[str, ...]
    metadata: dict[str, Any]
    format_version: int = FORMAT_VERSION
    verified: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_path(self) -> Path:
        """Path of ``model.onnx``."""
        return self.path / MODEL_ONNX

    @property
    def weights_path(self) -> Path | None:
        """Path of ``weights.safetensors``, or None when the bundle has none."""
        path = self.path / WEIGHTS
        return path if path.is_file() else None

    def session(self) -> Any:
        """The onnxruntime ``InferenceSession`` of ``model.onnx`` (CPU), made once.

        Sessions are thread-safe for ``run``, so one per bundle is shared.

        Raises
        ------
        BundleError
            onnxruntime cannot load the graph.
        """
        with self._lock:
            if "session" not in self._cache:
                import onnxruntime as ort

                try:
                    self._cache["session"] = ort.InferenceSession(
                        str(self.model_path), providers=["CPUExecutionProvider"]
                    )
                except Exception as err:  # onnxruntime raises its own untyped errors
                    raise BundleError(
                        f"bundle {self.path}: onnxruntime cannot load {MODEL_ONNX}: {err}"
                    ) from None
            return self._cache["session"]


def _graph_io(model_onnx: bytes, where: str) -> tuple[list[dict], list[dict]]:
    """The inputs and outputs of an ONNX graph as bundle.json entries."""
    import onnx

    try:
        model = onnx.load_from_string(model_onnx)
    except Exception as err:  # protobuf DecodeError and friends
        raise BundleError(f"{where}: {MODEL_ONNX} is not a readable ONNX model: {err}") from None

    def entries(values: Any) -> list[dict]:
        out = []
        for v in values:
            tensor = v.type.tensor_type
            shape = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
            out.append(
                {
                    "name": v.name,
                    "dtype": _ONNX_DTYPES.get(tensor.elem_type, str(tensor.elem_type)),
                    "shape": shape,
                }
            )
        return out

    initialisers = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initialisers]
    return entries(inputs), entries(model.graph.output)


def _check_io(declared: Any, actual: list[dict], key: str, where: str) -> None:
    if not isinstance(declared, list) or not all(isinstance(d, Mapping) for d in declared):
        raise BundleError(f"{where}: {BUNDLE_JSON} '{key}' must be a list of objects")
    names = [d.get("name") for d in declared]
    if names != [a["name"] for a in actual]:
        raise BundleError(
            f"{where}: {MODEL_ONNX} {key} are {[a['name'] for a in actual]}, "
            f"but {BUNDLE_JSON} declares {names}"
        )
    for d, a in zip(declared, actual, strict=True):
        for prop in ("dtype", "shape"):
            if prop in d and d[prop] != a[prop]:
                raise BundleError(
                    f"{where}: {MODEL_ONNX} {key[:-1]} {a['name']!r} has {prop} "
                    f"{a[prop]}, but {BUNDLE_JSON} declares {d[prop]}"
                )


def _check_metadata(metadata: Any, where: str) -> dict[str, Any]:
    """Validate the shared keys of bundle.json; return a plain dict."""
    if not isinstance(metadata, Mapping):
        raise BundleError(f"{where}: {BUNDLE_JSON} must hold a JSON object")
    meta = dict(metadata)
    version = meta.setdefault("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise BundleError(
            f"{where}: unknown bundle format_version {version!r} "
            f"(this satlearn reads version {FORMAT_VERSION})"
        )
    task = meta.get("task")
    if not isinstance(task, str) or not task:
        raise BundleError(f"{where}: {BUNDLE_JSON} needs a 'task' string")
    classes = meta.get("classes", [])
    if not isinstance(classes, list) or not all(
        isinstance(c, Mapping)
        and isinstance(c.get("id"), int)
        and not isinstance(c.get("id"), bool)
        and isinstance(c.get("name", ""), str)
        for c in classes
    ):
        raise BundleError(
            f'{where}: {BUNDLE_JSON} \'classes\' must be a list of {{"id": int, "name": str}}'
        )
    if len({c["id"] for c in classes}) != len(classes):
        raise BundleError(f"{where}: {BUNDLE_JSON} 'classes' repeats a class id")
    bands = meta.get("bands", [])
    if not isinstance(bands, list) or not all(isinstance(b, str) for b in bands):
        raise BundleError(f"{where}: {BUNDLE_JSON} 'bands' must be a list of band names")
    return meta


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verify_files(path: Path, meta: dict[str, Any], model_onnx: bytes, where: str) -> bool:
    """Check the payload files against bundle.json's ``sha256``; False when it has none."""
    recorded = meta.get("sha256")
    if recorded is None:
        return False
    if (
        not isinstance(recorded, Mapping)
        or MODEL_ONNX not in recorded
        or not all(
            name in HASHED_FILES and isinstance(h, str) and _HEX64.fullmatch(h)
            for name, h in recorded.items()
        )
    ):
        raise BundleError(
            f"{where}: {BUNDLE_JSON} 'sha256' must map {MODEL_ONNX} (and {WEIGHTS}, when "
            f"present) to a 64-digit lower-case hex SHA-256, got {recorded!r}"
        )
    weights = path / WEIGHTS
    if weights.is_file() and WEIGHTS not in recorded:
        raise BundleError(
            f"{where}: {WEIGHTS} is not recorded in {BUNDLE_JSON} 'sha256' "
            "(added after export?); refusing an unverified file"
        )
    for name, expected in recorded.items():
        if name == MODEL_ONNX:
            data = model_onnx
        else:
            try:
                data = (path / name).read_bytes()
            except OSError as err:
                raise BundleError(
                    f"{where}: {name} is recorded in {BUNDLE_JSON} but cannot be read: "
                    f"{err.strerror or err}"
                ) from None
        actual = _sha256(data)
        if actual != expected:
            raise BundleError(
                f"{where}: {name} is damaged or was changed after export: its SHA-256 is "
                f"{actual}, {BUNDLE_JSON} records {expected}"
            )
    return True


def write_bundle(
    directory: str | os.PathLike[str],
    *,
    model_onnx: bytes,
    metadata: Mapping[str, Any],
    weights: bytes | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder atomically.

    Everything is written into a hidden temporary folder beside ``directory``
    and renamed into place, so a folder under the final name is always a
    complete bundle.

    Parameters
    ----------
    directory : path
        The bundle folder to create (by convention ``ROOT/NAME/VERSION``).
    model_onnx : bytes
        The serialised ONNX model (``model.SerializeToString()``).
    metadata : mapping
        The content of ``bundle.json`` (see the module docstring); ``task`` is
        required; ``format_version``, ``inputs``, ``outputs`` and ``sha256``
        are filled in. Must be JSON-serialisable.
    weights : bytes, optional
        The content of ``weights.safetensors``.
    overwrite : bool
        Replace an existing folder; otherwise an existing one is an error.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    BundleError
        The folder exists (and ``overwrite`` is False), the metadata is
        invalid, or the ONNX graph disagrees with the declared inputs/outputs.

    Examples
    --------
    >>> write_bundle("models/water/1", model_onnx=onnx_bytes,
    ...              metadata={"task": "pixel-classification", "bands": ["green", "nir"]})
    ... # doctest: +SKIP
    PosixPath('models/water/1')
    """
    target = Path(os.fspath(directory))
    where = f"bundle {target}"
    if target.exists() and not overwrite:
        raise BundleError(f"{where} already exists; pass overwrite=True to replace it")
    if not isinstance(model_onnx, bytes | bytearray):
        raise BundleError(f"{where}: model_onnx must be the serialised ONNX bytes")
    meta = _check_metadata(metadata, where)
    inputs, outputs = _graph_io(bytes(model_onnx), where)
    for key, actual in (("inputs", inputs), ("outputs", outputs)):
        if key in meta:
            _check_io(meta[key], actual, key, where)
        else:
            meta[key] = actual
    # Checksums of what is written now; a copied bundle.json's old ones must not survive.
    meta["sha256"] = {MODEL_ONNX: _sha256(bytes(model_onnx))}
    if weights is not None:
        meta["sha256"][WEIGHTS] = _sha256(bytes(weights))
    try:
        text = json.dumps(meta, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise BundleError(f"{where}: metadata is not JSON-serialisable: {err}") from None

    target.parent.mkdir(parents=True, exist_ok=True)
    # A temporary_sibling name, so a SIGKILLed writer's folder is removed by the next.
    partial = temporary_sibling(target, "partial")
    try:
        partial.mkdir()
        (partial / MODEL_ONNX).write_bytes(model_onnx)
        if weights is not None:
            (partial / WEIGHTS).write_bytes(weights)
        # bundle.json last: its presence marks a complete folder for readers.
        (partial / BUNDLE_JSON).write_text(text, encoding="utf-8")
        # The final name is never a half-written bundle, nor (on Linux) empty.
        replace_folder(partial, target)
    except OSError as err:
        raise BundleError(f"{where}: cannot write: {err}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def read_bundle(directory: str | os.PathLike[str]) -> Bundle:
    """Read and validate a bundle folder.

    Parameters
    ----------
    directory : path
        The bundle folder (holding ``model.onnx`` and ``bundle.json``).

    Returns
    -------
    Bundle

    Raises
    ------
    BundleError
        Missing folder or file, unreadable or invalid JSON, unknown
        ``format_version``, ``model.onnx`` inputs/outputs that do not match
        ``bundle.json``, or a file whose SHA-256 differs from the one
        ``bundle.json`` records. The message names the path, the file and the
        problem.

    Examples
    --------
    >>> bundle = read_bundle("models/water/1")  # doctest: +SKIP
    >>> bundle.bands  # doctest: +SKIP
    ('green', 'nir')
    """
    path = Path(os.fspath(directory))
    where = f"bundle {path}"
    if not path.is_dir():
        raise BundleError(f"{where}: no such bundle folder")
    for name in (BUNDLE_JSON, MODEL_ONNX):
        if not (path / name).is_file():
            raise BundleError(f"{where}: {name} is missing")
    try:
        meta = json.loads((path / BUNDLE_JSON).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{where}: {BUNDLE_JSON} is not valid JSON: {err}") from None
    except RecursionError:  # the json module recurses once per nesting level
        raise BundleError(f"{where}: {BUNDLE_JSON} is nested too deeply") from None
    meta = _check_metadata(meta, where)
    try:
        model_onnx = (path / MODEL_ONNX).read_bytes()
    except OSError as err:
        raise BundleError(f"{where}: cannot read {MODEL_ONNX}: {err.strerror or err}") from None
    # Checksums first: a damaged graph is reported as damage, not as a parse error.
    verified = _verify_files(path, meta, model_onnx, where)
    inputs, outputs = _graph_io(model_onnx, where)
    for key, actual in (("inputs", inputs), ("outputs", outputs)):
        if key in meta:
            _check_io(meta[key], actual, key, where)
    return Bundle(
        path=path,
        task=meta["task"],
        classes={int(c["id"]): str(c.get("name", c["id"])) for c in meta.get("classes", [])},
        bands=tuple(meta.get("bands", [])),
        metadata=meta,
        format_version=meta["format_version"],
        verified=verified,
    )


def check_safe_name(kind: str, value: Any) -> str:
    """``value`` when it is a safe bundle name or version (see :func:`resolve_bundle`).

    Raises
    ------
    InvalidInputError
        ``value`` is not a string of letters, digits, ``.``, ``_`` and ``-`` starting
        with a letter or digit (so no ``..``, separator, NUL or hidden name).
    """
    if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
        raise InvalidInputError(
            f"bundle {kind} {value!r} is not allowed: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def version_key(name: str) -> tuple[int, tuple[int, ...], str]:
    """The sort key of a version folder name: numeric versions by number, after others."""
    # Numeric versions ("1", "2", "1.10", "v3") order by number, after any
    # non-numeric names (ordered by text), so "10" beats "9" and "2024.1".
    match = _NUMERIC_VERSION.fullmatch(name)
    if match:
        return (1, tuple(int(p) for p in match.group(1).split(".")), name)
    return (0, (), name)


def resolve_bundle(root: str | os.PathLike[str], name: str, version: str | None = None) -> Path:
    """The folder of bundle ``name`` (highest version unless ``version``) under ``root``.

    Names and versions are checked before any path is built, because they may
    come from a request: only letters, digits, ``.``, ``_`` and ``-`` are
    allowed, starting with a letter or digit, so ``..``, separators and
    absolute paths are refused. The resolved folder must lie inside ``root``
    (a symlink that leads out is refused too).

    Parameters
    ----------
    root : path
        The model repository, holding ``NAME/VERSION/`` folders.
    name : str
        The bundle name.
    version : str, optional
        The version folder; default: the highest one holding a
        ``bundle.json`` (numeric versions compare as numbers: ``10 > 9``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InvalidInputError
        An unsafe name or version.
    BundleError
        No such bundle or version.

    Examples
    --------
    >>> resolve_bundle("models", "clouds")  # doctest: +SKIP
    PosixPath('models/clouds/3')
    >>> resolve_bundle("models", "../etc")  # doctest: +SKIP
    Traceback (most recent call last):
    InvalidInputError: bundle name '../etc' is not allowed: ...
    """
    check_safe_name("name", name)
    if version is not None:
        check_safe_name("version", version)
    base = Path(os.fspath(root))
    folder = base / name
    if not folder.is_dir():
        raise BundleError(f"no bundle named {name!r} under {base}")
    if version is None:
        versions = [
            p.name
            for p in folder.iterdir()
            if p.is_dir() and _SAFE_NAME.fullmatch(p.name) and (p / BUNDLE_JSON).is_file()
        ]
        if not versions:
            raise BundleError(f"bundle {name!r} under {base} has no version with {BUNDLE_JSON}")
        version = max(versions, key=version_key)
    path = folder / version
    if not path.is_dir():
        raise BundleError(f"bundle {name!r} under {base} has no version {version!r}")
    if not path.resolve().is_relative_to(base.resolve()):
        raise BundleError(f"bundle {name}/{version} under {base} leads outside the repository")
    return path
