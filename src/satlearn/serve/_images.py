"""Image endpoints for people: upload a PNG, JPEG or GeoTIFF, get an answer a person can use.

``POST /v1/models/{name}:classify`` (and ``/v1/models/{name}/versions/{version}:classify``)
    Class probabilities as JSON: ``{"model", "version", "classes": [{"id", "name",
    "probability"}], "top": {...}}``, classes in id order.
``POST /v1/models/{name}:segment``
    The class mask (uint8, nodata 255) as a GeoTIFF (georeferenced when the
    upload was a georeferenced GeoTIFF) or a PNG, chosen by the ``Accept``
    header; default ``image/tiff`` for a TIFF upload and ``image/png`` otherwise.
``POST /v1/models/{name}:detect``
    The boxes as a GeoJSON FeatureCollection: WGS 84 longitude/latitude when
    the upload was a georeferenced GeoTIFF, else pixel coordinates (column,
    row; ``"coordinates": "pixel"`` in the collection's properties).

The upload is a multipart form with the image in the field ``file``. Its
bands are taken in the file's order and must be as many as the bundle reads
(``bundle.json``'s ``bands``); a GeoTIFF whose band descriptions name
exactly the bundle's bands is reordered by name. Values are the stored
values, normalised as the bundle says (``(x - mean) / std``), as in training
and :func:`satlearn.predict.predict`.

How each runs: ``classify`` normalises the image (resized bilinearly to the
graph's input size when the graph fixes one) and hands it to the model's
batcher (``LoadedModel.infer``), so concurrent requests share forward
passes; ``segment`` and ``detect`` run the sliding-window predictor
(:func:`satlearn.predict.predict`: tiles of the bundle's ``tile_size``,
Hann-blended, global NMS for boxes) in a worker thread, so an image of any
size up to the pixel limit gives the same answer as ``predict`` on the same
array. Nothing from the upload reaches the file system: GeoTIFFs are read
from memory (rasterio ``MemoryFile``), PNG/JPEG with Pillow.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from satlearn.errors import InvalidInputError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_UPLOAD_BYTES",
    "DecodedImage",
    "decode_image",
    "image_router",
]

#: The largest upload read, in bytes (bigger: 413).
MAX_UPLOAD_BYTES = 256 * 2**20
#: The most pixels (height x width) an upload may declare; a small compressed
#: file can declare a huge raster, so this is checked before decoding.
MAX_IMAGE_PIXELS = 8192 * 8192

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_TIFF_TYPES = ("image/tiff", "image/geotiff", "image/tiff; application=geotiff")
_MASK_NODATA = 255
# The form field of every endpoint (module level: FastAPI resolves the
# string annotations of `from __future__ import annotations` in module globals).
_Upload = Annotated[UploadFile, File(description="a PNG, JPEG or GeoTIFF image")]
_TASK_OF_VERB = {
    "classify": ("classification",),
    "segment": ("semantic-segmentation",),
    "detect": ("object-detection",),
}
# Pillow modes -> (band count, how to get an array); palette and odd modes are
# converted to RGB(A) first, since a palette index is no measurement.
_PIL_CONVERT = {"P": "RGBA", "PA": "RGBA", "1": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB"}


@dataclass(frozen=True)
class DecodedImage:
    """An uploaded image as stored values.

    Attributes
    ----------
    data : numpy.ndarray
        ``(band, y, x)`` float32 stored values.
    format : str
        ``"GTiff"``, ``"PNG"`` or ``"JPEG"``.
    crs, transform :
        The grid (rasterio CRS and Affine) of a georeferenced GeoTIFF, else
        None and the identity (pixel coordinates).
    nodata : float or None
        The file's nodata value.
    descriptions : tuple of str or None
        A GeoTIFF's band descriptions, when every band has one.
    """

    data: np.ndarray
    format: str
    crs: Any
    transform: Any
    nodata: float | None
    descriptions: tuple[str, ...] | None = None

    @property
    def georeferenced(self) -> bool:
        """True when the upload was a GeoTIFF with a CRS."""
        return self.crs is not None


def _sniff(data: bytes) -> str:
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if data[:4] in _TIFF:
        return "GTiff"
    raise InvalidInputError(
        "the upload is not a PNG, JPEG or GeoTIFF image (its first bytes match none of them)"
    )


def _check_pixels(height: int, width: int, max_pixels: int) -> None:
    if height < 1 or width < 1:
        raise InvalidInputError(f"the image has no pixels ({height} x {width})")
    if height * width > max_pixels:
        raise InvalidInputError(
            f"the image is {height} x {width} pixels; this server takes at most "
            f"{max_pixels} pixels (height x width) per upload"
        )


def _band_count_error(count: int, bands: Sequence[str]) -> InvalidInputError:
    return InvalidInputError(
        f"the image has {count} band(s); the model reads {len(bands)} "
        f"({', '.join(bands)}), in that order"
    )


def _decode_tiff(data: bytes, max_pixels: int, bands: Sequence[str] | None) -> DecodedImage:
    import rasterio
    from affine import Affine
    from rasterio.errors import RasterioError

    try:
        with rasterio.MemoryFile(data) as memfile, memfile.open() as src:
            _check_pixels(src.height, src.width, max_pixels)
            # A sparse or compressed TIFF of a few KB can declare thousands of bands:
            # refuse a count the model cannot take before read() allocates them all.
            if bands is not None and src.count != len(bands):
                raise _band_count_error(src.count, bands)
            # read() decodes every strip or tile, so a truncated file fails
            # here (GDAL: "TIFFReadEncodedStrip/Tile() failed").
            values = src.read(out_dtype="float32")
            crs = src.crs
            transform = src.transform if crs is not None else Affine.identity()
            if not (all(math.isfinite(c) for c in transform[:6]) and transform.determinant):
                # NaN or a zero pixel size: no pixel has a place, and boxes and masks
                # would be written on that grid.
                raise InvalidInputError(
                    f"the GeoTIFF upload's geotransform {tuple(transform[:6])} is not "
                    "invertible (NaN, infinite or a zero pixel size)"
                )
            names = tuple(src.descriptions)
            descriptions = names if all(names) else None
            nodata = src.nodata
    except RasterioError as err:
        raise InvalidInputError(
            f"the TIFF upload cannot be read (truncated or damaged?): {err}"
        ) from None
    except MemoryError:
        raise InvalidInputError(
            f"the TIFF upload declares {src.count} band(s) of {src.height} x {src.width} "
            "pixels: too many values to decode in memory"
        ) from None
    return DecodedImage(values, "GTiff", crs, transform, nodata, descriptions)


def _decode_pil(data: bytes, kind: str, max_pixels: int) -> DecodedImage:
    from affine import Affine
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            _check_pixels(height, width, max_pixels)
            image.load()  # OSError "image file is truncated" for a short file
            if image.mode in _PIL_CONVERT:
                image = image.convert(_PIL_CONVERT[image.mode])
            array = np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        # Pillow signals broken files with these (SyntaxError for some bad headers).
        raise InvalidInputError(
            f"the {kind} upload cannot be read (truncated or damaged?): {err}"
        ) from None
    array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
    return DecodedImage(
        np.ascontiguousarray(array, dtype=np.float32), kind, None, Affine.identity(), None
    )


def decode_image(
    data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS, bands: Sequence[str] | None = None
) -> DecodedImage:
    """Decode an uploaded PNG, JPEG or GeoTIFF from memory.

    Parameters
    ----------
    data : bytes
        The file's bytes.
    max_pixels : int
        The most pixels (height x width) accepted, checked on the header.
    bands : sequence of str, optional
        The bands the model reads: a GeoTIFF with another band count is refused
        on its header, before its bands are read.

    Returns
    -------
    DecodedImage

    Raises
    ------
    InvalidInputError
        Not one of the three formats, truncated or damaged, no pixels, too big,
        or (a GeoTIFF) not as many bands as ``bands``.

    Examples
    --------
    >>> decode_image(b"GIF89a")
    Traceback (most recent call last):
    ...
    satlearn.errors.InvalidInputError: the upload is not a PNG, JPEG or GeoTIFF image ...
    """
    kind = _sniff(data)
    if kind == "GTiff":
        return _decode_tiff(data, max_pixels, bands)
    return _decode_pil(data, kind, max_pixels)


def _band_order(image: DecodedImage, bands: tuple[str, ...]) -> np.ndarray:
    """The image's bands in the bundle's order, or a 400 that says what was expected."""
    count = image.data.shape[0]
    if image.descriptions and set(image.descriptions) == set(bands) and count == len(bands):
        return image.data[[image.descriptions.index(b) for b in bands]]
    if count != len(bands):
        raise _band_count_error(count, bands)
    return image.data


def _dataarray(values: np.ndarray, image: DecodedImage, bands: tuple[str, ...]) -> Any:
    import xarray as xr

    from satlearn.raster import georeference, pixel_centres

    _, height, width = values.shape
    ys, xs = pixel_centres(image.transform, height, width)
    da = xr.DataArray(
        values, dims=("band", "y", "x"), coords={"band": list(bands), "y": ys, "x": xs}
    )
    return georeference(da, image.crs, image.transform, image.nodata)


def _normalisation(bundle: Any, channels: int) -> tuple[np.ndarray, np.ndarray]:
    norm = bundle.metadata.get("normalisation") or {}
    mean = np.asarray(norm.get("mean", np.zeros(channels)), dtype=np.float32)
    std = np.asarray(norm.get("std", np.ones(channels)), dtype=np.float32)
    if mean.size != channels or std.size != channels:
        raise InvalidInputError(
            f"bundle.json's normalisation has {mean.size} mean(s) and {std.size} std(s); "
            f"the model reads {channels} band(s)"
        )
    return mean[:, None, None], std[:, None, None]


def _graph_input(bundle: Any) -> tuple[str, list[Any]]:
    """The graph's first input: its name and shape (None for a free dimension)."""
    inputs = bundle.metadata.get("inputs") or []
    if inputs:
        return str(inputs[0]["name"]), list(inputs[0].get("shape") or [])
    session = bundle.session()
    first = session.get_inputs()[0]
    return first.name, [d if isinstance(d, int) else None for d in first.shape]


