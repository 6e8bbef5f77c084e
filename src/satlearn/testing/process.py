"""Servers in child processes on 127.0.0.1, for tests and benchmarks.

One way to start a server (``satlearn serve``, ``satlearn view``, a peer such as
TiTiler, a naive baseline), wait until it answers, and stop it, used by
satlearn's own tests and benchmarks and available to code that tests
against satlearn.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["free_port", "running_server", "start_server", "stop_process"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    Examples
    --------
    >>> 1024 <= free_port() <= 65535
    True
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.HTTPError):  # refused, reset, 5xx while loading
        return False


def start_server(
    command: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen:
    """Start ``command`` and return once ``ready_url`` answers 200.

    Its output goes to the file ``log`` (a pipe that nobody reads would block the
    server once full). If the process exits or does not get ready within
    ``timeout_s``, it is killed and a ``RuntimeError`` carries the log's tail.
    """
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
        )
    deadline = time.monotonic() + timeout_s
    while not _answers(ready_url):
        if process.poll() is not None:
            raise RuntimeError(
                f"{command[0]} exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        if time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(
                f"{command[0]} did not answer {ready_url} in {timeout_s:.0f} s: "
                f"{log.read_text()[-2000:]}"
            )
        time.sleep(0.1)
    return process


def stop_process(process: subprocess.Popen, *, timeout_s: float = 30.0) -> int:
    """SIGTERM (a graceful shutdown), then SIGKILL after ``timeout_s``; the exit code."""
    process.terminate()
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextlib.contextmanager
def running_server(
    command: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """:func:`start_server` for the ``with`` block, stopped by :func:`stop_process` after."""
    process = start_server(command, ready_url=ready_url, log=log, timeout_s=timeout_s, env=env)
    try:
        yield process
    finally:
        stop_process(process)
