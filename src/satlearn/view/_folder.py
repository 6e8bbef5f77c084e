"""An in-memory STAC catalogue for a bare folder of outputs (what ``satlearn view DIR`` shows).

Rasters are described by :func:`satlearn.catalog.build_catalog` itself (so an
item here is what ``satlearn stac build`` would write: the same ids,
collections by sub-folder, eo/projection/raster fields and dates from the
file's tags, a Landsat MTL or its name), written into a temporary folder that
is read back and removed: nothing is left beside the outputs. GeoJSON and
GeoParquet files become items of their own in the collection ``overlays``,
each with one asset of role ``overlay`` that the page draws over the map.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import pystac

from satlearn.catalog.build import RASTER_SUFFIXES, build_catalog
from satlearn.errors import InvalidInputError, SatlearnError

__all__ = ["OVERLAYS_COLLECTION", "OVERLAY_MEDIA_TYPES", "folder_catalog", "read_overlay"]

#: Vector files shown as overlays, by suffix, with the media type of their asset.
OVERLAY_MEDIA_TYPES: dict[str, str] = {
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
    ".geoparquet": "application/vnd.apache.parquet",
}
#: The collection the overlay items of a bare folder go to.
OVERLAYS_COLLECTION = "overlays"
#: The most features an overlay endpoint hands to a browser in one answer.
MAX_OVERLAY_FEATURES = 20_000


def read_overlay(path: str | os.PathLike[str]) -> Any:
    """A GeoJSON or GeoParquet file as a GeoDataFrame in WGS 84 (what the map draws).

    Raises
    ------
    InvalidInputError
        The file is not a vector file this reads, or cannot be read.
    """
    import geopandas as gpd

    path = Path(os.fspath(path))
    suffix = path.suffix.lower()
    if suffix not in OVERLAY_MEDIA_TYPES:
        raise InvalidInputError(
            f"{path}: not an overlay ({', '.join(OVERLAY_MEDIA_TYPES)} are shown)"
        )
    try:
        frame = gpd.read_parquet(path) if suffix != ".geojson" else gpd.read_file(path)
    except Exception as err:  # pyogrio and pyarrow raise many kinds
        raise InvalidInputError(f"{path}: cannot be read as {suffix[1:]}: {err}") from None
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    return frame


def _vector_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in OVERLAY_MEDIA_TYPES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _overlay_ids(paths: list[Path], root: Path) -> list[str]:
    """Ids from the relative path without suffix; with it where two files would share one."""
    stems = ["-".join(p.relative_to(root).with_suffix("").parts) for p in paths]
    return [
        stem if stems.count(stem) == 1 else f"{stem}-{p.suffix.lower().lstrip('.')}"
        for stem, p in zip(stems, paths, strict=True)
    ]


def _overlay_item(path: Path, item_id: str, start: dt.datetime, end: dt.datetime) -> pystac.Item:
    frame = read_overlay(path)
    if len(frame) and not frame.geometry.is_empty.all():
        west, south, east, north = (float(v) for v in frame.total_bounds)
    else:  # an empty file still lists, at no place in particular
        west = south = east = north = 0.0
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }
    item = pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=[west, south, east, north],
        datetime=None,
        properties={
            # A vector output has no acquisition time of its own: it spans the rasters'.
            "start_datetime": pystac.utils.datetime_to_str(start),
            "end_datetime": pystac.utils.datetime_to_str(end),
            "satlearn:features": len(frame),
        },
        collection=OVERLAYS_COLLECTION,
    )
    item.add_asset(
        "overlay",
        pystac.Asset(
            href=str(path.resolve()),
            media_type=OVERLAY_MEDIA_TYPES[path.suffix.lower()],
            roles=["overlay"],
            title=path.name,
        ),
    )
    return item


def _raster_catalog(root: Path, fallback: dt.datetime) -> pystac.Catalog | None:
    """``build_catalog`` of ``root`` into a temporary folder, read back into memory."""
    if not any(p.suffix.lower() in RASTER_SUFFIXES for p in root.rglob("*") if p.is_file()):
        return None
    with tempfile.TemporaryDirectory(prefix="satlearn-view-") as scratch:
        # thumbnails=False: the page renders its own from the tiles; absolute hrefs: the
        # scratch folder goes away. Undated rasters get the folder's time, as
        # `stac build --datetime` would give them.
        built = build_catalog(
            root,
            Path(scratch) / "catalog",
            thumbnails=False,
            statistics=True,
            absolute_hrefs=True,
            datetime=fallback,
        )
        catalog = pystac.Catalog(id=built.id, description=built.description, title=built.title)
        for child in built.get_children():
            if not isinstance(child, pystac.Collection):
                continue
            collection = pystac.Collection(
                id=child.id,
                description=child.description,
                extent=child.extent,
                license=child.license,
                title=child.title,
            )
            for key, asset in child.assets.items():
                collection.add_asset(key, asset.clone())
            for item in child.get_items():
                clone = item.clone()
                for asset in clone.assets.values():
                    asset.href = str(Path(asset.get_absolute_href() or asset.href).resolve())
                collection.add_item(clone)
            catalog.add_child(collection)
    return catalog


def folder_catalog(path: str | os.PathLike[str]) -> pystac.Catalog:
    """Describe a bare folder of outputs as an in-memory STAC catalogue.

    Every GeoTIFF / COG (any raster ``satlearn stac build`` reads) is an item
    with its ``data`` asset, described and dated as ``stac build`` does (a
    raster with no time of its own gets the folder's modification time); every
    GeoJSON / GeoParquet file is an item of the collection ``overlays`` with an
    asset of role ``overlay``, spanning the rasters' period. Nothing is
    written beside the outputs.

    Parameters
    ----------
    path : path
        The folder (searched recursively; hidden files are skipped).

    Returns
    -------
    pystac.Catalog
        With no self href (it lives in memory); asset hrefs are absolute paths.

    Raises
    ------
    InvalidInputError
        ``path`` is not a folder, or holds neither a raster nor a vector file.

    Examples
    --------
    >>> catalog = folder_catalog("demo-output")  # doctest: +SKIP
    >>> sorted(c.id for c in catalog.get_children())  # doctest: +SKIP
    ['change', 'clouds', ..., 'overlays']
    """
    root = Path(os.fspath(path)).resolve()
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a folder")
    fallback = dt.datetime.fromtimestamp(root.stat().st_mtime, tz=dt.UTC).replace(microsecond=0)
    vectors = _vector_files(root)
    try:
        catalog = _raster_catalog(root, fallback)
    except SatlearnError:
        if not vectors:  # nothing else to show: the builder's message says why
            raise
        catalog = None  # unreadable rasters only; the overlays are still worth a look
    if catalog is None and not vectors:
        raise InvalidInputError(
            f"{root}: no rasters ({', '.join(RASTER_SUFFIXES)}) and no overlays "
            f"({', '.join(OVERLAY_MEDIA_TYPES)}) found"
        )
    if catalog is None:
        catalog = pystac.Catalog(
            id=root.name, description=f"Outputs under {root.name}, shown by satlearn view"
        )
    if vectors:
        times = [
            t
            for item in catalog.get_items(recursive=True)
            for t in (item.datetime, item.common_metadata.start_datetime)
            if t is not None
        ]
        start, end = (min(times), max(times)) if times else (fallback, fallback)
        ids = _overlay_ids(vectors, root)
        items = [_overlay_item(p, i, start, end) for p, i in zip(vectors, ids, strict=True)]
        collection = pystac.Collection(
            id=OVERLAYS_COLLECTION,
            description=f"Vector outputs under {root.name} (GeoJSON, GeoParquet)",
            extent=pystac.Extent.from_items(items),
            license="other",
        )
        for item in items:
            collection.add_item(item)
        catalog.add_child(collection)
    return catalog