def _resize(values: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    bands = [
        np.asarray(Image.fromarray(band, mode="F").resize((width, height), Image.BILINEAR))
        for band in values
    ]
    return np.stack(bands).astype(np.float32)


def _softmax(logits: np.ndarray, activation: str) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    # Infinite logits (inf - inf) give NaN quietly: the caller refuses non-finite answers.
    with np.errstate(invalid="ignore", over="ignore"):
        if activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max())
        return shifted / shifted.sum()


def _preferred(accept: str | None, default: str) -> str:
    """The response type for ``Accept``: ``image/tiff`` or ``image/png``, or a 406."""
    if not accept or not accept.strip():
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        kind, quality = fields[0].lower(), 1.0
        for field in fields[1:]:
            if field.lower().startswith("q="):
                try:
                    quality = float(field[2:])
                except ValueError:
                    quality = 0.0
        if not math.isfinite(quality) or quality <= 0:
            continue
        ranked.append((-quality, position, kind))
    for _, _, kind in sorted(ranked):
        if kind in ("*/*", "image/*"):
            return default
        if kind in _TIFF_TYPES:
            return "image/tiff"
        if kind == "image/png":
            return "image/png"
    raise _NotAcceptable(accept)


class _NotAcceptable(InvalidInputError):
    def __init__(self, accept: str) -> None:
        super().__init__(
            f"cannot answer with {accept!r}: a mask comes as image/tiff (GeoTIFF) or image/png"
        )
        self.accept = accept


