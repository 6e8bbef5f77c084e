"""``satlearn info`` and ``satlearn cog`` on a truncated COG: not valid, and a one-line error."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from conftest import make_dataarray
from satlearn.cli import app
from satlearn.raster import save_cog

RUNNER = CliRunner()


def _truncated(tmp_path):
    data = np.random.default_rng(5).integers(0, 9999, (1, 512, 512)).astype("uint16")
    whole = save_cog(make_dataarray(data, nodata=0), tmp_path / "whole.tif", blocksize=128)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[:-100])
    return whole, cut


def test_info_says_a_truncated_cog_is_not_valid(tmp_path):
    whole, cut = _truncated(tmp_path)
    assert "valid COG: yes" in RUNNER.invoke(app, ["info", str(whole)]).output
    result = RUNNER.invoke(app, ["info", str(cut)])
    assert result.exit_code == 0, result.output
    assert "valid COG: no (IFD 0 (image): 1 of 16 blocks end past the end of the file" in (
        " ".join(result.output.split())
    )
    report = json.loads(RUNNER.invoke(app, ["info", "--json", str(cut)]).output)
    assert report["is_cog"] is False and "truncated" in report["cog_errors"][0]


def test_converting_a_truncated_file_is_a_one_line_error(tmp_path):
    _, cut = _truncated(tmp_path)
    out = tmp_path / "out.tif"
    result = RUNNER.invoke(app, ["cog", str(cut), str(out)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {cut}: cannot read its pixels")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.tif", "whole.tif"]
