"""The last step of the demo: a STAC catalogue of every COG the run wrote, validated.

:func:`satlearn.catalog.build_catalog` describes every raster under the
output folder (one collection per step folder, thumbnails from the COGs'
overviews); :func:`satlearn.catalog.validate_catalog` checks every document
against the STAC schemas shipped with satlearn (offline). The score is the
number of validation errors: 0 is a valid catalogue.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from satlearn.demo._context import DemoContext, score
from satlearn.demo._result import StepResult

__all__ = ["run_catalog"]


def run_catalog(ctx: DemoContext, result: StepResult) -> None:
    """Build the catalogue under ``out/catalog`` and validate it."""
    from satlearn.catalog import build_catalog, validate_catalog

    da = ctx.image
    # Outputs carry no date of their own: they are of the first date's scene,
    # or, when the scene names none, of this run.
    if "time" in da.coords and da.coords["time"].size == 1:
        when = str(np.datetime_as_string(da.coords["time"].values, unit="D"))
    else:
        when = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        result.notes.append(f"the scene names no acquisition time: outputs dated {when}")
    skipped: list = []
    target = ctx.out / "catalog"
    catalog = build_catalog(
        ctx.out, target, id="satlearn-demo", title="satlearn demo outputs",
        description=f"Every COG of one satlearn demo run on {ctx.source}.",
        collection_by="folder", datetime=when, skipped=skipped,
    )  # fmt: skip
    problems = validate_catalog(target / "catalog.json")
    errors = [p for p in problems if p.severity == "error"]
    items = list(catalog.get_items(recursive=True))
    collections = list(catalog.get_children())
    result.outputs["STAC catalogue"] = target / "catalog.json"
    score(result, "STAC validation errors", len(errors))
    result.notes.append(
        f"{len(items)} items in {len(collections)} collections, "
        f"{len(problems) - len(errors)} warnings"
    )
    for path, reason in skipped[:5]:
        result.notes.append(f"left out {path.name}: {reason}")
    for problem in errors[:3]:
        result.notes.append(f"invalid: {problem}")
