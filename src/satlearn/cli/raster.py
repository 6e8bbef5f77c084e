"""``satlearn info`` and ``satlearn cog``: inspect and convert rasters."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from satlearn.cli.app import (
    Scheduler,
    app,
    errors_to_one_line,
    make_console,
    on_scheduler,
    progress,
)


@app.command()
@errors_to_one_line
def info(
    src: Annotated[str, typer.Argument(help="A path or an http(s):// / s3:// URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
) -> None:
    """Describe a raster: size, bands, CRS, transform, dtype, nodata, overviews, COG validity."""
    from satlearn.raster import info as raster_info

    report = raster_info(src, sensor=sensor)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console = make_console()
    console.print(f"[bold]{report['source']}[/bold]  ({report['driver']})")
    console.print(
        f"size {report['width']} x {report['height']}, {report['count']} band(s), "
        f"dtype {report['dtype']}, nodata {report['nodata']}"
    )
    console.print(f"CRS {report['crs']}, resolution {report['resolution']}")
    console.print(f"transform {report['transform']}")
    console.print(f"bounds {report['bounds']}")
    console.print(f"overviews {report['overviews'] or 'none'}, compression {report['compression']}")
    verdict = "yes" if report["is_cog"] else f"no ({'; '.join(report['cog_errors'])})"
    console.print(f"valid COG: {verdict}")
    table = Table("#", "name", "description", "dtype", "scale", "offset")
    for band in report["bands"]:
        table.add_row(
            str(band["index"]),
            band["name"],
            band["description"] or "",
            band["dtype"],
            f"{band['scale']:g}",
            f"{band['offset']:g}",
        )
    console.print(table)


@app.command()
@errors_to_one_line
@on_scheduler
def cog(
    src: Annotated[str, typer.Argument(help="Any raster GDAL reads (path or URL).")],
    dst: Annotated[Path, typer.Argument(help="Output COG path.")],
    compress: Annotated[str, typer.Option(help="deflate, lzw, zstd, lerc, jpeg, webp, none")] = (
        "deflate"
    ),
    blocksize: Annotated[int, typer.Option(help="Tile size (multiple of 16).")] = 512,
    overviews: Annotated[str, typer.Option(help="'auto', a number of levels, or 'none'.")] = "auto",
    resampling: Annotated[str, typer.Option(help="Overview resampling.")] = "nearest",
    scheduler: Scheduler = None,
) -> None:
    """Convert anything GDAL reads to a Cloud-Optimized GeoTIFF."""
    from satlearn.raster import open_raster, save_cog, validate_cog

    levels: str | int | None
    if overviews.lower() == "none":
        levels = None
    elif overviews.isdigit():
        levels = int(overviews)
    else:
        levels = overviews.lower()
    with progress(f"writing {dst}"):
        # Lazy, so a large input is copied block by block.
        da = open_raster(src, chunks={"band": 1, "y": 2048, "x": 2048})
        save_cog(
            da,
            dst,
            compress=compress,
            blocksize=blocksize,
            overviews=levels,
            resampling=resampling,
        )
    is_valid, errors, _ = validate_cog(dst)
    if not is_valid:  # pragma: no cover - GDAL's COG driver writes valid COGs
        print(f"error: {dst}: written but not a valid COG: {'; '.join(errors)}", file=sys.stderr)
        raise typer.Exit(code=1)
    print(dst)
