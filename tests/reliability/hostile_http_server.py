"""A hostile HTTP server for tests/reliability/test_hostile_urls.py (stdlib only).

Run as ``python hostile_http_server.py ROOT``: it binds 127.0.0.1 on a free
port, prints the port on one stdout line and serves until killed. It runs in
its own process because rasterio holds the GIL while GDAL waits on a socket:
a server thread in the test's process could never answer (or stall) GDAL.

Routes:

* ``/page.tif``: 200, ``text/html``, an HTML page (a login or error page served
  under a raster's name), Range ignored;
* ``/err.tif``: 500 for every request;
* ``/stall.tif``: headers announcing 1 MiB, 100 bytes of a TIFF header, then
  silence for ever;
* ``/slowheaders.tif``: reads the request and never answers;
* ``/cog.tif`` and ``/stalltiles.tif``: ``ROOT/cog.tif`` with Range support;
  for ``/stalltiles.tif`` any range past the first 64 KiB (the header and
  GDAL's first read) stalls after its headers, so the open works and the
  pixel reads hang.
"""

from __future__ import annotations

import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_HEADER_BYTES = 64 * 1024
FOREVER_S = 3600.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("HOSTILE_HTTP_LOG"):  # for debugging a test by hand
            asked = self.headers.get("Range")
            sys.stderr.write(f"{time.monotonic():.2f} {format % args} {asked}\n")

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def do_GET(self) -> None:
        self._route(send_body=True)

    def _route(self, *, send_body: bool) -> None:
        path = self.path.split("?")[0]
        if path == "/page.tif":
            body = b"<!doctype html><html><body><h1>Please log in</h1></body></html>\n"
            self._answer(200, body, "text/html; charset=utf-8", send_body)
        elif path == "/err.tif":
            self._answer(500, b"internal error\n", "text/plain", send_body)
        elif path == "/stall.tif":
            # What GDAL asks first: a range of the first 16 KiB.
            self.send_response(206 if "Range" in self.headers else 200)
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Accept-Ranges", "bytes")
            if "Range" in self.headers:
                self.send_header("Content-Length", "16384")
                self.send_header("Content-Range", f"bytes 0-16383/{1 << 20}")
            else:
                self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            if send_body:
                self.wfile.write(b"II*\x00" + b"\x00" * 96)
                self.wfile.flush()
                time.sleep(FOREVER_S)
        elif path == "/slowheaders.tif":
            time.sleep(FOREVER_S)
        elif path in ("/cog.tif", "/stalltiles.tif"):
            self._file(self.root / "cog.tif", stall=path == "/stalltiles.tif", send_body=send_body)
        else:
            self._answer(404, b"not found\n", "text/plain", send_body)

    def _answer(self, status: int, body: bytes, kind: str, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _file(self, path: Path, *, stall: bool, send_body: bool) -> None:
        data = path.read_bytes()
        match = _RANGE.match(self.headers.get("Range", ""))
        start, end = 0, len(data) - 1
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else end, len(data) - 1)
        self.send_response(206 if match else 200)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if match:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if not send_body:
            return
        if stall and end >= _HEADER_BYTES:
            self.wfile.flush()
            time.sleep(FOREVER_S)
            return
        self.wfile.write(data[start : end + 1])


def main(argv: list[str]) -> None:
    Handler.root = Path(argv[0])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
