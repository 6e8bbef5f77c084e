"""``satlearn view``: the web viewer (satlearn.view) on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import app, errors_to_one_line


@app.command()
@errors_to_one_line
def view(
    source: Annotated[
        Path,
        typer.Argument(
            help="A STAC catalogue (catalog.json or its folder) or a folder of outputs "
            "(GeoTIFF/COG, GeoJSON, GeoParquet), catalogued in memory as `stac build` would.",
            show_default=False,
        ),
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    models: Annotated[
        Path | None,
        typer.Option(
            help="A model repository (MODELS/NAME/VERSION/ bundles) for the playground and "
            "for tiles rendered by a model (?model=NAME)."
        ),
    ] = None,
    cache_mb: Annotated[int, typer.Option(help="Bound of the in-process tile cache, MiB.")] = 256,
) -> None:
    """Browse a catalogue, map its images as tiles rendered on the fly, try models on them.

    The page is at http://HOST:PORT/, the STAC API at /stac, tiles at /tiles.
    """
    # Heavy imports here, so `satlearn --help` stays quick.
    import uvicorn

    from satlearn.errors import InvalidInputError
    from satlearn.view import create_view_app

    if not source.exists():
        raise InvalidInputError(f"view: {source} does not exist")
    if cache_mb < 1:
        raise InvalidInputError(f"view: --cache-mb must be at least 1, got {cache_mb}")
    application = create_view_app(source, models_dir=models, cache_mb=cache_mb)
    print(f"satlearn view: http://{host}:{port}/  (Ctrl-C stops)", flush=True)
    uvicorn.run(application, host=host, port=port, log_level="warning")
