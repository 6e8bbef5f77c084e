"""Atomic outputs: write to a temporary sibling, rename into place on success.

An interrupted run never leaves a half-written file under its final name, so a
file that exists under its final name is complete, and a resumed run may skip
it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "temporary_sibling", "write_json"]


def temporary_sibling(path: Path, tag: str = "partial") -> Path:
    """A hidden temporary name in the same folder as ``path`` (same filesystem)."""
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` if the block succeeds.

    Examples
    --------
    >>> with atomic_output("out/report.txt") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("done")
    """
    target = Path(os.fspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = temporary_sibling(target)
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return Path(os.fspath(path))
