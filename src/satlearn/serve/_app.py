"""The FastAPI application: routers, error mapping, limits and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from satlearn import __version__
from satlearn.errors import SatlearnError
from satlearn.serve._errors import error_status
from satlearn.serve._metrics import CONTENT_TYPE_LATEST, RequestMiddleware, ServeMetrics
from satlearn.serve._repository import ModelRepository
from satlearn.serve._settings import ServeSettings
from satlearn.serve._tfserving import tfserving_router
from satlearn.serve._v2 import InferMiddleware, v2_router

__all__ = ["create_app"]

log = logging.getLogger("satlearn.serve")


class _ServerApp(FastAPI):
    """FastAPI with the request middleware and the lean infer path in front of its stack.

    ``add_middleware`` puts middleware inside Starlette's error layer and
    FastAPI's telemetry and body-limit layers, so every infer request's
    ``receive`` and ``send`` went through three wrappers (and a telemetry check)
    before ours: a fifth of the event loop's time on that path. In front, the
    infer path skips them; every other request still goes through all of them.
    """

    #: Set by create_app before the app is returned.
    front: Any

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.front(scope, receive, send)
        else:  # lifespan, websocket
            await super().__call__(scope, receive, send)

    async def behind(self, scope: Any, receive: Any, send: Any) -> None:
        """FastAPI's own stack (the front's fallback)."""
        await super().__call__(scope, receive, send)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(settings: ServeSettings) -> FastAPI:
    """The model server's application over ``settings.models``.

    The repository is scanned once here (so the app answers at once, even
    without its lifespan, as under ``TestClient`` outside ``with``); the
    watcher thread runs during the lifespan. ``app.state.repository`` is the
    :class:`~satlearn.serve.ModelRepository`; ``app.state.metrics`` the
    :class:`~satlearn.serve.ServeMetrics`.

    Parameters
    ----------
    settings : ServeSettings

    Returns
    -------
    fastapi.FastAPI
    """
    metrics = ServeMetrics()
    max_body_bytes = int(settings.max_body_mb * 1024 * 1024)
    repository = ModelRepository(
        settings.models,
        poll_s=settings.poll_s,
        request_timeout_s=settings.request_timeout_s,
        observer=metrics,
    )
    repository.scan()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repository.start()
        log.info("serving %s", settings.models, extra={"models": repository.names()})
        try:
            yield
        finally:
            # uvicorn has stopped accepting and waited for open requests; whatever is
            # still queued is answered before the process ends.
            app.state.stopping = True
            repository.stop()
            await repository.drain()

    app = _ServerApp(
        title="satlearn model server",
        version=__version__,
        description="Open Inference Protocol (KServe V2), TF-Serving REST and image endpoints "
        "over a repository of satlearn bundles.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.repository = repository
    app.state.metrics = metrics
    app.state.stopping = False

    @app.exception_handler(SatlearnError)
    async def satlearn_error(request: Request, err: SatlearnError) -> JSONResponse:
        # One mapping for FastAPI's routes and the lean infer path (_errors.error_status):
        # not found 404, full queue 503/429 + Retry-After, timeout 504, body 413, else 400.
        status, headers = error_status(err, settings.overload_status)
        return _error(status, str(err), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors()
        )
        return _error(400, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, str(err.detail), getattr(err, "headers", None))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    v2 = v2_router()
    app.include_router(v2)
    app.include_router(tfserving_router())
    try:
        from satlearn.serve._images import image_router
    except ImportError:
        pass  # the image endpoints are optional
    else:
        # Uploads share the server's body limit (413 past it), not a limit of their own.
        app.include_router(image_router(max_upload_bytes=max_body_bytes))
    if settings.catalog is not None:
        # The viewer beside the models: its page at /, the STAC API at /stac, tiles at
        # /tiles (?model=NAME runs the repository's current bundle of NAME).
        from satlearn.view import mount_viewer, repository_models

        lookup, lister = repository_models(repository)
        mount_viewer(app, settings.catalog, models=lookup, list_models=lister, served=True)
    # The infer routes' lean ASGI path (same answers, a fraction of FastAPI's CPU per
    # request), inside the request middleware, so ids, metrics, logs and the body
    # limit are the same for it; both in front of FastAPI's own middleware.
    app.front = RequestMiddleware(
        InferMiddleware(
            app.behind,
            repository=repository,
            # The router's own route objects: FastAPI puts these in scope["route"] too.
            routes={getattr(r, "path", ""): r for r in v2.routes},
            overload_status=settings.overload_status,
        ),
        metrics=metrics,
        max_body_bytes=max_body_bytes,
    )
    return app
