"""``satlearn serve``: the model server (satlearn.serve) on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import app, errors_to_one_line


@app.command()
@errors_to_one_line
def serve(
    models: Annotated[
        Path | None,
        typer.Option(
            help="The model repository: MODELS/NAME/VERSION/ bundles (model.onnx, bundle.json). "
            "Every model is served at its highest version and at any version by number; new "
            "versions are loaded before they replace the old, removed ones unloaded, half-copied "
            "ones (no complete bundle.json yet) ignored. Per model, MODELS/NAME/config.yaml (or "
            "bundle.json 'serving') sets max_batch_size (16), max_queue_delay_ms (2), max_queue "
            "(64) and instances (1). Required unless the settings file gives it."
        ),
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="A STAC catalogue to serve as a STAC API under /stac.")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1, this machine).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    poll_s: Annotated[
        float | None,
        typer.Option(help="Seconds between scans of the repository for changes (default 1)."),
    ] = None,
    max_body_mb: Annotated[
        float | None, typer.Option(help="Largest request body in MiB; larger: 413 (default 64).")
    ] = None,
    request_timeout_s: Annotated[
        float | None,
        typer.Option(help="Longest wait for an answer in seconds; then 504 (default 30)."),
    ] = None,
    overload_status: Annotated[
        int | None,
        typer.Option(
            help="Status when a model's queue is full, with Retry-After: 503 or 429 (default 503)."
        ),
    ] = None,
    settings: Annotated[
        Path | None,
        typer.Option(
            help="A YAML file of these settings (models, catalog, host, port, poll_s, max_body_mb, "
            "request_timeout_s, overload_status); flags given beside it win."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve a model repository: Open Inference Protocol (KServe V2), TF-Serving REST, images.

    Logs are JSON lines on stderr; metrics at /metrics. SIGTERM stops accepting, answers
    every accepted request, then exits.
    """
    # Heavy imports here, so `satlearn --help` stays quick.
    import uvicorn

    from satlearn.errors import InvalidInputError
    from satlearn.serve import ServeSettings, configure_logging, create_app

    given = {
        "models": models,
        "catalog": catalog,
        "host": host,
        "port": port,
        "poll_s": poll_s,
        "max_body_mb": max_body_mb,
        "request_timeout_s": request_timeout_s,
        "overload_status": overload_status,
    }
    if settings is not None:
        config = ServeSettings.from_yaml(settings, **given)
    else:
        if models is None:
            raise InvalidInputError("serve: give --models DIR (or --settings FILE.yaml)")
        from pydantic import ValidationError

        try:
            config = ServeSettings(**{k: v for k, v in given.items() if v is not None})
        except ValidationError as err:
            problem = err.errors()[0]
            raise InvalidInputError(
                f"serve: --{'-'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            ) from None
    if not config.models.is_dir():
        raise InvalidInputError(f"serve: the model repository {config.models} is not a folder")
    log_config = configure_logging(log_level)
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_config=log_config,
        access_log=False,
        timeout_graceful_shutdown=max(config.request_timeout_s, 1.0) + 5,
    )
