"""``satlearn index``: spectral indices of a scene into a COG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import (
    Scheduler,
    app,
    errors_to_one_line,
    make_console,
    on_scheduler,
    progress,
)
from satlearn.errors import InvalidInputError


def _parse_constants(items: list[str]) -> dict[str, float]:
    constants: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            constants[key.strip()] = float(value)
        except ValueError:
            raise InvalidInputError(
                f"--constant {item!r}: expected NAME=NUMBER, such as L=0.5"
            ) from None
    return constants


@app.command()
@errors_to_one_line
@on_scheduler
def index(
    scene: Annotated[str, typer.Argument(help="A raster with named bands (path or URL).")],
    names: Annotated[
        str, typer.Argument(help="Comma-separated index short names, such as ndvi,ndwi.")
    ] = "",
    dst: Annotated[Path | None, typer.Argument(help="Output COG (float32, nodata NaN).")] = None,
    constant: Annotated[
        list[str] | None,
        typer.Option("--constant", "-c", help="Override a catalogue constant: NAME=NUMBER."),
    ] = None,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 2048,
    list_available: Annotated[
        bool, typer.Option("--list", help="List the indices the scene's bands allow, and exit.")
    ] = False,
    scheduler: Scheduler = None,
) -> None:
    """Compute spectral indices (Awesome Spectral Indices catalogue) into a COG."""
    from satlearn.ops.indices import available_indices, compute_index
    from satlearn.raster import open_raster, save_cog

    da = open_raster(scene, chunks={"band": 1, "y": chunk, "x": chunk}, sensor=sensor)
    constants = _parse_constants(constant or [])
    if list_available:
        make_console().print(" ".join(available_indices(da, **constants)))
        return
    if not names or dst is None:
        raise InvalidInputError(
            "give index names and an output path: satlearn index SCENE ndvi OUT.tif"
        )
    result = compute_index(da, names.split(","), **constants)
    with progress(f"writing {dst}"):
        save_cog(result, dst, nodata=float("nan"), resampling="average")
    print(dst)
