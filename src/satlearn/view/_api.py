"""The page's small JSON endpoints: spectral indices, overlays as GeoJSON, models, predictions.

Routes, relative to where the router is mounted (``/api``)::

    GET  /indices?bands=blue,green,red,nir   the catalogue's indices those bands allow, each
                                             with its formula rewritten on the band names
                                             (what the tile router's ``expression=`` takes)
    GET  /overlays/{collection}/{item}/{asset}.geojson
                                             a GeoJSON or GeoParquet asset as GeoJSON (WGS 84)
    GET  /models                             the models the page may run: name, task, bands,
                                             classes, and where to POST an image
    POST /predict/{name}                     an uploaded image (GeoTIFF, PNG or JPEG, field
                                             ``file``) through satlearn.predict: the class
                                             mask as a PNG of class ids (255: no data), as the
                                             model server's ``:segment`` answers
    POST /image-info                         an uploaded image's WGS 84 bounds (null when it
                                             is not georeferenced) and an RGB preview PNG

Errors are JSON ``{"error": ...}`` with a 4xx status, naming the input.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse, Response

from satlearn.catalog.search import CatalogIndex
from satlearn.errors import InvalidInputError, SatlearnError
from satlearn.view._folder import MAX_OVERLAY_FEATURES, OVERLAY_MEDIA_TYPES, read_overlay

__all__ = ["ModelLister", "api_router", "index_expressions"]

#: ``() -> [{"name", "task", "bands", "classes", "segment_url"}]``: what the playground lists.
ModelLister = Callable[[], list[dict[str, Any]]]

#: The largest image the playground takes (bytes, and pixels as declared by its header).
MAX_UPLOAD_BYTES = 64 * 2**20
MAX_UPLOAD_PIXELS = 4096 * 4096
_MASK_NODATA = 255
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def index_expressions(bands: list[str]) -> list[dict[str, Any]]:
    """The catalogue's indices computable from ``bands``, formulas spelt with those band names.

    An index is listed when each of its band symbols maps onto one of
    ``bands`` and each constant has a catalogue default (substituted as a
    number). The rewrite is token by token on the catalogue's formula, which
    :mod:`satlearn.spectral` has already parsed against its arithmetic
    whitelist; the tile router parses the result again before it computes it.

    Parameters
    ----------
    bands : list of str
        Band names of an asset (satlearn names: ``red``, ``nir``, ...).

    Returns
    -------
    list of dict
        ``name``, ``long_name``, ``domain``, ``formula`` (the catalogue's) and
        ``expression`` (on band names), sorted by name.
    """
    from satlearn.spectral import describe_index, index_names

    have = {b.lower(): b for b in bands}
    out = []
    for name in index_names():
        info = describe_index(name)
        symbols = {}
        for symbol in info["bands"]:
            match = next((have[n] for n in info["band_names"].get(symbol, ()) if n in have), None)
            if match is None:
                break
            symbols[symbol] = match
        else:
            if any(v is None for v in info["constants"].values()):
                continue  # a parameter the user must give (PAR, kernel values)
            values = {**{k: repr(float(v)) for k, v in info["constants"].items()}, **symbols}
            expression = _NAME.sub(
                lambda m, values=values: values.get(m.group(0), m.group(0)), info["formula"]
            )
            out.append(
                {
                    "name": info["short_name"],
                    "long_name": info["long_name"],
                    "domain": info["application_domain"],
                    "formula": info["formula"],
                    "expression": expression.replace(" ", ""),
                }
            )
    return sorted(out, key=lambda e: e["name"].lower())


def _json_safe(value: Any) -> Any:
    """Feature properties as JSON can carry them (NaN -> null, numpy scalars -> Python)."""
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def overlay_geojson(path: Path) -> dict[str, Any]:
    """A vector file as a GeoJSON FeatureCollection in WGS 84, at most MAX_OVERLAY_FEATURES."""
    import shapely

    frame = read_overlay(path)
    truncated = len(frame) > MAX_OVERLAY_FEATURES
    frame = frame.iloc[:MAX_OVERLAY_FEATURES]
    columns = [c for c in frame.columns if c != frame.geometry.name]
    features = []
    for geometry, row in zip(frame.geometry, frame[columns].itertuples(index=False), strict=True):
        features.append(
            {
                "type": "Feature",
                "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
                "properties": {c: _json_safe(v) for c, v in zip(columns, row, strict=True)},
            }
        )
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}


def _decode_upload(data: bytes) -> tuple[np.ndarray, list[str], Any, Any, Any]:
    """``(values (band, y, x), descriptions, crs, transform, nodata)`` of an uploaded image."""
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        import rasterio
        from rasterio.errors import RasterioIOError

        try:
            with rasterio.MemoryFile(data) as memfile, memfile.open() as src:
                if src.width * src.height > MAX_UPLOAD_PIXELS:
                    raise InvalidInputError(
                        f"file: {src.width} x {src.height} px is more than the playground "
                        f"takes ({MAX_UPLOAD_PIXELS} px)"
                    )
                values = src.read()
                descriptions = [d or "" for d in src.descriptions]
                return values, descriptions, src.crs, src.transform, src.nodata
        except RasterioIOError as err:
            raise InvalidInputError(f"file: not a readable GeoTIFF ({err})") from None
    from affine import Affine
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > MAX_UPLOAD_PIXELS:
                raise InvalidInputError(
                    f"file: {picture.width} x {picture.height} px is more than the playground "
                    f"takes ({MAX_UPLOAD_PIXELS} px)"
                )
            array = np.asarray(picture.convert("RGB") if picture.mode == "P" else picture)
    except (UnidentifiedImageError, OSError) as err:
        raise InvalidInputError(f"file: not a GeoTIFF, PNG or JPEG ({err})") from None
    values = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    return values, [], None, Affine.identity(), None


def _model_input(values: np.ndarray, descriptions: list[str], bands: tuple[str, ...]) -> np.ndarray:
    """The upload's bands in the model's order: by name when the file names them, else as is."""
    if set(bands) <= set(descriptions):
        return values[[descriptions.index(b) for b in bands]]
    if values.shape[0] != len(bands):
        raise InvalidInputError(
            f"file: the image has {values.shape[0]} band(s); the model reads {len(bands)} "
            f"({', '.join(bands)}), in that order or named so in the GeoTIFF"
        )
    return values


def _run_model(bundle_dir: Path, data: bytes) -> bytes:
    import xarray as xr
    from PIL import Image

    from satlearn.bundle import read_bundle
    from satlearn.predict import predict
    from satlearn.raster import georeference, pixel_centres

    bundle = read_bundle(bundle_dir)
    if bundle.task != "semantic-segmentation":
        raise InvalidInputError(
            f"model {bundle_dir.parent.name}: the playground draws class masks; this bundle's "
            f"task is {bundle.task}"
        )
    values, descriptions, crs, transform, nodata = _decode_upload(data)
    values = _model_input(values, descriptions, bundle.bands)
    ys, xs = pixel_centres(transform, values.shape[1], values.shape[2])
    da = xr.DataArray(
        values, dims=("band", "y", "x"), coords={"band": list(bundle.bands), "y": ys, "x": xs}
    )
    classes = predict(bundle, georeference(da, crs, transform, nodata), out=None)
    mask = np.asarray(classes.values)
    mask = np.where(np.isfinite(mask), mask, _MASK_NODATA).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _image_info(data: bytes) -> dict[str, Any]:
    from PIL import Image

    from satlearn.viz.quicklook import to_rgb8

    values, descriptions, crs, transform, _ = _decode_upload(data)
    bounds = None
    if crs is not None:
        from rasterio.transform import array_bounds
        from rasterio.warp import transform_bounds

        # array_bounds answers (west, south, east, north) in the image's CRS.
        west, south, east, north = transform_bounds(
            crs, "EPSG:4326", *array_bounds(values.shape[1], values.shape[2], transform)
        )
        bounds = [[south, west], [north, east]]
    # An RGB preview: red, green, blue by name when the file names them, else the first three.
    order = [descriptions.index(b) for b in ("red", "green", "blue") if b in descriptions]
    if len(order) == 3:
        picked = values[order]
    else:  # to_rgb8 takes one band or three
        picked = values[:3] if values.shape[0] >= 3 else values[:1]
    rgb = to_rgb8(np.asarray(picked, dtype=np.float32))
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return {
        "bounds": bounds,
        "width": int(values.shape[2]),
        "height": int(values.shape[1]),
        "bands": int(values.shape[0]),
        "preview": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(),
    }


async def _read(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"file: larger than {MAX_UPLOAD_BYTES // 2**20} MiB")
    if not data:
        raise InvalidInputError("file: empty upload")
    return data


def api_router(
    index: CatalogIndex,
    *,
    models: Callable[[str], Path] | None = None,
    list_models: ModelLister | None = None,
    predict_here: bool = True,
) -> APIRouter:
    """The page's JSON endpoints (module docstring).

    Parameters
    ----------
    index : CatalogIndex
        The catalogue the overlays are looked up in.
    models : callable, optional
        ``name -> bundle folder`` (KeyError when unknown), for ``/predict``.
    list_models : callable, optional
        What ``/models`` answers; none: an empty list.
    predict_here : bool
        Serve ``POST /predict/{name}`` (the model server has its own ``:segment``).

    Returns
    -------
    fastapi.APIRouter
    """
    router = APIRouter(tags=["viewer"])
    # One prediction at a time: each already uses every core (ONNX Runtime's threads).
    sweep = asyncio.Semaphore(1)

    @router.get("/indices")
    def indices(bands: str = "") -> Any:
        names = [b.strip() for b in bands.split(",") if b.strip()]
        if not names:
            return _error(400, "bands: give the asset's band names, comma-separated")
        return {"bands": names, "indices": index_expressions(names)}

    @router.get("/overlays/{collection}/{item}/{asset}.geojson")
    async def overlay(collection: str, item: str, asset: str) -> Any:
        found = [it for it in index.search(ids=[item], collections=[collection])]
        if not found:
            return _error(404, f"no item {item!r} in collection {collection!r}")
        entry = found[0].assets.get(asset)
        if entry is None:
            return _error(404, f"item {item!r} has no asset {asset!r}")
        href = entry.get_absolute_href() or entry.href
        path = Path(href)
        if path.suffix.lower() not in OVERLAY_MEDIA_TYPES or not path.is_file():
            return _error(
                400, f"asset {asset!r} of {item!r} is not a local GeoJSON or GeoParquet file"
            )
        try:
            doc = await asyncio.to_thread(overlay_geojson, path)
        except SatlearnError as err:
            return _error(400, str(err))
        return JSONResponse(doc, media_type="application/geo+json")

    @router.get("/models")
    def model_list() -> Any:
        return {"models": list_models() if list_models is not None else []}

    if predict_here:

        @router.post("/predict/{name}")
        async def predict_upload(name: str, file: Annotated[UploadFile, File()]) -> Any:
            if models is None:
                return _error(404, "no models: start satlearn view with --models DIR")
            try:
                bundle_dir = models(name)
            except KeyError:
                return _error(404, f"no model {name!r}")
            try:
                data = await _read(file)
                async with sweep:
                    body = await asyncio.to_thread(_run_model, Path(bundle_dir), data)
            except SatlearnError as err:
                return _error(400, str(err))
            return Response(body, media_type="image/png", headers={"X-Model-Name": name})

    @router.post("/image-info")
    async def image_info(file: Annotated[UploadFile, File()]) -> Any:
        try:
            data = await _read(file)
            return await asyncio.to_thread(_image_info, data)
        except SatlearnError as err:
            return _error(400, str(err))

    return router
