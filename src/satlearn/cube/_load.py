"""STAC items into lazy ``(time, band, y, x)`` data cubes.

Loading is :func:`odc.stac.load`'s job: it works out a common pixel grid,
reprojects items of other CRSs or resolutions onto it, groups items by solar
day and builds one dask task per chunk that reads only the windows of the
files that chunk overlaps (range requests for remote COGs). satlearn's layer
is thin on purpose:

* **Band names.** A band is chosen by name: an asset key, an ``eo:bands``
  name or ``eo:common_name``, or a satlearn band name (``rededge1``, ``nir``)
  translated through the item's sensor profile (:mod:`satlearn.bands`) when
  the item says which sensor it is. Each item is resolved on its own, so items
  that store the same band differently (a ``B04`` asset in one, band 1 of a
  multi-band ``data`` asset in another) stack into one cube.
* **The data model.** The result is one ``(time, band, y, x)`` DataArray with
  the requested names on ``band``, CRS, transform and nodata through
  rioxarray, and ``scale`` / ``offset`` coordinates from ``raster:bands``,
  like :func:`satlearn.open_raster`.
* **Errors** name the item and the problem (no items, a band no item has,
  no projection information and no grid given, a bbox that misses every item).

Examples
--------
>>> cube = load_cube(items, bands=["red", "nir"], resolution=10)  # doctest: +SKIP
>>> cube.dims
('time', 'band', 'y', 'x')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pystac
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import shapely
import xarray as xr

from satlearn.bands import get_sensor
from satlearn.errors import (
    InvalidInputError,
    NoValidDataError,
    RasterNotFoundError,
    RemoteAccessError,
    SatlearnError,
    UnknownBandError,
)

__all__ = ["load_cube"]

_RESAMPLINGS = frozenset(
    {"nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "min", "max"}
)
_GROUPBY = {"solar_day": "solar_day", "time": "time", "id": "id", None: "id"}
# Prefix of the per-band aliases written into the working copies of the items;
# odc-stac ignores an alias that equals an asset key, so it must not be one.
_ALIAS = "__satlearn__"

# Item properties that say which sensor took an item, and the profile each implies.
_PLATFORM_SENSORS = {
    "sentinel-2a": "sentinel2_l2a",
    "sentinel-2b": "sentinel2_l2a",
    "sentinel-2c": "sentinel2_l2a",
    "sentinel-2": "sentinel2_l2a",
    "landsat-8": "landsat8",
    "landsat-9": "landsat9",
    "planetscope": "planetscope4",
    "worldview-3": "worldview3",
    "naip": "naip",
}


# --------------------------------------------------------------------------- items


def _as_items(items: Any) -> list[pystac.Item]:
    """Items from an Item, ItemCollection, Catalog, a path/URL or an iterable of them."""
    if isinstance(items, str | os.PathLike):
        text = os.fspath(items)
        try:
            stac = pystac.read_file(text)
        except Exception as err:  # pystac raises many kinds; all mean "not readable STAC"
            raise InvalidInputError(f"{text}: cannot read as a STAC catalogue ({err})") from err
        return _as_items(stac)
    if isinstance(items, pystac.Item):
        return [items]
    if isinstance(items, pystac.Catalog):
        return list(items.get_items(recursive=True))
    if isinstance(items, Mapping):
        if items.get("type") == "FeatureCollection":
            return _as_items(pystac.ItemCollection.from_dict(dict(items)))
        return [pystac.Item.from_dict(dict(items))]
    if not isinstance(items, Iterable):
        raise InvalidInputError(
            "load_cube: items must be STAC items, a catalogue or a path, "
            f"got {type(items).__name__}"
        )
    out: list[pystac.Item] = []
    for item in items:
        if isinstance(item, Mapping):
            item = pystac.Item.from_dict(dict(item))
        if not isinstance(item, pystac.Item):
            raise InvalidInputError(
                f"load_cube: expected pystac.Item objects, got {type(item).__name__}"
            )
        out.append(item)
    return out


def _item_sensor(item: pystac.Item) -> Any:
    """The sensor profile an item declares, or None."""
    props = item.properties
    for key in ("satlearn:sensor", "platform", "constellation"):
        value = props.get(key)
        if not isinstance(value, str):
            continue
        name = _PLATFORM_SENSORS.get(value.lower(), value)
        try:
            return get_sensor(name)
        except SatlearnError:
            continue
    return None


def _asset_bands(asset: pystac.Asset) -> list[dict[str, Any]]:
    bands = asset.extra_fields.get("eo:bands")
    if not bands:  # STAC 1.1 moved per-band metadata to a common "bands" list
        bands = asset.extra_fields.get("bands")
    return [b for b in bands if isinstance(b, Mapping)] if isinstance(bands, list) else []


def _band_count(asset: pystac.Asset) -> int:
    counts = [len(_asset_bands(asset))]
    raster = asset.extra_fields.get("raster:bands")
    if isinstance(raster, list):
        counts.append(len(raster))
    return max(1, *counts)


def _is_data(asset: pystac.Asset) -> bool:
    roles = asset.roles or []
    return not roles or "data" in roles


def _find_band(item: pystac.Item, name: str) -> tuple[str, int] | None:
    """(asset key, 1-based band index) of band ``name`` in ``item``, or None.

    Tried in order: an asset key; an ``eo:bands`` name; a common name that one
    data band alone carries; the sensor's id for a satlearn band name.
    """
    assets = {k: a for k, a in item.assets.items() if _is_data(a)}
    if name in assets:
        return name, 1
    common: list[tuple[str, int]] = []
    for key, asset in assets.items():
        for i, band in enumerate(_asset_bands(asset), start=1):
            if band.get("name") == name:
                return key, i
            if band.get("common_name") == name:
                common.append((key, i))
    if len(common) == 1:
        return common[0]
    if common:
        # Several assets carry it (a single-band asset and a visual RGB, say):
        # prefer the asset with fewest bands, as odc-stac does.
        return min(common, key=lambda ki: (_band_count(assets[ki[0]]), ki[0]))
    sensor = _item_sensor(item)
    if sensor is not None and name in sensor:
        band_id = sensor.to_id(name)
        if band_id != name:
            return _find_band(item, band_id)
    return None


def _has_proj(item: pystac.Item, asset: pystac.Asset) -> bool:
    fields = {**item.properties, **asset.extra_fields}
    has_crs = any(fields.get(k) is not None for k in ("proj:code", "proj:epsg", "proj:wkt2"))
    has_crs = has_crs or fields.get("proj:projjson") is not None
    has_grid = fields.get("proj:transform") is not None or fields.get("proj:shape") is not None
    return has_crs and has_grid


def _check_local(href: str, item_id: str, key: str) -> None:
    """Fail early, naming the item, on a local asset file that is not there."""
    scheme = urlparse(href).scheme.lower()
    if scheme in ("", "file") and not href.startswith("/vsi"):
        path = Path(urlparse(href).path if scheme == "file" else href)
        if not path.is_file():
            raise RasterNotFoundError(f"item {item_id!r}, asset {key!r}: {href}: no such file")


def _check_remote(assets: Sequence[tuple[str, str, str]], timeout: float = 10.0) -> None:
    """Fail early, naming the item and link, on an http(s) asset that cannot be fetched.

    One HEAD request per asset, 16 at a time, before any read: otherwise a
    404 would surface deep inside dask's compute as a bare GDAL error.
    """
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    remote = [a for a in assets if urlparse(a[0]).scheme.lower() in ("http", "https")]

    def probe(entry: tuple[str, str, str]) -> str | None:
        href, item_id, key = entry
        request = urllib.request.Request(href, method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):  # http(s) only, filtered above
                return None
        except urllib.error.HTTPError as err:
            if err.code in (405, 501):  # HEAD not allowed: let the reader try
                return None
            return f"item {item_id!r}, asset {key!r}: {href}: HTTP {err.code} {err.reason}"
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            return f"item {item_id!r}, asset {key!r}: {href}: unreachable ({reason})"

    if not remote:
        return
    with ThreadPoolExecutor(min(16, len(remote))) as pool:
        problems = [p for p in pool.map(probe, remote) if p]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise RemoteAccessError(f"load_cube: {problems[0]}{more}")


def _declared_extensions(item: pystac.Item) -> list[str]:
    """The item's extension URIs plus eo, projection and raster where missing.

    pystac (and so odc-stac) reads ``eo:bands``, ``proj:*`` and
    ``raster:bands`` only when the item declares the extension; the copy
    always carries eo and raster fields, and items in the wild often forget
    to declare projection.
    """
    from pystac.extensions.eo import EOExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterExtension

    uris = list(item.stac_extensions)
    for ext, stem in (
        (EOExtension, "/eo/"),
        (ProjectionExtension, "/projection/"),
        (RasterExtension, "/raster/"),
    ):
        if not any(stem in uri for uri in uris):
            uris.append(ext.get_schema_uri())
    return uris


def _working_copy(
    item: pystac.Item, found: Mapping[str, tuple[str, int]], hrefs: list[tuple[str, str, str]]
) -> tuple[pystac.Item, bool]:
    """A copy of ``item`` holding only the assets of the requested bands, renamed.

    Each copied asset keeps its file and metadata, but only the wanted bands
    carry names (aliases ``__satlearn__red``), so one alias finds a band in
    every item whatever asset key or band position it has there. Bands of one
    file stay in one asset, so that file is opened once. Hrefs become
    absolute, because the copy has no self link to resolve relative ones.

    odc-stac reads band layout (band counts, positions, dtypes, nodata) once
    per collection from a sample item, so the copy's collection id encodes its
    layout: items laid out differently get a template of their own.
    """
    by_asset: dict[str, dict[int, str]] = {}
    for name, (key, index) in found.items():
        wanted = by_asset.setdefault(key, {})
        if index in wanted:
            raise InvalidInputError(
                f"load_cube: bands {wanted[index]!r} and {name!r} are the same band "
                f"(asset {key!r}, band {index}) of item {item.id!r}"
            )
        wanted[index] = name
    layout: list[Any] = []
    assets: dict[str, pystac.Asset] = {}
    all_proj = True
    for n, (key, wanted) in enumerate(by_asset.items()):
        asset = item.assets[key]
        fields = dict(asset.extra_fields)
        count = _band_count(asset)
        fields["eo:bands"] = [
            {"name": f"{_ALIAS}{wanted[i]}" if i in wanted else f"{_ALIAS}{n}__{i}"}
            for i in range(1, count + 1)
        ]
        fields.pop("bands", None)
        raster = fields.get("raster:bands")
        raster = list(raster) if isinstance(raster, list) else []
        # odc-stac counts bands by raster:bands; pad so every band exists.
        raster += [{} for _ in range(count - len(raster))]
        fields["raster:bands"] = raster
        href = asset.get_absolute_href() or asset.href
        _check_local(href, item.id, key)
        hrefs.append((href, item.id, key))
        # The asset key must differ from every alias: odc-stac takes a name
        # that is an asset key as that asset's first band.
        assets[f"{_ALIAS}asset{n}"] = pystac.Asset(
            href, media_type=asset.media_type, roles=["data"], extra_fields=fields
        )
        for index, name in sorted(wanted.items()):
            meta = raster[index - 1] if isinstance(raster[index - 1], Mapping) else {}
            layout.append((n, count, index, name, meta.get("data_type"), meta.get("nodata")))
        all_proj = all_proj and _has_proj(item, asset)
    copy = pystac.Item(
        id=item.id,
        geometry=item.geometry,
        bbox=item.bbox,
        datetime=item.datetime,
        properties=dict(item.properties),
        stac_extensions=_declared_extensions(item),
        collection=f"{_ALIAS}{item.collection_id}__{layout!r}",
    )
    for key, asset in assets.items():
        copy.add_asset(key, asset)
    return copy, all_proj


def _raster_band(item: pystac.Item, key: str, index: int) -> Mapping[str, Any]:
    raster = item.assets[key].extra_fields.get("raster:bands")
    if isinstance(raster, list) and len(raster) >= index and isinstance(raster[index - 1], Mapping):
        return raster[index - 1]
    return {}


def _scale_offset(
    items: Sequence[pystac.Item], found: Sequence[Mapping[str, tuple[str, int]]], name: str
) -> tuple[float, float]:
    """One (scale, offset) for band ``name`` across items; disagreement is an error."""
    seen: dict[tuple[float, float], str] = {}
    for item, bands in zip(items, found, strict=True):
        meta = _raster_band(item, *bands[name])
        pair = (float(meta.get("scale", 1.0)), float(meta.get("offset", 0.0)))
        seen.setdefault(pair, item.id)
    if len(seen) > 1:
        described = "; ".join(f"item {i!r}: scale {s}, offset {o}" for (s, o), i in seen.items())
        raise InvalidInputError(
            f"load_cube: band {name!r} has different scale/offset across items ({described}); "
            "load those items into separate cubes, or rescale them first"
        )
    return next(iter(seen))


# --------------------------------------------------------------------------- grid


def _check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InvalidInputError(f"load_cube: bbox must be four numbers, got {bbox!r}") from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise InvalidInputError(f"load_cube: bbox must be four finite numbers, got {bbox!r}")
    left, bottom, right, top = values
    if not (left < right and bottom < top):
        raise InvalidInputError(f"load_cube: bbox {values!r} is empty or inverted")
    return left, bottom, right, top


def _items_touching(
    items: Sequence[pystac.Item], bbox: tuple[float, float, float, float], bbox_crs: Any
) -> list[pystac.Item]:
    """Items whose footprint meets ``bbox``; footprints are WGS84 (STAC), as is the test."""
    lonlat = bbox
    if str(bbox_crs).upper() not in ("EPSG:4326", "OGC:CRS84", "4326"):
        try:
            lonlat = rasterio.warp.transform_bounds(bbox_crs, "EPSG:4326", *bbox, densify_pts=21)
        except Exception as err:  # rasterio raises CRSError or ValueError
            raise InvalidInputError(f"load_cube: cannot use bbox_crs {bbox_crs!r} ({err})") from err
    query = shapely.box(*lonlat)
    kept = []
    for item in items:
        if item.geometry is not None:
            footprint = shapely.geometry.shape(item.geometry)
        elif item.bbox is not None:
            footprint = shapely.box(*item.bbox[:2], *item.bbox[-2:])
        else:  # nothing to test against: let the loader decide
            kept.append(item)
            continue
        if footprint.intersects(query):
            kept.append(item)
    return kept


def _chunk_spec(chunks: Any) -> dict[str, Any]:
    if chunks is None:
        return {"x": 1024, "y": 1024}
    if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0:
        return {"x": chunks, "y": chunks}
    if isinstance(chunks, Mapping) and set(chunks) <= {"x", "y", "time"}:
        return dict(chunks)
    raise InvalidInputError(
        f"load_cube: chunks must be a positive int or a dict over x, y, time, got {chunks!r}"
    )


# --------------------------------------------------------------------------- load


def load_cube(
    items: Any,
    *,
    bands: str | Sequence[str],
    resolution: float | None = None,
    crs: Any = None,
    bbox: Sequence[float] | None = None,
    bbox_crs: Any = "EPSG:4326",
    resampling: str = "nearest",
    nodata: float | None = None,
    dtype: Any = None,
    groupby: str | None = "solar_day",
    chunks: int | Mapping[str, int] | None = None,
) -> xr.DataArray:
    """Load STAC items into a lazy ``(time, band, y, x)`` DataArray on one grid.

    Parameters
    ----------
    items : iterable of pystac.Item, ItemCollection, Catalog or path
        The items (a catalogue or a path/URL to one is walked for all items).
    bands : str or sequence of str
        Band names: common names (``"red"``, ``"nir"``), ``eo:bands`` names,
        asset keys, or satlearn band names (``"rededge1"``) for items whose
        ``platform`` / ``constellation`` / ``satlearn:sensor`` names a sensor.
    resolution : float, optional
        Pixel size in units of ``crs``. Default: the items' native resolution
        (from the projection extension).
    crs : CRS-like, optional
        Output CRS. Default: the items' most common CRS. Items in other CRSs
        are reprojected onto the grid.
    bbox : (minx, miny, maxx, maxy), optional
        Load only this box (in ``bbox_crs``, longitude/latitude by default as
        in STAC). Only the file windows it touches are read. Default: the union
        of the items' footprints.
    bbox_crs : CRS-like
        CRS of ``bbox``.
    resampling : str
        ``"nearest"`` (default), ``"bilinear"``, ``"cubic"``, ``"average"``,
        ``"mode"``, ... used where items are reprojected or resampled.
    nodata : float, optional
        Fill value for pixels no item covers, and the nodata of the result.
        Default: the bands' ``raster:bands`` nodata.
    dtype : dtype-like, optional
        Output dtype; default: the bands' own.
    groupby : {"solar_day", "time", "id", None}
        ``"solar_day"`` (default) merges items of one local solar day (tiles
        of one pass) into one time step; ``"time"`` merges equal timestamps;
        ``None`` / ``"id"`` keeps one step per item.
    chunks : int or dict, optional
        Dask chunk size in pixels (``{"x": 512, "y": 512}``); default 1024.

    Returns
    -------
    xarray.DataArray
        Dask-backed, dims ``(time, band, y, x)``, the requested names on
        ``band``, CRS / transform / nodata through ``da.rio``; ``scale`` and
        ``offset`` coordinates along ``band`` where ``raster:bands`` has them.

    Raises
    ------
    InvalidInputError
        No items, bad arguments, items without projection information when
        no ``crs`` and ``resolution`` are given, conflicting scales.
    UnknownBandError
        A band is not found in some item (the message names them).
    NoValidDataError
        ``bbox`` touches no item.

    Examples
    --------
    >>> cube = load_cube(catalog, bands=["red", "nir"], resolution=20,
    ...                  bbox=(13.30, 52.50, 13.45, 52.55))  # doctest: +SKIP
    >>> cube.sel(band="nir").isel(time=0).compute()  # doctest: +SKIP
    """
    import odc.stac

    names = [bands] if isinstance(bands, str) else list(bands)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise InvalidInputError(f"load_cube: bands must be one or more names, got {bands!r}")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"load_cube: bands {names!r} repeat a name")
    if resampling not in _RESAMPLINGS:
        raise InvalidInputError(
            f"load_cube: unknown resampling {resampling!r}; "
            f"use one of {', '.join(sorted(_RESAMPLINGS))}"
        )
    if groupby not in _GROUPBY:
        raise InvalidInputError(
            f"load_cube: groupby must be 'solar_day', 'time', 'id' or None, got {groupby!r}"
        )
    if resolution is not None and not (
        isinstance(resolution, int | float) and np.isfinite(resolution) and resolution > 0
    ):
        raise InvalidInputError(
            f"load_cube: resolution must be a positive number, got {resolution!r}"
        )
    chunk_spec = _chunk_spec(chunks)

    all_items = _as_items(items)
    if not all_items:
        raise InvalidInputError("load_cube: no items to load")
    selected = all_items
    box = None
    if bbox is not None:
        box = _check_bbox(bbox)
        selected = _items_touching(all_items, box, bbox_crs)
        if not selected:
            raise NoValidDataError(
                f"load_cube: bbox {box!r} (in {bbox_crs}) touches none of the "
                f"{len(all_items)} items"
            )

    found: list[dict[str, tuple[str, int]]] = []
    missing: dict[str, list[str]] = {}
    for item in selected:
        where = {}
        for name in names:
            hit = _find_band(item, name)
            if hit is None:
                missing.setdefault(name, []).append(item.id)
            else:
                where[name] = hit
        found.append(where)
    if missing:
        parts = []
        for name, ids in missing.items():
            shown = ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
            if len(ids) == len(selected):
                parts.append(f"no item has band {name!r}")
            else:
                parts.append(f"{len(ids)} of {len(selected)} items ({shown}) lack band {name!r}")
        example = selected[0]
        raise UnknownBandError(
            f"load_cube: {'; '.join(parts)}; item {example.id!r} has assets "
            f"{', '.join(example.assets)} (bands are found by asset key, eo:bands name or "
            "common name, or a sensor band name when the item names its platform)"
        )

    copies = []
    without_proj = []
    hrefs: list[tuple[str, str, str]] = []
    for item, where in zip(selected, found, strict=True):
        copy, has_proj = _working_copy(item, where, hrefs)
        copies.append(copy)
        if not has_proj:
            without_proj.append(item.id)
    _check_remote(hrefs)
    if without_proj and (crs is None or resolution is None):
        shown = ", ".join(repr(i) for i in without_proj[:5])
        raise InvalidInputError(
            f"load_cube: item(s) {shown} carry no projection information (proj:code and "
            "proj:transform or proj:shape), so the grid cannot be inferred; "
            "give crs= and resolution="
        )
    scales = [_scale_offset(selected, found, name) for name in names]

    kwargs: dict[str, Any] = {
        "groupby": _GROUPBY[groupby],
        "resampling": resampling,
        "chunks": chunk_spec,
    }
    if crs is not None:
        kwargs["crs"] = crs
    if resolution is not None:
        kwargs["resolution"] = float(resolution)
    if box is not None:
        from odc.geo.geom import box as geo_box

        kwargs["geopolygon"] = geo_box(*box, crs=bbox_crs)
    if nodata is not None:
        kwargs["nodata"] = nodata
    if dtype is not None:
        kwargs["dtype"] = dtype
    aliases = [f"{_ALIAS}{name}" for name in names]
    try:
        ds = odc.stac.load(copies, bands=aliases, **kwargs)
    except SatlearnError:  # pragma: no cover - odc-stac raises its own
        raise
    except Exception as err:  # odc-stac and GDAL raise ValueError, KeyError, RasterioIOError...
        raise InvalidInputError(f"load_cube: cannot load {len(copies)} item(s): {err}") from err

    da = ds[aliases].to_dataarray("band").transpose("time", "band", "y", "x")
    da = da.assign_coords(band=names)
    da.name = None
    if any(s != (1.0, 0.0) for s in scales):
        da = da.assign_coords(
            scale=("band", np.array([s for s, _ in scales])),
            offset=("band", np.array([o for _, o in scales])),
        )
    nodatas = {ds[a].attrs.get("nodata") for a in aliases}
    da.attrs = {}
    if len(nodatas) == 1 and None not in nodatas:
        da = da.rio.write_nodata(nodatas.pop())
    # rioxarray reads CRS and transform from the spatial_ref coordinate odc-stac writes.
    return da
