"""The tile server of the web viewer: a FastAPI router of XYZ tiles, TileJSON and WMTS.

Interface stub: the routes exist and answer 501 until they are implemented.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from satlearn.catalog.search import CatalogIndex

__all__ = ["create_tiles_router"]


def create_tiles_router(
    index: CatalogIndex,
    *,
    models: Callable[[str], pathlib.Path] | None = None,
    cache_mb: int = 256,
) -> APIRouter:
    """A router of map tiles rendered on the fly from the catalogue's COGs (mount at /tiles)."""
    router = APIRouter()

    def todo() -> JSONResponse:
        return JSONResponse(
            {"code": "NotImplemented", "description": "tiles are not implemented yet"},
            status_code=501,
        )

    for path in (
        "/cache",
        "/colormaps/{name}.png",
        "/{collection}/{item}/{asset}/tilejson.json",
        "/{collection}/{item}/{asset}/WMTSCapabilities.xml",
        "/{collection}/{item}/{asset}/info.json",
        "/{collection}/{item}/{asset}/{z}/{x}/{y}.png",
        "/{collection}/{item}/{asset}/{z}/{x}/{y}.webp",
    ):
        router.add_api_route(path, todo, methods=["GET"])
    return router
