"""Prediction over whole scenes: tiled, blended, streamed to disk, resumable.

:func:`predict` runs a bundle's model over a scene of any size in bounded
memory: it reads only the windows it needs, blends overlapping tiles with a
Hann window (no seams), writes finished rows straight to disk and can resume
an interrupted run without recomputing finished rows. The outputs are a
class COG, optionally per-class probabilities, the classes' polygons as
GeoParquet and GeoJSON (regions cut by tile and window edges merged), a
thumbnail and a STAC item; for an object-detection bundle, boxes
de-duplicated across tiles (:class:`Detections`, or GeoParquet and GeoJSON);
for a super-resolution bundle, a float32 COG on a grid ``scale`` times finer.

One private module per job: ``_plan`` (the global tile grid), ``_blend``
(the weight window), ``_source`` (windowed reads), ``_runner`` (normalise,
run, activate, TTA), ``_stream`` (the loop), ``_store`` (the resumable block
store), ``_vectors`` (polygons merged across windows), ``_outputs`` (files),
``_detect`` (boxes over the scene, NMS), ``_superres`` (the fine-grid output).

Examples
--------
>>> from satlearn.predict import predict
>>> predict("models/landcover/1", "scene.tif", out="prediction/")  # doctest: +SKIP
PosixPath('prediction')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.bundle import Bundle, read_bundle
from satlearn.errors import InvalidInputError
from satlearn.predict._detect import DETECTIONS_GEOJSON, DETECTIONS_PARQUET, Detections
from satlearn.predict._lazy import lazy_classes
from satlearn.predict._outputs import (
    CLASSES_COG,
    GEOJSON,
    ITEM_JSON,
    NODATA,
    PARQUET,
    PROBABILITIES_COG,
    PROBABILITY_STEPS,
    THUMBNAIL,
    grid_array,
    write_item,
    write_thumbnail,
    write_vectors,
)
from satlearn.predict._plan import TilePlan
from satlearn.predict._runner import TASKS, TileRunner, cached_runner
from satlearn.predict._source import CACHE_BYTES, open_pair, open_source
from satlearn.predict._store import BlockStore
from satlearn.predict._stream import band_width_for, stream
from satlearn.predict._superres import SUPERRES_COG
from satlearn.predict._vectors import trace_classes

__all__ = [
    "CLASSES_COG",
    "DETECTIONS_GEOJSON",
    "DETECTIONS_PARQUET",
    "GEOJSON",
    "ITEM_JSON",
    "NODATA",
    "PARQUET",
    "PROBABILITIES_COG",
    "SUPERRES_COG",
    "TASKS",
    "THUMBNAIL",
    "Detections",
    "TilePlan",
    "predict",
]

_DEFAULT_TILE = 256
_BLOCK = 256
# The column band width of runs before it followed the tile (their journals' keys).
_OLD_BAND_WIDTH = 2048


def _positive(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _settings(
    bundle: Bundle, tile_size: Any, overlap: Any, batch_size: Any
) -> tuple[int, int, int]:
    if tile_size is None:
        tile_size = bundle.metadata.get("tile_size") or _DEFAULT_TILE
    tile = _positive(tile_size, "tile_size")
    if tile < 16:
        raise InvalidInputError(f"tile_size must be at least 16 pixels, got {tile}")
    lap = tile // 4 if overlap is None else _positive(overlap, "overlap", minimum=0)
    if lap >= tile:
        raise InvalidInputError(f"overlap ({lap}) must be smaller than tile_size ({tile})")
    return tile, lap, _positive(8 if batch_size is None else batch_size, "batch_size")


def predict(
    bundle: str | os.PathLike[str] | Bundle,
    image: Any,
    *,
    tile_size: int | None = None,
    overlap: int | None = None,
    batch_size: int | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    tta: bool = False,
    probabilities: bool = False,
    vectors: bool = True,
    register: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> xr.DataArray | Path | Detections:
    """Predict a whole scene with a bundle's model, tile by tile.

    Parameters
    ----------
    bundle : path or Bundle
        A ``semantic-segmentation``, ``change-detection``, ``object-detection``
        or ``super-resolution`` bundle (folder or :class:`~satlearn.bundle.Bundle`).
    image : DataArray, path, URL or STAC item; or a (before, after) pair of them
        The scene: a ``(band, y, x)`` DataArray (numpy or dask) holding the
        bundle's bands, a raster path or ``http(s)://``/``s3://`` URL (read by
        windows with range requests), or a STAC item JSON whose data asset
        holds the bands. A change-detection bundle takes two scenes.
    tile_size : int, optional
        Model input side in pixels; default the bundle's ``tile_size``, else 256.
    overlap : int, optional
        Pixels shared by neighbouring tiles, blended with a Hann ramp;
        default a quarter of the tile.
    batch_size : int, optional
        Tiles per model call (default 8).
    out : path, optional
        Output folder. Given: writes ``classes.tif`` (uint8 COG, nodata 255),
        optionally ``probabilities.tif`` (uint8, ``p * 254``, nodata 255, the
        GDAL scale 1/254 recorded), ``polygons.parquet`` (GeoParquet, the
        scene's CRS), ``polygons.geojson`` (WGS 84), ``thumbnail.png`` and
        ``item.json`` (STAC), and returns the folder. None: returns the class
        map as a DataArray on the scene's grid (computed; the scene is still
        read by windows). An object-detection bundle writes
        ``detections.parquet`` (GeoParquet, box polygons in the scene's CRS,
        ``class_id``, ``class_name``, ``score``), ``detections.geojson`` (WGS
        84) and ``item.json``, or returns :class:`Detections`. A
        super-resolution bundle writes ``superres.tif`` (float32 COG, nodata
        NaN, on the grid ``scale`` times finer), ``thumbnail.png`` and
        ``item.json``, or returns the ``(band, y, x)`` float32 DataArray on
        that grid.
    resume : bool
        Continue an interrupted run into the same ``out``: finished rows are
        not recomputed and the result is identical to an uninterrupted run.
    tta : bool
        Average each tile over the 8 dihedral transforms (8x the work); not
        for object detection.
    probabilities : bool
        Also write the per-class probabilities (class maps only).
    vectors : bool
        Trace the classes as polygons (with ``out``).
    register : bool
        For two scenes: co-register the second onto the first first
        (phase correlation, resampled onto the first's grid; loads both).
    on_progress : callable, optional
        ``on_progress(done_pixels, total_pixels)`` after each finished stretch.

    Returns
    -------
    xarray.DataArray, Detections or pathlib.Path
        The ``(y, x)`` uint8 class map, the super-resolved bands or the
        detections (``out`` None), else ``out``.

    Raises
    ------
    BundleError
        The bundle is not a map-predicting model or does not load.
    UnknownBandError
        The scene lacks a band the model reads.
    InvalidInputError
        Bad options, or ``resume`` into a folder left by a run with other settings.

    Notes
    -----
    Memory is bounded by the tile, batch and a column band of eight tiles
    (at least 512 pixels), not by the scene (GDAL's block cache is held to
    64 MB meanwhile, unless ``GDAL_CACHEMAX`` is set in the environment); the
    COGs are made from the on-disk store block by block. The tile grid is anchored
    on the scene, so results do not depend on how the work is cut. Input
    pixels that are nodata in every band are nodata (255) in the output;
    scene edges are reflect-padded. Object detection is global: each tile's
    boxes are decoded, those centred outside the scene or on nodata dropped,
    then non-maximum suppression over the whole scene (per class, IoU > 0.5)
    keeps one box per object seen by several tiles; only boxes are held.
    """
    import rasterio

    cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": CACHE_BYTES}
    with rasterio.Env(**cache):
        return _predict(
            bundle, image, tile_size=tile_size, overlap=overlap, batch_size=batch_size, out=out,
            resume=resume, tta=tta, probabilities=probabilities, vectors=vectors,
            register=register, on_progress=on_progress,
        )  # fmt: skip


def _predict(
    bundle: str | os.PathLike[str] | Bundle,
    image: Any,
    *,
    tile_size: int | None,
    overlap: int | None,
    batch_size: int | None,
    out: str | os.PathLike[str] | None,
    resume: bool,
    tta: bool,
    probabilities: bool,
    vectors: bool,
    register: bool,
    on_progress: Callable[[int, int], None] | None,
) -> xr.DataArray | Path:
    if not isinstance(bundle, Bundle):
        bundle = read_bundle(bundle)
    runner = cached_runner(bundle, tta=tta)
    tile, lap, batch = _settings(bundle, tile_size, overlap, batch_size)
    if isinstance(image, tuple | list):
        if len(image) != 2 or runner.dates != 2:
            raise InvalidInputError(
                f"bundle {bundle.path} reads {runner.dates} date(s); give "
                f"{'one scene' if runner.dates == 1 else 'two scenes (before, after)'}, "
                f"not {len(image)}"
            )
        source = open_pair(image[0], image[1], list(bundle.bands), register=register)
    elif runner.dates == 2:
        raise InvalidInputError(
            f"bundle {bundle.path} detects change: give two scenes (before, after)"
        )
    else:
        source = open_source(image, list(bundle.bands))
    plan = TilePlan(source.height, source.width, tile, lap)
    fill = runner.mean.astype(np.float32)
    total_pixels = source.height * source.width
    progress = {"done": 0}

    def advance(rows: tuple[int, int], cols: tuple[int, int]) -> None:
        progress["done"] += (rows[1] - rows[0]) * (cols[1] - cols[0])
        if on_progress is not None:
            on_progress(progress["done"], total_pixels)

    if bundle.task in ("object-detection", "super-resolution"):
        return _predict_other(bundle, runner, source, plan, fill=fill, batch=batch, out=out,
                              resume=resume, tta=tta, probabilities=probabilities,
                              advance=advance)  # fmt: skip

    def encode(probs: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # Layer by layer into one uint8 stack: float temporaries of one layer at a time.
        stack = np.empty((1 + (len(probs) if probabilities else 0), *probs.shape[1:]), np.uint8)
        stack[0] = np.argmax(probs, axis=0)
        if probabilities:
            for k, layer in enumerate(probs, start=1):
                stack[k] = np.rint(layer * np.float32(PROBABILITY_STEPS))
        stack[:, ~valid] = NODATA
        return stack

    if out is None and source.lazy_data is not None:
        lazy = lazy_classes(source, source.lazy_data, runner, plan, fill=fill, encode=encode,
                            batch_size=batch)  # fmt: skip
        da = grid_array(lazy[None], source, ["class"], NODATA).isel(band=0, drop=True)
        da.name = "class"
        da.attrs["classes"] = {int(k): v for k, v in bundle.classes.items()}
        return da
    if out is None:
        result = np.full((source.height, source.width), NODATA, dtype=np.uint8)

        def keep(key: str, rows: tuple[int, int], cols: tuple[int, int], probs: np.ndarray,
                 valid: np.ndarray) -> None:  # fmt: skip
            result[rows[0] : rows[1], cols[0] : cols[1]] = encode(probs, valid)[0]
            advance(rows, cols)

        stream(source, runner, plan, fill=fill, sink=keep, block=_BLOCK, batch_size=batch)
        da = grid_array(result[None], source, ["class"], NODATA).isel(band=0, drop=True)
        da.name = "class"
        da.attrs["classes"] = {int(k): v for k, v in bundle.classes.items()}
        return da

    folder = Path(os.fspath(out))
    folder.mkdir(parents=True, exist_ok=True)
    n_classes = runner.n_classes or 2
    layers = 1 + (n_classes if probabilities else 0)
    band_width = band_width_for(tile)
    settings = {
        "bundle": bundle.metadata.get("sha256") or str(bundle.path),
        "scene": source.fingerprint,
        "tile_size": tile,
        "overlap": lap,
        "batch_size": batch,
        "tta": bool(tta),
        "probabilities": bool(probabilities),
    }
    if band_width != _OLD_BAND_WIDTH:
        # The journal's keys name column bands: a run cut otherwise must not resume
        # here. Recorded only when it differs from the width older runs used, so
        # their journals still resume.
        settings["band_width"] = band_width
    store = BlockStore(
        folder,
        layers=layers,
        height=source.height,
        width=source.width,
        settings=settings,
        resume=resume,
    )
    try:

        def write(key: str, rows: tuple[int, int], cols: tuple[int, int], probs: np.ndarray,
                  valid: np.ndarray) -> None:  # fmt: skip
            stack = encode(probs, valid)
            if stack.shape[0] != layers:
                raise InvalidInputError(
                    f"bundle {bundle.path}: the model gives {probs.shape[0]} classes, "
                    f"bundle.json names {n_classes}"
                )
            store.write(key, rows, cols, stack)
            advance(rows, cols)

        stream(
            source,
            runner,
            plan,
            fill=fill,
            sink=write,
            done=store.done.__contains__,
            band_width=band_width,
            block=_BLOCK,
            batch_size=batch,
        )
        outputs = _write_outputs(store, source, bundle, folder, probabilities, vectors, n_classes)
        outputs["item"] = write_item(
            folder,
            item_id=f"prediction-{Path(source.name).stem}",
            classes=bundle.classes or {i: str(i) for i in range(n_classes)},
            outputs=outputs,
            properties={
                "satlearn:model": bundle.metadata.get("name") or bundle.path.name,
                "satlearn:task": bundle.task,
                "satlearn:tile_size": tile,
                "satlearn:overlap": lap,
                "satlearn:tta": bool(tta),
                "satlearn:execution_providers": runner.providers,
            },
        )
    except BaseException:
        store.close()
        raise
    store.remove()
    return folder


def _predict_other(
    bundle: Bundle,
    runner: TileRunner,
    source: Any,
    plan: TilePlan,
    *,
    fill: np.ndarray,
    batch: int,
    out: str | os.PathLike[str] | None,
    resume: bool,
    tta: bool,
    probabilities: bool,
    advance: Callable[[tuple[int, int], tuple[int, int]], None],
) -> xr.DataArray | Path | Detections:
    """Object detection and super-resolution: no class map, their own outputs."""
    from satlearn.predict._detect import predict_detections
    from satlearn.predict._superres import run_superres

    if probabilities:
        raise InvalidInputError(
            f"bundle {bundle.path} ({bundle.task}) predicts no class probabilities"
        )
    folder = None if out is None else Path(os.fspath(out))
    if bundle.task == "object-detection":
        return predict_detections(bundle, runner, source, plan, fill=fill, batch_size=batch,
                                  out=folder, resume=resume, advance=advance)  # fmt: skip
    return run_superres(bundle, runner, source, plan, fill=fill, batch_size=batch, out=folder,
                        resume=resume, tta=tta, advance=advance)  # fmt: skip


def _write_outputs(
    store: BlockStore,
    source: Any,
    bundle: Bundle,
    folder: Path,
    probabilities: bool,
    vectors: bool,
    n_classes: int,
) -> dict[str, Path]:
    from satlearn.raster import save_cog

    outputs: dict[str, Path] = {}
    classes_da = grid_array(store.as_dask([0], 512), source, ["class"], NODATA)
    outputs["classes"] = save_cog(classes_da, folder / CLASSES_COG, resampling="mode")
    if probabilities:
        names = [str(bundle.classes.get(i, i)) for i in range(n_classes)]
        probs = grid_array(store.as_dask(list(range(1, 1 + n_classes)), 512), source, names, NODATA)
        probs = probs.assign_coords(
            scale=("band", [1.0 / PROBABILITY_STEPS] * n_classes),
            offset=("band", [0.0] * n_classes),
        )
        outputs["probabilities"] = save_cog(probs, folder / PROBABILITIES_COG, resampling="average")
    outputs["thumbnail"] = write_thumbnail(outputs["classes"], folder / THUMBNAIL, n_classes)
    if vectors:
        classes = bundle.classes or {i: str(i) for i in range(n_classes)}
        polygons = list(
            trace_classes(
                lambda rows, cols: store.read(0, rows, cols),
                height=source.height,
                width=source.width,
                transform=source.transform,
                nodata=NODATA,
                classes=classes,
            )
        )
        parquet, geojson, _ = write_vectors(polygons, classes, source.crs, folder)
        outputs["polygons"], outputs["polygons_geojson"] = parquet, geojson
    return outputs
