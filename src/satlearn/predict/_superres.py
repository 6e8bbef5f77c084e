"""Super-resolution over whole scenes: blended tiles on a grid ``scale`` times finer.

The sweep is the maps' (``_stream.stream`` with ``scale``): the same global
tile grid and column bands on the input grid, each tile's bands blended on the
fine grid with the Hann window scaled to it, finished stretches handed on as
soon as no later tile touches them. The graph's output is mapped back to band
values by the bundle's ``output_normalisation`` (in the runner). Input pixels
that are nodata in every band are NaN over their ``scale x scale`` outputs.

With ``out`` the stretches go through the resumable block store (float32
layers), then into ``superres.tif`` (float32 COG, nodata NaN, transform the
input's scaled by ``1 / scale``), a thumbnail and a STAC item.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.atomic import atomic_output
from satlearn.predict._outputs import THUMBNAIL, grid_array, save_item
from satlearn.predict._plan import TilePlan
from satlearn.predict._source import Source
from satlearn.predict._store import BlockStore
from satlearn.predict._stream import stream

__all__ = [
    "SUPERRES_COG",
    "fine_grid",
    "predict_superres",
    "run_superres",
    "superres_array",
    "superres_encode",
    "write_superres",
]

SUPERRES_COG = "superres.tif"


def fine_grid(source: Source, scale: int) -> Source:
    """The scene's grid ``scale`` times finer (same extent, transform scaled by 1/scale)."""
    from affine import Affine

    return dataclasses.replace(
        source,
        height=source.height * scale,
        width=source.width * scale,
        transform=source.transform @ Affine.scale(1.0 / scale),
    )