def _encode_mask(mask: np.ndarray, image: DecodedImage, media: str) -> bytes:
    if media == "image/png":
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(mask, mode="L").save(buffer, format="PNG")
        return buffer.getvalue()
    import rasterio

    profile = {
        "driver": "GTiff",
        "height": mask.shape[0],
        "width": mask.shape[1],
        "count": 1,
        "dtype": "uint8",
        "nodata": _MASK_NODATA,
        "compress": "deflate",
    }
    if image.georeferenced:
        profile.update(crs=image.crs, transform=image.transform)
    with rasterio.MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(mask, 1)
            dst.set_band_description(1, "class")
        return bytes(memfile.read())


def _pixel_features(detections: Any) -> list[dict[str, Any]]:
    features = []
    for box, score, class_id in zip(
        detections.boxes.tolist(), detections.scores.tolist(), detections.class_ids.tolist(),
        strict=True,
    ):  # fmt: skip
        x0, y0, x1, y1 = box
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "class_id": int(class_id),
                "class_name": str(detections.classes.get(int(class_id), class_id)),
                "score": float(score),
                "bbox_px": [x0, y0, x1, y1],
            },
        })  # fmt: skip
    return features


def _feature_collection(detections: Any, image: DecodedImage) -> dict[str, Any]:
    features = _pixel_features(detections)
    if not image.georeferenced:
        return {"type": "FeatureCollection", "properties": {"coordinates": "pixel"},
                "features": features}  # fmt: skip
    from pyproj.exceptions import CRSError, ProjError

    try:
        frame = detections.to_geodataframe().to_crs("EPSG:4326")
    except (CRSError, ProjError) as err:
        # An engineering or local CRS (LOCAL_CS) has no way to longitude/latitude.
        raise InvalidInputError(
            f"the upload's CRS {image.crs.to_string()!r} cannot be transformed to "
            f"WGS 84 for GeoJSON: {err}"
        ) from None
    # GeoJSON is WGS 84 (RFC 7946); each box's pixel bbox stays in its properties.
    for feature, geometry in zip(features, json.loads(frame.geometry.to_json())["features"],
                                 strict=True):  # fmt: skip
        feature["geometry"] = geometry["geometry"]
    return {"type": "FeatureCollection", "properties": {"coordinates": "EPSG:4326",
            "source_crs": image.crs.to_string()}, "features": features}  # fmt: skip


