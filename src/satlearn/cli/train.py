"""``satlearn train`` and ``satlearn evaluate``: learn a model into a bundle, and score one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import app, errors_to_one_line, make_console


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return "n/a" if value is None else str(value)


def _warn_skipped(provenance: dict[str, Any]) -> int:
    """Say on stderr which samples the reader skipped; return how many."""
    skipped = provenance.get("skipped")
    if not skipped or not skipped.get("count"):
        return 0
    from satlearn.train.data import skipped_summary

    print(f"warning: {skipped_summary(skipped)} (--strict refuses them)", file=sys.stderr)
    return int(skipped["count"])


def _print_metrics(metrics: dict[str, Any]) -> None:
    console = make_console()
    for key, value in metrics.items():
        if key == "confusion":
            continue
        console.print(f"{key}: {_fmt(value)}")


@app.command("train")
@errors_to_one_line
def train_command(
    config: Annotated[Path, typer.Argument(help="Training config (YAML).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing bundle.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=0, help="DataLoader worker processes.")
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse a dataset with unreadable files (else skipped)."),
    ] = False,
) -> None:
    """Train a model from CONFIG and write its bundle (prints the bundle folder)."""
    # The config is checked before torch is imported (seconds), so a typo
    # is reported at once.
    from satlearn.train.config import TrainConfig

    cfg = TrainConfig.from_yaml(config)
    changes: dict[str, Any] = {}
    if resume:
        changes["resume"] = True
    if workers is not None:
        changes["num_workers"] = workers
    if strict:
        changes["strict"] = True
    if overwrite:
        changes["output"] = cfg.output.model_copy(update={"overwrite": True})
    if changes:
        cfg = cfg.model_copy(update=changes)
    from satlearn.train.loop import train

    skipped: list[int] = []
    result = train(cfg, on_data=lambda data: skipped.append(_warn_skipped(data.provenance)))
    summary: dict[str, Any] = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run}
    if skipped and skipped[0]:
        summary["skipped_samples"] = skipped[0]
    _print_metrics({**summary, **result.metrics})
    print(result.bundle)


@app.command("evaluate")
@errors_to_one_line
def evaluate_command(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder (NAME/VERSION).")],
    data: Annotated[
        Path,
        typer.Argument(help="Data to score: a YAML data source or training config, or chips."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for metrics.json (and confusion.png).")
    ] = Path("evaluation"),
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per ONNX run.")] = 16,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Score BUNDLE's ONNX model on DATA; print the metrics and write metrics.json."""
    from satlearn.train.evaluate import evaluate

    report = evaluate(bundle, data, output=out, batch_size=batch_size)
    _warn_skipped(report["data"])
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_metrics({"task": report["task"], "samples": report["samples"], **report["metrics"]})
    print(report["metrics_json"])
