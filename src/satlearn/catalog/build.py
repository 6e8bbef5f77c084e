"""Build a self-contained static STAC catalogue from a folder of rasters.

Each raster becomes an item (Catalog -> Collections -> Items, relative links,
``catalog.json`` at the root) whose extensions are filled from the file itself:

* **eo**: one band per raster band; where a band description is a satlearn band
  name (``red``, ``rededge2`` ...), its STAC ``common_name`` (and, with a known
  sensor, centre wavelength and FWHM);
* **projection**: ``proj:code`` (or WKT2 when the CRS has no EPSG code),
  ``proj:shape``, ``proj:transform``, ``proj:bbox``;
* **raster**: data type, nodata, scale/offset, resolution, optional statistics;
* **file**: ``file:size`` and ``file:checksum`` (a sha2-256 multihash) of every
  asset.

Assets carry roles: ``data`` (the raster), ``overview`` and ``thumbnail`` (PNG
quicklooks, drawn from the file's internal overviews so a large COG is never read
whole) and ``metadata`` (sidecar files). The item's datetime comes from the
raster's tags (``TIFFTAG_DATETIME``, ``datetime``), the Landsat MTL beside it, or a
date in the file name; only a raster with none of these takes ``datetime``. Without
it, an undated raster spans the period of the dated rasters of its own collection
(``start_datetime`` .. ``end_datetime``; for a satlearn synthetic scene, the scene's
dates), or is skipped with a hint to give ``--datetime``.

A data asset is typed ``profile=cloud-optimized`` only when rio-cogeo validates the
file as a COG; footprints wind counter-clockwise (RFC 7946).

The catalogue is written into a hidden temporary folder beside ``out_dir`` and
renamed into place, so a catalogue that exists under its final name is complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import rasterio
import rasterio.warp
import shapely
from PIL import Image
from pystac.extensions.eo import Band as EOBand
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension, Statistics
from rasterio.enums import Resampling
from shapely.geometry import box, mapping, shape

from satlearn.atomic import atomic_output, replace_folder, temporary_sibling, writing
from satlearn.bands import get_sensor, known_band_names, stac_common_name
from satlearn.errors import InvalidInputError, RasterIOError, SatlearnError
from satlearn.raster import json_number
from satlearn.viz.quicklook import to_rgb8

__all__ = ["RASTER_SUFFIXES", "build_catalog", "item_from_raster", "multihash_sha256"]

#: File suffixes taken as rasters when scanning a folder.
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt")
_METADATA_SUFFIXES = (".json", ".xml", ".txt", ".md")
_MEDIA_TYPES = {
    ".tif": pystac.MediaType.COG,
    ".tiff": pystac.MediaType.COG,
    ".jp2": pystac.MediaType.JPEG2000,
    ".json": pystac.MediaType.JSON,
    ".xml": pystac.MediaType.XML,
    ".png": pystac.MediaType.PNG,
    ".txt": pystac.MediaType.TEXT,
    ".md": "text/markdown",
    ".geojson": pystac.MediaType.GEOJSON,
}
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?:[T_]?(\d{2})(\d{2})(\d{2}))?(?!\d)")
_UTC = dt.UTC
_THUMBNAIL_PX = 256
_OVERVIEW_PX = 1024


def multihash_sha256(path: str | os.PathLike[str]) -> str:
    """The sha2-256 multihash of a file, as the STAC file extension's ``file:checksum``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"")
    >>> multihash_sha256(p)[:8]
    '1220e3b0'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "1220" + digest.hexdigest()  # 0x12 = sha2-256, 0x20 = 32 bytes


def _file_fields(asset: pystac.Asset, path: Path) -> None:
    ext = FileExtension.ext(asset, add_if_missing=True)
    ext.size = path.stat().st_size
    ext.checksum = multihash_sha256(path)


def _media_type(path: Path) -> str | None:
    return _MEDIA_TYPES.get(path.suffix.lower())


def _raster_media_type(path: Path) -> str | None:
    """``profile=cloud-optimized`` only for a GeoTIFF rio-cogeo validates as a COG."""
    media = _media_type(path)
    if media != pystac.MediaType.COG:
        return media
    from rio_cogeo.cogeo import cog_validate

    try:
        valid, _errors, _warnings = cog_validate(str(path), quiet=True)
    except Exception:  # rio-cogeo raises rasterio's errors for odd files: not a COG then
        valid = False
    return pystac.MediaType.COG if valid else pystac.MediaType.GEOTIFF


