"""Where dask graphs run: the one place that picks the scheduler.

Every lazy operation in satlearn builds a dask graph; what computes it is
chosen here, once, by :func:`scheduler`:

* ``None`` (and ``SATLEARN_SCHEDULER`` unset or empty): dask's threaded
  scheduler with one thread per core of this machine;
* ``"threads"``: the same, said explicitly;
* ``"tcp://HOST:PORT"`` (or ``"tls://..."``): a running Dask distributed scheduler (``dask
  scheduler`` / ``dask worker``, dask-jobqueue, dask-kubernetes, a managed
  Dask); a :class:`distributed.Client` connects to it for the duration;
* ``"local:N"``: a :class:`distributed.LocalCluster` of ``N`` worker
  processes (one thread each) on 127.0.0.1, started for the duration and
  closed at the end.

Workers read their inputs and write their outputs themselves (see
:func:`satlearn.raster.save_cog`), so on a cluster every path a command
names must be reachable from every worker under the same name: a shared
filesystem (NFS, Lustre, a mounted bucket) or an object store URL.

``distributed`` is imported only when a distributed spec is given, so the
default costs nothing at start-up.

Progress on a cluster: ``scheduler(spec, progress=True)`` shows distributed's
text progress bar (fed by the scheduler) on stderr for every computation
the client submits inside the block (see :func:`show_progress`): stdout
stays the command's results, free of control codes.

Results that several outputs share (a mask, its magnitude, a summary) go
through :func:`materialise`: persisted on the workers under a cluster, so
nothing whole is gathered on the client, and computed in memory otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from satlearn.errors import InvalidInputError

__all__ = [
    "ENV_VAR",
    "active_client",
    "materialise",
    "parse_spec",
    "scheduler",
    "show_progress",
]

#: The environment variable read when no spec is given (read, never written).
ENV_VAR = "SATLEARN_SCHEDULER"

_FORMS = "'threads', 'tcp://HOST:PORT', 'tls://HOST:PORT' or 'local:N' (N worker processes)"
_TCP = re.compile(
    r"^(?P<scheme>tcp|tls)://(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})$"
)
_LOCAL = re.compile(r"^local:(?P<n>\d+)$")
_T = TypeVar("_T")


def parse_spec(spec: str | None) -> tuple[str, Any]:
    """Parse a scheduler spec into ``(kind, value)``.

    Parameters
    ----------
    spec : str or None
        ``None`` or ``""`` / ``"threads"`` (threaded), ``"tcp://HOST:PORT"``,
        ``"tls://HOST:PORT"`` (the TLS credentials from dask's configuration,
        ``distributed.comm.tls.*``, as managed clusters set them) or ``"local:N"``.
        ``None`` reads ``SATLEARN_SCHEDULER`` first.

    Returns
    -------
    tuple
        ``("threads", None)``, ``("tcp", address)``, ``("tls", address)`` or
        ``("local", n_workers)``.

    Raises
    ------
    InvalidInputError
        The spec is none of the accepted forms.
    """
    source = "scheduler"
    if spec is None:
        spec = os.environ.get(ENV_VAR)
        source = ENV_VAR
    text = (spec or "").strip()
    if text in ("", "threads"):
        return "threads", None
    tcp = _TCP.match(text)
    if tcp and 0 < int(tcp["port"]) < 65536:
        return tcp["scheme"], text
    local = _LOCAL.match(text)
    if local and int(local["n"]) > 0:
        return "local", int(local["n"])
    raise InvalidInputError(f"{source} {spec!r}: use {_FORMS}")


@contextmanager
def scheduler(spec: str | None = None, *, progress: bool = False) -> Iterator[Any]:
    """Run the dask computations inside the block on the chosen scheduler.

    Blockwise, halo and global operations alike compute on whatever this
    picks; nothing else in satlearn chooses a scheduler.

    Parameters
    ----------
    spec : str or None
        See :func:`parse_spec`; ``None`` reads ``SATLEARN_SCHEDULER``.
    progress : bool
        On a cluster, show a progress bar on stderr for each computation
        (:func:`show_progress`); no effect on the threaded scheduler.

    Yields
    ------
    distributed.Client or None
        The connected client for a distributed spec, else None.

    Raises
    ------
    InvalidInputError
        A bad spec (one line naming the accepted forms), or a scheduler
        address nothing answers at.

    Examples
    --------
    >>> with scheduler("local:2") as client:  # doctest: +SKIP
    ...     save_cog(compute_index(cube, "ndvi"), "ndvi.tif")
    """
    kind, value = parse_spec(spec)
    if kind == "threads":
        import dask

        # Sized to the machine explicitly: dask's default pool is too, but a
        # caller's dask.config (num_workers) would otherwise leak in unseen.
        with dask.config.set(scheduler="threads", num_workers=os.cpu_count() or 1):
            yield None
        return

    import distributed

    if kind in ("tcp", "tls"):
        try:
            client = distributed.Client(value, timeout="10s", set_as_default=True)
        except OSError as err:  # TimeoutError included: nothing answers there
            raise InvalidInputError(f"scheduler {value}: cannot connect ({err})") from None
        try:
            if progress:
                show_progress(client)
            yield client
        finally:
            client.close()
        return

    cluster = distributed.LocalCluster(
        n_workers=value,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # A free port: the scheduler's HTTP server starts even unused, and on the
        # default 8787 it warns whenever another cluster on the machine holds it.
        dashboard_address="127.0.0.1:0",
    )
    try:
        client = distributed.Client(cluster, set_as_default=True)
        try:
            if progress:
                show_progress(client)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def active_client() -> Any:
    """The distributed Client dask would compute on now, or None.

    Cheap when ``distributed`` was never imported (then there is none).
    """
    import sys

    if "distributed" not in sys.modules:
        return None
    import dask
    from distributed import default_client

    if dask.config.get("scheduler", None) not in ("dask.distributed", "distributed"):
        # A client exists, but the caller chose another scheduler for this block.
        return None
    try:
        return default_client()
    except ValueError:  # no client
        return None


def show_progress(client: Any) -> None:
    """Show distributed's progress bar on stderr for every blocking computation of ``client``.

    Every ``dask.compute`` / ``.compute()`` / ``dask.array.store`` on a
    distributed client ends in ``Client.get``; this wraps the client's
    ``get`` so that it submits the graph, follows its futures with
    :func:`distributed.progress` (a text bar fed by the scheduler, which
    blocks until they finish), then gathers the results. The results and
    errors are those of the plain ``get``. :func:`materialise` follows its
    persisted layers with the same bar (``client.get.satlearn_progress``).

    The bar goes to stderr: distributed's text bar writes to ``sys.stdout``
    (carriage returns and an erase-line code), and stdout is where a command
    prints its results (a summary, JSON) for a pipe or a file to read.
    """
    import sys
    from contextlib import redirect_stdout

    import distributed
    from distributed.client import futures_of

    plain = client.get

    def follow(futures: Any) -> None:
        # sys.stdout is swapped process-wide while the bar runs: the bar draws
        # from the client's event-loop thread, and the caller is blocked here.
        with redirect_stdout(sys.stderr):
            distributed.progress(futures, notebook=False)

    def get(dsk: Any, keys: Any, *args: Any, sync: bool = True, **kwargs: Any) -> Any:
        if not sync:
            return plain(dsk, keys, *args, sync=False, **kwargs)
        packed = plain(dsk, keys, *args, sync=False, **kwargs)
        futures = futures_of(packed)
        try:
            follow(futures)
            return client.gather(packed)
        finally:
            for future in futures:
                future.release()

    get.satlearn_progress = follow  # type: ignore[attr-defined]
    client.get = get


def materialise(result: _T) -> _T:
    """Compute the dask layers of ``result`` once, together, where they will be used.

    Parameters
    ----------
    result : DataArray or dataclass
        A DataArray, or a result object (dataclass) whose DataArray fields
        may be dask-backed (``CloudResult``, ``ChangeResult``...).

    Returns
    -------
    The same kind of object: on a distributed client its dask layers are
    persisted on the workers (still dask-backed, nothing gathered to the
    client; :func:`satlearn.raster.save_cog` then writes them from the
    workers and a summary is a reduction); otherwise they are computed into
    memory, as ``.compute()`` would. Global: the graph runs in full.
    """
    import dask

    client = active_client()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        names = [
            f.name
            for f in dataclasses.fields(result)
            if getattr(getattr(result, f.name), "chunks", None) is not None
            and hasattr(getattr(result, f.name), "dims")
        ]
    elif getattr(result, "chunks", None) is not None:
        names = []
    else:
        return result
    if not names and not hasattr(result, "dims"):
        return result
    layers = [getattr(result, n) for n in names] if names else [result]
    done = client.persist(layers) if client is not None else list(dask.compute(*layers))
    follow = getattr(client.get, "satlearn_progress", None) if client is not None else None
    if follow is not None:
        follow(done)
    if not names:
        return done[0]  # type: ignore[no-any-return]
    return dataclasses.replace(result, **dict(zip(names, done, strict=True)))  # type: ignore[type-var]
