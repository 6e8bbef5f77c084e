"""Mask steps of the demo: clouds (with shadows and snow), water, ships.

Each detects on the scene, writes its masks as COGs and a picture of them
over the scene, and scores against the synthetic truths where there are
some: clouds by IoU and F1 over both dates, water by IoU against the
land-cover truth's water class, ships by F1 of one-to-one matches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from satlearn.demo._context import DemoContext, missing_bands, score
from satlearn.demo._pictures import write_overlay_png
from satlearn.demo._result import StepResult

__all__ = [
    "CLOUD_METHOD",
    "clear_mask",
    "cloud_results",
    "date_label",
    "run_clouds",
    "run_ships",
    "run_water",
    "write_geoparquet",
]

CLOUD_COLOUR = (255, 235, 60)
SHADOW_COLOUR = (150, 40, 200)
SNOW_COLOUR = (60, 230, 230)
WATER_COLOUR = (30, 110, 255)
SHIP_COLOUR = (255, 30, 30)

#: The detector of the demo: the Fmask-style band tests (Sentinel-2 and Landsat 8/9).
CLOUD_METHOD = "rules"


def date_label(ctx: DemoContext, index: int) -> str:
    """``"2024-04-18"`` for a dated layer, else ``"date1"``."""
    da = ctx.dates[index]
    if "time" in da.coords and da.coords["time"].size == 1:
        return str(np.datetime_as_string(da.coords["time"].values, unit="D"))
    return f"date{index + 1}"


def cloud_results(ctx: DemoContext) -> list | None:
    """The clouds of every date: the ``clouds`` step's when it ran, else detected
    here; None when the scene lacks the bands the detector needs."""
    found = ctx.products.get("clouds")
    if found is None:
        from satlearn.ops.clouds import RULES_BANDS, detect_clouds

        if missing_bands(*RULES_BANDS)(ctx) is not None:
            return None
        found = [detect_clouds(da, method=CLOUD_METHOD).compute() for da in ctx.dates]
        ctx.products["clouds"] = found
    return found


def clear_mask(ctx: DemoContext, index: int) -> np.ndarray:
    """bool ``(y, x)``: pixels of date ``index`` with data and no cloud or shadow."""
    found = cloud_results(ctx)
    if found is None:  # no cloud detector for these bands: every pixel with data
        return np.isfinite(ctx.dates[index].values).all(axis=0)
    clouds = found[index]
    return clouds.valid.values & ~clouds.mask.values & ~clouds.shadow.values


def run_clouds(ctx: DemoContext, result: StepResult) -> None:
    """Cloud, thin cirrus, shadow and snow classes of every date (Fmask-style rules)."""
    from satlearn.metrics import binary_scores
    from satlearn.ops.clouds import SNOW, detect_clouds

    found = []
    for i, da in enumerate(ctx.dates):
        date = date_label(ctx, i)
        clouds = detect_clouds(da, method=CLOUD_METHOD).compute()
        found.append(clouds)
        ctx.save_cog(result, f"cloud classes {date}", clouds.classes, f"classes_{date}", nodata=255)
        ctx.save_cog(result, f"cloud mask {date}", clouds.mask, f"cloud_{date}")
        ctx.save_cog(result, f"shadow mask {date}", clouds.shadow, f"shadow_{date}")
        snow = clouds.classes == SNOW
        layers = [(clouds.mask, CLOUD_COLOUR), (clouds.shadow, SHADOW_COLOUR), (snow, SNOW_COLOUR)]
        write_overlay_png(
            da, layers, ctx.picture(result, f"clouds (yellow), shadows (purple), snow {date}",
                                    f"clouds_{date}")
        )  # fmt: skip
        counts = clouds.counts()
        share = 100 * (counts["cloud"] + counts["cirrus"]) / max(1, sum(counts.values()))
        note = f"{date}: {share:.1f} % cloud, {counts['shadow']} shadow px"
        note += f", {counts['snow']} snow px"
        if clouds.cloud_height_m is not None:
            note += f", shadows cast from {clouds.cloud_height_m:.0f} m"
        result.notes.append(note)
    ctx.products["clouds"] = found
    if not ctx.synthetic:
        return
    truth = ctx.truth
    n = len(ctx.dates)
    # A cloud is thick cloud or detectable cirrus, as cloud_mask defines it.
    cloud_truth = (truth.cloud_mask.values | truth.cirrus_mask.values)[:n]
    valid = np.stack([c.valid.values for c in found])
    clouds = binary_scores(np.stack([c.mask.values for c in found]), cloud_truth, valid=valid)
    shadows = binary_scores(
        np.stack([c.shadow.values for c in found]), truth.shadow_mask.values[:n], valid=valid
    )
    score(result, "cloud IoU", clouds.iou)
    score(result, "cloud F1", clouds.f1)
    score(result, "shadow IoU", shadows.iou)
    score(result, "shadow F1", shadows.f1)
    result.notes.append("scored over both dates; the synthetic scene has no snow truth")


def run_water(ctx: DemoContext, result: StepResult) -> None:
    """Water: MNDWI above an edge-Otsu threshold, cleaned by morphology."""
    from satlearn.ops.water import water_mask_details
    from satlearn.vector import write_geojson

    found = water_mask_details(ctx.image)
    mask = found.mask.compute()
    ctx.save_cog(result, "water mask", mask, "water")
    ctx.save_cog(result, "water index", found.index, "water_index")
    features = found.to_features()
    result.outputs["water polygons (GeoJSON)"] = write_geojson(
        features, ctx.folder(result.name) / "water.geojson"
    )
    write_overlay_png(
        ctx.image, [(mask, WATER_COLOUR)], ctx.picture(result, "water (blue)", "water")
    )
    result.notes.append(
        f"threshold {found.threshold:.3f} on the water index; {len(features)} water bodies"
    )
    ctx.products["water"] = mask
    if ctx.synthetic:
        truth = ctx.truth
        seen = ~truth.cloud_mask.values[0]  # water under thick cloud cannot be seen
        scores = found.scores(truth.landcover.values == 0, valid=seen)
        score(result, "water IoU", scores.iou)
        score(result, "water F1", scores.f1)


def run_ships(ctx: DemoContext, result: StepResult) -> None:
    """Ships: two-parameter CFAR inside the water, measured; GeoJSON and GeoParquet."""
    from satlearn.ops.ships import detect_ships

    found = detect_ships(ctx.image)
    ctx.save_cog(result, "ship footprints", found.mask, "ships")
    folder = ctx.folder(result.name)
    result.outputs["ships (GeoJSON)"] = found.to_geojson(folder / "ships.geojson")
    result.outputs["ships (GeoParquet)"] = write_geoparquet(
        found.features(to_wgs84=False), found.crs, folder / "ships.parquet"
    )
    write_overlay_png(
        ctx.image, [(found.mask, SHIP_COLOUR)], ctx.picture(result, "ships (red)", "ships"),
        grow_px=2,
    )  # fmt: skip
    result.notes.append(f"{len(found)} ships found on {100 * found.water_fraction:.1f} % water")
    if ctx.synthetic:
        scores = found.scores(ctx.truth.ships, date_index=0)
        score(result, "ship F1", scores.f1)
        score(result, "ship precision", scores.precision)
        score(result, "ship recall", scores.recall)
        result.notes.append(f"{scores.tp} matched, {scores.fp} false alarms, {scores.fn} missed")


def write_geoparquet(features: list[dict[str, Any]], crs: Any, path: Path) -> Path:
    """GeoJSON-like features (coordinates in ``crs``) as GeoParquet, atomically."""
    import geopandas as gpd

    from satlearn.atomic import atomic_output

    # Parquet columns need one type: list-valued properties become text.
    rows = [
        {k: str(v) if isinstance(v, list | tuple | dict) else v for k, v in f["properties"].items()}
        for f in features
    ]
    frame = gpd.GeoDataFrame.from_features(
        [{**f, "properties": row} for f, row in zip(features, rows, strict=True)], crs=crs
    )
    if frame.empty:
        frame = gpd.GeoDataFrame({"id": []}, geometry=[], crs=crs)
    with atomic_output(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path
