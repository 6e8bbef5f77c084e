"""``satlearn synth`` and ``satlearn demo``: synthetic scenes and the main job."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import app, errors_to_one_line, make_console, progress


@app.command()
@errors_to_one_line
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the scene's COGs and truths.")],
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical rasters.")
    ] = 0,
    size: Annotated[int, typer.Option(help="Scene width and height in pixels.")] = 512,
    sensor: Annotated[str, typer.Option(help="Sensor profile.")] = "sentinel2_l1c",
    dates: Annotated[int, typer.Option(help="Number of dates.")] = 2,
    overwrite: Annotated[bool, typer.Option(help="Replace a different scene in OUT_DIR.")] = False,
) -> None:
    """Write a synthetic scene and all its ground truths as COGs (plus ships.geojson)."""
    written = _write_synthetic(
        out_dir, seed=seed, size=size, sensor=sensor, dates=dates, overwrite=overwrite
    )
    print(f"wrote {len(written)} files to {out_dir}")


def _write_synthetic(
    out_dir: Path, *, seed: int, size: int, sensor: str, dates: int, overwrite: bool
) -> dict[str, Path]:
    from satlearn.synth import make_scene
    from satlearn.synth.export import write_scene

    with progress(f"synthesising a {size} x {size} {sensor} scene"):
        scene = make_scene(size, seed=seed, sensor=sensor, n_dates=dates)
    total = 2 * dates + sum(
        dates if "time" in truth.dims else 1 for truth in scene.truths().values()
    )
    with progress(f"writing COGs to {out_dir}", total=total) as advance:
        written = write_scene(scene, out_dir, overwrite=overwrite, on_file=lambda _: advance())
    return written


@app.command()
@errors_to_one_line
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-output"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    size: Annotated[int, typer.Option(help="Scene width and height in pixels.")] = 1024,
    steps: Annotated[
        str | None,
        typer.Option(help="Run only these steps, comma-separated (e.g. clouds,change)."),
    ] = None,
    scene: Annotated[
        str | None,
        typer.Option(
            help="Your own scene (raster path, http(s)/s3 URL or STAC item JSON) instead of "
            "the synthetic one: the steps that apply to it run, without scores."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a different scene in OUT.")] = False,
) -> None:
    """The main job on the embedded synthetic scene: no network, no files needed.

    Every step of the toolkit on one scene (clouds, indices, co-registration,
    change, water, ships, land cover, a small segmentation model trained and
    predicted, pansharpening, stereo DEM, a STAC catalogue), scored against
    the scene's truths, then OUT/report.html.
    """
    import time

    from satlearn.demo import run_demo, select_steps

    chosen = select_steps(steps)  # an unknown step is refused before any work
    began = time.perf_counter()
    with _step_display(len(chosen)) as on_step:
        results = run_demo(
            out, steps=chosen, scene=scene, seed=seed, size=size, on_step=on_step,
            overwrite=overwrite,
        )  # fmt: skip
    total = time.perf_counter() - began
    report = _write_report(results, out, total)
    console = make_console()
    _print_summary(console, results, out, total)
    if report is not None:
        console.print(f"report: {report}")
    failed = [r.name for r in results if r.error is not None]
    if failed:
        print(f"error: {len(failed)} step(s) failed: {', '.join(failed)}", file=sys.stderr)
        raise typer.Exit(code=1)


@contextmanager
def _step_display(total: int) -> Iterator[Callable[[Any, bool], None]]:
    """A progress bar naming the step being run (a terminal), else one line per step."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    stderr = Console(stderr=True)
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("preparing the scene", total=total)
        count = [0]

        def on_step(result: Any, done: bool) -> None:
            if done:
                bar.advance(task)
                return
            count[0] += 1
            bar.update(task, description=f"{result.name}: {result.title}")
            if not stderr.is_terminal:  # logs: one line per step
                print(f"[{count[0]}/{total}] {result.name}: {result.title}", file=sys.stderr)

        yield on_step


def _write_report(results: list[Any], out: Path, total: float) -> Path | None:
    try:
        from satlearn.demo import write_report
    except ImportError:
        print(
            f"warning: no HTML report in this build (satlearn.demo.write_report is missing); "
            f"the results are in {out / 'results.json'}",
            file=sys.stderr,
        )
        return None
    inputs = next((dict(r.images) for r in results if r.name == "scene"), {})
    with progress("writing the report"):
        return write_report(results, out, title="satlearn demo", inputs=inputs, total_seconds=total)


def _format_scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.3g}" for name, value in scores.items())


def _print_summary(console: Any, results: list[Any], out: Path, total: float) -> None:
    from rich.table import Table

    from satlearn.raster import validate_cog

    cogs = sorted(p for p in out.rglob("*.tif") if not any(s.startswith(".") for s in p.parts))
    invalid = [str(p) for p in cogs if not validate_cog(p)[0]]
    table = Table(title=f"satlearn demo: {len(results)} steps in {total:.0f} s")
    table.add_column("step")
    table.add_column("time", justify="right")
    table.add_column("scores against the truths")
    for result in results:
        if result.error is not None:
            status = f"[red]failed: {result.error}[/red]"
        elif result.skipped is not None:
            status = f"skipped: {result.skipped}"
        else:
            status = _format_scores(result.scores) or "-"
        table.add_row(result.name, f"{result.seconds:.1f} s", status)
    console.print(table)
    console.print(f"[bold]satlearn demo[/bold]: {len(cogs) - len(invalid)} valid COGs in {out}")
    if invalid:  # pragma: no cover - GDAL's COG driver writes valid COGs
        print(f"error: not valid COGs: {', '.join(invalid)}", file=sys.stderr)
        raise typer.Exit(code=1)
    for result in results:
        if result.name == "scene":
            for look in result.images.values():
                console.print(f"quicklook: {look}")
    console.print(f"results: {out / 'results.json'}")
