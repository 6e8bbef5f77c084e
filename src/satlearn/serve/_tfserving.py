"""TensorFlow Serving's REST API: model status and ``:predict`` (row and columnar).

``GET /v1/models/{name}[/versions/{v}]`` answers ``model_version_status``;
``POST /v1/models/{name}[/versions/{v}]:predict`` takes ``{"instances": [...]}``
(one entry per example; a dict of inputs when the model has several) or
``{"inputs": ...}`` (whole batched tensors) and answers ``{"predictions":
[...]}`` or ``{"outputs": ...}`` in the same layout. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from satlearn.errors import InvalidInputError
from satlearn.serve._repository import LoadedModel
from satlearn.serve._tensors import check_against, loads, to_array

__all__ = ["parse_predict_request", "tfserving_router"]


def _array(value: Any, spec: Any, bands: Any, body_size: int, what: str) -> np.ndarray:
    # Nested lists can hold at most one number per two body bytes: checked by size below.
    array = to_array(value, spec.dtype, what)
    check_against(spec, array.shape, bands, what)
    return array


def _columnar(doc: Any, model: LoadedModel, size: int) -> dict[str, np.ndarray]:
    specs = {s.name: s for s in model.inputs}
    if not isinstance(doc, dict) or set(doc) != set(specs):
        if len(specs) == 1 and not isinstance(doc, dict):
            doc = {next(iter(specs)): doc}
        else:
            raise InvalidInputError(f"'inputs' must name every model input: {sorted(specs)}")
    return {
        n: _array(v, specs[n], model.bundle.bands, size, f"input {n!r}") for n, v in doc.items()
    }


def _rows(instances: Any, model: LoadedModel, size: int) -> dict[str, np.ndarray]:
    if not isinstance(instances, list) or not instances:
        raise InvalidInputError("'instances' must be a non-empty list, one entry per example")
    specs = {s.name: s for s in model.inputs}
    if len(specs) == 1:
        name = next(iter(specs))
        instances = [i[name] if isinstance(i, dict) and set(i) == {name} else i for i in instances]
        columns = {name: instances}
    else:
        if not all(isinstance(i, dict) and set(i) == set(specs) for i in instances):
            raise InvalidInputError(
                f"each instance must be an object of every model input: {sorted(specs)}"
            )
        columns = {n: [i[n] for i in instances] for n in specs}
    return {
        n: _array(v, specs[n], model.bundle.bands, size, f"input {n!r}") for n, v in columns.items()
    }


def parse_predict_request(body: bytes, model: LoadedModel) -> tuple[dict[str, np.ndarray], bool]:
    """The inputs of a ``:predict`` body checked against ``model``, and whether it was row format.

    Raises
    ------
    InvalidInputError
        Not JSON, neither or both of ``instances`` and ``inputs``, or tensors the
        model cannot take; the message says what was expected.
    """
    try:
        doc = loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInputError(f"the request is not valid JSON: {err}") from None
    if not isinstance(doc, dict) or ("instances" in doc) == ("inputs" in doc):
        raise InvalidInputError("the request must be an object with 'instances' or 'inputs'")
    row = "instances" in doc
    inputs = (_rows if row else _columnar)(doc["instances" if row else "inputs"], model, len(body))
    return inputs, row


def tfserving_router() -> APIRouter:
    """The TF-Serving REST routes (they read ``request.app.state.repository``)."""
    router = APIRouter(tags=["TensorFlow Serving REST"])

    def _status(request: Request, name: str, version: str | None) -> dict[str, Any]:
        repo = request.app.state.repository
        versions = [version] if version is not None else repo.versions(name)
        errors = repo.errors(name)
        if version is None:
            versions = sorted(set(versions) | set(errors))
        if not versions:
            repo.get(name)  # raises the right ModelNotFoundError
        out = []
        for v in versions:
            if v in errors:
                out.append(
                    {
                        "version": v,
                        "state": "END",
                        "status": {"error_code": "UNKNOWN", "error_message": errors[v]},
                    }
                )
            else:
                repo.get(name, v)
                out.append(
                    {
                        "version": v,
                        "state": "AVAILABLE",
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                )
        return {"model_version_status": out}

    @router.get("/v1/models/{name}")
    def status(request: Request, name: str) -> dict[str, Any]:
        return _status(request, name, None)

    @router.get("/v1/models/{name}/versions/{version}")
    def version_status(request: Request, name: str, version: str) -> dict[str, Any]:
        return _status(request, name, version)

    async def _predict(request: Request, name: str, version: str | None) -> dict[str, Any]:
        model = request.app.state.repository.get(name, version)
        request.state.model, request.state.model_version = model.name, model.version
        inputs, row = parse_predict_request(await request.body(), model)
        outputs = await model.infer(inputs)
        names = [s.name for s in model.outputs]
        if row:
            count = len(next(iter(inputs.values())))
            if len(names) == 1:
                return {"predictions": outputs[names[0]].tolist()}
            return {
                "predictions": [{n: outputs[n][i].tolist() for n in names} for i in range(count)]
            }
        if len(names) == 1:
            return {"outputs": outputs[names[0]].tolist()}
        return {"outputs": {n: outputs[n].tolist() for n in names}}

    @router.post("/v1/models/{name}:predict")
    async def predict(request: Request, name: str) -> dict[str, Any]:
        return await _predict(request, name, None)

    @router.post("/v1/models/{name}/versions/{version}:predict")
    async def version_predict(request: Request, name: str, version: str) -> dict[str, Any]:
        return await _predict(request, name, version)

    return router
