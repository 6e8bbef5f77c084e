"""The typer application and what every command shares.

Commands live in sibling modules (one per job) and register themselves on
:data:`app` with ``@app.command()`` and :func:`errors_to_one_line`.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from satlearn import __version__
from satlearn.errors import SatlearnError

app = typer.Typer(
    name="satlearn",
    help="Satellite imagery from raw bands to answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}
_F = TypeVar("_F", bound=Callable[..., Any])


# The one --scheduler option of every command that computes dask graphs; what
# it accepts is satlearn.compute's to say (SATLEARN_SCHEDULER when not given).
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Where to compute: threads (default), tcp://HOST:PORT or tls://HOST:PORT (a Dask "
        "cluster; TLS credentials from dask's config) or "
        "local:N (N local worker processes). Default: $SATLEARN_SCHEDULER or threads. "
        "A cluster's workers read and write the paths given, so they must share them.",
        show_default=False,
    ),
]


# The progress option every verb with --scheduler gets from on_scheduler.
ShowProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--quiet",
        help="Show (or hide) a progress bar for runs on a Dask cluster. "
        "The bar goes to stderr. Default: shown when stderr is a terminal.",
        show_default=False,
    ),
]


def on_scheduler(func: _F) -> _F:
    """Run the command body on the dask scheduler its ``scheduler`` argument names.

    Goes under :func:`errors_to_one_line`, so a bad spec is a one-line error.
    Adds ``--progress/--quiet`` to the command (the body never sees it): on
    a cluster, distributed's progress bar on stderr (stdout stays the
    command's results), by default only when stderr is a terminal.
    """
    import inspect

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from satlearn.compute import scheduler  # stdlib only until a scheduler starts

        shown = kwargs.pop("progress", None)
        if shown is None:
            shown = sys.stderr.isatty()
        with scheduler(kwargs.get("scheduler"), progress=shown):
            return func(*args, **kwargs)

    signature = inspect.signature(func, eval_str=True)  # typer reads evaluated annotations
    option = inspect.Parameter(
        "progress", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ShowProgress
    )
    params = list(signature.parameters.values())
    if "progress" not in signature.parameters:
        # Keyword-only after every parameter typer sees (they all have defaults or
        # are arguments; a keyword-only parameter may follow either).
        wrapper.__signature__ = signature.replace(parameters=[*params, option])  # type: ignore[attr-defined]
        # Typer resolves annotations with get_type_hints: the object, not a string
        # (the command's module need not import ShowProgress).
        wrapper.__annotations__ = {**func.__annotations__, "progress": ShowProgress}
    return wrapper  # type: ignore[return-value]


def make_console() -> Console:
    return Console(stderr=False, highlight=False)


def errors_to_one_line(func: _F) -> _F:
    """Print a SatlearnError on one line and exit 1, unless --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SatlearnError as err:
            if _state["debug"]:
                raise
            print(f"error: {err}", file=sys.stderr)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[], None]]:
    """A rich progress bar (a spinner when ``total`` is None); yields ``advance()``."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), TextColumn("{task.completed}/{task.total}")]
    columns.append(TimeElapsedColumn())
    stderr = Console(stderr=True)
    # Only on a terminal: piped or captured output stays free of spinner residue.
    with Progress(
        *columns, transient=True, console=stderr, disable=not stderr.is_terminal
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def _version(value: bool) -> None:
    if value:
        print(f"satlearn {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """satlearn: read, process, learn from and serve satellite imagery."""
    _state["debug"] = debug
    # A command-line user can act on satlearn's own messages, not on a library's
    # notice to its developers (rioxarray's Affine `*`, for one): those stay hidden
    # here even where a library resets the filters (the torch ONNX exporter does).
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(?!satlearn)")
    from satlearn.atomic import handle_sigterm  # stdlib only: cheap at start-up

    handle_sigterm()  # SIGTERM unwinds like SIGINT, so writers remove their temporaries
