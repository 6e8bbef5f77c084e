"""The viewer's application: the page at ``/``, ``/static``, ``/stac``, ``/tiles`` and ``/api``.

:func:`create_view_app` is what ``satlearn view`` runs; :func:`mount_viewer`
puts the same page and routes on another app (``satlearn serve --catalog``
mounts them beside the model server). The catalogue is indexed once, and the
STAC API and the tile router share that one index.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from satlearn import __version__
from satlearn.catalog.search import CatalogIndex
from satlearn.errors import InvalidInputError
from satlearn.view._api import ModelLister, api_router
from satlearn.view._folder import folder_catalog

__all__ = [
    "STATIC",
    "create_view_app",
    "describe_bundle",
    "folder_models",
    "mount_viewer",
    "open_source",
    "repository_models",
]

#: The page's files (index.html, app.js, app.css; vendor/ holds the npm-built Leaflet).
STATIC = Path(__file__).with_name("static")
_VENDOR_HINT = (
    "the viewer's map library is not built: run `make frontend` (npm ci in frontend/, "
    "copied into src/satlearn/view/static/vendor/)"
)


def open_source(
    source: str | os.PathLike[str] | pystac.Catalog,
) -> tuple[CatalogIndex, pystac.Catalog]:
    """Index a STAC catalogue (its ``catalog.json``, or a folder holding one) or a bare folder.

    Raises
    ------
    InvalidInputError
        ``source`` is neither a catalogue nor a folder.
    """
    if isinstance(source, pystac.Catalog):
        catalog = source
    else:
        path = Path(os.fspath(source))
        if path.is_file() and path.suffix == ".json":
            catalog = pystac.Catalog.from_file(str(path))
        elif (path / "catalog.json").is_file():
            catalog = pystac.Catalog.from_file(str(path / "catalog.json"))
        elif path.is_dir():
            catalog = folder_catalog(path)
        else:
            raise InvalidInputError(
                f"{path}: neither a STAC catalogue (catalog.json) nor a folder of outputs"
            )
    return CatalogIndex.from_catalog(catalog), catalog


def _versions(folder: Path) -> list[Path]:
    def order(p: Path) -> tuple[int, int | str]:
        return (0, int(p.name)) if p.name.isdigit() else (1, p.name)

    return sorted((p for p in folder.iterdir() if p.is_dir()), key=order)


def folder_models(models_dir: str | os.PathLike[str]) -> tuple[Callable[[str], Path], ModelLister]:
    """``(lookup, lister)`` over a model repository ``MODELS/NAME/VERSION/`` (or ``MODELS/NAME/``).

    ``lookup(name)`` is the newest version's bundle folder (KeyError when there
    is none); ``lister()`` describes every readable bundle for the playground.
    """
    root = Path(os.fspath(models_dir)).resolve()
    if not root.is_dir():
        raise InvalidInputError(f"--models {root}: not a folder")

    def lookup(name: str) -> Path:
        folder = root / name
        if not name or "/" in name or "\\" in name or name.startswith(".") or not folder.is_dir():
            raise KeyError(name)
        if (folder / "bundle.json").is_file():
            return folder
        versions = [v for v in _versions(folder) if (v / "bundle.json").is_file()]
        if not versions:
            raise KeyError(name)
        return versions[-1]

    def lister() -> list[dict[str, Any]]:
        from satlearn.bundle import read_bundle
        from satlearn.errors import SatlearnError

        out = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            try:
                bundle = read_bundle(lookup(folder.name))
            except (KeyError, SatlearnError):
                continue  # half-copied or broken: the server would not serve it either
            out.append(describe_bundle(folder.name, bundle, f"/api/predict/{folder.name}"))
        return out

    return lookup, lister


def repository_models(repository: Any) -> tuple[Callable[[str], Path], ModelLister]:
    """``(lookup, lister)`` over a model server's repository (``names()``, ``get(name)``).

    ``lookup(name)`` is the folder of the bundle the server runs for ``name``
    now (KeyError when it serves none); the playground POSTs to the server's
    own ``:segment`` endpoint.
    """
    from satlearn.errors import ModelNotFoundError

    def lookup(name: str) -> Path:
        try:
            return Path(repository.get(name).bundle.path)
        except ModelNotFoundError:
            raise KeyError(name) from None

    def lister() -> list[dict[str, Any]]:
        out = []
        for name in repository.names():
            try:
                bundle = repository.get(name).bundle
            except ModelNotFoundError:  # unloaded between the two calls
                continue
            out.append(describe_bundle(name, bundle, f"/v1/models/{name}:segment"))
        return out

    return lookup, lister


def describe_bundle(name: str, bundle: Any, segment_url: str) -> dict[str, Any]:
    """What the playground shows of a model: task, bands, classes and where to POST."""
    return {
        "name": name,
        "task": bundle.task,
        "bands": list(bundle.bands),
        "classes": [{"id": int(k), "name": str(v)} for k, v in sorted(bundle.classes.items())],
        "segment_url": segment_url if bundle.task == "semantic-segmentation" else None,
    }


def mount_viewer(
    app: FastAPI,
    source: str | os.PathLike[str] | pystac.Catalog,
    *,
    models: Callable[[str], Path] | None = None,
    list_models: ModelLister | None = None,
    served: bool = False,
    cache_mb: int = 256,
) -> CatalogIndex:
    """Put the page (``/``), ``/static``, ``/stac``, ``/tiles`` and ``/api`` on ``app``.

    Parameters
    ----------
    app : FastAPI
    source : path or pystac.Catalog
        A STAC catalogue or a bare folder of outputs (see :func:`open_source`).
    models : callable, optional
        ``name -> bundle folder`` for tiles with ``model=NAME`` and ``/api/predict``.
    list_models : callable, optional
        The playground's model list.
    served : bool
        True beside the model server: the playground POSTs to its ``:segment``
        endpoint, and ``/api/predict`` is not added.
    cache_mb : int
        The tile cache's bound.

    Returns
    -------
    CatalogIndex
        The one index the STAC API and the tiles share.
    """
    from satlearn.catalog.api import create_stac_router
    from satlearn.view._tiles import create_tiles_router

    index, catalog = open_source(source)
    title = catalog.title or catalog.id
    app.include_router(
        create_stac_router(index, title=title, description=catalog.description), prefix="/stac"
    )
    app.include_router(
        create_tiles_router(index, models=models, cache_mb=cache_mb), prefix="/tiles"
    )
    app.include_router(
        api_router(index, models=models, list_models=list_models, predict_here=not served),
        prefix="/api",
    )
    config = {"title": title, "served": served, "version": __version__}

    @app.get("/api/config", include_in_schema=False)
    def page_config() -> dict[str, Any]:
        return config

    @app.get("/", include_in_schema=False)
    def page() -> Any:
        if not (STATIC / "vendor" / "leaflet" / "leaflet.js").is_file():
            return JSONResponse({"error": _VENDOR_HINT}, status_code=503)
        # no-cache: the page is tiny and must follow a reinstall; its assets are revalidated.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="viewer-static")
    return index


def create_view_app(
    source: str | os.PathLike[str] | pystac.Catalog,
    *,
    models_dir: str | os.PathLike[str] | None = None,
    cache_mb: int = 256,
) -> FastAPI:
    """The viewer for a STAC catalogue or a bare folder of outputs.

    Parameters
    ----------
    source : path or pystac.Catalog
        A catalogue (``catalog.json`` or the folder holding it) or a folder of
        outputs, catalogued in memory by :func:`~satlearn.view.folder_catalog`.
    models_dir : path, optional
        A model repository (``NAME/VERSION/`` bundles) for the playground and
        for tiles with ``model=NAME``.
    cache_mb : int
        The tile cache's bound in MiB.

    Returns
    -------
    fastapi.FastAPI
        The page at ``/``, static files at ``/static``, the STAC API at
        ``/stac``, tiles at ``/tiles``, the page's endpoints at ``/api``.

    Raises
    ------
    InvalidInputError
        ``source`` is neither a catalogue nor a folder, or ``models_dir`` is not a folder.

    Examples
    --------
    >>> import uvicorn  # doctest: +SKIP
    >>> uvicorn.run(create_view_app("demo-output"), host="127.0.0.1", port=8080)  # doctest: +SKIP
    """
    lookup, lister = folder_models(models_dir) if models_dir is not None else (None, None)
    app = FastAPI(
        title="satlearn view",
        version=__version__,
        description="A catalogue browser, map tiles rendered on the fly and a model playground.",
    )
    mount_viewer(app, source, models=lookup, list_models=lister, cache_mb=cache_mb)
    return app
