"""``satlearn landcover``: k-means or supervised land cover of a scene into a COG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress
from satlearn.errors import InvalidInputError


def _read_labels(labels: str, image: object) -> object:
    """A GeoJSON path stays a path (polygons); any other path is a label raster."""
    from satlearn.raster import open_raster

    if labels.lower().endswith((".json", ".geojson")):
        return labels
    raster = open_raster(labels, bands=1)
    return raster.isel(band=0, drop=True).astype("int32")


@app.command()
@errors_to_one_line
@on_scheduler
def landcover(
    scene: Annotated[str, typer.Argument(help="A raster with named bands (path or URL).")],
    dst: Annotated[Path, typer.Argument(help="Output COG of class / cluster ids (int16).")],
    k: Annotated[int, typer.Option("--k", help="Number of k-means clusters.")] = 6,
    labels: Annotated[
        str | None,
        typer.Option(
            help="Supervised: a label raster (0 = unlabelled) or a GeoJSON of polygons "
            "with a class property."
        ),
    ] = None,
    class_property: Annotated[str, typer.Option(help="GeoJSON class property.")] = "class",
    model: Annotated[str, typer.Option(help="Supervised model (see satlearn.pixelml.MODELS).")] = (
        "random-forest"
    ),
    indices: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated index features; default ndvi,ndwi (k-means) or "
            "those of NDVI,NDWI,NBR,NDBI the bands allow (supervised)."
        ),
    ] = None,
    texture: Annotated[
        bool | None, typer.Option("--texture/--no-texture", help="Texture features.")
    ] = None,
    save_model: Annotated[
        Path | None, typer.Option("--save-model", help="Write the trained model bundle here.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 1024,
    scheduler: Scheduler = None,
) -> None:
    """Map land cover: unsupervised k-means (--k), or supervised from --labels."""
    from satlearn.ops.landcover import classify_landcover, kmeans_landcover
    from satlearn.raster import open_raster, save_cog

    if save_model is not None and labels is None:
        raise InvalidInputError("--save-model needs --labels (k-means makes no model bundle)")
    image = open_raster(scene, chunks={"band": -1, "y": chunk, "x": chunk}, sensor=sensor)
    names = None if indices is None else [i for i in indices.split(",") if i.strip()]
    if labels is None:
        with progress(f"k-means (k={k}) on {scene}"):
            result = kmeans_landcover(
                image, k=k, indices=("ndvi", "ndwi") if names is None else names,
                texture=bool(texture), seed=seed,
            )  # fmt: skip
        out = result.clusters
    else:
        with progress(f"training a {model} on {labels}"):
            classified = classify_landcover(
                image, _read_labels(labels, image), model=model, indices=names,
                texture=True if texture is None else texture, seed=seed,
                class_property=class_property,
            )  # fmt: skip
        out = classified.classes
        if save_model is not None:
            classified.classifier.save(save_model, overwrite=True)
            print(save_model)
    with progress(f"writing {dst}"):
        save_cog(out, dst, nodata=-1)
    print(dst)
