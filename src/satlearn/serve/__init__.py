"""The model server: satlearn bundles behind the Open Inference Protocol and TF-Serving REST.

``satlearn serve --models DIR`` runs :func:`create_app` on uvicorn. The
repository (``DIR/NAME/VERSION/`` bundles) is watched and swapped safely
(:class:`ModelRepository`), each model's requests are batched dynamically
behind a bounded queue (:class:`Batcher`), and the protocols are:

* the Open Inference Protocol (KServe V2) with binary tensors, under ``/v2``;
* TensorFlow Serving's REST API, under ``/v1/models``;
* image endpoints for people (``:classify``, ``:segment``, ``:detect``);
* the STAC API of a catalogue under ``/stac`` when ``--catalog`` is given;
* Prometheus metrics at ``/metrics``.

Examples
--------
>>> from satlearn.serve import ServeSettings, create_app
>>> app = create_app(ServeSettings(models="models"))  # doctest: +SKIP
"""

from __future__ import annotations

from satlearn.serve._app import create_app
from satlearn.serve._batcher import Batcher
from satlearn.serve._metrics import JsonFormatter, ServeMetrics, configure_logging
from satlearn.serve._repository import LoadedModel, ModelRepository, TensorSpec
from satlearn.serve._settings import BatchSettings, ServeSettings

__all__ = [
    "BatchSettings",
    "Batcher",
    "JsonFormatter",
    "LoadedModel",
    "ModelRepository",
    "ServeMetrics",
    "ServeSettings",
    "TensorSpec",
    "configure_logging",
    "create_app",
]
