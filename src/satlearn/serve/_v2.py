"""The Open Inference Protocol (KServe V2) over HTTP, with the binary tensor extension.

Routes: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
``/v2/models/{name}[/versions/{v}]`` (metadata), ``.../ready`` and ``POST
.../infer``; ``POST /v2/repository/index`` and
``/v2/repository/models/{name}/load|unload`` for explicit control.

A binary request's body is the JSON header (``Inference-Header-Content-Length``
bytes) followed by the raw tensors of the inputs whose ``parameters`` give a
``binary_data_size``, in input order. Outputs asked for with ``"binary_data":
true`` (or every output with the request parameter ``binary_data_output``)
come back the same way.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from satlearn import __version__
from satlearn.errors import InvalidInputError
from satlearn.serve._repository import LoadedModel, ModelRepository
from satlearn.serve._tensors import (
    V2_TO_NUMPY,
    check_against,
    check_shape,
    decode_binary,
    decode_json_data,
    loads,
    protocol_shape,
    v2_datatype,
)

__all__ = ["HEADER_LENGTH", "parse_infer_request", "v2_router"]

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSIONS = ["binary_tensor_data", "model_repository"]


def _repo(request: Request) -> ModelRepository:
    return request.app.state.repository


def model_metadata(repo: ModelRepository, model: LoadedModel) -> dict[str, Any]:
    """The V2 metadata of a loaded model (with load errors of its other versions)."""
    meta: dict[str, Any] = {
        "name": model.name,
        "versions": repo.versions(model.name),
        "platform": "onnxruntime_onnx",
        "inputs": [
            {"name": s.name, "datatype": v2_datatype(s.dtype), "shape": protocol_shape(s.shape)}
            for s in model.inputs
        ],
        "outputs": [
            {"name": s.name, "datatype": v2_datatype(s.dtype), "shape": protocol_shape(s.shape)}
            for s in model.outputs
        ],
        "parameters": {
            "version": model.version,
            "task": model.bundle.task,
            "bands": list(model.bundle.bands),
            "max_batch_size": model.settings.max_batch_size,
        },
    }
    errors = repo.errors(model.name)
    if errors:
        meta["load_errors"] = [{"version": v, "error": e} for v, e in errors.items()]
    return meta


def _parse_header(body: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            size = -1
        if not 0 <= size <= len(body):
            raise InvalidInputError(
                f"{HEADER_LENGTH} must be a whole number of bytes within the body "
                f"({len(body)} bytes), got {header_length!r}"
            )
        head, rest = body[:size], memoryview(body)[size:]
    else:
        head, rest = body, memoryview(b"")
    try:
        doc = loads(head)
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidInputError(f"the request is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidInputError("the request must be a JSON object with 'inputs'")
    return doc, rest


def parse_infer_request(
    body: bytes, header_length: str | None, model: LoadedModel
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The inputs of a V2 infer request, checked against ``model``, and the request doc.

    Raises
    ------
    InvalidInputError
        Malformed JSON, an unknown, missing or repeated input, a wrong datatype
        or shape, or binary sizes that do not add up; the message says what was
        expected.
    """
    doc, rest = _parse_header(body, header_length)
    given = doc.get("inputs")
    if not isinstance(given, list) or not all(isinstance(t, dict) for t in given):
        raise InvalidInputError("'inputs' must be a list of tensor objects")
    specs = {s.name: s for s in model.inputs}
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for tensor in given:
        name = tensor.get("name")
        if name not in specs:
            raise InvalidInputError(
                f"unknown input {name!r}; model {model.name} takes {sorted(specs)}"
            )
        if name in inputs:
            raise InvalidInputError(f"input {name!r} is given twice")
        spec = specs[name]
        what = f"input {name!r}"
        expected = v2_datatype(spec.dtype)
        if tensor.get("datatype") != expected:
            raise InvalidInputError(
                f"{what} has datatype {tensor.get('datatype')!r}; the model expects {expected}"
            )
        shape = check_shape(tensor.get("shape"), what)
        check_against(spec, shape, model.bundle.bands, what)
        dtype = V2_TO_NUMPY[expected]
        params = tensor.get("parameters") or {}
        if not isinstance(params, dict):
            raise InvalidInputError(f"{what}: 'parameters' must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidInputError(f"{what}: binary_data_size must be a whole number >= 0")
            if offset + size > len(rest):
                raise InvalidInputError(
                    f"{what}: binary_data_size {size} runs past the end of the body "
                    f"({len(rest) - offset} bytes left after the JSON header)"
                )
            inputs[name] = decode_binary(rest[offset : offset + size], shape, dtype, what)
            offset += size
        else:
            if "data" not in tensor:
                raise InvalidInputError(f"{what} has neither 'data' nor a binary_data_size")
            inputs[name] = decode_json_data(tensor["data"], shape, dtype, len(body), what)
    if offset != len(rest):
        raise InvalidInputError(
            f"the body holds {len(rest) - offset} bytes after the binary inputs it declares"
        )
    missing = sorted(set(specs) - set(inputs))
    if missing:
        raise InvalidInputError(
            f"missing input(s) {missing}; model {model.name} takes {sorted(specs)}"
        )
    return inputs, doc


def _requested(doc: dict[str, Any], model: LoadedModel) -> list[tuple[str, bool]]:
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object")
    binary_all = bool(params.get("binary_data_output", False))
    wanted = doc.get("outputs")
    names = [s.name for s in model.outputs]
    if wanted is None:
        return [(n, binary_all) for n in names]
    if not isinstance(wanted, list) or not all(isinstance(o, dict) for o in wanted):
        raise InvalidInputError("'outputs' must be a list of objects with a 'name'")
    out = []
    for o in wanted:
        if o.get("name") not in names:
            raise InvalidInputError(
                f"unknown output {o.get('name')!r}; model {model.name} gives {names}"
            )
        p = o.get("parameters") or {}
        if not isinstance(p, dict):
            raise InvalidInputError("an output's 'parameters' must be an object")
        out.append((o["name"], bool(p.get("binary_data", binary_all))))
    return out


def infer_response(
    model: LoadedModel, doc: dict[str, Any], outputs: dict[str, np.ndarray]
) -> Response:
    """The V2 answer: JSON, or JSON header plus raw tensors when any output is binary."""
    head: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if isinstance(doc.get("id"), str):
        head["id"] = doc["id"]
    head["outputs"] = []
    blobs = []
    for name, binary in _requested(doc, model):
        array = np.ascontiguousarray(outputs[name])
        entry: dict[str, Any] = {
            "name": name,
            "datatype": v2_datatype(array.dtype),
            "shape": list(array.shape),
        }
        if binary:
            raw = array.tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            entry["data"] = array.ravel().tolist()
        head["outputs"].append(entry)
    text = json.dumps(head, separators=(",", ":")).encode()
    if not blobs:
        return Response(text, media_type="application/json")
    return Response(
        b"".join([text, *blobs]),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(text))},
    )


