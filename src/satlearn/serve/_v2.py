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
import re
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from satlearn import __version__
from satlearn.errors import InvalidInputError, SatlearnError
from satlearn.serve._errors import error_status
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

__all__ = [
    "HEADER_LENGTH",
    "InferMiddleware",
    "infer_answer",
    "infer_response",
    "parse_infer_request",
    "v2_router",
]

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
        # Not a string (a list, an object): unhashable, and never a model input's name.
        if not isinstance(name, str) or name not in specs:
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


def _flag(value: Any, name: str) -> bool:
    """A JSON boolean parameter; ``"false"`` or ``0`` is refused, not taken as true."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"parameter {name!r} must be true or false, got {value!r}")
    return value


def _requested(doc: dict[str, Any], model: LoadedModel) -> list[tuple[str, bool]]:
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise InvalidInputError("'parameters' must be an object")
    binary_all = _flag(params.get("binary_data_output", False), "binary_data_output")
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
        out.append((o["name"], _flag(p.get("binary_data", binary_all), "binary_data")))
    return out


#: Dtypes orjson writes exactly from a numpy array (dtype objects: ``dtype.name``
#: is computed in Python on every access, a tenth of the answer's cost).
_ORJSON_EXACT = frozenset(
    np.dtype(t)
    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
)
_FLOATS = frozenset((np.dtype("float32"), np.dtype("float64")))


def _json_data(array: np.ndarray) -> Any:
    """An output's ``data``: the array itself where orjson writes it exactly, else a list."""
    # orjson writes numpy arrays natively (no Python float per value), but NaN and
    # Infinity as null: non-finite floats go through tolist() and the json module.
    dtype = array.dtype
    if dtype in _ORJSON_EXACT or (dtype in _FLOATS and bool(np.isfinite(array).all())):
        return array.ravel()
    return array.ravel().tolist()


def infer_answer(
    model: LoadedModel, doc: dict[str, Any], outputs: dict[str, np.ndarray]
) -> tuple[bytes, str, dict[str, str]]:
    """The V2 answer's body, content type and extra headers.

    JSON, or the JSON header followed by the raw tensors when any output is
    binary (its length in ``Inference-Header-Content-Length``).
    """
    head: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if isinstance(doc.get("id"), str):
        head["id"] = doc["id"]
    head["outputs"] = []
    blobs = []
    plain = True
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
            entry["data"] = data = _json_data(array)
            plain = plain and not isinstance(data, list)
        head["outputs"].append(entry)
    if plain:
        text = orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY)
    else:
        text = json.dumps(head, separators=(",", ":"), default=_listed).encode()
    if not blobs:
        return text, "application/json", {}
    return b"".join([text, *blobs]), "application/octet-stream", {HEADER_LENGTH: str(len(text))}


def _listed(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def infer_response(
    model: LoadedModel, doc: dict[str, Any], outputs: dict[str, np.ndarray]
) -> Response:
    """The V2 answer as a Response (see :func:`infer_answer`)."""
    body, media_type, headers = infer_answer(model, doc, outputs)
    return Response(body, media_type=media_type, headers=headers or None)


_INFER_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


class InferMiddleware:
    """The V2 infer routes as a lean, pure ASGI path in front of FastAPI.

    ``POST /v2/models/{name}[/versions/{v}]/infer`` is answered here without
    FastAPI's routing, dependency solving and Request objects (measured: they
    were most of the server's ~1.3 ms of CPU per request); everything else, and
    the OpenAPI schema of these routes, stays FastAPI's. The answers are the
    routes' own: the same parsing (:func:`parse_infer_request`), answer
    (:func:`infer_answer`) and error statuses
    (:func:`~satlearn.serve._errors.error_status`); ``scope["route"]`` and
    ``scope["state"]`` are set as FastAPI sets them, so the request middleware's
    metrics and logs label the request the same.

    Parameters
    ----------
    app : ASGI app
        The FastAPI app (everything that is not an infer request).
    repository : ModelRepository
    routes : dict of str to route
        The FastAPI routes by path, for ``scope["route"]``.
    overload_status : int
        The answer to a full queue (503 or 429).
    """

    def __init__(
        self, app: Any, *, repository: ModelRepository, routes: dict[str, Any], overload_status: int
    ) -> None:
        self.app = app
        self.repository = repository
        self.routes = routes
        self.overload_status = overload_status

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = _INFER_PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        name, version = match.groups()
        route = self.routes.get(
            "/v2/models/{name}/versions/{version}/infer" if version else "/v2/models/{name}/infer"
        )
        if route is not None:
            scope["route"] = route
        try:
            body, media_type, headers = await self._answer(scope, receive, name, version)
            status = 200
        except SatlearnError as err:
            status, extra = error_status(err, self.overload_status)
            body, media_type = orjson.dumps({"error": str(err)}), "application/json"
            headers = extra or {}
        except _Disconnected:
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", media_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *((k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: dict, receive: Any, name: str, version: str | None
    ) -> tuple[bytes, str, dict[str, str]]:
        model = self.repository.get(name, version)
        state = scope.setdefault("state", {})
        state["model"], state["model_version"] = model.name, model.version
        model.batcher.check_room()  # refuse before reading the body (uvicorn drops it)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        header_length = None
        for key, value in scope["headers"]:
            if key.lower() == b"inference-header-content-length":
                header_length = value.decode("latin-1")
                break
        inputs, doc = parse_infer_request(body, header_length, model)
        _requested(doc, model)  # refuse unknown outputs before running the model
        outputs = await model.infer(inputs)
        return infer_answer(model, doc, outputs)


class _Disconnected(Exception):
    """The client went away before its body arrived."""


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
