"""The server's settings (flags or a YAML file) and each model's batching settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from satlearn.errors import InvalidInputError

__all__ = ["BatchSettings", "ServeSettings"]


class ServeSettings(BaseModel):
    """Settings of ``satlearn serve`` (every flag; a YAML file may give them all).

    Attributes
    ----------
    models : pathlib.Path
        The model repository: ``MODELS/NAME/VERSION/`` bundles.
    catalog : pathlib.Path, optional
        A STAC catalogue served as a STAC API under ``/stac``.
    host, port : str, int
        Where to listen; 127.0.0.1 by default, so nothing is exposed unasked.
    poll_s : float
        How often the repository is scanned for new, changed or removed versions.
    max_body_mb : float
        The largest request body accepted (larger ones: 413).
    request_timeout_s : float
        The longest a request may wait for its answer (queue and model; then 504).
    overload_status : int
        The status of a request refused because its model's queue is full: 503
        (the default) or 429.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: Path
    catalog: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    poll_s: float = Field(default=1.0, gt=0)
    max_body_mb: float = Field(default=64, gt=0)
    request_timeout_s: float = Field(default=30, gt=0)
    overload_status: int = 503

    @field_validator("overload_status")
    @classmethod
    def _overload_status(cls, value: int) -> int:
        if value not in (429, 503):
            raise ValueError("overload_status must be 503 or 429")
        return value

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], **overrides: Any) -> ServeSettings:
        """Settings read from a YAML mapping; relative paths are relative to the file.

        Parameters
        ----------
        path : path
            The YAML file (keys: the attributes above).
        **overrides
            Values that replace the file's (flags given beside ``--settings``).

        Raises
        ------
        InvalidInputError
            The file cannot be read, is not a mapping, or holds an unknown key or
            a bad value (the message names it).
        """
        import yaml

        file = Path(os.fspath(path))
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise InvalidInputError(f"serve settings {file}: cannot read: {err}") from None
        if not isinstance(data, dict):
            raise InvalidInputError(f"serve settings {file}: must be a mapping of settings")
        for key in ("models", "catalog"):
            if isinstance(data.get(key), str) and not Path(data[key]).is_absolute():
                data[key] = file.parent / data[key]
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except ValidationError as err:
            raise InvalidInputError(f"serve settings {file}: {_first_problem(err)}") from None


def _first_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"]) or "settings"
    return f"{where}: {problem['msg']}"


@dataclass(frozen=True)
class BatchSettings:
    """How one model's requests are batched (bundle.json ``serving`` or ``NAME/config.yaml``).

    The defaults need no tuning on a laptop: a request waits at most 2 ms for
    company, so a lone request is not slowed, and a busy model runs up to 16
    requests in one forward pass.

    Attributes
    ----------
    max_batch_size : int
        The most requests run together.
    max_queue_delay_ms : float
        The longest the first request of a batch waits for others.
    max_queue : int
        Requests waiting beyond this are refused at once (503/429), so latency
        stays bounded under overload.
    instances : int
        ONNX Runtime sessions (and worker threads) of the model.
    """

    max_batch_size: int = 16
    max_queue_delay_ms: float = 2.0
    max_queue: int = 64
    instances: int = 1

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> BatchSettings:
        """Settings from a mapping; unknown keys and bad values are refused."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InvalidInputError(f"{where}: serving settings must be a mapping")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidInputError(
                f"{where}: unknown serving setting(s) {unknown}; known: {sorted(known)}"
            )
        values = dict(data)
        for key, value in values.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "max_queue_delay_ms":
                ok = ok and isinstance(value, int)
            if not ok or value < (0 if key == "max_queue_delay_ms" else 1):
                raise InvalidInputError(
                    f"{where}: serving setting {key} must be a "
                    f"{'number >= 0' if key == 'max_queue_delay_ms' else 'whole number >= 1'}, "
                    f"got {value!r}"
                )
        return cls(**values)

    def merged(self, data: Any, where: str) -> BatchSettings:
        """These settings with ``data``'s values replacing theirs."""
        override = BatchSettings.from_mapping(data, where)
        given = set(data or {})
        return BatchSettings(
            **{f.name: getattr(override if f.name in given else self, f.name) for f in fields(self)}
        )
