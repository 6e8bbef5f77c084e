"""Downloads over loopback HTTP: resume with Range, checksums, atomic rename, safe extraction."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from satlearn.datasets import (
    DATASETS,
    DatasetError,
    Download,
    SampleDataset,
    download_dataset,
    register,
)
from satlearn.prep.download import download_file, download_files, extract_archive, sha256sum
from satlearn.testing.http import RangeHTTPServer

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "data.bin").write_bytes(PAYLOAD)
    # urllib releases the GIL while it waits, so an in-process server is fine here.
    with RangeHTTPServer(folder, in_process=True) as server:
        yield server, folder


def test_fresh_download_is_verified_and_renamed_into_place(served, tmp_path):
    server, _ = served
    dest = tmp_path / "out" / "data.bin"
    path = download_file(server.url("data.bin"), dest, sha256=DIGEST, size=len(PAYLOAD))
    assert path == dest and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("data.bin.part").exists()
    assert server.bytes_served == len(PAYLOAD)
    # A second call finds the verified file and fetches nothing.
    download_file(server.url("data.bin"), dest, sha256=DIGEST)
    assert server.bytes_served == len(PAYLOAD)


def test_interrupted_download_resumes_and_fetches_only_the_rest(served, tmp_path):
    server, _ = served
    dest = tmp_path / "data.bin"
    done = 300_000
    dest.with_name("data.bin.part").write_bytes(PAYLOAD[:done])  # left by an interrupted run
    download_file(server.url("data.bin"), dest, sha256=DIGEST, size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD
    assert server.bytes_served == len(PAYLOAD) - done
    assert server.requests[-1][2] == f"bytes={done}-"


def test_complete_partial_without_size_gets_416_and_is_kept(served, tmp_path):
    server, _ = served
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(PAYLOAD)
    download_file(server.url("data.bin"), dest, sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD and server.bytes_served == 0


def test_server_ignoring_range_restarts_from_zero(tmp_path, monkeypatch):
    import urllib.request

    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "data.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(b"stale bytes from another version")
    original = urllib.request.Request.add_header

    def drop_range(self, key, value):  # a server that ignores Range answers 200
        if key != "Range":
            original(self, key, value)

    monkeypatch.setattr(urllib.request.Request, "add_header", drop_range)
    with RangeHTTPServer(folder, in_process=True) as server:
        download_file(server.url("data.bin"), dest, sha256=DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_the_partial_and_names_url_and_hashes(served, tmp_path):
    server, _ = served
    dest = tmp_path / "data.bin"
    wrong = "0" * 64
    with pytest.raises(DatasetError) as err:
        download_file(server.url("data.bin"), dest, sha256=wrong)
    message = str(err.value)
    assert server.url("data.bin") in message and wrong in message and DIGEST in message
    assert not dest.exists() and not dest.with_name("data.bin.part").exists()


def test_size_mismatch_missing_file_and_bad_scheme(served, tmp_path):
    server, _ = served
    with pytest.raises(DatasetError, match="expected 10 bytes"):
        download_file(server.url("data.bin"), tmp_path / "a.bin", size=10)
    with pytest.raises(DatasetError, match="HTTP 404"):
        download_file(server.url("absent.bin"), tmp_path / "b.bin")
    with pytest.raises(DatasetError, match="only http"):
        download_file("ftp://example.org/x", tmp_path / "c.bin")
    with pytest.raises(DatasetError, match="cannot download"):
        download_file("http://127.0.0.1:9/x", tmp_path / "d.bin")  # discard port: refused


def test_corrupt_final_file_is_fetched_again_and_force_refetches(served, tmp_path):
    server, _ = served
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"corrupt")
    download_file(server.url("data.bin"), dest, sha256=DIGEST)
    assert dest.read_bytes() == PAYLOAD
    server.reset_counters()
    download_file(server.url("data.bin"), dest, size=len(PAYLOAD), force=True)
    assert server.bytes_served == len(PAYLOAD) and dest.read_bytes() == PAYLOAD
    dest.unlink()
    dest.with_name("data.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 5))  # too long: dropped
    download_file(server.url("data.bin"), dest, size=len(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path, members, *, symlink=None):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
    return path


def test_extract_zip_and_tar(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"set/a.txt": b"A", "set/sub/b.txt": b"B"})
    paths = extract_archive(z, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in paths) == [
        "set/a.txt",
        "set/sub/b.txt",
    ]
    t = make_tar(tmp_path / "b.tar.gz", {"c/d.txt": b"D"})
    assert [p.read_bytes() for p in extract_archive(t, tmp_path / "out2")] == [b"D"]


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_extract_refuses_escaping_members_before_writing_anything(tmp_path, name):
    out = tmp_path / "out"
    z = make_zip(tmp_path / "bad.zip", {"good.txt": b"ok", name: b"evil"})
    with pytest.raises(DatasetError, match="refusing member"):
        extract_archive(z, out)
    t = make_tar(tmp_path / "bad.tar.gz", {"good.txt": b"ok", name: b"evil"})
    with pytest.raises(DatasetError, match="refusing member"):
        extract_archive(t, out)
    assert not (out / "good.txt").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_extract_refuses_links_and_non_archives(tmp_path):
    t = make_tar(tmp_path / "link.tar.gz", {"ok.txt": b"ok"}, symlink="passwd")
    with pytest.raises(DatasetError, match="a link or special file"):
        extract_archive(t, tmp_path / "out")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"neither zip nor tar")
    with pytest.raises(DatasetError, match="not a zip or tar archive"):
        extract_archive(junk, tmp_path / "out")


@pytest.fixture
def toy_dataset(tmp_path):
    """A registered reader whose one public file is a zip served on loopback."""
    folder = tmp_path / "served"
    folder.mkdir()
    archive = make_zip(folder / "toy.zip", {"toy/a.txt": b"alpha", "toy/b.txt": b"beta"})

    @register
    class Toy(SampleDataset):
        name = "toy-download"
        task = "classification"
        classes = ("a", "b")
        downloads = (
            Download(
                url="https://example.invalid/files/toy.zip",
                filename="toy.zip",
                sha256=sha256sum(archive),
                size=archive.stat().st_size,
                extract=True,
            ),
        )

    @register
    class Manual(SampleDataset):
        name = "toy-manual"
        task = "classification"
        manual_download = "Log in to Kaggle and put train.csv in ROOT/."

    yield folder
    DATASETS.pop("toy-download")
    DATASETS.pop("toy-manual")


def test_download_dataset_from_a_mirror_extracts_once(toy_dataset, tmp_path):
    root = tmp_path / "root"
    with RangeHTTPServer(toy_dataset, in_process=True) as server:
        paths = download_dataset("toy-download", root, url_base=server.url("/"), progress=False)
        assert paths == [root / "toy.zip"]
        assert (root / "toy" / "a.txt").read_bytes() == b"alpha"
        served = server.bytes_served
        os.remove(root / "toy" / "a.txt")
        download_dataset("toy_download", root, url_base=server.url(""))  # already there
        assert server.bytes_served == served
        assert not (root / "toy" / "a.txt").exists()  # extracted once, marker kept
        download_dataset("toy-download", root, url_base=server.url(""), force=True)
        assert (root / "toy" / "a.txt").read_bytes() == b"alpha"


def test_login_datasets_say_what_to_fetch_and_where(toy_dataset, tmp_path):
    with pytest.raises(DatasetError, match="toy-manual cannot be downloaded automatically: Log in"):
        download_dataset("toy-manual", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        download_dataset("no-such-dataset", tmp_path)


def test_a_root_that_cannot_be_a_folder_is_named_before_any_request(toy_dataset, tmp_path):
    # No server: the root is checked before anything is fetched.
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DatasetError, match=r"toy-download: root .*a-file exists and is not a"):
        download_dataset("toy-download", blocker, progress=False)
    with pytest.raises(DatasetError, match=r"root .*a-file/sub cannot be created: Not a directory"):
        download_dataset("toy-download", blocker / "sub", progress=False)
    assert blocker.read_text() == "in the way"


def test_download_and_extraction_folders_that_cannot_be_made_are_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match=r"download folder .*a-file exists and is not a folder"):
        download_file("https://example.invalid/x.zip", blocker / "x.zip", progress=False)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "alpha")
    with pytest.raises(DatasetError, match=r"extraction folder .*a-file exists and is not a"):
        extract_archive(archive, blocker)


def test_download_files_needs_no_registered_reader(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    archive = make_zip(folder / "set.zip", {"set/c.txt": b"gamma"})
    item = Download("https://example.invalid/x/set.zip", "set.zip", sha256=sha256sum(archive))
    root = tmp_path / "root"
    with RangeHTTPServer(folder, in_process=True) as server:
        paths = download_files([item], root, url_base=server.url(""), progress=False)
    assert paths == [root / "set.zip"]
    assert not (root / "set").exists()  # not an archive to extract: kept as downloaded
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DatasetError, match=r"my-files: root .*a-file exists and is not a"):
        download_files([item], blocker, what="my-files", progress=False)
