"""``satlearn clouds``: a cloud classification or mask of a scene into a uint8 COG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress
from satlearn.errors import InvalidInputError


def _counts(result: Any) -> dict[str, int]:
    """Pixels per class; a reduction on the workers when the classes are dask-backed."""
    classes = result.classes.data
    if getattr(classes, "chunks", None) is None:
        return dict(result.counts())
    import dask

    from satlearn.ops.clouds import CLASSES

    sums = dask.compute(*((classes == code).sum() for code in CLASSES.values()))
    return {name: int(n) for name, n in zip(CLASSES, sums, strict=True)}


@app.command()
@errors_to_one_line
@on_scheduler
def clouds(
    scene: Annotated[str, typer.Argument(help="A reflectance raster with named bands.")],
    dst: Annotated[Path, typer.Argument(help="Output COG (uint8).")],
    method: Annotated[
        str, typer.Option(help="rules, hollstein, s2cloudless or model:PATH.")
    ] = "rules",
    mask: Annotated[
        bool,
        typer.Option(
            "--mask/--classes",
            help="Write a cloud mask (1 cloud incl. thin cirrus, 0 clear) instead of classes "
            "(0 clear, 1 cloud, 2 cirrus, 3 shadow, 4 snow, 5 water). 255 is nodata in both.",
        ),
    ] = False,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    buffer: Annotated[int, typer.Option(help="Grow clouds by this many pixels.")] = 0,
    sun_azimuth: Annotated[float | None, typer.Option(help="Degrees from north.")] = None,
    sun_zenith: Annotated[float | None, typer.Option(help="Degrees.")] = None,
    cloud_height: Annotated[
        float | None, typer.Option(help="Cloud height (m); default: searched.")
    ] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """Detect clouds, thin cirrus, shadows, snow and water; write a uint8 COG.

    Shadows are projected when the sun geometry is given (or stored in the
    raster's metadata). Prints one line: the output and the cloud fraction.
    """
    from satlearn.compute import materialise
    from satlearn.ops.clouds import NODATA_CLASS, detect_clouds
    from satlearn.raster import open_raster, save_cog

    if (sun_azimuth is None) != (sun_zenith is None):
        raise InvalidInputError("give both --sun-azimuth and --sun-zenith, or neither")
    da = open_raster(scene, chunks={"band": -1, "y": chunk, "x": chunk}, sensor=sensor)
    with progress(f"classifying {scene}"):
        # Computed once for the file and the summary: in memory on threads,
        # persisted on the workers of a cluster (they write the COG's blocks).
        result = materialise(
            detect_clouds(
                da, method=method, buffer_px=buffer, sun_azimuth=sun_azimuth,
                sun_zenith=sun_zenith, cloud_height_m=cloud_height,
            )
        )  # fmt: skip
    with progress(f"writing {dst}"):
        out = result.coded_mask() if mask else result.classes
        save_cog(out, dst, nodata=NODATA_CLASS, resampling="nearest")
    counts = _counts(result)
    n_valid = sum(counts.values())

    def percent(pixels: int) -> float:
        return 100 * (pixels / n_valid) if n_valid else 0.0

    print(
        f"{dst}: cloud {percent(counts['cloud'] + counts['cirrus']):.1f} % (thin cirrus "
        f"{percent(counts['cirrus']):.1f} %), shadow {percent(counts['shadow']):.1f} % "
        f"of {n_valid} valid pixels [{result.method}]"
    )
