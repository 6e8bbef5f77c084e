"""satlearn: satellite imagery from raw bands to answers.

The top level holds only the few names most code needs; everything else lives
in its own module (:mod:`satlearn.raster`, :mod:`satlearn.bands`,
:mod:`satlearn.synth`, :mod:`satlearn.errors`).

:func:`open_raster` and :func:`save_cog` are imported on first use (PEP 562):
:mod:`satlearn.raster` brings rioxarray, xarray, dask and pandas (about 1.2 s),
which ``satlearn --help`` and a config check should not wait for.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from satlearn.errors import SatlearnError

# satlearn makes no network call but to the addresses it is given. ONNX Runtime
# (1.29+, Linux) starts a telemetry uploader with its first session that looks up
# mobile.events.data.microsoft.com every few seconds (seen with strace); only this
# variable, set before onnxruntime is imported, stops it (disable_telemetry_events()
# afterwards does not). Set here, it reaches every import of onnxruntime that comes
# through satlearn and every child process (servers, dask workers); "0" keeps it on.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from satlearn.raster import open_raster, save_cog

__version__ = "0.1.0"

__all__ = ["SatlearnError", "__version__", "open_raster", "save_cog"]

# Public names that live in a heavy module, imported when first asked for.
_LAZY = {"open_raster": "satlearn.raster", "save_cog": "satlearn.raster"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'satlearn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
