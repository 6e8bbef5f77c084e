"""``satlearn chips``, ``tiles``, ``rasterize``, ``vectorize``: scenes and labels to chips."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress


@app.command()
@errors_to_one_line
def chips(
    scene: Annotated[str, typer.Argument(help="The image raster (path or URL).")],
    labels: Annotated[
        str, typer.Argument(help="A label raster on the scene's grid, or a vector file.")
    ],
    out: Annotated[Path, typer.Argument(help="Output folder (images/, masks/, index.csv).")],
    size: Annotated[int, typer.Option(help="Chip side in pixels.")] = 256,
    overlap: Annotated[int, typer.Option(help="Pixels shared by neighbouring chips.")] = 32,
    attribute: Annotated[
        str | None, typer.Option(help="Class attribute of vector labels (default: all 1).")
    ] = None,
    split: Annotated[
        str, typer.Option(help="Train,val,test fractions of spatial blocks.")
    ] = "0.8,0.1,0.1",
    block: Annotated[int, typer.Option(help="Spatial block side, in chips, for splits.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    all_touched: Annotated[
        bool, typer.Option("--all-touched", help="Burn every pixel a polygon touches.")
    ] = False,
    max_nodata: Annotated[
        float, typer.Option(help="Skip chips with a larger nodata fraction.")
    ] = 0.5,
    osm_classes: Annotated[
        Path | None,
        typer.Option(help="LABELS is an OSM extract: this YAML maps its tags to classes."),
    ] = None,
) -> None:
    """Cut a scene and its labels into GeoTIFF chips with a CSV index (resumable)."""
    from satlearn.errors import InvalidInputError
    from satlearn.prep.chips import write_chip_set

    source, class_names = labels, None
    if osm_classes is not None or labels.lower().endswith((".osm.pbf", ".pbf", ".osm")):
        from satlearn.prep.osm import osm_targets

        targets = osm_targets(labels, scene, classes=osm_classes)
        source, class_names = targets.mask, dict(enumerate(targets.classes))

    try:
        fractions = tuple(float(v) for v in split.split(","))
    except ValueError:
        raise InvalidInputError(
            f"--split {split!r}: expected fractions such as 0.8,0.1,0.1"
        ) from None
    with progress(f"writing chips to {out}"):
        summary = write_chip_set(
            scene,
            source,
            out,
            size=size,
            overlap=overlap,
            split=fractions,
            block=block,
            seed=seed,
            attribute=attribute,
            all_touched=all_touched,
            max_nodata=max_nodata,
            class_names=class_names,
        )
    print(summary)


@app.command()
@errors_to_one_line
@on_scheduler
def tiles(
    scene: Annotated[str, typer.Argument(help="A georeferenced raster (path or URL).")],
    out: Annotated[Path, typer.Argument(help="Root folder of the z/x/y tree.")],
    zoom: Annotated[int, typer.Option(help="Zoom level (0..24).")] = 17,
    tile_format: Annotated[str, typer.Option("--format", help="png or tif.")] = "png",
    tile_size: Annotated[int, typer.Option(help="Tile side in pixels.")] = 256,
    resampling: Annotated[str, typer.Option(help="nearest, bilinear, cubic, mode...")] = "bilinear",
    scheduler: Scheduler = None,
) -> None:
    """Write slippy-map XYZ tiles (WebMercatorQuad) of a scene."""
    from satlearn.prep.tiles import write_xyz_tiles
    from satlearn.raster import open_raster

    da = open_raster(scene, chunks={"band": -1, "y": 1024, "x": 1024})
    with progress(f"writing tiles to {out}"):
        summary = write_xyz_tiles(
            da, out, zoom, tile_size=tile_size, resampling=resampling, format=tile_format
        )
    print(summary)


@app.command()
@errors_to_one_line
@on_scheduler
def rasterize(
    labels: Annotated[str, typer.Argument(help="Vector labels (GeoJSON, GeoPackage, shapefile).")],
    reference: Annotated[str, typer.Argument(help="The raster whose grid the mask takes.")],
    out: Annotated[Path, typer.Argument(help="Output mask (COG).")],
    attribute: Annotated[
        str | None, typer.Option(help="Attribute to burn (numbers, or names mapped to 1..K).")
    ] = None,
    all_touched: Annotated[
        bool, typer.Option("--all-touched", help="Burn every pixel a polygon touches.")
    ] = False,
    instances: Annotated[
        bool, typer.Option("--instances", help="Burn instance ids 1..n instead of classes.")
    ] = False,
    scheduler: Scheduler = None,
) -> None:
    """Burn vector labels into a mask on a reference raster's grid."""
    import xarray as xr

    from satlearn.prep.labels import rasterize_features, read_vector_labels
    from satlearn.raster import open_raster, save_cog

    # Lazy: only the grid (transform, shape, CRS) is needed, never the pixels.
    like = open_raster(reference, chunks={"band": 1, "y": 1024, "x": 1024})
    burn = None if instances else attribute
    features = read_vector_labels(labels, attribute=burn, like=like)
    class_map = None
    values = {(f.get("properties") or {}).get(burn) for f in features} if burn else set()
    if any(isinstance(v, str) for v in values):
        # Class names become ids 1..K in sorted order (0 stays background).
        class_map = {v: i for i, v in enumerate(sorted(map(str, values)), start=1)}
    mask = rasterize_features(
        features,
        like=like,
        attribute=burn,
        class_map=class_map,
        all_touched=all_touched,
        instances=instances,
    )
    da = xr.DataArray(mask[None], dims=("band", "y", "x"), coords={"band": ["mask"]})
    da = da.rio.write_crs(like.rio.crs).rio.write_transform(like.rio.transform())
    with progress(f"writing {out}"):
        save_cog(da, out, overviews="auto", resampling="nearest")
    burned = int((mask != 0).sum())
    names = f", classes {class_map}" if class_map else ""
    print(f"{out}: {len(features)} features, {burned} pixels burned of {mask.size}{names}")


@app.command()
@errors_to_one_line
def vectorize(
    mask: Annotated[str, typer.Argument(help="A class or binary mask raster.")],
    out: Annotated[Path, typer.Argument(help="Output GeoJSON.")],
    simplify: Annotated[
        float | None, typer.Option(help="Simplification tolerance in map units (metres).")
    ] = None,
    background: Annotated[int, typer.Option(help="Class that yields no polygons.")] = 0,
    wgs84: Annotated[
        bool, typer.Option("--wgs84/--native-crs", help="Longitude/latitude (RFC 7946) output.")
    ] = True,
) -> None:
    """Turn a mask into georeferenced polygons, one per connected region, with its class."""
    from satlearn.prep.labels import vectorize_mask
    from satlearn.raster import open_raster
    from satlearn.vector import write_geojson

    da = open_raster(mask, bands=1)
    ignore = [int(da.rio.nodata)] if da.rio.nodata is not None else []
    features = vectorize_mask(
        da[0], background=background, ignore=ignore, simplify=simplify, to_wgs84=wgs84
    )
    write_geojson(features, out, crs=None if wgs84 else da.rio.crs)
    classes = sorted({f["properties"]["class"] for f in features})
    print(f"{out}: {len(features)} polygons, classes {classes}")
