"""The model repository: ``DIR/NAME/VERSION/`` bundles, watched and swapped safely.

Every model is served at its highest loaded version by default and at any
loaded version by number. A watcher thread rescans the folder every
``poll_s`` seconds:

* a new or changed version is loaded **fully** (bundle read and checked,
  ONNX Runtime sessions created) before it is swapped in; the swap is one
  assignment under a lock, and requests already holding the old
  :class:`LoadedModel` finish on it;
* a version whose ``bundle.json`` is missing or not yet valid JSON is still
  being copied: it is skipped silently and looked at again next scan;
* a version that fails to load (truncated ``model.onnx``, checksum mismatch)
  is logged and its error shown in the model's metadata, the old version
  keeps serving, and the version is retried once its files change;
* a removed version is unloaded (after its queued requests are answered).

Names and versions are checked with :func:`satlearn.bundle.check_safe_name`
before any path is built, so no request reaches a file outside ``DIR``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from satlearn.bundle import (
    BUNDLE_JSON,
    MODEL_ONNX,
    Bundle,
    check_safe_name,
    read_bundle,
    version_key,
)
from satlearn.errors import (
    BundleError,
    InvalidInputError,
    ModelNotFoundError,
    RequestTimeoutError,
    SatlearnError,
)
from satlearn.serve._batcher import Batcher
from satlearn.serve._settings import BatchSettings

__all__ = ["CONFIG_YAML", "LoadedModel", "ModelRepository", "Observer", "TensorSpec"]

log = logging.getLogger("satlearn.serve")

#: Per-model serving settings beside the versions: ``DIR/NAME/config.yaml``.
CONFIG_YAML = "config.yaml"


class Observer(Protocol):
    """What the repository tells the metrics (see :mod:`satlearn.serve._metrics`)."""

    def batch(self, name: str, version: str, size: int) -> None: ...

    def queue(self, name: str, version: str, depth: int) -> None: ...


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model: name, numpy dtype name, shape (None: free)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]


def _specs(entries: Any) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(str(e["name"]), str(e.get("dtype", "float32")), tuple(e.get("shape") or ()))
        for e in entries or ()
    )


def server_session_options() -> Any:
    """ONNX Runtime options of the server's sessions: intra-op threads that sleep when idle.

    By default ONNX Runtime's intra-op threads spin for a while after every
    run, waiting for the next: between a server's requests that keeps every
    core busy doing nothing and starves the event loop that parses the next
    requests (measured on 2 cores: ~12 ms of CPU per 0.3 ms forward, batches
    of 1). Without spinning a batch-1 pass costs ~0.3 ms more, a full batch
    about the same.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class LoadedModel:
    """One version of one model, loaded: bundle, ONNX Runtime sessions and batcher.

    Attributes
    ----------
    name, version : str
    bundle : satlearn.bundle.Bundle
    inputs, outputs : tuple of TensorSpec
        From ``bundle.json`` (checked against the graph by ``read_bundle``).
    settings : BatchSettings
    """

    def __init__(
        self,
        name: str,
        version: str,
        bundle: Bundle,
        settings: BatchSettings,
        *,
        request_timeout_s: float = 30.0,
        observer: Observer | None = None,
    ) -> None:
        import onnxruntime as ort

        self.name = name
        self.version = version
        self.bundle = bundle
        self.settings = settings
        self.request_timeout_s = request_timeout_s
        self.inputs = _specs(bundle.metadata.get("inputs"))
        self.outputs = _specs(bundle.metadata.get("outputs"))
        # Every session is made now, so a swap never waits for (or fails in) a load.
        # The bundle's own session is not used: the server's sessions must not spin.
        sessions = []
        for _ in range(settings.instances):
            try:
                sessions.append(
                    ort.InferenceSession(
                        str(bundle.model_path),
                        server_session_options(),
                        providers=["CPUExecutionProvider"],
                    )
                )
            except Exception as err:  # onnxruntime raises its own untyped errors
                raise BundleError(f"bundle {bundle.path}: onnxruntime: {err}") from None
        self._sessions: queue.SimpleQueue = queue.SimpleQueue()
        for session in sessions:
            self._sessions.put(session)
        batchable = bool(self.inputs) and all(
            spec.shape and spec.shape[0] is None for spec in self.inputs
        )
        self.batcher = Batcher(
            self._run,
            settings,
            batchable=batchable,
            on_batch=(lambda n: observer.batch(name, version, n)) if observer else None,
            on_queue=(lambda n: observer.queue(name, version, n)) if observer else None,
        )

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, version={self.version!r})"

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = self._sessions.get()
        try:
            values = session.run(None, inputs)
        except Exception as err:  # onnxruntime's errors are untyped; bad shapes land here
            raise InvalidInputError(
                f"model {self.name} version {self.version} refused the input: {err}"
            ) from None
        finally:
            self._sessions.put(session)
        return {spec.name: np.asarray(v) for spec, v in zip(self.outputs, values, strict=True)}

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on one request through its dynamic batcher.

        Parameters
        ----------
        inputs : dict of str to numpy.ndarray
            Every model input, batch first, in the model's dtype.

        Returns
        -------
        dict of str to numpy.ndarray
            Every output, by name.

        Raises
        ------
        OverloadedError
            The model's queue is full.
        RequestTimeoutError
            No answer within ``request_timeout_s``.
        InvalidInputError
            ONNX Runtime refused the input.
        """
        try:
            return await self.batcher.submit(inputs, timeout_s=self.request_timeout_s)
        except TimeoutError:
            raise RequestTimeoutError(
                f"model {self.name} version {self.version} did not answer within "
                f"{self.request_timeout_s:g} s"
            ) from None

    def retire(self) -> None:
        """Stop taking work once queued requests are answered."""
        self.batcher.retire()


@dataclass
class _ModelEntry:
    versions: dict[str, LoadedModel] = field(default_factory=dict)
    # version -> (file signature, error): a failed load is retried when its files change.
    failed: dict[str, tuple[tuple, str]] = field(default_factory=dict)
    unloaded: bool = False  # explicitly unloaded: the watcher leaves it alone


def _signature(path: Path) -> tuple | None:
    """mtime and size of the files that make a version; None while bundle.json is incomplete."""
    sig = []
    for name in (BUNDLE_JSON, MODEL_ONNX, CONFIG_YAML):
        target = path.parent / name if name == CONFIG_YAML else path / name
        try:
            st = target.stat()
        except OSError:
            if name == CONFIG_YAML:
                sig.append(None)
                continue
            return None
        sig.append((st.st_mtime_ns, st.st_size))
    try:
        # bundle.json is written last; until it parses the copy is not finished.
        meta = json.loads((path / BUNDLE_JSON).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(meta, dict) or "task" not in meta:
        return None
    return tuple(sig)


def _is_safe(value: str) -> bool:
    try:
        check_safe_name("name", value)
    except InvalidInputError:
        return False
    return True


class ModelRepository:
    """The served models of ``root`` (``NAME/VERSION/`` bundles), kept in step with the folder.

    Parameters
    ----------
    root : path
        The model repository.
    poll_s : float
        Seconds between scans of the watcher thread (:meth:`start`).
    request_timeout_s : float
        Passed to every :class:`LoadedModel`.
    observer : Observer, optional
        Told batch sizes and queue depths.

    Examples
    --------
    >>> repo = ModelRepository("models")  # doctest: +SKIP
    >>> repo.scan()  # doctest: +SKIP
    >>> model = repo.get("clouds")  # doctest: +SKIP
    >>> outputs = await model.infer({"image": batch})  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        poll_s: float = 1.0,
        request_timeout_s: float = 30.0,
        observer: Observer | None = None,
    ) -> None:
        self.root = Path(os.fspath(root))
        self.poll_s = poll_s
        self.request_timeout_s = request_timeout_s
        self.observer = observer
        self._models: dict[str, _ModelEntry] = {}
        self._lock = threading.Lock()  # guards _models; held for swaps, never for loads
        #: name -> its highest loaded version, replaced whole under _lock after every
        #: change, so get() of a served model reads it without taking the lock.
        self._latest: dict[str, LoadedModel] = {}
        self._scan_lock = threading.Lock()  # one scan or load/unload at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scanned = threading.Event()

    # -- reading ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the models with at least one loaded version."""
        with self._lock:
            return sorted(n for n, e in self._models.items() if e.versions)

    def versions(self, name: str) -> list[str]:
        """The loaded versions of ``name``, lowest first (empty when none)."""
        check_safe_name("name", name)
        with self._lock:
            entry = self._models.get(name)
            return sorted(entry.versions, key=version_key) if entry else []

    def errors(self, name: str) -> dict[str, str]:
        """Version -> load error of the versions of ``name`` that failed to load."""
        with self._lock:
            entry = self._models.get(name)
            return {v: e for v, (_, e) in entry.failed.items()} if entry else {}

    def get(self, name: str, version: str | None = None) -> LoadedModel:
        """The loaded model ``name`` at ``version`` (default: the highest loaded).

        Raises
        ------
        InvalidInputError
            An unsafe name or version (``..``, a separator, NUL ...).
        ModelNotFoundError
            No such model, or that version is not loaded (the message says why).
        """
        if version is None:
            # The common case, once per request: a served name is a safe name already.
            served = self._latest.get(name)
            if served is not None:
                return served
        check_safe_name("name", name)
        if version is not None:
            check_safe_name("version", version)
        with self._lock:
            entry = self._models.get(name)
            loaded = dict(entry.versions) if entry else {}
            failed = {v: e for v, (_, e) in entry.failed.items()} if entry else {}
        if not loaded and not failed:
            raise ModelNotFoundError(f"no model named {name!r} is served")
        if version is None:
            if not loaded:
                raise ModelNotFoundError(
                    f"model {name!r} has no loaded version: "
                    + "; ".join(f"version {v}: {e}" for v, e in failed.items())
                )
            return loaded[max(loaded, key=version_key)]
        if version in loaded:
            return loaded[version]
        if version in failed:
            raise ModelNotFoundError(
                f"model {name!r} version {version!r} failed to load: {failed[version]}"
            )
        raise ModelNotFoundError(
            f"model {name!r} has no loaded version {version!r} "
            f"(loaded: {sorted(loaded, key=version_key)})"
        )

    # -- keeping in step with the folder --------------------------------------------------

    def _disk_versions(self, name: str) -> dict[str, tuple]:
        folder = self.root / name
        found = {}
        try:
            children = list(folder.iterdir())
        except OSError:
            return {}
        for child in children:
            if not (_is_safe(child.name) and child.is_dir()):
                continue  # hidden (.partial-...) folders and odd names are never versions
            if not child.resolve().is_relative_to(self.root.resolve()):
                continue  # a symlink leading out of the repository
            sig = _signature(child)
            if sig is not None:
                found[child.name] = sig
        return found

    def _settings_of(self, name: str, bundle: Bundle) -> BatchSettings:
        import yaml

        settings = BatchSettings().merged(bundle.metadata.get("serving"), f"bundle {bundle.path}")
        config = self.root / name / CONFIG_YAML
        if config.is_file():
            try:
                data = yaml.safe_load(config.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
                raise BundleError(f"{config}: cannot read: {err}") from None
            settings = settings.merged(data, str(config))
        return settings

    def _load_version(self, name: str, version: str) -> LoadedModel:
        bundle = read_bundle(self.root / name / version)
        return LoadedModel(
            name,
            version,
            bundle,
            self._settings_of(name, bundle),
            request_timeout_s=self.request_timeout_s,
            observer=self.observer,
        )

    def _sync(self, name: str, *, force: bool = False) -> None:
        """Bring model ``name`` in step with its folder (caller holds _scan_lock)."""
        with self._lock:
            entry = self._models.setdefault(name, _ModelEntry())
            if entry.unloaded and not force:
                return
            entry.unloaded = False
        on_disk = self._disk_versions(name)
        for version, sig in sorted(on_disk.items(), key=lambda kv: version_key(kv[0])):
            loaded = entry.versions.get(version)
            if loaded is not None and getattr(loaded, "_signature", None) == sig:
                continue
            failed = entry.failed.get(version)
            if failed is not None and failed[0] == sig and not force:
                continue
            try:
                model = self._load_version(name, version)
            except SatlearnError as err:
                with self._lock:
                    entry.failed[version] = (sig, str(err))
                log.error(
                    "model %s version %s failed to load; %s",
                    name,
                    version,
                    "the loaded versions keep serving" if entry.versions else "not served",
                    extra={"model": name, "version": version, "error": str(err)},
                )
                continue
            model._signature = sig  # type: ignore[attr-defined]
            with self._lock:  # the swap: one assignment, readers see old or new
                old = entry.versions.get(version)
                entry.versions[version] = model
                entry.failed.pop(version, None)
                self._publish()
            if old is not None:
                old.retire()
            log.info(
                "model %s version %s loaded",
                name,
                version,
                extra={"model": name, "version": version},
            )
        gone = [v for v in set(entry.versions) | set(entry.failed) if v not in on_disk]
        for version in gone:
            folder = self.root / name / version
            if version in entry.versions and folder.is_dir() and (folder / BUNDLE_JSON).exists():
                continue  # bundle.json being rewritten in place: keep serving until it parses
            with self._lock:
                old = entry.versions.pop(version, None)
                entry.failed.pop(version, None)
                self._publish()
            if old is not None:
                old.retire()
                log.info(
                    "model %s version %s removed",
                    name,
                    version,
                    extra={"model": name, "version": version},
                )

    def scan(self) -> None:
        """Scan the repository once: load new and changed versions, unload removed ones."""
        with self._scan_lock:
            try:
                names = {p.name for p in self.root.iterdir() if _is_safe(p.name) and p.is_dir()}
            except OSError as err:
                log.error("model repository %s cannot be read: %s", self.root, err)
                names = set()
            with self._lock:
                known = set(self._models)
            for name in sorted(names | known):
                try:
                    self._sync(name)
                except Exception:  # the watcher must outlive any one model's surprise
                    log.exception("model %s: scan failed", name, extra={"model": name})
            self.scanned.set()

    def load(self, name: str) -> list[str]:
        """Load (or reload) every version of ``name`` now; the loaded versions.

        Raises
        ------
        ModelNotFoundError
            No folder ``name``, or no version of it loads (the message says why).
        """
        check_safe_name("name", name)
        if not (self.root / name).is_dir():
            raise ModelNotFoundError(f"no model named {name!r} in the repository")
        with self._scan_lock:
            self._sync(name, force=True)
        versions = self.versions(name)
        if not versions:
            errors = self.errors(name)
            raise ModelNotFoundError(
                f"model {name!r} has no version that loads"
                + (
                    ": " + "; ".join(f"version {v}: {e}" for v, e in errors.items())
                    if errors
                    else ""
                )
            )
        return versions

    def unload(self, name: str) -> None:
        """Unload every version of ``name``; the watcher leaves it unloaded until :meth:`load`.

        Raises
        ------
        ModelNotFoundError
            No such model is known.
        """
        check_safe_name("name", name)
        with self._scan_lock, self._lock:
            entry = self._models.get(name)
            if entry is None:
                raise ModelNotFoundError(f"no model named {name!r} is served")
            old = list(entry.versions.values())
            entry.versions.clear()
            entry.failed.clear()
            entry.unloaded = True
            self._publish()
        for model in old:
            model.retire()

    def _publish(self) -> None:
        # Caller holds _lock. A new mapping, never one changed in place: a reader
        # without the lock sees the old one or the new one, whole.
        self._latest = {
            name: entry.versions[max(entry.versions, key=version_key)]
            for name, entry in self._models.items()
            if entry.versions
        }

    def all_loaded(self) -> list[LoadedModel]:
        """Every loaded version of every model."""
        with self._lock:
            return [m for e in self._models.values() for m in e.versions.values()]

    # -- the watcher ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the watcher thread (rescans every ``poll_s`` seconds) if not running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name="satlearn-serve-watch", daemon=True
        )
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.scan()
            except Exception:  # keep watching whatever happened
                log.exception("model repository scan failed")

    def stop(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    async def drain(self) -> None:
        """Answer every queued request of every loaded model (graceful shutdown)."""
        await asyncio.gather(*(m.batcher.drain() for m in self.all_loaded()))
