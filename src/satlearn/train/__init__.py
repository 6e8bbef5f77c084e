"""Training and evaluation of the deep-learning models (plain torch).

``train(config) -> TrainResult`` learns a task from a
:class:`~satlearn.train.config.TrainConfig` (YAML or Python) and writes a
bundle; ``evaluate(bundle_dir, data) -> dict`` scores a bundle's ONNX graph
on labelled data. The CLI verbs ``satlearn train`` and ``satlearn evaluate``
are thin faces over the two.

Only the configuration is imported with the package: :func:`train`,
:class:`TrainResult` and :func:`evaluate` load on first use (PEP 562), so a
config can be checked without waiting seconds for torch to import.

Examples
--------
>>> from satlearn.train import TrainConfig
>>> TrainConfig.from_dict({"task": "classification", "model": {"name": "resnet-classifier"},
...     "data": {"kind": "synthetic", "target": "landcover-chips"}}).stop_metric
'macro_f1'
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from satlearn.train.config import TASKS, TrainConfig

if TYPE_CHECKING:
    from satlearn.train.evaluate import evaluate
    from satlearn.train.loop import TrainResult, train

__all__ = ["TASKS", "TrainConfig", "TrainResult", "evaluate", "train"]

# Names whose modules import torch (or scipy, through the metrics), imported
# when first asked for.
_LAZY = {"TrainResult": "satlearn.train.loop", "train": "satlearn.train.loop"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'satlearn.train' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "evaluate"})


class _Package(types.ModuleType):
    # ``evaluate`` names both the function and its submodule. Importing the
    # submodule (from anywhere) makes the import system set this package's
    # ``evaluate`` attribute to the module, which would shadow the function;
    # a property ignores that assignment and always answers the function.
    @property
    def evaluate(self) -> Any:
        from satlearn.train.evaluate import evaluate

        return evaluate

    @evaluate.setter
    def evaluate(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package
