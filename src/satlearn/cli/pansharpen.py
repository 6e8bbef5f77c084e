"""``satlearn pansharpen``: fuse a multispectral raster with a panchromatic one."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress


def _parse_weights(text: str | None) -> list[float] | str | None:
    from satlearn.errors import InvalidInputError

    if text is None or text.lower() == "auto":
        return None if text is None else "auto"
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidInputError(
            f"--weights must be 'auto' or comma-separated numbers, got {text!r}"
        ) from None


def _method(text: str) -> str:
    """The canonical method name; an old spelling is a one-line warning on stderr."""
    from satlearn.ops.pansharpen import canonical_method

    # Python hides a DeprecationWarning raised inside a library: say it on stderr instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        name = canonical_method(text)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return name


@app.command()
@errors_to_one_line
@on_scheduler
def pansharpen(
    ms: Annotated[str, typer.Argument(help="Multispectral raster (path or URL).")],
    pan: Annotated[str, typer.Argument(help="Panchromatic raster, finer pixels, same CRS.")],
    out: Annotated[Path, typer.Argument(help="Output COG on the pan grid (float32).")],
    method: Annotated[
        str, typer.Option(help="brovey, mean, ihs, gram-schmidt, pca or hpf.")
    ] = "brovey",
    weights: Annotated[
        str | None,
        typer.Option(help="Intensity weights, one per MS band ('0.3,0.3,0.4'), or 'auto'."),
    ] = None,
    bands: Annotated[
        str | None, typer.Option(help="MS bands to fuse, by name or 1-based index ('1,2,3').")
    ] = None,
    resampling: Annotated[str, typer.Option(help="MS resampling onto the pan grid.")] = "cubic",
    injection: Annotated[str, typer.Option(help="hpf: local, global or modulation.")] = "local",
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name the MS bands.")] = None,
    chunk_size: Annotated[int, typer.Option(help="Block size in pan pixels.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """Pansharpen MS with PAN block by block and write OUT as a Cloud-Optimized GeoTIFF."""
    from satlearn.errors import InvalidInputError
    from satlearn.ops.pansharpen import pansharpen as fuse
    from satlearn.raster import open_raster, save_cog

    method = _method(method)
    selection: list[str | int] | None = None
    if bands:
        selection = [int(b) if b.strip().isdigit() else b.strip() for b in bands.split(",")]
    chunks = {"band": -1, "y": chunk_size, "x": chunk_size}
    ms_da = open_raster(ms, bands=selection, chunks=chunks, sensor=sensor)
    pan_da = open_raster(pan, chunks=chunks)
    if pan_da.sizes.get("band", 1) != 1:
        # Never quietly take band 1: a multi-band "pan" is usually the MS
        # passed second.
        raise InvalidInputError(
            f"PAN (the second argument, {pan}) has {pan_da.sizes['band']} bands; a "
            "panchromatic raster has one. Were MS and PAN swapped? The order is MS PAN OUT"
        )
    with progress(f"pansharpening ({method}) into {out}"):
        sharp = fuse(
            ms_da,
            pan_da,
            method=method,
            weights=_parse_weights(weights),
            resampling=resampling,
            injection=injection,
        )
        save_cog(sharp, out, resampling="average")
    print(out)