# --------------------------------------------------------------------------- datetimes


def _date_from_name(name: str) -> dt.datetime | None:
    for match in _DATE_IN_NAME.finditer(name):
        y, m, d, hh, mm, ss = match.groups()
        try:
            return dt.datetime(
                int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=_UTC
            )
        except ValueError:  # 8 digits that are not a date (an orbit number...)
            continue
    return None


def _date_from_tags(tags: dict[str, str]) -> dt.datetime | None:
    for key in ("TIFFTAG_DATETIME", "datetime", "DATETIME", "ACQUISITIONDATETIME"):
        text = tags.get(key)
        if not text:
            continue
        text = text.strip()
        # TIFF's own format is "YYYY:MM:DD HH:MM:SS"; others are ISO 8601.
        if re.fullmatch(r"\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}", text):
            return dt.datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=_UTC)
        try:
            value = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        except ValueError:
            continue
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    return None


def _date_from_mtl(path: Path) -> dt.datetime | None:
    """The acquisition time in the Landsat ``<scene>_MTL.txt`` beside a ``<scene>_*`` file."""
    for mtl in sorted(path.parent.glob("*_MTL.txt")):
        scene = mtl.name[: -len("_MTL.txt")]
        if not path.stem.startswith(scene + "_"):
            continue
        from satlearn.datasets.landsat import LandsatScene

        try:
            when = LandsatScene(mtl).datetime
        except SatlearnError:  # not an MTL satlearn can read: other sources decide
            return None
        if when:
            try:
                return _as_utc(str(when))
            except InvalidInputError:
                return None
    return None


def _as_utc(value: dt.datetime | dt.date | str) -> dt.datetime:
    if isinstance(value, str):
        from satlearn.catalog.search import parse_instant

        return parse_instant(value, end=False)
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=_UTC)
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


# --------------------------------------------------------------------------- one raster


