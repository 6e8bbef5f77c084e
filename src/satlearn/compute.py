"""Where dask graphs run: the one place that picks the scheduler.

Every lazy operation in satlearn builds a dask graph; what computes it is
chosen here, once, by :func:`scheduler`:

* ``None`` (and ``SATLEARN_SCHEDULER`` unset or empty): dask's threaded
  scheduler with one thread per core of this machine;
* ``"threads"``: the same, said explicitly;
* ``"tcp://HOST:PORT"``: a running Dask distributed scheduler (``dask
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
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from satlearn.errors import InvalidInputError

__all__ = ["ENV_VAR", "active_client", "parse_spec", "scheduler"]

#: The environment variable read when no spec is given (read, never written).
ENV_VAR = "SATLEARN_SCHEDULER"

_FORMS = "'threads', 'tcp://HOST:PORT' or 'local:N' (N worker processes)"
_TCP = re.compile(r"^tcp://(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.\-]+):(?P<port>\d{1,5})$")
_LOCAL = re.compile(r"^local:(?P<n>\d+)$")


def parse_spec(spec: str | None) -> tuple[str, Any]:
    """Parse a scheduler spec into ``(kind, value)``.

    Parameters
    ----------
    spec : str or None
        ``None`` or ``""`` / ``"threads"`` (threaded), ``"tcp://HOST:PORT"``
        or ``"local:N"``. ``None`` reads ``SATLEARN_SCHEDULER`` first.

    Returns
    -------
    tuple
        ``("threads", None)``, ``("tcp", address)`` or ``("local", n_workers)``.

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
        return "tcp", text
    local = _LOCAL.match(text)
    if local and int(local["n"]) > 0:
        return "local", int(local["n"])
    raise InvalidInputError(f"{source} {spec!r}: use {_FORMS}")


@contextmanager
def scheduler(spec: str | None = None) -> Iterator[Any]:
    """Run the dask computations inside the block on the chosen scheduler.

    Blockwise, halo and global operations alike compute on whatever this
    picks; nothing else in satlearn chooses a scheduler.

    Parameters
    ----------
    spec : str or None
        See :func:`parse_spec`; ``None`` reads ``SATLEARN_SCHEDULER``.

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

    if kind == "tcp":
        try:
            client = distributed.Client(value, timeout="10s", set_as_default=True)
        except OSError as err:  # TimeoutError included: nothing answers there
            raise InvalidInputError(f"scheduler {value}: cannot connect ({err})") from None
        try:
            yield client
        finally:
            client.close()
        return

    cluster = distributed.LocalCluster(
        n_workers=value,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        client = distributed.Client(cluster, set_as_default=True)
        try:
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
