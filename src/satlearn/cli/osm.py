"""``satlearn osm labels``: training targets from an OpenStreetMap extract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import app, errors_to_one_line, progress

osm_app = typer.Typer(
    help="OpenStreetMap extracts as training labels (offline).", no_args_is_help=True
)
app.add_typer(osm_app, name="osm")


@osm_app.command("labels")
@errors_to_one_line
def labels(
    extract: Annotated[
        Path, typer.Argument(help="OSM extract: .osm.pbf, .osm XML, Overpass JSON or GeoJSON.")
    ],
    scene: Annotated[str, typer.Argument(help="The raster whose grid the labels take.")],
    out: Annotated[Path, typer.Argument(help="Output class mask (COG, uint8, 255 = ignored).")],
    classes: Annotated[
        Path | None,
        typer.Option(help="YAML mapping of OSM tags to classes (default: water, road, building)."),
    ] = None,
    edge_ignore_px: Annotated[
        int, typer.Option(help="Mark pixels this close to a label edge as ignored (255).")
    ] = 0,
    instances: Annotated[
        Path | None, typer.Option(help="Also write building instance ids to this COG.")
    ] = None,
) -> None:
    """Rasterise an OSM extract onto a scene's grid and print each class's share."""
    from satlearn.prep.osm import IGNORE, osm_targets
    from satlearn.raster import save_cog

    with progress(f"reading {extract}"):
        targets = osm_targets(extract, scene, classes=classes, edge_ignore_px=edge_ignore_px)
    mask = targets.mask.expand_dims(band=["classes"])
    with progress(f"writing {out}"):
        save_cog(mask, out, overviews="auto", resampling="nearest", nodata=IGNORE)
        if instances is not None:
            ids = targets.instances.expand_dims(band=["instances"])
            save_cog(ids, instances, overviews=None, nodata=0)
    names = ", ".join(f"{i}={n}" for i, n in enumerate(targets.classes) if n)
    print(f"{out}: classes {names}, {IGNORE}=ignored")
    print(targets.report())
