"""A loopback HTTP file server that honours Range requests and counts bytes.

Python's ``http.server`` ignores ``Range`` headers, so a GDAL ``/vsicurl/``
read against it would download whole files; this one answers ``206 Partial
Content`` for single byte ranges, as object stores do, and records what it
served, so tests can assert that a window read fetched only a few blocks.
It binds to 127.0.0.1 only.

By default the server runs in a child process: rasterio holds the GIL during
some GDAL calls (``rasterio.open`` among them), so a server thread in the same
process could not answer GDAL's request and both would wait for ever. The
counters are then read over HTTP from ``/__satlearn__/stats``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = ["RangeHTTPServer"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTROL = "/__satlearn__/"
_CHILD = "import sys; from satlearn.testing.http import _main; _main(sys.argv[1:])"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _resolve(self) -> Path | None:
        relative = unquote(urlparse(self.path).path).lstrip("/")
        root = self.server.root
        candidate = (root / relative).resolve()
        # Refuse anything that escapes the served folder (e.g. "..").
        if root != candidate and root not in candidate.parents:
            return None
        return candidate if candidate.is_file() else None

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _control(self) -> None:
        with self.server.lock:
            if self.path == _CONTROL + "reset":
                self.server.bytes_served = 0
                self.server.requests.clear()
            body = json.dumps(
                {"bytes_served": self.server.bytes_served, "requests": self.server.requests}
            ).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, *, send_body: bool) -> None:
        if self.path.startswith(_CONTROL):
            self._control()
            return
        path = self._resolve()
        with self.server.lock:
            self.server.requests.append((self.command, self.path, self.headers.get("Range")))
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        header = self.headers.get("Range")
        if header is not None:
            match = _RANGE.match(header.strip())
            if match is None or match.groups() == ("", ""):
                self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                return
            first, last = match.groups()
            if first == "":  # suffix range: the last N bytes
                start = max(0, size - int(last))
            else:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            if start >= size or start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        length = end - start + 1
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if not send_body:
            return
        # Counted before the body goes out: a client that has read the body
        # and then asks for the stats must find it counted (counting after
        # the write raced with that request in another server thread).
        with self.server.lock:
            self.server.bytes_served += length
        with path.open("rb") as fh:
            fh.seek(start)
            self.wfile.write(fh.read(length))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    lock: threading.Lock
    bytes_served: int
    requests: list[tuple[str, str, str | None]]


class RangeHTTPServer:
    """Serve a folder on ``http://127.0.0.1:PORT/``.

    Parameters
    ----------
    root : path
        The folder to serve; nothing outside it is reachable.
    in_process : bool
        Serve from a thread of this process instead of a child process. Only
        for clients that release the GIL while they wait (urllib, requests),
        never for GDAL.

    Examples
    --------
    >>> with RangeHTTPServer("data") as server:  # doctest: +SKIP
    ...     da = open_raster(server.url("scene.tif"), window=((0, 256), (0, 256)))
    ...     server.bytes_served
    """

    def __init__(self, root: str | os.PathLike[str], *, in_process: bool = False) -> None:
        self.root = Path(os.fspath(root)).resolve()
        self.in_process = in_process
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[str] | None = None
        self._port = 0

    def _stats(self, action: str = "stats") -> dict[str, Any]:
        if self._server is not None:
            with self._server.lock:
                if action == "reset":
                    self._server.bytes_served = 0
                    self._server.requests.clear()
                return {
                    "bytes_served": self._server.bytes_served,
                    "requests": list(self._server.requests),
                }
        with urllib.request.urlopen(self.url(_CONTROL + action), timeout=10) as response:
            return json.loads(response.read())

    @property
    def bytes_served(self) -> int:
        """Body bytes sent so far."""
        return int(self._stats()["bytes_served"])

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of every request so far."""
        return [tuple(r) for r in self._stats()["requests"]]  # type: ignore[misc]

    def reset_counters(self) -> None:
        """Forget the bytes and requests counted so far."""
        self._stats("reset")

    def url(self, relative: str = "") -> str:
        """The URL of ``relative`` under the served folder."""
        return f"http://127.0.0.1:{self._port}/{relative.lstrip('/')}"

    def __enter__(self) -> RangeHTTPServer:
        if self.in_process:
            self._server = _make_server(self.root)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
            return self
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        self._port = int(self._child.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self._child is not None:
            self._child.terminate()
            self._child.wait(timeout=10)
            if self._child.stdout is not None:
                self._child.stdout.close()


def _make_server(root: Path) -> _Server:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.root = root
    server.lock = threading.Lock()
    server.bytes_served = 0
    server.requests = []
    return server


def _main(argv: list[str]) -> None:  # pragma: no cover - runs in the child process
    server = _make_server(Path(argv[0]).resolve())
    print(server.server_address[1], flush=True)
    server.serve_forever()
