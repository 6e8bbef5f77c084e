"""Geometry steps of the demo: co-registration, pansharpening, stereo DEM.

Registration is scored by the error of the estimated shift against the
scene's known sub-pixel misregistration; pansharpening by Wald's protocol
(the fusion of a degraded pair against the original multispectral image,
since no sharper truth exists); the DEM by its RMSE and NMAD against the
terrain the stereo pair was rendered from.
"""

from __future__ import annotations

import math

from satlearn.demo._context import DemoContext, score
from satlearn.demo._masks import date_label
from satlearn.demo._pictures import SCENE_STRETCH, write_values_png
from satlearn.demo._result import StepResult

__all__ = [
    "PANSHARPEN_BANDS",
    "PANSHARPEN_METHOD",
    "run_pansharpen",
    "run_registration",
    "run_stereo",
    "two_dates",
    "with_pan",
    "with_stereo",
]

#: Gram-Schmidt adaptive (GSA): the component-substitution method that
#: scores best here; the bands the pan covers.
PANSHARPEN_METHOD = "gram-schmidt"
PANSHARPEN_BANDS = ("blue", "green", "red", "nir")


def two_dates(ctx: DemoContext) -> str | None:
    return None if len(ctx.dates) > 1 else "it needs two dates and the scene has one"


def with_pan(ctx: DemoContext) -> str | None:
    return None if ctx.synthetic else "it needs a panchromatic band beside the scene"


def with_stereo(ctx: DemoContext) -> str | None:
    return None if ctx.synthetic else "it needs a rectified stereo pair"


def run_registration(ctx: DemoContext, result: StepResult) -> None:
    """Co-register the last date onto the first (sub-pixel phase correlation), resampled."""
    from satlearn.ops.registration import coregister
    from satlearn.viz import quicklook

    fixed = coregister(ctx.dates[0], ctx.dates[-1], resample=True)
    date = date_label(ctx, len(ctx.dates) - 1)
    ctx.save_cog(result, f"{date} on the grid of the first date", fixed, f"registered_{date}")
    quicklook(fixed, ctx.picture(result, f"{date} co-registered", f"registered_{date}"),
              percentiles=SCENE_STRETCH)  # fmt: skip
    dy, dx = float(fixed.attrs["registration_dy"]), float(fixed.attrs["registration_dx"])
    confidence = fixed.attrs.get("registration_confidence")
    note = f"shift found: dy {dy:+.3f} px, dx {dx:+.3f} px"
    if confidence is not None:
        note += f" (confidence {float(confidence):.2f})"
    result.notes.append(note)
    ctx.products["registration"] = fixed
    if ctx.synthetic:
        true_dy, true_dx = ctx.truth.misregistration[-1]
        score(result, "shift error (px)", math.hypot(dy - true_dy, dx - true_dx))
        result.notes.append(f"true shift: dy {true_dy:+.3f} px, dx {true_dx:+.3f} px")


def run_pansharpen(ctx: DemoContext, result: StepResult) -> None:
    """Gram-Schmidt (GSA) pansharpening of the first date with its 5 m pan band."""
    from satlearn.ops.pansharpen import pansharpen
    from satlearn.ops.quality import wald_protocol
    from satlearn.viz import quicklook

    ms = ctx.image.sel(band=list(PANSHARPEN_BANDS))
    pan = ctx.truth.pan.isel(time=0)
    sharp = pansharpen(ms, pan, method=PANSHARPEN_METHOD, weights="auto")
    ctx.save_cog(result, "pansharpened (5 m)", sharp, "pansharpened", resampling="average")
    quicklook(sharp, ctx.picture(result, "pansharpened, 5 m", "pansharpened"),
              percentiles=SCENE_STRETCH)  # fmt: skip
    quality = wald_protocol(ms, pan, method=PANSHARPEN_METHOD, weights="auto")
    score(result, "Q2n (Wald)", quality["q2n"])
    score(result, "ERGAS (Wald)", quality["ergas"])
    score(result, "SAM (deg, Wald)", quality["sam"])
    result.notes.append(
        f"{PANSHARPEN_METHOD} with regressed weights on {', '.join(PANSHARPEN_BANDS)}; "
        "quality by Wald's protocol (the fusion of a pair degraded 2x against the original)"
    )


def run_stereo(ctx: DemoContext, result: StepResult) -> None:
    """A DEM from the rectified stereo pair (semi-global matching)."""
    from satlearn.ops.stereo import stereo_dem_details

    truth = ctx.truth
    # The heights are relative to one known point: the lowest terrain, as a
    # ground control point would give it.
    found = stereo_dem_details(
        truth.stereo_left, truth.stereo_right, base_to_height=truth.base_to_height,
        reference_height=float(truth.dem.min()),
    )  # fmt: skip
    ctx.save_cog(result, "DEM (m)", found.dem, "dem", resampling="average")
    ctx.save_cog(result, "disparity (px)", found.disparity, "disparity", resampling="average")
    write_values_png(found.dem, ctx.picture(result, "DEM from stereo", "dem"))
    write_values_png(truth.dem, ctx.picture(result, "true DEM", "dem_truth"))
    accuracy = found.scores(truth.dem)
    score(result, "DEM RMSE (m)", accuracy.rmse)
    score(result, "DEM NMAD (m)", accuracy.nmad)
    result.notes.append(
        f"{100 * found.valid_fraction:.0f} % of pixels matched, the rest filled; "
        f"B/H {truth.base_to_height:.2f}, one disparity pixel is "
        f"{truth.pixel_size_m / truth.base_to_height:.1f} m of height"
    )
