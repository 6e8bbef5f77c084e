"""``satlearn stac``: build, search and validate static STAC catalogues."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from satlearn.cli.app import app, errors_to_one_line, progress
from satlearn.errors import InvalidInputError

stac_app = typer.Typer(
    name="stac",
    help="Build, search and validate static STAC catalogues.",
    no_args_is_help=True,
)
app.add_typer(stac_app, name="stac")


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _bbox(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from satlearn.catalog.search import check_bbox

    # WEST,SOUTH,EAST,NORTH; out-of-range degrees are refused, naming the option.
    return check_bbox(text, name="--bbox")


def _json_argument(option: str, text: str | None) -> Any:
    """A JSON value given inline, or as ``@file.json``."""
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise InvalidInputError(f"{option} {path}: cannot read ({err.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{option}: not JSON ({err})") from None


@stac_app.command("build")
@errors_to_one_line
def build(
    folder: Annotated[Path, typer.Argument(help="A folder of rasters (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The catalogue folder to write.")],
    id: Annotated[
        str | None, typer.Option(help="Root catalogue id (default: folder name).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Root catalogue title.")] = None,
    collection_by: Annotated[
        str, typer.Option(help="Group items by 'folder', 'stem' (name without date) or 'single'.")
    ] = "folder",
    datetime: Annotated[
        str | None, typer.Option(help="RFC 3339 time for rasters without one in tags or name.")
    ] = None,
    sensor: Annotated[str | None, typer.Option(help="Sensor key, for band wavelengths.")] = None,
    thumbnails: Annotated[bool, typer.Option(help="Write PNG overview and thumbnail.")] = True,
    statistics: Annotated[bool, typer.Option(help="Add approximate band statistics.")] = False,
    absolute_hrefs: Annotated[
        bool,
        typer.Option(help="Absolute asset hrefs, so the catalogue can move away from the data."),
    ] = False,
) -> None:
    """Write a self-contained static STAC catalogue (OUT/catalog.json) describing DIR."""
    from satlearn.catalog import build_catalog

    skipped: list[tuple[Path, str]] = []
    with progress(f"cataloguing {folder}"):
        catalog = build_catalog(
            folder,
            out,
            id=id,
            title=title,
            collection_by=collection_by,
            datetime=datetime,
            sensor=sensor,
            thumbnails=thumbnails,
            statistics=statistics,
            absolute_hrefs=absolute_hrefs,
            skipped=skipped,
        )
    for path, reason in skipped:
        print(f"skipped: {path}: {reason}", file=sys.stderr)
    n_collections = len(list(catalog.get_children()))
    n_items = len(list(catalog.get_items(recursive=True)))
    print(
        f"{catalog.get_self_href()}: {n_collections} collection(s), {n_items} item(s)"
        + (f", {len(skipped)} raster(s) skipped" if skipped else "")
    )


@stac_app.command("search")
@errors_to_one_line
def search(
    catalog: Annotated[str, typer.Argument(help="catalog.json, its folder, or an http(s) URL.")],
    bbox: Annotated[str | None, typer.Option(help="WEST,SOUTH,EAST,NORTH in degrees.")] = None,
    intersects: Annotated[
        str | None, typer.Option(help="A GeoJSON geometry, inline or @file.geojson.")
    ] = None,
    datetime: Annotated[
        str | None, typer.Option(help="Instant or interval: 2021-06-01/2021-06-30, ../2021-06-30.")
    ] = None,
    filter: Annotated[
        str | None, typer.Option(help="CQL2-JSON filter, inline or @file.json.")
    ] = None,
    collections: Annotated[str | None, typer.Option(help="Comma-separated collection ids.")] = None,
    ids: Annotated[str | None, typer.Option(help="Comma-separated item ids.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many items.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a GeoJSON FeatureCollection.")
    ] = False,
) -> None:
    """Print the ids of the items matching every criterion (by datetime, then id)."""
    from satlearn.catalog import CatalogIndex, crawl

    with progress(f"reading {catalog}"):
        result = crawl(catalog)
    if result.skipped:
        print(f"warning: {result.summary()}", file=sys.stderr)
        for problem in result.problems:
            if problem.skipped:
                print(f"warning: {problem}", file=sys.stderr)
    index = CatalogIndex(result.items, collections=result.collections)
    items = index.search(
        bbox=_bbox(bbox),
        intersects=_json_argument("--intersects", intersects),
        datetime=datetime,
        filter=_json_argument("--filter", filter),
        collections=_split(collections),
        ids=_split(ids),
        limit=limit,
    )
    if as_json:
        features = [item.to_dict(transform_hrefs=False) for item in items]
        print(json.dumps({"type": "FeatureCollection", "features": features}))
        return
    for item in items:
        print(item.id)


@stac_app.command("validate")
@errors_to_one_line
def validate(
    path: Annotated[str, typer.Argument(help="A catalogue, collection or item (path or URL).")],
    strict: Annotated[
        bool,
        typer.Option(
            help="Fail on warnings too (parts not checkable offline), and on local asset "
            "hrefs that do not resolve to a file."
        ),
    ] = False,
) -> None:
    """Validate against the STAC JSON schemas, offline; walk a catalogue or collection.

    Prints one line per problem and exits 1 when invalid.
    """
    from satlearn.catalog import CatalogError, validate_catalog
    from satlearn.catalog import validate as validate_one
    from satlearn.catalog.crawl import read_json
    from satlearn.catalog.validation import asset_problems, errors_only

    target = path
    local = Path(path)
    if not path.startswith(("http://", "https://")) and local.is_dir():
        target = str(local / "catalog.json")
    try:
        kind = read_json(target).get("type")
    except CatalogError:  # unreadable: validate_one reports it as a problem
        kind = None
    with progress(f"validating {path}"):
        if kind in ("Catalog", "Collection"):
            problems = validate_catalog(target, check_assets=strict)
        else:
            problems = validate_one(target)
            if strict and not problems:
                problems = asset_problems(read_json(target), target)
    for problem in problems:
        print(problem)
    failing = problems if strict else errors_only(problems)
    if failing:
        raise typer.Exit(code=1)
    print(f"{path}: valid" + (f" ({len(problems)} warning(s))" if problems else ""))
