"""Block-size options (--chunk, --chunk-size): 0 and negatives are one-line errors, exit 1."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_geotiff
from satlearn.cli import app

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 4-band uint16 GeoTIFF with named bands."""
    folder = tmp_path_factory.mktemp("chunks")
    data = np.random.default_rng(0).integers(1, 4000, (4, 32, 32)).astype("uint16")
    names = ["blue", "green", "red", "nir"]
    return write_geotiff(folder / "scene.tif", data, nodata=0, descriptions=names)


def _commands(scene, out, value):
    src = str(scene)
    return {
        "index": ["index", src, "ndvi", out, "--chunk", value],
        "clouds": ["clouds", src, out, "--chunk", value],
        "change": ["change", src, src, out, "--chunk", value],
        "pansharpen": ["pansharpen", src, src, out, "--chunk-size", value],
    }


@pytest.mark.parametrize("value", ["0", "-5"])
@pytest.mark.parametrize("command", ["index", "clouds", "change", "pansharpen"])
def test_a_block_size_that_is_not_positive_is_a_one_line_error(tmp_path, scene, command, value):
    out = tmp_path / "out.tif"
    result = RUNNER.invoke(app, _commands(scene, str(out), value)[command])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert f"chunk size {value}" in lines[0] and "positive integer" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
