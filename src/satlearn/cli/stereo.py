"""``satlearn stereo``: a DEM COG from a rectified stereo pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler, progress
from satlearn.errors import InvalidInputError


@app.command()
@errors_to_one_line
@on_scheduler
def stereo(
    left: Annotated[str, typer.Argument(help="Left image of the rectified pair (one band).")],
    right: Annotated[str, typer.Argument(help="Right image, on the same grid as LEFT.")],
    out: Annotated[Path, typer.Argument(help="Output DEM COG (float32 m, nodata NaN).")],
    bh: Annotated[float, typer.Option("--bh", help="Base-to-height ratio B/H of the pair.")],
    min_height: Annotated[
        float | None, typer.Option(help="Lowest expected height (m); bounds the search.")
    ] = None,
    max_height: Annotated[
        float | None, typer.Option(help="Highest expected height (m); bounds the search.")
    ] = None,
    reference_height: Annotated[
        float, typer.Option(help="Height (m) of zero disparity; 0 gives relative heights.")
    ] = 0.0,
    band: Annotated[
        str | None, typer.Option(help="Band to match (name or 1-based index) in multi-band input.")
    ] = None,
    fill: Annotated[str, typer.Option(help="Hole filling: inpaint, rows or none.")] = "inpaint",
    subpixel: Annotated[str, typer.Option(help="Sub-pixel: lk (refine) or sgbm.")] = "lk",
    memory_mb: Annotated[
        float, typer.Option(help="Memory bound (MiB) of one strip's SGBM cost volume (> 0).")
    ] = 1024,
    pixel_size: Annotated[
        float | None,
        typer.Option(help="Pixel size (m), for pixels that are not square or not in metres."),
    ] = None,
    scheduler: Scheduler = None,
) -> None:
    """Match LEFT and RIGHT by semi-global matching and write their DEM to OUT."""
    from satlearn.ops.stereo import stereo_dem
    from satlearn.raster import open_raster, save_cog

    if (min_height is None) != (max_height is None):
        raise InvalidInputError("give both --min-height and --max-height, or neither")
    if fill not in ("inpaint", "rows", "none"):
        raise InvalidInputError(f"--fill must be inpaint, rows or none, got {fill!r}")
    if not memory_mb > 0:
        raise InvalidInputError(f"--memory-mb must be > 0 (MiB), got {memory_mb:g}")
    if pixel_size is not None and not pixel_size > 0:
        raise InvalidInputError(f"--pixel-size must be > 0 (metres), got {pixel_size:g}")
    heights = None if min_height is None else (min_height, max_height)
    # Lazy full-width row chunks: the strips read only the rows they need.
    chunks = {"band": 1, "y": 1024, "x": -1}
    with progress(f"matching {left} and {right}"):
        dem = stereo_dem(
            open_raster(left, chunks=chunks),
            open_raster(right, chunks=chunks),
            base_to_height=bh,
            height_range=heights,  # type: ignore[arg-type]
            reference_height=reference_height,
            band=band,
            fill=None if fill == "none" else fill,
            subpixel=subpixel,
            memory_mb=memory_mb,
            pixel_size_m=pixel_size,
        )
    with progress(f"writing {out}"):
        save_cog(dem, out, nodata=float("nan"), resampling="average")
    values = dem.values
    import numpy as np

    finite = np.isfinite(values)
    low, high = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (
        float("nan"), float("nan"),
    )  # fmt: skip
    print(
        f"{out}: {100 * dem.attrs['valid_fraction']:.1f} % matched before filling, "
        f"heights {low:.1f} .. {high:.1f} m"
    )
