"""``satlearn datasets list | info | download``."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from satlearn.cli import app
from satlearn.datasets import DATASETS, Download, SampleDataset, register
from satlearn.testing.http import RangeHTTPServer

RUNNER = CliRunner()
PAYLOAD = b"satlearn test payload\n" * 1000


@pytest.fixture
def toy(tmp_path):
    """A registered reader with one public file served on loopback, and a login-only one."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "toy.bin").write_bytes(PAYLOAD)

    @register
    class Toy(SampleDataset):
        """A toy reader.

        Layout: ROOT/toy.bin as published.
        """

        name = "toy-cli"
        task = "classification"
        source = "made up for the CLI tests"
        classes = ("water", "land", "cloud")
        bands = ("red", "nir")
        downloads = (
            Download(
                url="https://example.invalid/pub/toy.bin",
                filename="toy.bin",
                sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                size=len(PAYLOAD),
            ),
        )

    @register
    class Login(SampleDataset):
        name = "toy-login"
        task = "detection"
        manual_download = "Sign in to Kaggle and put train.csv in ROOT/."

    yield folder
    DATASETS.pop("toy-cli")
    DATASETS.pop("toy-login")


def test_list_shows_every_registered_reader(toy):
    result = RUNNER.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert lines["toy-cli"][1:4] == ["classification", "3", "public"]
    assert "manual" in lines["toy-login"]
    for name in ("sentinel2-safe", "landsat-c2"):
        assert name in lines
    as_json = json.loads(RUNNER.invoke(app, ["datasets", "list", "--json"]).output)
    toy_row = next(r for r in as_json if r["name"] == "toy-cli")
    assert toy_row["classes"] == 3 and toy_row["download"].startswith("public (1 file, 0.0")


def test_info_describes_source_bands_classes_layout_and_download(toy):
    result = RUNNER.invoke(app, ["datasets", "info", "toy-cli"])
    assert result.exit_code == 0, result.output
    assert "made up for the CLI tests" in result.output
    assert "red, nir" in result.output and "3: water, land, cloud" in result.output
    assert "https://example.invalid/pub/toy.bin -> toy.bin" in result.output
    assert "Layout: ROOT/toy.bin as published." in result.output
    data = json.loads(RUNNER.invoke(app, ["datasets", "info", "toy_login", "--json"]).output)
    assert data["manual_download"].startswith("Sign in to Kaggle")
    assert data["download"] == "manual (login)" and data["downloads"] == []
    plain = RUNNER.invoke(app, ["datasets", "info", "toy-login"])
    assert "manual:   Sign in to Kaggle" in plain.output
    real = RUNNER.invoke(app, ["datasets", "info", "landsat-c2"])
    assert "earthexplorer.usgs.gov" in real.output and "lwir11" in real.output
    unknown = RUNNER.invoke(app, ["datasets", "info", "nope"])
    assert unknown.exit_code == 1 and "unknown dataset 'nope'" in unknown.output


def test_download_from_a_loopback_mirror_and_login_message(toy, tmp_path):
    root = tmp_path / "root"
    with RangeHTTPServer(toy, in_process=True) as server:
        result = RUNNER.invoke(
            app, ["datasets", "download", "toy-cli", str(root), "--url-base", server.url("")]
        )
        assert result.exit_code == 0, result.output
        assert result.output.strip() == str(root / "toy.bin")
        assert (root / "toy.bin").read_bytes() == PAYLOAD
        assert server.requests[-1][1] == "/toy.bin"
    login = RUNNER.invoke(app, ["datasets", "download", "toy-login", str(root)])
    assert login.exit_code == 1
    assert "cannot be downloaded automatically: Sign in to Kaggle" in login.output


def test_download_into_a_file_is_one_error_line(toy, tmp_path):
    root = tmp_path / "a-file"
    root.write_text("in the way")
    result = RUNNER.invoke(app, ["datasets", "download", "toy-cli", str(root)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: toy-cli: root {root} exists and is not a folder"
    ]
