"""Observability and limits: Prometheus metrics, request ids, JSON logs, the body limit.

:class:`ServeMetrics` holds the server's own Prometheus registry (so two apps
in one process do not clash): requests by route, model, version and status;
latency; batch sizes; queue depth. :class:`RequestMiddleware` (plain ASGI, so
it adds no task per request) gives every request an id (the caller's
``X-Request-ID`` when it is a sane token, else a new one unique to the
process), echoes it, times the request, writes one JSON access-log line and
refuses bodies over the limit (413) whether or not they declare their length.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import re
import time
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

from satlearn.errors import InvalidInputError

__all__ = [
    "CONTENT_TYPE_LATEST",
    "BodyTooLargeError",
    "JsonFormatter",
    "RequestMiddleware",
    "ServeMetrics",
    "configure_logging",
    "request_id",
]

#: The id of the request being answered (for log lines written while answering it).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_log = logging.getLogger("satlearn.serve.access")
# 32 hex digits like a uuid4's: 64 random bits a process, then a counter. A uuid4
# per request (a getrandom call and a UUID object) was 3 % of the infer path.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across the server's processes and restarts (32 hex digits)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


class BodyTooLargeError(InvalidInputError):
    """A request body is larger than the server's ``max_body_mb`` (HTTP 413)."""


class ServeMetrics:
    """The server's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["route", "model", "version", "code"]
        self.requests = Counter(
            "satlearn_requests", "Requests answered", labels, registry=self.registry
        )
        self.latency = Histogram(
            "satlearn_request_latency_seconds",
            "Time from request to answer",
            ["route", "model", "version"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "satlearn_batch_size",
            "Requests run together in one forward pass",
            ["model", "version"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "satlearn_queue_depth",
            "Requests waiting in a model's queue",
            ["model", "version"],
            registry=self.registry,
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def answered(self, route: str, model: str, version: str, code: int, seconds: float) -> None:
        """Record one answered request (its count by status, its latency)."""
        self._child(self.requests, route, model, version, str(code)).inc()
        self._child(self.latency, route, model, version).observe(seconds)

    def batch(self, name: str, version: str, size: int) -> None:
        """Record one forward pass of ``size`` requests."""
        self._child(self.batch_size, name, version).observe(size)

    def queue(self, name: str, version: str, depth: int) -> None:
        """Record a model's queue depth (twice a request: queued, then taken)."""
        self._child(self.queue_depth, name, version).set(depth)

    def _child(self, metric: Any, *labels: str) -> Any:
        # labels() hashes and checks its arguments on every call, which costs more than
        # the update: each label set's child is kept, as few occur (bounded, for safety).
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = metric.labels(*labels)
            if len(self._children) < 4096:
                self._children[key] = child
        return child

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return _generate_latest(self.registry)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message, request id, extras."""

    _PLAIN = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The access log writes a line a request: its second's time string is kept
        # (formatTime is a strftime a call), and orjson writes the line.
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._second = second
        doc: dict[str, Any] = {
            "time": self._stamp,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            doc["request_id"] = rid
        plain = self._PLAIN
        for key, value in record.__dict__.items():
            if key not in plain and key[0] != "_":
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(doc, default=str).decode()
        except TypeError:  # keys orjson refuses (not str), integers past 64 bits
            return json.dumps(doc, default=str)


def configure_logging(level: str = "info") -> dict[str, Any]:
    """Send satlearn's and uvicorn's logs to stderr as JSON lines; uvicorn's ``log_config``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "satlearn.serve": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            # The access log is satlearn.serve.access's (with the request id); uvicorn's is off.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


class RequestMiddleware:
    """Request id, timing, metrics, access log and body limit, as one ASGI middleware."""

    def __init__(self, app: Any, *, metrics: ServeMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, declared = b"", None
        for key, value in scope.get("headers") or ():
            key = key.lower()
            if key == b"x-request-id":
                incoming = value
            elif key == b"content-length":
                declared = value
        given = incoming.decode("latin-1")
        rid = given if _SANE_ID.fullmatch(given) else new_request_id()
        token = request_id.set(rid)
        start = time.perf_counter()
        status = {"code": 500}
        limit = self.max_body_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, rid, int(declared))
            status["code"] = 413
            self._record(scope, status["code"], start, rid)
            request_id.reset(token)
            return
        seen = {"bytes": 0}

        async def limited_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    raise BodyTooLargeError(
                        f"the request body is larger than the server's limit of {limit} bytes"
                    )
            return message

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            self._record(scope, status["code"], start, rid)
            request_id.reset(token)

    async def _too_large(self, send: Any, rid: str, size: int) -> None:
        body = json.dumps(
            {
                "error": f"the request body ({size} bytes) is larger than the server's limit of "
                f"{self.max_body_bytes} bytes"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", rid.encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: dict, code: int, start: float, rid: str) -> None:
        elapsed = time.perf_counter() - start
        state = scope.get("state") or {}
        model, version = state.get("model", ""), state.get("model_version", "")
        route = getattr(scope.get("route"), "path", "") or "unmatched"
        self.metrics.answered(route, model, version, code, elapsed)
        if not _log.isEnabledFor(logging.INFO):
            return  # the log line's fields cost more than the metrics
        _log.info(
            "%s %s %d",
            scope.get("method", ""),
            scope.get("path", ""),
            code,
            extra={
                "request_id": rid,
                "method": scope.get("method", ""),
                "path": scope.get("path", ""),
                "status": code,
                "duration_ms": round(elapsed * 1000, 2),
                **({"model": model, "version": version} if model else {}),
            },
        )
