"""The demo's scene: the embedded synthetic one, or a user's; and the ``scene`` step.

The synthetic scene (:func:`satlearn.synth.make_scene`, two dates) carries
every truth the steps score against. A user's scene (a raster path, an
``http(s)://``/``s3://`` URL or a STAC item JSON) is one date without truths:
the steps that apply to it produce their outputs and report no score.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from satlearn.demo._context import DemoContext
from satlearn.demo._pictures import SCENE_STRETCH, write_classes_png
from satlearn.demo._result import StepResult
from satlearn.errors import InvalidInputError

__all__ = ["open_user_scene", "run_scene", "synthetic_context", "user_context"]

#: Chunk side for a user's scene: read by windows, never whole unless a step must.
USER_CHUNKS = 1024


def synthetic_context(out: Path, *, size: int, seed: int) -> DemoContext:
    """The embedded default: a two-date Sentinel-2-like scene with its truths."""
    from satlearn.synth import make_scene

    scene = make_scene(size, seed=seed, n_dates=2)
    dates = [scene.image.isel(time=t) for t in range(scene.image.sizes["time"])]
    return DemoContext(
        out=out,
        dates=dates,
        truth=scene,
        source=f"synthetic Sentinel-2 L1C scene, {size} x {size} px, seed {seed}",
        seed=seed,
    )


def _item_scene(path: Path) -> xr.DataArray:
    """The bands of a STAC item: its one multi-band data asset, or its single-band assets."""
    from satlearn.raster import open_raster

    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable STAC item ({err})") from None
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise InvalidInputError(f"{path}: not a STAC item (its type is not 'Feature')")
    data = {
        key: asset
        for key, asset in (item.get("assets") or {}).items()
        if "data" in (asset.get("roles") or ["data"])
    }
    for asset in data.values():
        if len(asset.get("eo:bands") or asset.get("bands") or []) > 1:
            href = str(asset["href"])
            if "://" not in href and not os.path.isabs(href):
                href = str((path.parent / href).resolve())
            return open_raster(href, chunks=USER_CHUNKS)
    if not data:
        raise InvalidInputError(f"{path}: the STAC item has no data asset")
    import pystac

    from satlearn.cube import load_cube

    names = []
    for key, asset in data.items():
        listed = asset.get("eo:bands") or asset.get("bands") or [{}]
        names.append(str(listed[0].get("common_name") or listed[0].get("name") or key))
    cube = load_cube([pystac.Item.from_file(str(path))], bands=names, chunks=USER_CHUNKS)
    return cube.isel(time=0)


def open_user_scene(source: str | os.PathLike[str]) -> xr.DataArray:
    """A user's scene as lazy ``(band, y, x)`` float32 reflectance (nodata NaN).

    Parameters
    ----------
    source : str or path
        A raster path, an ``http(s)://`` / ``s3://`` URL (range reads) or a
        STAC item JSON.

    Raises
    ------
    RasterNotFoundError, RemoteAccessError, InvalidInputError
        The scene cannot be read.
    """
    from satlearn.bands import reflectance
    from satlearn.checks import check_raster
    from satlearn.raster import open_raster

    text = os.fspath(source)
    if text.lower().endswith(".json") and "://" not in text:
        da = _item_scene(Path(text))
    else:
        da = open_raster(text, chunks=USER_CHUNKS)
    da = check_raster(da, what="scene", dims=("band", "y", "x"))
    physical = reflectance(da)
    physical.attrs = {**da.attrs, **physical.attrs}
    return physical.rio.write_nodata(np.nan, encoded=False)


def user_context(out: Path, source: str | os.PathLike[str], *, seed: int) -> DemoContext:
    """A user's scene, one date, no truths."""
    return DemoContext(
        out=out, dates=[open_user_scene(source)], source=os.fspath(source), seed=seed
    )


def _date(da: xr.DataArray, fallback: str) -> str:
    if "time" in da.coords and da.coords["time"].size == 1:
        return str(np.datetime_as_string(da.coords["time"].values, unit="D"))
    return fallback


def run_scene(ctx: DemoContext, result: StepResult) -> None:
    """Write the inputs (each date and the pan as COGs, the truths) and their quicklooks."""
    from satlearn.viz import quicklook

    if ctx.synthetic:
        from satlearn.synth.export import write_scene

        written = write_scene(ctx.truth, ctx.folder("scene"), overwrite=ctx.overwrite)
        for stem, path in written.items():
            result.outputs[stem] = path
        result.notes.append(
            f"{ctx.source}; the second date is misregistered by "
            f"{tuple(round(v, 2) for v in ctx.truth.misregistration[-1])} px (dy, dx)"
        )
    else:
        result.notes.append(f"the scene: {ctx.source}")
    for i, da in enumerate(ctx.dates):
        date = _date(da, f"date{i + 1}")
        # Beside the report (its input pictures), one per date.
        result.images[f"scene {date}"] = quicklook(
            da, ctx.out / f"quicklook_{date}.png", percentiles=SCENE_STRETCH
        )
    if ctx.synthetic:
        pan = ctx.truth.pan.isel(time=0)
        quicklook(
            pan, ctx.picture(result, "panchromatic band (5 m)", "pan"), percentiles=SCENE_STRETCH
        )
        write_classes_png(
            ctx.truth.landcover, ctx.picture(result, "land-cover truth", "landcover_truth")
        )