def v2_router() -> APIRouter:
    """The Open Inference Protocol routes (they read ``request.app.state.repository``)."""
    router = APIRouter(tags=["Open Inference Protocol (KServe V2)"])

    @router.get("/v2")
    def server_metadata() -> dict[str, Any]:
        return {"name": "satlearn", "version": __version__, "extensions": EXTENSIONS}

    @router.get("/v2/health/live")
    def live() -> dict[str, Any]:
        return {"live": True}

    @router.get("/v2/health/ready")
    def ready(request: Request) -> JSONResponse:
        ok = _repo(request).scanned.is_set() and not getattr(request.app.state, "stopping", False)
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    def _metadata(request: Request, name: str, version: str | None) -> dict[str, Any]:
        repo = _repo(request)
        return model_metadata(repo, repo.get(name, version))

    @router.get("/v2/models/{name}")
    def metadata(request: Request, name: str) -> dict[str, Any]:
        return _metadata(request, name, None)

    @router.get("/v2/models/{name}/versions/{version}")
    def version_metadata(request: Request, name: str, version: str) -> dict[str, Any]:
        return _metadata(request, name, version)

    def _ready(request: Request, name: str, version: str | None) -> JSONResponse:
        model = _repo(request).get(name, version)
        return JSONResponse({"name": model.name, "version": model.version, "ready": True})

    @router.get("/v2/models/{name}/ready")
    def model_ready(request: Request, name: str) -> JSONResponse:
        return _ready(request, name, None)

    @router.get("/v2/models/{name}/versions/{version}/ready")
    def version_ready(request: Request, name: str, version: str) -> JSONResponse:
        return _ready(request, name, version)

    async def _infer(request: Request, name: str, version: str | None) -> Response:
        model = _repo(request).get(name, version)
        request.state.model, request.state.model_version = model.name, model.version
        body = await request.body()
        inputs, doc = parse_infer_request(body, request.headers.get(HEADER_LENGTH), model)
        _requested(doc, model)  # refuse unknown outputs before running the model
        outputs = await model.infer(inputs)
        return infer_response(model, doc, outputs)

    @router.post("/v2/models/{name}/infer")
    async def infer(request: Request, name: str) -> Response:
        return await _infer(request, name, None)

    @router.post("/v2/models/{name}/versions/{version}/infer")
    async def version_infer(request: Request, name: str, version: str) -> Response:
        return await _infer(request, name, version)

    @router.post("/v2/repository/index")
    def repository_index(request: Request) -> list[dict[str, Any]]:
        repo = _repo(request)
        out = []
        for name in repo.names():
            for version in repo.versions(name):
                out.append({"name": name, "version": version, "state": "READY"})
        return out

    @router.post("/v2/repository/models/{name}/load")
    async def load(request: Request, name: str) -> dict[str, Any]:
        versions = await asyncio.to_thread(_repo(request).load, name)
        return {"name": name, "versions": versions, "loaded": True}

    @router.post("/v2/repository/models/{name}/unload")
    async def unload(request: Request, name: str) -> dict[str, Any]:
        await asyncio.to_thread(_repo(request).unload, name)
        return {"name": name, "loaded": False}

    return router
