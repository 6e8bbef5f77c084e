"""Hostile URLs: an HTML page, a 500, a body that stalls, headers that never come.

The server is ``hostile_http_server.py`` beside this file, run in a child
process (rasterio holds the GIL while GDAL waits on a socket, so a server
thread here could neither answer nor stall) and killed by its pid at the end.
Every URL gets a fresh query string: GDAL caches a failed URL and would answer
the next open from its cache, without a request.

The HTTP timeout is ``SATLEARN_HTTP_TIMEOUT`` = 1 s here (30 s by default).
Opening a URL that stalls costs at most ~2x the timeout plus GDAL's one
retry a second later; a stalled pixel read ~4x (GDAL re-reads a failed
window in smaller ranges, each waiting the timeout). The bounds below
assert those multiples, with slack for a loaded machine, as the guard
against hangs; pytest-timeout is the hard stop.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from conftest import make_dataarray
from satlearn import open_raster, save_cog
from satlearn.cli import app
from satlearn.errors import InvalidInputError, RemoteAccessError
from satlearn.raster import gdal_env, http_timeout, info, validate_cog

pytestmark = pytest.mark.timeout(60)

SERVER = Path(__file__).with_name("hostile_http_server.py")
RUNNER = CliRunner()
TIMEOUT_S = 1.0
RETRY_DELAY_S = 1.0  # satlearn's GDAL_HTTP_RETRY_DELAY
SLACK_S = 2.0
OPEN_BOUND_S = 2 * TIMEOUT_S + RETRY_DELAY_S + SLACK_S
READ_BOUND_S = 4 * TIMEOUT_S + SLACK_S
_GDAL_KEYS = ("GDAL_HTTP_TIMEOUT", "GDAL_HTTP_CONNECTTIMEOUT", "GDAL_HTTP_MAX_RETRY")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The base URL of the hostile server, and the pixels of its valid ``/cog.tif``."""
    root = tmp_path_factory.mktemp("hostile")
    # 512 x 512 noise in 128-px tiles: ~500 KB, so most tiles lie past the 64 KiB
    # that /stalltiles.tif serves before it stalls.
    pixels = np.random.default_rng(18).integers(0, 10_000, (1, 512, 512), dtype=np.uint16)
    save_cog(make_dataarray(pixels, names=["red"]), root / "cog.tif", blocksize=128, overviews=None)
    child = subprocess.Popen(
        [sys.executable, str(SERVER), str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 30)
        assert ready, "the hostile server did not start within 30 s"
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}", pixels
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setenv("SATLEARN_HTTP_TIMEOUT", str(TIMEOUT_S))
    for key in _GDAL_KEYS:  # the user's GDAL settings would win over satlearn's
        monkeypatch.delenv(key, raising=False)


def _fresh(base: str, route: str) -> str:
    return f"{base}{route}?case={uuid.uuid4().hex}"


def _fails_in_time(url: str, call, bound: float) -> tuple[RemoteAccessError, float]:
    started = time.monotonic()
    with pytest.raises(RemoteAccessError) as caught:
        call()
    elapsed = time.monotonic() - started
    assert url in str(caught.value), caught.value
    assert "\n" not in str(caught.value)
    assert elapsed < bound, f"{url}: {elapsed:.1f} s to fail (bound {bound:.1f} s)"
    return caught.value, elapsed


