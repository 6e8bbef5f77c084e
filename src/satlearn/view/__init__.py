"""The web viewer: a catalogue browser, a map of tiles rendered on the fly, a model playground.

``satlearn view DIR_OR_CATALOG`` serves one page (Leaflet, shipped inside the
package: no CDN, it works offline) over three routers that outside clients can
use too: the STAC API at ``/stac``, map tiles at ``/tiles`` (XYZ PNG/WEBP,
TileJSON, WMTS) and the page's small endpoints at ``/api``.

Layout, one private module per job:

* ``_app``: :func:`create_view_app`, :func:`mount_viewer` (the same page on the
  model server's app), :func:`folder_models`;
* ``_folder``: :func:`folder_catalog`, an in-memory catalogue of a bare folder;
* ``_api``: spectral indices on an asset's bands, overlays as GeoJSON, models
  and the playground's predictions;
* ``_tiles`` and ``_render``: the tile router and the drawing of one tile.
"""

from __future__ import annotations

from satlearn.view._app import create_view_app, folder_models, mount_viewer, repository_models
from satlearn.view._folder import folder_catalog, read_overlay
from satlearn.view._tiles import create_tiles_router

__all__ = [
    "create_tiles_router",
    "create_view_app",
    "folder_catalog",
    "folder_models",
    "mount_viewer",
    "read_overlay",
    "repository_models",
]
