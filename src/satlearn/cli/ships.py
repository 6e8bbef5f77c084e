"""``satlearn ships`` and ``satlearn water``: ship candidates to GeoJSON, water masks to COGs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress

_SCENE = typer.Argument(help="A raster with named bands (path or URL).")


def _valid_from(mask: str | None, scene: object) -> object:
    """The ``--mask`` raster (nonzero = exclude, e.g. clouds) as a valid-pixel DataArray."""
    if mask is None:
        return None
    from satlearn.raster import open_raster

    excluded = open_raster(mask)
    if excluded.sizes["band"] != 1:
        from satlearn.errors import InvalidInputError

        raise InvalidInputError(
            f"--mask {mask} has {excluded.sizes['band']} bands; give a one-band mask"
        )
    return excluded.isel(band=0) == 0


@app.command()
@errors_to_one_line
@on_scheduler
def ships(
    scene: Annotated[str, _SCENE],
    dst: Annotated[Path, typer.Argument(help="Output GeoJSON (one Feature per ship).")],
    method: Annotated[str, typer.Option(help="cfar or felzenszwalb.")] = "cfar",
    band: Annotated[str, typer.Option(help="Band ships are bright in.")] = "nir",
    k: Annotated[float, typer.Option(help="CFAR factor (background std devs).")] = 5.0,
    mask: Annotated[
        str | None, typer.Option(help="Raster on the scene's grid, nonzero = ignore (clouds).")
    ] = None,
    water_out: Annotated[
        Path | None, typer.Option("--water-out", help="Also write the water mask as a COG.")
    ] = None,
    native_crs: Annotated[
        bool, typer.Option("--native-crs", help="Keep the scene CRS instead of WGS 84.")
    ] = False,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """Find ships (bright compact objects in water) and write them as GeoJSON."""
    from satlearn.ops.ships import detect_ships
    from satlearn.raster import open_raster

    da = open_raster(scene, chunks={"band": -1, "y": chunk, "x": chunk}, sensor=sensor)
    with progress(f"detecting ships in {scene}"):
        found = detect_ships(da, method=method, band=band, k=k, valid=_valid_from(mask, da))
        found.to_geojson(dst, to_wgs84=not native_crs)
        if water_out is not None:
            _save_mask(found.water, water_out)
    fraction = found.water_fraction
    water = "n/a" if math.isnan(fraction) else f"{100 * fraction:.1f}%"
    print(f"{len(found)} ships found, water {water} of valid pixels -> {dst}")


@app.command()
@errors_to_one_line
@on_scheduler
def water(
    scene: Annotated[str, _SCENE],
    dst: Annotated[Path, typer.Argument(help="Output COG (uint8: 1 water, 0 not).")],
    index: Annotated[str, typer.Option(help="auto, mndwi or ndwi.")] = "auto",
    threshold: Annotated[
        float | None, typer.Option(help="Fixed index threshold (default: edge Otsu).")
    ] = None,
    mask: Annotated[
        str | None, typer.Option(help="Raster on the scene's grid, nonzero = ignore (clouds).")
    ] = None,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """Write the water mask (MNDWI/NDWI, Otsu, morphology) of a scene as a COG."""
    from satlearn.ops.water import water_mask_details
    from satlearn.raster import open_raster

    da = open_raster(scene, chunks={"band": -1, "y": chunk, "x": chunk}, sensor=sensor)
    result = water_mask_details(da, index=index, threshold=threshold, valid=_valid_from(mask, da))
    with progress(f"writing {dst}"):
        _save_mask(result.mask, dst)
    print(f"{result.mask.attrs['water_index']} > {result.threshold:.3f}: water mask -> {dst}")


def _save_mask(mask: object, dst: Path) -> None:
    from satlearn.raster import save_cog

    as_bytes = mask.astype("uint8").expand_dims(band=["water"])  # type: ignore[attr-defined]
    as_bytes.attrs = dict(mask.attrs)  # type: ignore[attr-defined]
    save_cog(as_bytes, dst, nodata=None, resampling="mode")
