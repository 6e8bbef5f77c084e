"""Training and evaluation of the deep-learning models (plain torch).

``train(config) -> TrainResult`` learns a task from a
:class:`~satlearn.train.config.TrainConfig` (YAML or Python) and writes a
bundle; ``evaluate(bundle_dir, data) -> dict`` scores a bundle's ONNX graph
on labelled data. The CLI verbs ``satlearn train`` and ``satlearn evaluate``
are thin faces over the two.

Examples
--------
>>> from satlearn.train import TrainConfig
>>> TrainConfig.from_dict({"task": "classification", "model": {"name": "resnet-classifier"},
...     "data": {"kind": "synthetic", "target": "landcover-chips"}}).stop_metric
'macro_f1'
"""

from __future__ import annotations

from satlearn.train.config import TASKS, TrainConfig
from satlearn.train.evaluate import evaluate
from satlearn.train.loop import TrainResult, train

__all__ = ["TASKS", "TrainConfig", "TrainResult", "evaluate", "train"]