def superres_encode(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Blended band values as float32, NaN where the input was nodata."""
    out = np.asarray(values, dtype=np.float32).copy()
    out[:, ~valid] = np.nan
    return out


def superres_array(data: Any, source: Source, scale: int, bands: list[str]) -> xr.DataArray:
    """``(band, y, x)`` float32 on the fine grid around ``data`` (numpy or dask)."""
    da = grid_array(data, fine_grid(source, scale), bands, float("nan"))
    da.name = "superres"
    da.attrs["scale"] = scale
    return da


def predict_superres(
    source: Source,
    run: Callable[[np.ndarray], np.ndarray],
    plan: TilePlan,
    *,
    fill: np.ndarray,
    scale: int,
    bands: list[str],
    batch_size: int,
    on_stretch: Callable[[tuple[int, int], tuple[int, int]], None],
    store: BlockStore | None = None,
) -> xr.DataArray | None:
    """Super-resolve the scene into ``store`` (returns None) or into memory.

    Blockwise with a halo of one tile; the output is ``scale`` times finer.

    Parameters
    ----------
    source, run, plan, fill, batch_size
        As for :func:`satlearn.predict._stream.stream`.
    scale : int
        Output pixels per input pixel along each axis.
    bands : list of str
        The output bands' names (the bundle's).
    on_stretch : callable
        ``on_stretch(rows, cols)`` with each finished stretch's input pixels.
    store : BlockStore, optional
        ``len(bands)`` float32 layers on the fine grid; journalled stretches
        are skipped.
    """
    # Stretches and bands shrink with the scale, so their fine-grid
    # accumulators stay the size of a map's.
    block, band_width = max(32, 256 // scale), max(256, 2048 // scale)
    result = None
    if store is None:
        result = np.full(
            (len(bands), source.height * scale, source.width * scale), np.nan, np.float32
        )

    def sink(key: str, rows: tuple[int, int], cols: tuple[int, int], values: np.ndarray,
             valid: np.ndarray) -> None:  # fmt: skip
        stack = superres_encode(values, valid)
        if stack.shape[0] != len(bands):
            from satlearn.errors import BundleError

            raise BundleError(
                f"the model gives {stack.shape[0]} bands, bundle.json names {len(bands)}"
            )
        if store is not None:
            store.write(key, rows, cols, stack)
        else:
            assert result is not None
            result[:, rows[0] : rows[1], cols[0] : cols[1]] = stack
        on_stretch((rows[0] // scale, rows[1] // scale), (cols[0] // scale, cols[1] // scale))

    done = store.done.__contains__ if store is not None else (lambda key: False)
    stream(source, run, plan, fill=fill, sink=sink, done=done, block=block,
           band_width=band_width, batch_size=batch_size, scale=scale)  # fmt: skip
    return None if result is None else superres_array(result, source, scale, bands)


def _write_thumbnail(cog: Path, path: Path, *, size: int = 256) -> Path:
    """A PNG of the first three bands (or the first), stretched 2-98 %, through the overviews."""
    import rasterio
    from PIL import Image

    with rasterio.open(cog) as src:
        step = max(src.height, src.width) / size
        shape = (max(1, round(src.height / step)), max(1, round(src.width / step)))
        indexes = [1, 2, 3] if src.count >= 3 else [1]
        values = src.read(indexes, out_shape=(len(indexes), *shape)).astype(np.float64)
    known = np.isfinite(values).all(axis=0)
    rgba = np.zeros((*shape, 4), dtype=np.uint8)
    if known.any():
        lo, hi = np.percentile(values[:, known], [2, 98])
        scaled = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1) * 255
        picture = np.nan_to_num(scaled).astype(np.uint8)
        rgba[..., :3] = np.moveaxis(np.broadcast_to(picture, (3, *shape)), 0, -1)
    rgba[..., 3] = np.where(known, 255, 0)
    with atomic_output(path) as tmp:
        Image.fromarray(rgba, "RGBA").save(tmp, format="PNG")
    return path


def write_superres(
    store: BlockStore,
    source: Source,
    folder: Path,
    *,
    scale: int,
    bands: list[str],
    item_id: str,
    properties: Mapping[str, Any],
) -> dict[str, Path]:
    """``superres.tif`` from the store, ``thumbnail.png`` and ``item.json`` (STAC)."""
    import pystac

    from satlearn.catalog.build import item_from_raster
    from satlearn.raster import save_cog

    da = superres_array(store.as_dask(list(range(len(bands))), 512), source, scale, bands)
    cog = save_cog(da, folder / SUPERRES_COG, resampling="average")
    thumbnail = _write_thumbnail(cog, folder / THUMBNAIL)
    item = item_from_raster(
        cog,
        id=item_id,
        datetime=dt.datetime.now(dt.UTC),
        asset_href=cog.name,
        properties={**dict(properties), "satlearn:scale": scale},
    )
    data = item.assets.pop("data")
    data.title = f"Super-resolved bands (x{scale})"
    item.add_asset("superres", data)
    item.add_asset(
        "thumbnail",
        pystac.Asset(href=thumbnail.name, media_type="image/png", roles=["thumbnail"],
                     title="thumbnail"),
    )  # fmt: skip
    path = save_item(item, folder)
    return {"superres": cog, "thumbnail": thumbnail, "item": path}


def run_superres(
    bundle: Any,
    runner: Any,
    source: Source,
    plan: TilePlan,
    *,
    fill: np.ndarray,
    batch_size: int,
    out: Path | None,
    resume: bool,
    tta: bool,
    advance: Callable[[tuple[int, int], tuple[int, int]], None],
) -> xr.DataArray | Path:
    """A super-resolution bundle over the scene: a DataArray, or files in ``out``."""
    from satlearn.predict._lazy import lazy_layers

    scale = int(runner.output.get("scale", 1))
    bands = list(bundle.bands)
    if out is None and source.lazy_data is not None:
        lazy = lazy_layers(source, source.lazy_data, runner, plan, fill=fill,
                           encode=superres_encode, layers=len(bands), batch_size=batch_size,
                           dtype=np.float32, scale=scale)  # fmt: skip
        return superres_array(lazy, source, scale, bands)
    options = dict(fill=fill, scale=scale, bands=bands, batch_size=batch_size, on_stretch=advance)
    if out is None:
        result = predict_superres(source, runner, plan, **options)
        assert result is not None
        return result
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "bundle": bundle.metadata.get("sha256") or str(bundle.path),
        "scene": source.fingerprint,
        "task": bundle.task,
        "tile_size": plan.tile,
        "overlap": plan.overlap,
        "batch_size": batch_size,
        "tta": bool(tta),
        "scale": scale,
    }
    store = BlockStore(folder, layers=len(bands), height=source.height * scale,
                       width=source.width * scale, settings=settings, resume=resume,
                       dtype=np.float32)  # fmt: skip
    try:
        predict_superres(source, runner, plan, store=store, **options)
        write_superres(
            store,
            source,
            folder,
            scale=scale,
            bands=bands,
            item_id=f"superres-{Path(source.name).stem}",
            properties={
                "satlearn:model": bundle.metadata.get("name") or bundle.path.name,
                "satlearn:task": bundle.task,
                "satlearn:tile_size": plan.tile,
                "satlearn:overlap": plan.overlap,
                "satlearn:tta": bool(tta),
                "satlearn:execution_providers": runner.providers,
            },
        )
    except BaseException:
        store.close()
        raise
    store.remove()
    return folder
