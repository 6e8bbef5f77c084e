"""``satlearn datasets``: list the dataset readers, describe one, download the public ones."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import app, errors_to_one_line

datasets_app = typer.Typer(
    help="The field's public datasets: list, describe, download.", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


def _download_kind(cls: Any) -> str:
    if cls.downloads:
        sizes = [d.size for d in cls.downloads]
        total = f", {sum(sizes) / 1e6:.1f} MB" if all(s is not None for s in sizes) else ""
        return f"public ({len(cls.downloads)} file{'s' if len(cls.downloads) > 1 else ''}{total})"
    return "manual (login)" if cls.manual_download else "none"


def _describe(cls: Any) -> dict[str, Any]:
    return {
        "name": cls.name,
        "task": cls.task,
        "source": cls.source,
        "classes": list(cls.classes),
        "bands": list(cls.bands),
        # The class docstring says which layout the reader expects, as the publisher ships it.
        "layout": inspect.getdoc(cls) or "",
        "download": _download_kind(cls),
        "downloads": [dataclasses.asdict(d) for d in cls.downloads],
        "manual_download": cls.manual_download,
    }


@datasets_app.command("list")
@errors_to_one_line
def list_datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the registered readers: name, task, number of classes, download kind."""
    from satlearn.datasets import DATASETS

    rows = [
        {
            "name": cls.name,
            "task": cls.task,
            "classes": len(cls.classes),
            "download": _download_kind(cls),
        }
        for cls in sorted(DATASETS.values(), key=lambda c: c.name)
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    width = max([len("name"), *(len(r["name"]) for r in rows)])
    print(f"{'name':<{width}}  {'task':<14}  {'classes':>7}  download")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['task']:<14}  {r['classes']:>7}  {r['download']}")


@datasets_app.command("info")
@errors_to_one_line
def info(
    name: Annotated[str, typer.Argument(help="A dataset name from `satlearn datasets list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe a reader: source, bands, classes, expected layout, how to get the data."""
    from satlearn.datasets import get_dataset

    d = _describe(get_dataset(name))
    if as_json:
        print(json.dumps(d, indent=2))
        return
    print(f"{d['name']}  ({d['task']})")
    print(f"source:   {d['source']}")
    print(f"bands:    {', '.join(d['bands']) or '-'}")
    print(f"classes:  {len(d['classes'])}: {', '.join(d['classes']) or '-'}")
    print(f"download: {d['download']}")
    for item in d["downloads"]:
        size = f", {item['size']} bytes" if item["size"] is not None else ""
        print(f"  {item['url']} -> {item['filename']}{size}")
    if d["manual_download"]:
        print(f"manual:   {d['manual_download']}")
    if d["layout"]:
        print()
        print(d["layout"])


@datasets_app.command("download")
@errors_to_one_line
def download(
    name: Annotated[str, typer.Argument(help="A dataset name from `satlearn datasets list`.")],
    root: Annotated[Path, typer.Argument(help="Folder to download (and extract) into.")],
    url_base: Annotated[
        str | None,
        typer.Option("--url-base", help="A mirror: fetch each file from URL/<its file name>."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again.")] = False,
) -> None:
    """Download a dataset's public files: resumable, checksummed, extracted in ROOT."""
    from satlearn.datasets import download_dataset

    for path in download_dataset(name, root, force=force, url_base=url_base):
        print(path)
