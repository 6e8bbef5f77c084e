"""``satlearn change``: change between two co-registered rasters, as COGs and polygons.

Writes three files from ``OUT`` (say ``out/change.tif``):

* ``out/change.tif`` -- the change mask, uint8 COG: 1 changed, 0 unchanged,
  255 (nodata) where a pixel is not valid in both dates;
* ``out/change_magnitude.tif`` -- the change magnitude, float32 COG, NaN nodata;
* ``out/change.geojson`` -- one polygon per changed area (WGS 84), with
  ``pixels``, ``area_m2``, ``method`` and ``mean_magnitude``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress
from satlearn.errors import InvalidInputError

_MASK_NODATA = 255


def _threshold(text: str | None) -> str | float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def output_paths(out: Path) -> tuple[Path, Path, Path]:
    """(mask COG, magnitude COG, polygons GeoJSON) written for ``out``."""
    return out, out.with_name(f"{out.stem}_magnitude.tif"), out.with_suffix(".geojson")


def _features(mask: Any, magnitude: Any, method: str, min_pixels: int) -> list[dict[str, Any]]:
    """``ChangeResult.to_features`` of in-memory layers (run on a worker)."""
    from satlearn.ops.change import ChangeResult

    held = ChangeResult(magnitude=magnitude, mask=mask, valid=mask, method=method, threshold=None)
    return held.to_features(min_pixels=min_pixels)


@app.command()
@errors_to_one_line
@on_scheduler
def change(
    before: Annotated[str, typer.Argument(help="Raster of the first date (path or URL).")],
    after: Annotated[str, typer.Argument(help="Raster of the second date, on the same grid.")],
    out: Annotated[Path, typer.Argument(help="Output mask COG (.tif).")],
    method: Annotated[
        str,
        typer.Option(help="difference, ratio, log-ratio, cva, pca-kmeans or irmad."),
    ] = "pca-kmeans",
    threshold: Annotated[
        str | None,
        typer.Option(
            help="otsu, kittler-illingworth (ki) or a number; default per method "
            "(pca-kmeans clusters and takes none)."
        ),
    ] = None,
    index: Annotated[
        str | None, typer.Option(help="Compare spectral indices instead of bands, e.g. ndvi.")
    ] = None,
    smooth: Annotated[int, typer.Option(help="Mean filter side (pixels) before the decision.")] = 1,
    block_size: Annotated[int, typer.Option(help="pca-kmeans block side h (pixels).")] = 5,
    match_bands: Annotated[
        str, typer.Option(help="Pair bands by 'name' or by 'position'.")
    ] = "name",
    min_pixels: Annotated[int, typer.Option(help="Smallest area (pixels) to vectorise.")] = 1,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, to name bands.")] = None,
    chunk: Annotated[int, typer.Option(help="Block size (pixels) of the lazy read.")] = 2048,
    scheduler: Scheduler = None,
) -> None:
    """Detect change between two dates: mask and magnitude COGs plus polygons GeoJSON."""
    from satlearn.compute import active_client, materialise
    from satlearn.ops.change import detect_change
    from satlearn.raster import open_raster, save_cog
    from satlearn.vector import write_geojson

    if out.suffix.lower() not in (".tif", ".tiff"):
        raise InvalidInputError(f"OUT must be a .tif path, got {out}")
    chunks = {"band": -1, "y": chunk, "x": chunk}
    first = open_raster(before, chunks=chunks, sensor=sensor)
    second = open_raster(after, chunks=chunks, sensor=sensor)
    with progress(f"detecting change ({method})"):
        # The files and the summary come from one pass over the inputs: computed
        # in memory on threads, persisted on the workers of a cluster (they
        # write the COGs' blocks; the counts are reductions there).
        result = materialise(
            detect_change(
                first,
                second,
                method=method,
                threshold=_threshold(threshold),
                index=index,
                smooth_px=smooth,
                block_px=block_size,
                match_bands=match_bands,
            )
        )
    mask_path, magnitude_path, geojson_path = output_paths(out)
    with progress(f"writing {mask_path}"):
        save_cog(result.coded_mask(nodata=_MASK_NODATA), mask_path, nodata=_MASK_NODATA)
        save_cog(result.magnitude, magnitude_path, nodata=float("nan"), resampling="average")
        if active_client() is not None and result.mask.chunks is not None:
            import dask

            # Polygons are global (regions cross blocks): traced on one worker,
            # which gathers the mask there; only the polygons come back.
            features = dask.delayed(_features)(result.mask, result.magnitude, result.method,
                                               min_pixels).compute()  # fmt: skip
        else:
            features = result.to_features(min_pixels=min_pixels)
        write_geojson(features, geojson_path)
    n_valid = int(result.valid.sum())
    n_changed = int(result.mask.sum())
    share = 100.0 * n_changed / n_valid if n_valid else 0.0
    rule = "k-means" if result.threshold is None else f"threshold {result.threshold:.4g}"
    print(
        f"{mask_path}: {n_changed} changed pixels ({share:.2f}% of {n_valid} valid), "
        f"{len(features)} areas, {result.method} ({rule}); "
        f"magnitude {magnitude_path.name}, polygons {geojson_path.name}"
    )
