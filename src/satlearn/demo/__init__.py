"""The main job: every step of the toolkit on one scene, scored, with a report.

:func:`run_demo` runs the pipeline (:data:`STEPS`, in order) on the embedded
synthetic scene (:func:`satlearn.synth.make_scene`, two dates, every truth) or
on a user's scene, writes each step's outputs under ``out/<step>/`` (COGs,
GeoJSON / GeoParquet, a model bundle, a STAC catalogue, PNG quicklooks) and
returns one :class:`StepResult` per step; ``out/results.json`` holds them too.
:func:`write_report` turns the results into ``out/report.html``.

Layout
------
One private module per job: ``_result`` (:class:`StepResult`), ``_context``
(what the steps share), ``_pictures`` (class maps, overlays), ``_inputs``
(the scene and the ``scene`` step), ``_masks`` (clouds, water, ships),
``_classical`` (indices, change, land cover), ``_geometry`` (registration,
pansharpening, stereo), ``_learned`` (the segmentation model), ``_catalog``
(the STAC catalogue), ``_pipeline`` (order, timing, failures, results.json)
and ``_report`` (the HTML page).

Examples
--------
>>> from satlearn.demo import STEPS, run_demo
>>> STEPS[:3]
('scene', 'clouds', 'indices')
>>> results = run_demo("demo-output", steps="clouds,water", size=256)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from satlearn.demo._pipeline import RESULTS_JSON, STEPS, read_results, run_demo, select_steps
from satlearn.demo._result import StepResult

if TYPE_CHECKING:
    from satlearn.demo._report import write_report

__all__ = [
    "RESULTS_JSON",
    "STEPS",
    "StepResult",
    "read_results",
    "run_demo",
    "select_steps",
    "write_report",
]


def __getattr__(name: str) -> Any:
    # The report loads on first use; a build without its module says so
    # instead of failing at import.
    if name == "write_report":
        import importlib

        try:
            module = importlib.import_module("satlearn.demo._report")
        except ModuleNotFoundError as err:
            if err.name != "satlearn.demo._report":
                raise
            raise AttributeError(
                "satlearn.demo.write_report is not available: this build has no "
                "satlearn.demo._report module"
            ) from None
        value = module.write_report
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
