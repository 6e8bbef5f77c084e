"""The main job: every step of the toolkit on one scene, scored, with a report."""

from __future__ import annotations

from satlearn.demo._report import write_report
from satlearn.demo._result import StepResult

__all__ = ["StepResult", "write_report"]
