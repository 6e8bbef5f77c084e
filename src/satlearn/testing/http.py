"""A loopback HTTP file server that honours Range requests and counts bytes.

Python's ``http.server`` ignores ``Range`` headers, so a GDAL ``/vsicurl/``
read against it would download whole files; this one answers ``206 Partial
Content`` for single byte ranges, as object stores do, and records what it
served, so tests can assert that a window read fetched only a few blocks.
It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = ["RangeHTTPServer"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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

    def _serve(self, *, send_body: bool) -> None:
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
        with path.open("rb") as fh:
            fh.seek(start)
            self.wfile.write(fh.read(length))
        with self.server.lock:
            self.server.bytes_served += length


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    lock: threading.Lock
    bytes_served: int
    requests: list[tuple[str, str, str | None]]


class RangeHTTPServer:
    """Serve a folder on ``http://127.0.0.1:PORT/`` in a background thread.

    Examples
    --------
    >>> with RangeHTTPServer("data") as server:  # doctest: +SKIP
    ...     da = open_raster(server.url("scene.tif"), window=((0, 256), (0, 256)))
    ...     server.bytes_served
    """

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0), _Handler)
        self._server.root = Path(os.fspath(root)).resolve()
        self._server.lock = threading.Lock()
        self._server.bytes_served = 0
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def bytes_served(self) -> int:
        """Body bytes sent so far."""
        return self._server.bytes_served

    @property
    def requests(self) -> list[tuple[str, str, str | None]]:
        """(method, path, Range header) of every request so far."""
        return list(self._server.requests)

    def reset_counters(self) -> None:
        """Forget the bytes and requests counted so far."""
        with self._server.lock:
            self._server.bytes_served = 0
            self._server.requests.clear()

    def url(self, relative: str = "") -> str:
        """The URL of ``relative`` under the served folder."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{relative.lstrip('/')}"

    def __enter__(self) -> RangeHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
