"""Remote reads: HTTP range requests against a server the test starts on 127.0.0.1."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import dask.array
import numpy as np
import pytest

from conftest import make_dataarray
from satlearn import open_raster, save_cog
from satlearn.errors import NotARasterError, RemoteAccessError
from satlearn.raster import info
from satlearn.testing import RangeHTTPServer


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A 4096 x 4096 two-band uint16 COG (noise, so it barely compresses) behind a range server."""
    root = tmp_path_factory.mktemp("www")
    data = dask.array.random.default_rng(1).integers(
        0, 10000, (2, 4096, 4096), dtype="uint16", chunks=(1, 1024, 1024)
    )
    save_cog(
        make_dataarray(data, names=["red", "nir"], nodata=0), root / "scene.tif", blocksize=256
    )
    (root / "notes.txt").write_text("not a raster\n")
    with RangeHTTPServer(root) as server:
        yield server, root


def test_window_read_fetches_only_the_blocks_it_needs(served):
    server, root = served
    size = (root / "scene.tif").stat().st_size
    server.reset_counters()

    part = open_raster(server.url("scene.tif"), bands=["nir"], window=((1000, 1256), (2000, 2256)))

    local = open_raster(root / "scene.tif", bands=["nir"], window=((1000, 1256), (2000, 2256)))
    np.testing.assert_array_equal(part.values, local.values)
    assert part.rio.transform() == local.rio.transform()
    ranged = [r for r in server.requests if r[0] == "GET"]
    assert ranged and all(header is not None for _, _, header in ranged)
    # A 256 x 256 window of one band touches at most 4 tiles of 256 x 256 x 2 bytes,
    # plus the header: a tiny fraction of the ~64 MiB file.
    assert server.bytes_served < size / 50, (server.bytes_served, size)


def test_lazy_remote_read_streams_chunks(served):
    server, root = served
    server.reset_counters()
    lazy = open_raster(server.url("scene.tif"), chunks=512, bands="red")
    assert isinstance(lazy.data, dask.array.Array)
    corner = lazy.isel(y=slice(0, 512), x=slice(0, 512)).values
    np.testing.assert_array_equal(
        corner, open_raster(root / "scene.tif", bands="red").values[:, :512, :512]
    )
    assert server.bytes_served < (root / "scene.tif").stat().st_size / 10


def test_info_over_http_reports_a_valid_cog(served):
    server, _ = served
    report = info(server.url("scene.tif"))
    assert report["is_cog"] is True
    assert report["width"] == 4096
    assert [b["name"] for b in report["bands"]] == ["red", "nir"]


def test_missing_remote_file_names_the_url(served):
    server, _ = served
    url = server.url("absent.tif")
    with pytest.raises(RemoteAccessError) as info_:
        open_raster(url)
    assert url in str(info_.value)
    assert isinstance(info_.value, OSError)


def test_remote_file_that_is_not_a_raster(served):
    server, _ = served
    with pytest.raises(RemoteAccessError, match=r"notes\.txt"):
        open_raster(server.url("notes.txt"))


def test_unreachable_host_is_a_remote_access_error():
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/scene.tif"
    with pytest.raises(RemoteAccessError, match=f"127.0.0.1:{port}/scene.tif"):
        open_raster(url)


def test_vsi_paths_are_passed_to_gdal():
    with pytest.raises(NotARasterError, match=r"/vsimem/nothing\.tif"):
        open_raster("/vsimem/nothing.tif")


# --------------------------------------------------------------------------- the test server itself


def _get(url: str, range_header: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url)
    if range_header:
        request.add_header("Range", range_header)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, b"", dict(err.headers)


def test_range_server_answers_partial_content(tmp_path):
    (tmp_path / "f.bin").write_bytes(bytes(range(100)))
    (tmp_path / "sub").mkdir()
    with RangeHTTPServer(tmp_path, in_process=True) as server:
        status, body, headers = _get(server.url("f.bin"), "bytes=10-19")
        assert (status, body) == (206, bytes(range(10, 20)))
        assert headers["Content-Range"] == "bytes 10-19/100"
        assert _get(server.url("f.bin"), "bytes=95-")[1] == bytes(range(95, 100))
        assert _get(server.url("f.bin"), "bytes=-3")[1] == bytes(range(97, 100))
        assert _get(server.url("f.bin"), "bytes=90-500")[1] == bytes(range(90, 100))
        assert _get(server.url("f.bin"))[:2] == (200, bytes(range(100)))
        assert _get(server.url("f.bin"), "bytes=200-300")[0] == 416
        assert _get(server.url("f.bin"), "bytes=5-2")[0] == 416
        assert _get(server.url("f.bin"), "lines=1-2")[0] == 416
        assert _get(server.url("sub"))[0] == 404
        assert _get(server.url("../etc/passwd"))[0] == 404
        assert _get(server.url("%2e%2e/%2e%2e/etc/passwd"))[0] == 404
        head = urllib.request.Request(server.url("f.bin"), method="HEAD")
        with urllib.request.urlopen(head, timeout=10) as response:
            assert response.headers["Content-Length"] == "100"
        assert server.bytes_served == 10 + 5 + 3 + 10 + 100
        assert ("HEAD", "/f.bin", None) in server.requests
