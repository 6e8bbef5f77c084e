"""What every demo step shares: the scene, the output folder and how outputs are recorded.

A step is a function ``run(ctx, result)`` that reads the scene from the
:class:`DemoContext`, writes its files through :meth:`DemoContext.save_cog`
and the picture writers, and fills its :class:`StepResult` (scores, notes).
What a later step builds on (the cloud masks, the co-registered date) goes
into :attr:`DemoContext.products` under the producing step's name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.demo._result import StepResult

__all__ = ["DemoContext", "Step", "always", "missing_bands", "score"]


@dataclass
class DemoContext:
    """The scene the demo runs on, and where its outputs go.

    Attributes
    ----------
    out : pathlib.Path
        The output folder; step ``s`` writes under ``out / s``.
    dates : list of xarray.DataArray
        ``(band, y, x)`` float32 reflectance per date (a user's scene: one).
    truth : satlearn.synth.SyntheticScene or None
        The synthetic scene with its truths; None for a user's scene (steps
        then report outputs but no scores).
    source : str
        Where the scene came from (``"synthetic: size 1024, seed 0"`` or the
        user's path or URL).
    seed : int
        Seeds every random choice of the steps (k-means, training).
    products : dict
        What steps hand on to later ones, by producing step.
    overwrite : bool
        Replace a different synthetic scene left in ``out`` by an earlier run.
    """

    out: Path
    dates: list[xr.DataArray]
    truth: Any = None
    source: str = ""
    seed: int = 0
    products: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False

    @property
    def image(self) -> xr.DataArray:
        """The first date, ``(band, y, x)``: what single-date steps run on."""
        return self.dates[0]

    @property
    def synthetic(self) -> bool:
        """Whether the scene has truths to score against."""
        return self.truth is not None

    def folder(self, step: str) -> Path:
        path = self.out / step
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_cog(
        self,
        result: StepResult,
        label: str,
        layer: xr.DataArray,
        name: str,
        *,
        nodata: float | None = None,
        resampling: str = "nearest",
    ) -> Path:
        """Write ``layer`` as ``out/<step>/<name>.tif`` (booleans as uint8) and record it."""
        from satlearn.raster import copy_grid, save_cog

        if layer.dtype == bool:
            layer = layer.astype(np.uint8)
        if layer.rio.crs is None:  # results that lost the grid mapping on the way
            layer = copy_grid(layer, self.image)
        path = save_cog(
            layer, self.folder(result.name) / f"{name}.tif", nodata=nodata, resampling=resampling
        )
        result.outputs[label] = path
        return path

    def picture(self, result: StepResult, caption: str, name: str) -> Path:
        """The path of picture ``name`` of the step, recorded under ``caption``."""
        path = self.folder(result.name) / f"{name}.png"
        result.images[caption] = path
        return path


def score(result: StepResult, name: str, value: Any) -> None:
    """Record a score, leaving out undefined ones (NaN: e.g. F1 with no positive)."""
    number = float(value)
    if math.isfinite(number):
        result.scores[name] = round(number, 4)
    else:
        result.notes.append(f"{name}: undefined on this scene")


def always(ctx: DemoContext) -> str | None:
    """Every scene suits the step."""
    return None


def missing_bands(*bands: str) -> Callable[[DemoContext], str | None]:
    """An ``applies`` check: the reason the scene does not suit the step, or None."""

    def check(ctx: DemoContext) -> str | None:
        from satlearn.bands import band_positions

        found = band_positions(ctx.image)
        absent = [b for b in bands if b not in found]
        return f"the scene has no {', '.join(absent)} band" if absent else None

    return check


@dataclass(frozen=True)
class Step:
    """One step of the demo.

    Attributes
    ----------
    name, title : str
        The ``--steps`` key and the report's heading.
    run : callable
        ``run(ctx, result)``: does the work, fills ``result``.
    needs : tuple of str
        Steps whose products this one uses when they are part of the run: if
        one of them failed or was skipped, this step is skipped too. A needed
        step left out of ``--steps`` is not an obstacle: the step then makes
        what it needs itself.
    applies : callable
        ``applies(ctx)``: None when the scene suits the step, else why not
        (a user's scene has no pan band, no second date, no labels...).
    """

    name: str
    title: str
    run: Callable[[DemoContext, StepResult], None]
    needs: tuple[str, ...] = ()
    applies: Callable[[DemoContext], str | None] = always
