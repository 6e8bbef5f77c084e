"""What one step of the demo pipeline reports: its time, scores and files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StepResult"]


@dataclass
class StepResult:
    """The outcome of one demo step, as the report shows it.

    Attributes
    ----------
    name : str
        The step's key, as ``satlearn demo --steps`` spells it (``"clouds"``).
    title : str
        A heading for the report (``"Cloud, shadow and snow masks"``).
    seconds : float
        Wall-clock time of the step.
    scores : dict of str to float
        Accuracy against the synthetic truths (``{"cloud IoU": 0.91}``);
        empty when the scene has no truth for the step.
    outputs : dict of str to Path
        Files the step wrote (COGs, GeoParquet, GeoJSON, a bundle folder, the
        catalogue), by label; the report links them.
    images : dict of str to Path
        PNG quicklooks of the step's outputs, by caption.
    notes : list of str
        Short remarks shown under the step (what was chosen, what was skipped).
    error : str or None
        The one-line error of a step that failed (the report shows it and the
        demo exits 1).
    skipped : str or None
        Why a step did not run: it does not apply to the scene (a user's scene
        has no pan band, no second date, no labels) or a step it builds on
        failed. Also in ``notes``; a skipped step is not a failure.
    """

    name: str
    title: str
    seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