@dataclass
class _RasterFacts:
    width: int
    height: int
    count: int
    crs: rasterio.crs.CRS
    transform: Any
    bounds: Any
    dtypes: tuple[str, ...]
    nodatavals: tuple[float | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    descriptions: tuple[str | None, ...]
    tags: dict[str, str]
    preview: np.ndarray  # (band, y, x), decimated through the overviews


def _read_facts(path: Path, preview_px: int) -> _RasterFacts:
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise InvalidInputError(
                    f"{path}: raster has no CRS, so it cannot be placed on Earth"
                )
            step = max(1, int(np.ceil(max(ds.width, ds.height) / preview_px)))
            shape_ = (ds.count, max(1, ds.height // step), max(1, ds.width // step))
            # Reading at a reduced out_shape lets GDAL use the internal overviews.
            preview = ds.read(out_shape=shape_, resampling=Resampling.nearest, masked=True)
            preview = preview.astype("float64").filled(np.nan)
            return _RasterFacts(
                ds.width,
                ds.height,
                ds.count,
                ds.crs,
                ds.transform,
                ds.bounds,
                tuple(ds.dtypes),
                tuple(ds.nodatavals),
                tuple(ds.scales),
                tuple(ds.offsets),
                tuple(ds.descriptions),
                dict(ds.tags()),
                preview,
            )
    except rasterio.errors.RasterioIOError as err:
        raise RasterIOError(f"{path}: not a raster GDAL can read ({err})") from None


def _footprint(facts: _RasterFacts, path: Path) -> tuple[dict[str, Any], list[float]]:
    """WGS84 footprint polygon (edges densified before reprojection) and its bbox."""
    native = box(*facts.bounds)
    try:
        bbox = list(
            rasterio.warp.transform_bounds(facts.crs, "EPSG:4326", *facts.bounds, densify_pts=21)
        )
        if facts.crs.is_geographic:
            geometry = native
        else:
            # Straight edges in a projected CRS are curves in lon/lat: densify first.
            step = max(native.length / 4 / 8, 1e-9)
            dense = shapely.segmentize(native, max_segment_length=step)
            geometry = shape(rasterio.warp.transform_geom(facts.crs, "EPSG:4326", mapping(dense)))
    except Exception as err:  # GDAL raises CPLE_* or even SystemError from reprojection
        # e.g. a geostationary full disk: its corners are off the Earth.
        raise InvalidInputError(
            f"{path}: its footprint cannot be expressed in longitude/latitude ({err})"
        ) from None
    if not np.all(np.isfinite(bbox)) or not np.all(np.isfinite(shapely.get_coordinates(geometry))):
        raise InvalidInputError(
            f"{path}: its footprint cannot be expressed in longitude/latitude "
            "(corners off the Earth)"
        )
    rounded = shapely.set_precision(geometry, 1e-7)  # ~1 cm: stable JSON across runs
    # set_precision may reverse rings; GeoJSON wants exteriors counter-clockwise
    # (RFC 7946 3.1.6), so orient last.
    rounded = shapely.orient_polygons(rounded)
    # Through JSON: GeoJSON arrays as lists (shapely gives tuples, which a schema rejects).
    return json.loads(shapely.to_geojson(rounded)), [round(float(v), 7) for v in bbox]


def _rgb_preview(facts: _RasterFacts, names: list[str]) -> np.ndarray:
    wanted = [names.index(b) for b in ("red", "green", "blue") if b in names]
    data = facts.preview[wanted] if len(wanted) == 3 else facts.preview[:1]
    with np.errstate(invalid="ignore"):
        return to_rgb8(data)


def _write_png(rgb: np.ndarray, path: Path, max_px: int) -> Path:
    image = Image.fromarray(rgb)
    image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    with atomic_output(path) as tmp:
        image.save(tmp, format="PNG")
    return path


_BAND_IN_NAME = re.compile(r"_((?:SR_|ST_)?B\d{1,2}A?|BQA|QA_PIXEL)$", re.IGNORECASE)


def _bands_of(facts: _RasterFacts, stem: str, profile: Any) -> list[tuple[str, Any]]:
    """``(name, sensor band or None)`` per band, from what the file itself says.

    A band's own description first; for a single-band file without one, the
    sensor's band id at the end of the file name (``..._B4`` -> red). Otherwise the
    band is labelled ``b1``, ``b2``... by position and nothing is looked up: a
    position says nothing about which sensor band it is.
    """
    out: list[tuple[str, Any]] = []
    for i, description in enumerate(facts.descriptions, start=1):
        if description:
            info = profile.band(description) if profile and description in profile else None
            out.append((description, info))
            continue
        match = _BAND_IN_NAME.search(stem) if facts.count == 1 else None
        band_id = match.group(1).upper().removeprefix("SR_").removeprefix("ST_") if match else None
        if profile is not None and band_id is not None and band_id in profile:
            info = profile.band(band_id)
            out.append((info.name, info))
        else:
            out.append((f"b{i}", None))
    return out


def item_from_raster(
    path: str | os.PathLike[str],
    *,
    id: str | None = None,
    datetime: dt.datetime | dt.date | str | None = None,
    collection: str | None = None,
    sensor: str | None = None,
    asset_href: str | None = None,
    preview_dir: str | os.PathLike[str] | None = None,
    metadata: Sequence[str | os.PathLike[str]] = (),
    statistics: bool = False,
    properties: dict[str, Any] | None = None,
) -> pystac.Item:
    """Describe one raster file as a STAC item, with eo, projection, raster and file fields.

    Parameters
    ----------
    path : path
        A raster GDAL can read, with a CRS.
    id : str, optional
        The item id (default: the file stem).
    datetime : datetime, date or RFC 3339 string, optional
        The acquisition time. Default: the raster's ``TIFFTAG_DATETIME`` (or
        ``datetime``) tag, else the Landsat ``<scene>_MTL.txt`` beside a
        ``<scene>_*`` file, else a date in the file name (``..._2021-06-01.tif``,
        ``..._20210601T103021...``).
    collection : str, optional
        The collection id recorded in the item.
    sensor : str, optional
        A satlearn sensor profile (e.g. ``"sentinel2_l2a"``): band descriptions that
        are its band names or ids get wavelengths.
    asset_href : str, optional
        The href written for the data asset (default: the absolute path; the
        catalogue builder makes it relative).
    preview_dir : path, optional
        Where to write ``<id>_overview.png`` and ``<id>_thumbnail.png`` (assets with
        roles ``overview`` and ``thumbnail``); none when omitted.
    metadata : sequence of paths
        Sidecar files added as assets with role ``metadata``.
    statistics : bool
        Add ``raster:bands[].statistics`` (min, max, mean, stddev, valid_percent),
        computed on the decimated preview read, hence approximate for large rasters.
    properties : dict, optional
        Extra item properties.

    Returns
    -------
    pystac.Item

    Raises
    ------
    InvalidInputError
        No CRS, or no datetime found and none given.
    RasterIOError
        Not a readable raster.

    Examples
    --------
    >>> item = item_from_raster("out/image_2021-06-01.tif")  # doctest: +SKIP
    >>> item.datetime.date(), item.properties["proj:code"]  # doctest: +SKIP
    (datetime.date(2021, 6, 1), 'EPSG:32633')
    """
    path = Path(os.fspath(path))
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such raster file")
    # Band statistics and pictures share one decimated read (through the overviews).
    facts = _read_facts(path, _OVERVIEW_PX if preview_dir is not None or statistics else 64)
    when = (
        _as_utc(datetime)
        if datetime is not None
        else _date_from_tags(facts.tags) or _date_from_mtl(path) or _date_from_name(path.stem)
    )
    if when is None and not (properties or {}).get("start_datetime"):
        raise InvalidInputError(
            f"{path}: no acquisition time in its tags, an MTL or its file name; "
            "give one (--datetime)"
        )
    geometry, bbox = _footprint(facts, path)
    item = pystac.Item(
        id=id or path.stem,
        geometry=geometry,
        bbox=bbox,
        datetime=when,
        properties=dict(properties or {}),
        collection=collection,
    )
    profile = None
    if sensor is not None:
        profile = get_sensor(sensor)

    # projection: on the item, since every asset of a satlearn item shares the grid.
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    epsg = facts.crs.to_epsg()
    if epsg is not None:
        proj.code = f"EPSG:{epsg}"
    else:
        proj.code = None
        proj.wkt2 = facts.crs.to_wkt()
    proj.shape = [facts.height, facts.width]
    proj.transform = [float(v) for v in list(facts.transform)[:6]]
    proj.bbox = [float(v) for v in facts.bounds]
    if not facts.crs.is_geographic and abs(facts.transform.a) == abs(facts.transform.e):
        item.common_metadata.gsd = float(abs(facts.transform.a))

    data = pystac.Asset(
        href=asset_href or str(path.resolve()),
        title=path.name,
        media_type=_raster_media_type(path),
        roles=["data"],
    )
    item.add_asset("data", data)  # extensions of an asset need its owner
    known = known_band_names()
    eo_bands = []
    described = {i for i, d in enumerate(facts.descriptions) if d}
    for i, (name, band_info) in enumerate(_bands_of(facts, path.stem, profile)):
        # A positional label (b1...) is never taken for a band name.
        common = (
            stac_common_name(band_info.name if band_info else name)
            if (band_info or (i in described and name in known))
            else None
        )
        eo_bands.append(
            EOBand.create(
                name=name,
                common_name=common,
                center_wavelength=band_info.center_wavelength if band_info else None,
                full_width_half_max=band_info.full_width_half_max if band_info else None,
            )
        )
    EOExtension.ext(data, add_if_missing=True).bands = eo_bands
    raster_bands = []
    resolution = float(abs(facts.transform.a))
    for i in range(facts.count):
        stats = None
        if statistics:
            values = facts.preview[i][np.isfinite(facts.preview[i])]
            if values.size:
                stats = Statistics.create(
                    minimum=float(values.min()),
                    maximum=float(values.max()),
                    mean=float(values.mean()),
                    stddev=float(values.std()),
                    valid_percent=float(100.0 * values.size / facts.preview[i].size),
                )
        scale, offset = facts.scales[i], facts.offsets[i]
        raster_bands.append(
            RasterBand.create(
                nodata=json_number(facts.nodatavals[i]),
                data_type=DataType(facts.dtypes[i]),
                spatial_resolution=resolution,
                scale=float(scale) if scale not in (None, 1.0) else None,
                offset=float(offset) if offset not in (None, 0.0) else None,
                statistics=stats,
            )
        )
    RasterExtension.ext(data, add_if_missing=True).bands = raster_bands
    _file_fields(data, path)

    if preview_dir is not None:
        folder = Path(os.fspath(preview_dir))
        rgb = _rgb_preview(
            facts,
            [info.name if info else name for name, info in _bands_of(facts, path.stem, profile)],
        )
        for key, size in (("overview", _OVERVIEW_PX), ("thumbnail", _THUMBNAIL_PX)):
            png = _write_png(rgb, folder / f"{item.id}_{key}.png", size)
            asset = pystac.Asset(
                href=str(png.resolve()),
                media_type=pystac.MediaType.PNG,
                roles=[key],
                title=f"{key.capitalize()} of {path.name}",
            )
            item.add_asset(key, asset)
            _file_fields(asset, png)
    for extra in metadata:
        extra_path = Path(os.fspath(extra))
        asset = pystac.Asset(
            href=str(extra_path.resolve()),
            media_type=_media_type(extra_path),
            roles=["metadata"],
            title=extra_path.name,
        )
        item.add_asset(_asset_key(extra_path, item), asset)
        _file_fields(asset, extra_path)
    return item


def _asset_key(path: Path, item: pystac.Item) -> str:
    key = "metadata" if "metadata" not in item.assets else f"metadata-{path.name}"
    return key


# --------------------------------------------------------------------------- a catalogue


CollectionBy = str | Callable[[Path], str]


def _collection_of(relative: Path, by: CollectionBy, default: str) -> str:
    if callable(by):
        return str(by(relative))
    if by == "single":
        return default
    if by == "folder":
        return "-".join(relative.parent.parts) or default
    if by == "stem":
        # The file name without its date: image_2021-06-01 -> image, clouds_2021... -> clouds.
        stem = _DATE_IN_NAME.sub("", relative.stem).strip("_-. ")
        return stem or default
    raise InvalidInputError(
        f"collection_by {by!r} is not one of 'single', 'folder', 'stem' or a function"
    )


def _find_rasters(folder: Path, exclude: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in RASTER_SUFFIXES:
            continue
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue  # hidden files, and temporaries of atomic writes in progress
        if exclude == path or exclude in path.parents:
            continue
        found.append(path)
    return found


def _sidecars(path: Path) -> list[Path]:
    out = []
    for suffix in _METADATA_SUFFIXES:
        candidates = (path.with_suffix(suffix), path.with_name(path.name + suffix))
        if suffix == ".xml":
            candidates += (path.with_name(path.name + ".aux.xml"),)
        for candidate in candidates:
            if candidate.is_file() and candidate not in out:
                out.append(candidate)
    return out


def _scene_manifest(folder: Path) -> dict[str, Any] | None:
    manifest = folder / "scene.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("generator") == "satlearn.synth" else None


def _manifest_dates(manifest: dict[str, Any] | None) -> list[dt.datetime]:
    dates = []
    for text in (manifest or {}).get("dates") or []:
        try:
            dates.append(_as_utc(str(text)))
        except InvalidInputError:
            continue
    return dates


def _ids(paths: list[Path], folder: Path) -> list[str]:
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    # Two files share a stem (in different folders): use the relative path.
    return ["-".join(p.relative_to(folder).with_suffix("").parts) for p in paths]


def build_catalog(
    folder: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    id: str | None = None,
    title: str | None = None,
    description: str | None = None,
    collection_by: CollectionBy = "folder",
    datetime: dt.datetime | dt.date | str | None = None,
    sensor: str | None = None,
    thumbnails: bool = True,
    statistics: bool = False,
    license: str = "other",
    absolute_hrefs: bool = False,
    skipped: list[tuple[Path, str]] | None = None,
) -> pystac.Catalog:
    """Write a self-contained static STAC catalogue describing every raster under ``folder``.

    Parameters
    ----------
    folder : path
        Searched recursively for rasters (``.tif``, ``.tiff``, ``.jp2``, ``.img``,
        ``.vrt``); hidden files and ``out_dir`` itself are ignored.
    out_dir : path
        The catalogue folder (``out_dir/catalog.json``); it must not exist, or hold
        a previous catalogue, which is replaced.
    id, title, description : str, optional
        Of the root catalogue (id default: the folder name).
    collection_by : {"folder", "single", "stem"} or callable
        How items are grouped into collections: by sub-folder (files at the top go
        to a collection named after ``id``), all in one, by file stem without its
        date (``image_2021-06-01.tif`` -> ``image``), or ``f(relative_path) -> id``.
    datetime : datetime, date or str, optional
        For rasters whose time is in none of their tags, a Landsat MTL beside them
        or their name (a raster's own time always wins). Without it such a raster
        spans the period of the dated rasters of its own collection (a static
        truth layer), or is skipped when that collection has none.
    sensor : str, optional
        A satlearn sensor profile for band wavelengths (default: the sensor of a
        satlearn synthetic scene folder's ``scene.json``).
    thumbnails : bool
        Write PNG overview and thumbnail assets.
    statistics : bool
        Add approximate band statistics (see :func:`item_from_raster`).
    license : str
        The collections' SPDX licence id (STAC's ``"other"`` by default).
    absolute_hrefs : bool
        Write asset hrefs as absolute paths, so the catalogue can be moved away
        from the rasters. By default they are relative, which suits a catalogue
        kept beside (or shipped with) its data.
    skipped : list, optional
        Receives ``(path, reason)`` for each raster left out (no CRS, unreadable,
        undated).

    Returns
    -------
    pystac.Catalog
        The written catalogue, its self href at ``out_dir/catalog.json``.

    Raises
    ------
    InvalidInputError
        ``folder`` is not a folder, holds no usable raster, or ``out_dir`` exists and
        is not a catalogue.

    Examples
    --------
    >>> cat = build_catalog("out/scene", "out/catalog", collection_by="stem")  # doctest: +SKIP
    >>> sorted(c.id for c in cat.get_children())  # doctest: +SKIP
    ['clouds', 'image', 'landcover', 'pan', ...]
    """
    root = Path(os.fspath(folder)).resolve()
    target = Path(os.fspath(out_dir)).resolve()
    if not root.is_dir():
        raise InvalidInputError(f"{root}: not a folder")
    if target == root or target in root.parents:
        raise InvalidInputError(
            f"{target}: the catalogue folder must not contain the rasters in {root}; "
            f"choose e.g. {root / 'catalog'}"
        )
    if target.exists() and not (target / "catalog.json").is_file():
        raise InvalidInputError(
            f"{target}: exists and is not a STAC catalogue; refusing to replace it"
        )
    if datetime is not None:
        try:  # once, up front, rather than once per undated raster
            datetime = _as_utc(datetime)
        except InvalidInputError as err:
            raise InvalidInputError(f"--datetime: {err}") from None
    catalog_id = id or root.name
    manifest = _scene_manifest(root)
    if sensor is not None:
        get_sensor(sensor)  # an unknown name is the caller's mistake: say so now
    elif manifest is not None:
        try:
            sensor = get_sensor(str(manifest.get("sensor"))).key
        except SatlearnError:  # a scene of a sensor this version does not know
            sensor = None
    rasters = _find_rasters(root, target)
    if not rasters:
        raise InvalidInputError(f"{root}: no rasters ({', '.join(RASTER_SUFFIXES)}) found")

    # Disk full or read-only: one WriteError naming the catalogue, nothing half-made left.
    with writing(target):
        # A temporary_sibling name, so a SIGKILLed run's staging folder is removed by the next.
        staging = temporary_sibling(target, "partial")
        staging.mkdir(parents=True)
        try:
            items, problems = _describe_all(
                rasters,
                root,
                staging,
                catalog_id,
                collection_by,
                datetime,
                sensor,
                thumbnails,
                statistics,
                _manifest_dates(manifest),
            )
            if skipped is not None:
                skipped.extend(problems)
            if not items:
                raise InvalidInputError(_nothing_catalogued(root, problems))
            catalog = _assemble(
                items,
                root,
                target,
                staging,
                catalog_id,
                title,
                description,
                license,
                manifest,
                absolute_hrefs,
            )
            _swap_into_place(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    catalog.normalize_hrefs(str(target))  # the object now describes the final location
    return catalog


def _nothing_catalogued(root: Path, problems: list[tuple[Path, str]]) -> str:
    undated = sum(1 for _, why in problems if "no acquisition time" in why)
    shown = "; ".join(f"{p.name}: {why}" for p, why in problems[:3])
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    hint = (
        f"; {undated} raster(s) have no acquisition time: give one with --datetime"
        if undated
        else ""
    )
    return f"{root}: no raster could be catalogued, {len(problems)} skipped ({shown}{more}){hint}"


def _describe_all(
    rasters: list[Path],
    root: Path,
    staging: Path,
    catalog_id: str,
    collection_by: CollectionBy,
    datetime: Any,
    sensor: str | None,
    thumbnails: bool,
    statistics: bool,
    scene_dates: Sequence[dt.datetime] = (),
) -> tuple[list[pystac.Item], list[tuple[Path, str]]]:
    items: list[pystac.Item] = []
    undated: list[tuple[Path, str, str]] = []
    problems: list[tuple[Path, str]] = []

    def item_options(path: Path, item_id: str, collection: str) -> dict[str, Any]:
        return {
            "id": item_id,
            "collection": collection,
            "sensor": sensor,
            "preview_dir": staging / collection / item_id if thumbnails else None,
            "metadata": _sidecars(path),
            "statistics": statistics,
        }

    for path, item_id in zip(rasters, _ids(rasters, root), strict=True):
        relative = path.relative_to(root)
        collection = _collection_of(relative, collection_by, catalog_id)
        kwargs = item_options(path, item_id, collection)
        try:
            # The raster's own time (tags, MTL, name) first: --datetime is for the rest.
            items.append(item_from_raster(path, **kwargs))
        except InvalidInputError as err:
            if "no acquisition time" in str(err):
                undated.append((path, item_id, collection))
                continue
            problems.append((path, str(err).removeprefix(f"{path}: ")))
        except RasterIOError as err:
            problems.append((path, str(err).removeprefix(f"{path}: ")))
    for path, item_id, collection in undated:
        common = item_options(path, item_id, collection)
        if datetime is not None:
            when: dict[str, Any] = {"datetime": datetime}
        else:
            # A static layer (a DEM, a truth map) spans the period of its own
            # collection's dated rasters, never other collections'.
            times = [
                it.datetime
                for it in items
                if it.datetime is not None and it.collection_id == collection
            ] or list(scene_dates)  # a satlearn scene's truth layers: the scene's dates
            if not times:
                problems.append((path, "no acquisition time in its tags, an MTL or its file name"))
                continue
            when = {
                "properties": {
                    "start_datetime": pystac.utils.datetime_to_str(min(times)),
                    "end_datetime": pystac.utils.datetime_to_str(max(times)),
                }
            }
        try:
            items.append(item_from_raster(path, **when, **common))
        except (InvalidInputError, RasterIOError) as err:
            problems.append((path, str(err).removeprefix(f"{path}: ")))
    return items, problems


def _assemble(
    items: list[pystac.Item],
    root: Path,
    target: Path,
    staging: Path,
    catalog_id: str,
    title: str | None,
    description: str | None,
    license: str,
    manifest: dict[str, Any] | None,
    absolute_hrefs: bool = False,
) -> pystac.Catalog:
    catalog = pystac.Catalog(
        id=catalog_id,
        title=title,
        description=description or f"Rasters under {root.name}, catalogued by satlearn",
    )
    by_collection: dict[str, list[pystac.Item]] = {}
    for item in items:
        by_collection.setdefault(item.collection_id or catalog_id, []).append(item)
    for cid in sorted(by_collection):
        members = sorted(by_collection[cid], key=lambda it: it.id)
        collection = pystac.Collection(
            id=cid,
            description=f"{cid}: {len(members)} raster(s) from {root.name}",
            extent=pystac.Extent.from_items(members),
            license=license,
        )
        if manifest is not None:
            scene = pystac.Asset(
                href=str(root / "scene.json"),
                media_type=pystac.MediaType.JSON,
                roles=["metadata"],
                title="satlearn synthetic scene parameters",
            )
            collection.add_asset("scene", scene)
            _file_fields(scene, root / "scene.json")
        for item in members:
            collection.add_item(item)
        catalog.add_child(collection)
    # Final hrefs first (relative links and asset hrefs are computed against them),
    # then the JSON is written under the staging folder at the same relative places.
    catalog.normalize_hrefs(str(target))
    for item in catalog.get_items(recursive=True):
        for asset in item.assets.values():
            absolute = Path(asset.href)
            if staging in absolute.parents:  # a preview written into the staging tree
                absolute = target / absolute.relative_to(staging)
            outside = staging not in Path(asset.href).parents
            asset.href = (
                str(absolute)
                if absolute_hrefs and outside
                else os.path.relpath(absolute, Path(item.get_self_href()).parent)
            )
    for child in catalog.get_children():
        if isinstance(child, pystac.Collection) and not absolute_hrefs:
            for asset in child.assets.values():
                asset.href = os.path.relpath(asset.href, Path(child.get_self_href()).parent)
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, dest_href=str(staging))
    return catalog


def _swap_into_place(staging: Path, target: Path) -> None:
    # One atomic exchange where the OS allows it: a kill never leaves no catalogue.
    replace_folder(staging, target)