def _assert_cli_one_line(result, url: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and url in lines[0], lines
    assert "Traceback" not in result.output


def test_the_valid_file_reads_with_the_short_timeout(server):
    base, pixels = server
    url = _fresh(base, "/cog.tif")
    np.testing.assert_array_equal(open_raster(url).values, pixels)
    np.testing.assert_array_equal(open_raster(url, chunks=256).values, pixels)


_ENTRY_POINTS = {
    "open_raster": open_raster,
    "lazy": lambda url: open_raster(url, chunks=128),
    "info": info,
    "validate_cog": validate_cog,
}


@pytest.mark.parametrize("entry", sorted(_ENTRY_POINTS))
def test_an_html_page_under_a_raster_name(server, entry):
    base, _ = server
    url = _fresh(base, "/page.tif")
    error, _ = _fails_in_time(url, lambda: _ENTRY_POINTS[entry](url), OPEN_BOUND_S)
    assert "not a raster GDAL can read" in str(error)


def test_an_html_page_at_the_cli(server, tmp_path):
    url = _fresh(server[0], "/page.tif")
    _assert_cli_one_line(RUNNER.invoke(app, ["info", url]), url)
    url = _fresh(server[0], "/page.tif")
    result = RUNNER.invoke(app, ["index", url, "ndvi", str(tmp_path / "ndvi.tif")])
    _assert_cli_one_line(result, url)
    assert not (tmp_path / "ndvi.tif").exists()


def test_a_server_error(server):
    url = _fresh(server[0], "/err.tif")
    # GDAL retries a 500 once, a second later (satlearn's defaults), then gives up.
    error, elapsed = _fails_in_time(url, lambda: open_raster(url), OPEN_BOUND_S)
    assert "HTTP response code: 500" in str(error)
    assert elapsed >= 0.9 * RETRY_DELAY_S


def test_a_body_that_stalls_times_out(server):
    base, _ = server
    url = _fresh(base, "/stall.tif")
    error, elapsed = _fails_in_time(url, lambda: info(url), OPEN_BOUND_S)
    assert "did not answer within 1 s" in str(error)
    assert elapsed >= 0.9 * TIMEOUT_S  # it did wait for the timeout, not fail early


def test_headers_that_never_come_time_out(server):
    base, _ = server
    url = _fresh(base, "/slowheaders.tif")
    error, _ = _fails_in_time(url, lambda: open_raster(url), OPEN_BOUND_S)
    assert "did not answer within 1 s" in str(error)


def test_tiles_that_stall_time_out_eager_and_lazy(server):
    base, pixels = server
    url = _fresh(base, "/stalltiles.tif")
    # The header is served: the file opens and describes itself.
    assert info(url)["width"] == 512
    error, _ = _fails_in_time(url, lambda: open_raster(url), READ_BOUND_S)
    assert "did not answer within 1 s" in str(error)
    # A lazy read runs in dask's threads, which must get the same timeout.
    url = _fresh(base, "/stalltiles.tif")
    lazy = open_raster(url, chunks=128)
    np.testing.assert_array_equal(lazy[:, :128, :128].values, pixels[:, :128, :128])
    _fails_in_time(url, lambda: lazy[:, 384:, 384:].values, READ_BOUND_S)


def test_the_timeout_setting(monkeypatch):
    monkeypatch.setenv("SATLEARN_HTTP_TIMEOUT", "2.5")
    assert http_timeout() == 2.5
    with gdal_env() as env:
        assert env.options["GDAL_HTTP_TIMEOUT"] == "3"  # GDAL counts whole seconds
        assert env.options["GDAL_HTTP_CONNECTTIMEOUT"] == "3"
    monkeypatch.delenv("SATLEARN_HTTP_TIMEOUT")
    with gdal_env() as env:
        assert env.options["GDAL_HTTP_TIMEOUT"] == "30"
        assert env.options["GDAL_HTTP_CONNECTTIMEOUT"] == "10"
    # The user's own GDAL settings win, from the environment or an enclosing Env.
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "7")
    with gdal_env() as env:
        assert "GDAL_HTTP_TIMEOUT" not in env.options
    monkeypatch.delenv("GDAL_HTTP_TIMEOUT")
    with rasterio.Env(GDAL_HTTP_MAX_RETRY="5"), gdal_env() as env:
        assert "GDAL_HTTP_MAX_RETRY" not in env.options
        assert rasterio.env.getenv()["GDAL_HTTP_MAX_RETRY"] == "5"
    for bad in ("0", "-3", "soon", "nan", "inf"):
        monkeypatch.setenv("SATLEARN_HTTP_TIMEOUT", bad)
        with pytest.raises(InvalidInputError, match="SATLEARN_HTTP_TIMEOUT"):
            http_timeout()
