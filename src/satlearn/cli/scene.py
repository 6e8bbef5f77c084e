"""``satlearn synth`` and ``satlearn demo``: synthetic scenes and the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import app, errors_to_one_line, make_console, progress


@app.command()
@errors_to_one_line
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the scene's COGs and truths.")],
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical rasters.")
    ] = 0,
    size: Annotated[int, typer.Option(help="Scene width and height in pixels.")] = 512,
    sensor: Annotated[str, typer.Option(help="Sensor profile.")] = "sentinel2_l1c",
    dates: Annotated[int, typer.Option(help="Number of dates.")] = 2,
    overwrite: Annotated[bool, typer.Option(help="Replace a different scene in OUT_DIR.")] = False,
) -> None:
    """Write a synthetic scene and all its ground truths as COGs (plus ships.geojson)."""
    written = _write_synthetic(
        out_dir, seed=seed, size=size, sensor=sensor, dates=dates, overwrite=overwrite
    )
    print(f"wrote {len(written)} files to {out_dir}")


def _write_synthetic(
    out_dir: Path, *, seed: int, size: int, sensor: str, dates: int, overwrite: bool
) -> dict[str, Path]:
    from satlearn.synth import make_scene
    from satlearn.synth.export import write_scene

    with progress(f"synthesising a {size} x {size} {sensor} scene"):
        scene = make_scene(size, seed=seed, sensor=sensor, n_dates=dates)
    total = 2 * dates + sum(
        dates if "time" in truth.dims else 1 for truth in scene.truths().values()
    )
    with progress(f"writing COGs to {out_dir}", total=total) as advance:
        written = write_scene(scene, out_dir, overwrite=overwrite, on_file=lambda _: advance())
    return written


@app.command()
@errors_to_one_line
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    size: Annotated[int, typer.Option(help="Scene width and height in pixels.")] = 1024,
    overwrite: Annotated[bool, typer.Option(help="Replace a different scene in OUT.")] = False,
) -> None:
    """The main job on the embedded synthetic scene: no network, no files needed."""
    from satlearn.raster import open_raster, validate_cog
    from satlearn.viz import quicklook

    written = _write_synthetic(
        out / "scene", seed=seed, size=size, sensor="sentinel2_l1c", dates=2, overwrite=overwrite
    )
    images = sorted(p for stem, p in written.items() if stem.startswith("image_"))
    looks = []
    with progress("quicklooks", total=len(images)) as advance:
        for image in images:
            da = open_raster(image, bands=["red", "green", "blue"], chunks=1024)
            looks.append(quicklook(da, out / f"quicklook_{image.stem.removeprefix('image_')}.png"))
            advance()
    cogs = [p for p in written.values() if p.suffix == ".tif"]
    invalid = [str(p) for p in cogs if not validate_cog(p)[0]]
    if invalid:  # pragma: no cover - GDAL's COG driver writes valid COGs
        print(f"error: not valid COGs: {', '.join(invalid)}", file=sys.stderr)
        raise typer.Exit(code=1)
    console = make_console()
    console.print(f"[bold]satlearn demo[/bold]: {len(cogs)} valid COGs in {out / 'scene'}")
    for look in looks:
        console.print(f"quicklook: {look}")
    console.print(f"scene parameters: {written['scene']}")
    console.print(f"ships: {written['ships']}")
