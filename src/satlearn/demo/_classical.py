"""Classical analysis steps of the demo: spectral indices, change, land cover.

Land cover is done two ways: unsupervised (k-means, clusters named after the
truth's classes by Hungarian matching) and supervised (a random-forest pixel
classifier trained on the western part of the scene's land-cover truth and
scored on the eastern part it never saw).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from satlearn.demo._context import DemoContext, score
from satlearn.demo._masks import clear_mask, date_label
from satlearn.demo._pictures import write_classes_png, write_overlay_png, write_values_png
from satlearn.demo._result import StepResult

__all__ = [
    "CHANGE_METHOD",
    "INDICES",
    "TRAIN_SHARE",
    "change_inputs",
    "run_change",
    "run_indices",
    "run_landcover",
]

#: The indices the demo computes, where the scene's bands allow them.
INDICES = ("NDVI", "NDWI", "MNDWI", "NBR", "NDBI", "EVI", "SAVI")

#: Share of the scene (its western part for pixel classifiers, its northern
#: part for the segmentation model) whose labels train; the rest scores.
TRAIN_SHARE = 0.6

#: The change method: standardised change vector analysis, the library's default
#: (on this scene IR-MAD, PCA + k-means and NDVI differencing all score within
#: 0.02 F1 of it: April-to-July crop and vegetation change outweighs the events).
CHANGE_METHOD = "cva"


def run_indices(ctx: DemoContext, result: StepResult) -> None:
    """NDVI, NDWI, MNDWI, NBR, NDBI, EVI, SAVI (those the bands allow), one COG."""
    from satlearn.ops.indices import available_indices, compute_index

    allowed = {name.upper() for name in available_indices(ctx.image)}
    names = [name for name in INDICES if name in allowed]
    stack = compute_index(ctx.image, names)
    ctx.save_cog(result, "indices (one band each)", stack, "indices")
    for name in names[:3]:
        write_values_png(stack.sel(band=name), ctx.picture(result, name, name.lower()))
    means = np.nanmean(stack.values.reshape(len(names), -1), axis=1)
    result.notes.append(
        "scene means: " + ", ".join(f"{n} {m:.2f}" for n, m in zip(names, means, strict=True))
    )
    left_out = [name for name in INDICES if name not in allowed]
    if left_out:
        result.notes.append(f"not computed (bands missing): {', '.join(left_out)}")


def change_inputs(
    ctx: DemoContext, result: StepResult
) -> tuple[xr.DataArray, xr.DataArray, np.ndarray]:
    """The pair to compare: date 1 and date 2 co-registered onto it (the
    ``registration`` step's result when it ran), and the pixels clear on both."""
    after = ctx.products.get("registration")
    if after is None:
        from satlearn.ops.registration import coregister

        after = coregister(ctx.dates[0], ctx.dates[-1], resample=True)
        result.notes.append("date 2 co-registered here (the registration step was not run)")
    clear = clear_mask(ctx, 0) & clear_mask(ctx, len(ctx.dates) - 1)
    return ctx.dates[0], after, clear


def run_change(ctx: DemoContext, result: StepResult) -> None:
    """Change between the dates (CVA), clouds and shadows of either date masked out."""
    from satlearn.ops.change import detect_change
    from satlearn.vector import write_geojson

    before, after, clear = change_inputs(ctx, result)
    found = detect_change(before, after, method=CHANGE_METHOD, valid=clear, seed=ctx.seed)
    found = found.compute()
    ctx.save_cog(result, "change mask", found.coded_mask(), "change", nodata=255)
    ctx.save_cog(result, "change magnitude", found.magnitude, "magnitude")
    features = found.to_features()
    result.outputs["changed areas (GeoJSON)"] = write_geojson(
        features, ctx.folder(result.name) / "change.geojson"
    )
    write_overlay_png(
        after, [(found.mask, (255, 40, 40))],
        ctx.picture(result, f"change (red) over {date_label(ctx, len(ctx.dates) - 1)}", "change"),
    )  # fmt: skip
    write_values_png(found.magnitude, ctx.picture(result, "change magnitude", "magnitude"))
    how = CHANGE_METHOD if found.threshold is None else f"{CHANGE_METHOD} > {found.threshold:.2f}"
    result.notes.append(
        f"{how}; {100 * clear.mean():.0f} % of the scene clear on both dates; "
        f"{len(features)} changed areas"
    )
    if ctx.synthetic:
        scores = found.scores(ctx.truth.change_mask.values)
        score(result, "change F1", scores.f1)
        score(result, "change IoU", scores.iou)
        score(result, "change kappa", scores.kappa)
        result.notes.append(
            "the truth holds only the explicit change events; seasonal change of crops and "
            "vegetation between April and July is real change in the pixels too, so F1 is low"
        )


def _landcover_bands(ctx: DemoContext) -> list[str]:
    from satlearn.bands import band_positions

    found = band_positions(ctx.image)
    wanted = ("blue", "green", "red", "nir", "swir16", "swir22")
    return [b for b in wanted if b in found] or [str(b) for b in ctx.image["band"].values]


def run_landcover(ctx: DemoContext, result: StepResult) -> None:
    """k-means land cover; with truths also a random-forest pixel classifier."""
    from satlearn.ops.landcover import classify_landcover, kmeans_landcover, score_clusters

    clear = clear_mask(ctx, 0)
    bands = _landcover_bands(ctx)
    k = 7 if ctx.synthetic else 6  # the synthetic scene's seven classes
    clusters = kmeans_landcover(
        ctx.image, k, bands=bands, indices=("ndvi", "ndwi"), valid=clear, seed=ctx.seed
    ).clusters.compute()
    ctx.save_cog(result, "k-means clusters", clusters.astype(np.int16), "clusters", nodata=-1)
    result.notes.append(f"k-means: k={k} on {', '.join(bands)}, NDVI and NDWI; clouds left out")
    if not ctx.synthetic:
        write_classes_png(clusters, ctx.picture(result, "k-means clusters", "clusters"))
        return
    truth = ctx.truth.landcover.values.astype(np.int16)
    seen = ~ctx.truth.cloud_mask.values[0]
    mapping, kmeans = score_clusters(clusters, truth, valid=seen, ignore=None)
    named = np.where(clusters.values >= 0, mapping[np.clip(clusters.values, 0, None)], -1)
    write_classes_png(named, ctx.picture(result, "k-means clusters, named by matching", "clusters"))
    score(result, "k-means accuracy", kmeans.accuracy)
    score(result, "k-means kappa", kmeans.kappa)

    # Supervised: labels (class + 1, 0 = unlabelled) on the western share only.
    width = truth.shape[1]
    train_cols = np.arange(width) < int(TRAIN_SHARE * width)
    labels = np.where(train_cols[None, :] & seen, truth + 1, 0).astype(np.int16)
    like = ctx.truth.landcover.copy(data=labels)
    classified = classify_landcover(
        ctx.image.sel(band=bands), like, n_estimators=40, max_samples=20000, seed=ctx.seed
    )
    classes = (classified.classes.compute() - 1).astype(np.int16)  # back to class ids
    classes = classes.where(classified.classes >= 1, -1).astype(np.int16)
    ctx.save_cog(result, "pixel classifier classes", classes, "classes", nodata=-1)
    write_classes_png(classes, ctx.picture(result, "random-forest land cover", "classes"))
    bundle = classified.classifier.save(ctx.folder(result.name) / "pixel-classifier")
    result.outputs["pixel classifier bundle"] = bundle
    from satlearn.metrics import class_scores

    held_out = ~train_cols[None, :] & seen
    scores = class_scores(classes.values, truth, valid=held_out & (classes.values >= 0))
    score(result, "classifier kappa", scores.kappa)
    score(result, "classifier macro F1", scores.macro_f1)
    score(result, "classifier accuracy", scores.accuracy)
    result.notes.append(
        f"random forest trained on the western {TRAIN_SHARE:.0%} of the truth, "
        "scored on the eastern part"
    )
