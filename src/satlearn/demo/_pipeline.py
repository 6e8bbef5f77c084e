"""The demo pipeline: every step of the toolkit on one scene, in order, timed.

Each step runs in its own ``try``: a :class:`~satlearn.errors.SatlearnError`
becomes the step's ``error`` (one line) and the run goes on; steps that build
on a failed one are skipped with a note. A step that does not apply to the
scene (a user's scene has one date, no pan band, no labels) is skipped with
the reason. The results are written to ``out/results.json`` as the run goes
(a crash leaves the steps done so far).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from satlearn.demo._catalog import run_catalog
from satlearn.demo._classical import run_change, run_indices, run_landcover
from satlearn.demo._context import DemoContext, Step, missing_bands
from satlearn.demo._geometry import (
    run_pansharpen,
    run_registration,
    run_stereo,
    two_dates,
    with_pan,
    with_stereo,
)
from satlearn.demo._inputs import run_scene, synthetic_context, user_context
from satlearn.demo._learned import SEGMENTATION_BANDS, run_segmentation
from satlearn.demo._masks import run_clouds, run_ships, run_water
from satlearn.demo._result import StepResult
from satlearn.errors import InvalidInputError, SatlearnError

__all__ = ["PIPELINE", "RESULTS_JSON", "STEPS", "read_results", "run_demo", "select_steps"]

#: The results of a run, beside its outputs.
RESULTS_JSON = "results.json"

#: The bands of the Fmask-style cloud tests (``satlearn.ops.clouds.RULES_BANDS``),
#: spelt here so that listing the steps imports no op.
_CLOUD_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "cirrus")


def _with_labels(ctx: DemoContext) -> str | None:
    if not ctx.synthetic:
        return "it trains on the scene's own land-cover labels, which a user's scene lacks"
    return missing_bands(*SEGMENTATION_BANDS)(ctx)


#: Every step, in the order it runs.
PIPELINE: tuple[Step, ...] = (
    Step("scene", "The scene: two dates, the pan band and the truths", run_scene),
    Step(
        "clouds", "Cloud, shadow and snow masks", run_clouds, applies=missing_bands(*_CLOUD_BANDS)
    ),
    Step("indices", "Spectral indices", run_indices, applies=missing_bands("red", "nir")),
    Step("registration", "Co-registration of the second date", run_registration, applies=two_dates),
    Step(
        "change",
        "Change detection",
        run_change,
        needs=("clouds", "registration"),
        applies=two_dates,
    ),
    Step("water", "Water mask", run_water, applies=missing_bands("green", "nir")),
    Step("ships", "Ship detection", run_ships, applies=missing_bands("green", "nir")),
    Step(
        "landcover",
        "Land cover: k-means and a pixel classifier",
        run_landcover,
        needs=("clouds",),
        applies=missing_bands("green", "red", "nir"),
    ),
    Step(
        "segmentation",
        "A U-Net trained on the scene's labels, predicted tile by tile",
        run_segmentation,
        applies=_with_labels,
    ),
    Step("pansharpen", "Pansharpening to 5 m", run_pansharpen, applies=with_pan),
    Step("stereo", "A DEM from the stereo pair", run_stereo, applies=with_stereo),
    Step("catalog", "A STAC catalogue of every output", run_catalog),
)

#: The step names, in the order they run (``satlearn demo --steps`` takes these).
STEPS: tuple[str, ...] = tuple(step.name for step in PIPELINE)


def select_steps(steps: str | Iterable[str] | None) -> list[str]:
    """The steps to run, in pipeline order, from ``"clouds,change"`` or a list.

    Raises
    ------
    InvalidInputError
        An unknown step name (the message lists the valid ones), or none at all.
    """
    if steps is None:
        return list(STEPS)
    names = steps.split(",") if isinstance(steps, str) else list(steps)
    wanted = [str(name).strip() for name in names if str(name).strip()]
    unknown = [name for name in wanted if name not in STEPS]
    if unknown:
        raise InvalidInputError(
            f"unknown step{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the steps are: {', '.join(STEPS)}"
        )
    if not wanted:
        raise InvalidInputError(f"no step given; the steps are: {', '.join(STEPS)}")
    return [name for name in STEPS if name in wanted]


def _scene_key(scene: Any, seed: int, size: int) -> dict[str, Any]:
    if scene is not None:
        return {"kind": "user", "source": os.fspath(scene)}
    return {"kind": "synthetic", "seed": seed, "size": size}


def read_results(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``results.json`` of a run in ``out``, or None when there is none (or unreadable)."""
    import json

    path = Path(os.fspath(out)) / RESULTS_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_out(out: Path, key: dict[str, Any], overwrite: bool) -> None:
    """Refuse a folder holding someone else's files, or another scene's demo."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InvalidInputError(f"{out}: not a folder")
    if not any(out.iterdir()) or overwrite:
        return
    previous = read_results(out)
    if previous is not None:
        if previous.get("scene") != key:
            raise InvalidInputError(
                f"{out}: holds the demo of another scene ({previous.get('scene')}); "
                "choose another folder or pass --overwrite"
            )
        return
    if (out / "scene" / "scene.json").is_file():
        return  # an earlier demo's scene: the scene step checks it is the same one
    raise InvalidInputError(
        f"{out}: holds files that are not a satlearn demo's; choose an empty or new folder"
    )


def _relative(path: Path, out: Path) -> str:
    try:
        return os.path.relpath(path, out)
    except ValueError:  # another drive (Windows)
        return str(path)


def _result_json(result: StepResult, out: Path) -> dict[str, Any]:
    return {
        "name": result.name,
        "title": result.title,
        "seconds": round(result.seconds, 3),
        "scores": dict(result.scores),
        "outputs": {k: _relative(Path(v), out) for k, v in result.outputs.items()},
        "images": {k: _relative(Path(v), out) for k, v in result.images.items()},
        "notes": list(result.notes),
        "error": result.error,
        "skipped": result.skipped,
    }


def _write_results(
    out: Path, key: dict[str, Any], source: str, results: list[StepResult], status: str,
    seconds: float,
) -> None:  # fmt: skip
    from satlearn import __version__
    from satlearn.atomic import write_json

    document = {
        "satlearn": __version__,
        "status": status,
        "scene": key,
        "source": source,
        "total_seconds": round(seconds, 3),
        "steps": [_result_json(r, out) for r in results],
    }
    write_json(document, out / RESULTS_JSON)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def run_demo(
    out: str | os.PathLike[str],
    *,
    steps: str | Iterable[str] | None = None,
    scene: str | os.PathLike[str] | None = None,
    seed: int = 0,
    size: int = 1024,
    on_step: Callable[[StepResult, bool], None] | None = None,
    overwrite: bool = False,
) -> list[StepResult]:
    """Run the demo pipeline into ``out`` and return every step's result.

    Parameters
    ----------
    out : path
        The output folder: ``out/<step>/`` per step, the input quicklooks,
        ``results.json``. It must be new, empty, or an earlier demo run of the
        same scene (whose files are replaced step by step).
    steps : str or iterable of str, optional
        A subset of :data:`STEPS` (``"clouds,change"``); default all. Steps
        always run in pipeline order; a step whose inputs come from a step
        left out makes them itself (``change`` co-registers the dates when
        ``registration`` is not run).
    scene : path, URL or STAC item, optional
        A user's scene instead of the synthetic one: the steps that apply to
        it run and report no score (there is no truth to score against).
    seed, size : int
        The synthetic scene's seed and side in pixels (ignored with ``scene``);
        ``seed`` also seeds k-means and training.
    on_step : callable, optional
        ``on_step(result, done)``: called as each step starts (``done`` False,
        an empty result naming the step) and ends (``done`` True).
    overwrite : bool
        Replace an earlier demo of another scene in ``out``.

    Returns
    -------
    list of StepResult
        One per selected step, in order; a failed step has ``error`` set, a
        skipped one ``skipped`` (the reason, also in its notes).

    Raises
    ------
    InvalidInputError
        Unknown step names, or ``out`` holds other files or another scene's demo.
    SatlearnError
        The scene cannot be made or read (no step can run then).

    Examples
    --------
    >>> results = run_demo("demo-output", steps="clouds,water", size=256)  # doctest: +SKIP
    >>> results[0].scores["cloud IoU"] > 0.8  # doctest: +SKIP
    True
    """
    chosen = select_steps(steps)
    target = Path(os.fspath(out))
    key = _scene_key(scene, seed, size)
    _check_out(target, key, overwrite)
    start = time.perf_counter()
    if scene is not None:
        ctx = user_context(target, scene, seed=seed)
    else:
        ctx = synthetic_context(target, size=size, seed=seed)
    ctx.overwrite = overwrite
    prepared = time.perf_counter() - start
    target.mkdir(parents=True, exist_ok=True)
    results: list[StepResult] = []
    blocked: set[str] = set()  # steps that failed, or were skipped because one did
    status = "crashed"
    try:
        _write_results(target, key, ctx.source, results, "running", prepared)
        for step in PIPELINE:
            if step.name not in chosen:
                continue
            result = StepResult(step.name, step.title)
            if on_step is not None:
                on_step(result, False)
            _run_step(step, ctx, result, blocked)
            if step.name == "scene":
                result.notes.append(f"scene made or read in {prepared:.1f} s (before the steps)")
            results.append(result)
            _write_results(target, key, ctx.source, results, "running", time.perf_counter() - start)
            if on_step is not None:
                on_step(result, True)
        status = "finished"
    finally:
        _write_results(target, key, ctx.source, results, status, time.perf_counter() - start)
    return results


def _run_step(step: Step, ctx: DemoContext, result: StepResult, blocked: set[str]) -> None:
    reason = step.applies(ctx)
    failed = [name for name in step.needs if name in blocked]
    if reason is not None:
        result.skipped = f"does not apply to this scene: {reason}"
    elif failed:
        result.skipped = f"the {' and '.join(failed)} step it builds on failed"
        blocked.add(step.name)
    if result.skipped is not None:
        result.notes.append(f"skipped: {result.skipped}")
        return
    folder = ctx.out / step.name
    if step.name != "scene" and folder.is_dir():
        shutil.rmtree(folder)  # an earlier run's outputs of this step (only the demo's folders)
    began = time.perf_counter()
    try:
        step.run(ctx, result)
    except SatlearnError as err:
        result.error = _one_line(err)
        blocked.add(step.name)
    finally:
        result.seconds = time.perf_counter() - began