async def _read_upload(file: UploadFile, limit: int) -> bytes | JSONResponse:
    data = await file.read(limit + 1)
    if len(data) > limit:
        return JSONResponse(
            {"error": f"the upload is larger than this server's limit of {limit} bytes"},
            status_code=413,
        )
    if not data:
        raise InvalidInputError("the upload is empty: send the image in the form field 'file'")
    return data


def _model(request: Request, name: str, version: str | None, verb: str) -> Any:
    model = request.app.state.repository.get(name, version)
    tasks = _TASK_OF_VERB[verb]
    if model.bundle.task not in tasks:
        raise InvalidInputError(
            f"model {name!r} is a {model.bundle.task} model; :{verb} needs a "
            f"{' or '.join(tasks)} model"
        )
    return model


async def _classify(model: Any, image: DecodedImage) -> dict[str, Any]:
    bundle = model.bundle
    values = _band_order(image, bundle.bands)
    input_name, shape = _graph_input(bundle)
    fixed = len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int)
    if fixed and values.shape[1:] != (shape[2], shape[3]):
        values = _resize(values, shape[2], shape[3])
    mean, std = _normalisation(bundle, values.shape[0])
    x = ((values - mean) / std).astype(np.float32)[None]
    outputs = await model.infer({input_name: x})
    logits = next(iter(outputs.values()))
    activation = (bundle.metadata.get("output") or {}).get("activation", "softmax")
    probabilities = _softmax(logits, activation)
    if not np.isfinite(probabilities).all():
        # NaN or infinite stored values reach every logit; null probabilities help nobody.
        bad = int((~np.isfinite(image.data)).any(axis=0).sum())
        raise InvalidInputError(
            f"the image gives no finite class probabilities: {bad} of its "
            f"{image.data.shape[1] * image.data.shape[2]} pixels hold NaN or infinite values"
        )
    names = bundle.classes
    classes = [
        {"id": i, "name": str(names.get(i, i)), "probability": float(p)}
        for i, p in enumerate(probabilities)
    ]
    top = max(classes, key=lambda c: c["probability"])
    return {"model": model.name, "version": str(model.version), "activation": activation,
            "classes": classes, "top": top}  # fmt: skip


