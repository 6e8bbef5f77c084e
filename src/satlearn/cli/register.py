"""``satlearn register``: co-register one raster to another."""

from __future__ import annotations

import json
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


@app.command()
@errors_to_one_line
@on_scheduler
def register(
    reference: Annotated[str, typer.Argument(help="Reference raster (path or URL).")],
    moving: Annotated[str, typer.Argument(help="Raster to align to the reference.")],
    out: Annotated[Path, typer.Argument(help="Output COG path.")],
    method: Annotated[str, typer.Option(help="'phase' (a shift) or 'features' (RANSAC).")] = (
        "phase"
    ),
    band: Annotated[
        str | None, typer.Option(help="Band to match on (default nir, red, ... or the first).")
    ] = None,
    resample: Annotated[
        bool,
        typer.Option(
            "--resample/--no-resample",
            help="Resample onto the reference grid instead of correcting the transform.",
        ),
    ] = False,
    upsample: Annotated[int, typer.Option(help="Phase: sub-pixel resolution 1/N px.")] = 100,
    model: Annotated[
        str, typer.Option(help="Features: similarity, affine or homography.")
    ] = "similarity",
    detector: Annotated[str, typer.Option(help="Features: orb, akaze or sift.")] = "orb",
    resampling: Annotated[str, typer.Option(help="Resampling with --resample.")] = "bilinear",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    scheduler: Scheduler = None,
) -> None:
    """Align MOVING to REFERENCE and write it to OUT as a COG; print the shift or transform."""
    from satlearn.ops.registration import coregister
    from satlearn.raster import open_raster, save_cog

    with progress(f"registering {moving} to {reference}"):
        reference_da = open_raster(reference)
        moving_da = open_raster(moving)
        fixed = coregister(
            reference_da,
            moving_da,
            method=method,  # type: ignore[arg-type]
            band=band,
            resample=resample,
            upsample=upsample,
            model=model,  # type: ignore[arg-type]
            detector=detector,  # type: ignore[arg-type]
            resampling=resampling,
        )
    with progress(f"writing {out}"):
        save_cog(fixed, out)
    report = {
        key.removeprefix("registration_"): value
        for key, value in fixed.attrs.items()
        if key.startswith("registration_")
    }
    report["transform"] = list(fixed.rio.transform())[:6]
    report["resampled"] = resample
    report["output"] = str(out)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console = make_console()
    for key, value in report.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        console.print(f"{key:>12}  {text}")