def image_router(
    *, max_upload_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> APIRouter:
    """The ``:classify``, ``:segment`` and ``:detect`` endpoints (module docstring).

    Parameters
    ----------
    max_upload_bytes : int
        The largest upload read (bigger: 413).
    max_pixels : int
        The most pixels (height x width) an image may declare (more: 400).

    Returns
    -------
    fastapi.APIRouter
        Include it in the app; it needs ``app.state.repository``.
    """
    from satlearn.predict import predict

    router = APIRouter(tags=["images"])
    # One sliding-window run at a time: each already uses every core (ONNX
    # Runtime's intra-op threads), and more would only share them and hold
    # more tiles in memory.
    sweep = asyncio.Semaphore(1)

    async def decoded(file: UploadFile, bands: Sequence[str]) -> DecodedImage | JSONResponse:
        data = await _read_upload(file, max_upload_bytes)
        if isinstance(data, JSONResponse):
            return data
        return await asyncio.to_thread(decode_image, data, max_pixels=max_pixels, bands=bands)

    async def classify(request: Request, name: str, version: str | None, file: UploadFile
                       ) -> Any:  # fmt: skip
        model = _model(request, name, version, "classify")
        image = await decoded(file, model.bundle.bands)
        if isinstance(image, JSONResponse):
            return image
        return await _classify(model, image)

    async def segment(request: Request, name: str, version: str | None, file: UploadFile
                      ) -> Any:  # fmt: skip
        model = _model(request, name, version, "segment")
        try:
            media = _preferred(request.headers.get("accept"), "")
        except _NotAcceptable as err:
            return JSONResponse({"error": str(err)}, status_code=406)
        image = await decoded(file, model.bundle.bands)
        if isinstance(image, JSONResponse):
            return image
        if not media:  # no preference: answer in the upload's kind
            media = "image/tiff" if image.format == "GTiff" else "image/png"
        bundle = model.bundle
        da = _dataarray(_band_order(image, bundle.bands), image, bundle.bands)
        async with sweep:
            classes = await asyncio.to_thread(predict, bundle, da, out=None)
        mask = np.ascontiguousarray(np.asarray(classes.values, dtype=np.uint8))
        body = await asyncio.to_thread(_encode_mask, mask, image, media)
        return Response(body, media_type=media, headers={
            "X-Model-Name": model.name, "X-Model-Version": str(model.version)})  # fmt: skip

    async def detect(request: Request, name: str, version: str | None, file: UploadFile
                     ) -> Any:  # fmt: skip
        model = _model(request, name, version, "detect")
        image = await decoded(file, model.bundle.bands)
        if isinstance(image, JSONResponse):
            return image
        bundle = model.bundle
        da = _dataarray(_band_order(image, bundle.bands), image, bundle.bands)
        async with sweep:
            detections = await asyncio.to_thread(predict, bundle, da, out=None)
        collection = await asyncio.to_thread(_feature_collection, detections, image)
        collection["properties"].update(model=model.name, version=str(model.version))
        return JSONResponse(collection, media_type="application/geo+json")

    def latest(job: Any) -> Any:
        async def endpoint(request: Request, name: str, file: _Upload) -> Any:
            return await job(request, name, None, file)

        endpoint.__name__ = f"{job.__name__}_latest"
        return endpoint

    def versioned(job: Any) -> Any:
        async def endpoint(request: Request, name: str, version: str, file: _Upload) -> Any:
            return await job(request, name, version, file)

        endpoint.__name__ = f"{job.__name__}_version"
        return endpoint

    mask_types = {"content": {"image/tiff": {}, "image/png": {}},
                  "description": "the class mask (uint8, nodata 255)"}  # fmt: skip
    errors = {400: {"description": "bad upload or wrong model task"},
              404: {"description": "no such model or version"},
              413: {"description": "upload too large"}}  # fmt: skip
    prefixes = {"/v1/models/{name}": latest, "/v1/models/{name}/versions/{version}": versioned}
    for prefix, bind in prefixes.items():
        router.add_api_route(f"{prefix}:classify", bind(classify), methods=["POST"],
                             summary="Class probabilities of an uploaded image",
                             responses=errors)  # fmt: skip
        router.add_api_route(f"{prefix}:segment", bind(segment), methods=["POST"],
                             summary="Class mask of an uploaded image (GeoTIFF or PNG)",
                             response_class=Response,
                             responses={200: mask_types, 406: {"description": "bad Accept"},
                                        **errors})  # fmt: skip
        router.add_api_route(f"{prefix}:detect", bind(detect), methods=["POST"],
                             summary="Detected objects in an uploaded image (GeoJSON)",
                             response_class=JSONResponse,
                             responses=errors)  # fmt: skip
    return router
