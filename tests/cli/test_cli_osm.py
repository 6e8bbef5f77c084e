"""``satlearn osm labels`` and ``satlearn chips`` on an OSM extract: files, report, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import rasterio
from typer.testing import CliRunner

from satlearn.cli import app
from satlearn.prep.osm import osm_targets

RUNNER = CliRunner()


def test_osm_labels_writes_a_cog_and_prints_the_report(osm_case, tmp_path):
    out, ids = tmp_path / "labels.tif", tmp_path / "ids.tif"
    args = ["osm", "labels", str(osm_case.pbf), str(osm_case.scene_path), str(out),
            "--classes", str(osm_case.classes), "--instances", str(ids)]  # fmt: skip
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "classes 0=background, 1=water, 2=road, 3=building, 255=ignored" in result.output
    assert "building" in result.output and "% of pixels" in result.output
    expected = osm_targets(osm_case.pbf, osm_case.scene_path, classes=osm_case.classes)
    with rasterio.open(out) as src:
        assert src.nodata == 255 and src.crs == expected.mask.rio.crs
        assert src.transform == expected.mask.rio.transform()
        np.testing.assert_array_equal(src.read(1), expected.mask.values)
    with rasterio.open(ids) as src:
        np.testing.assert_array_equal(src.read(1), expected.instances.values)
    assert not list(tmp_path.glob("*.partial*"))


def test_chips_take_an_osm_extract_as_labels(osm_case, tmp_path):
    out = tmp_path / "chips"
    args = ["chips", str(osm_case.scene_path), str(osm_case.xml), str(out), "--size", "64",
            "--overlap", "0", "--osm-classes", str(osm_case.classes)]  # fmt: skip
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    with (out / "index.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    meta = json.loads((out / "chipset.json").read_text())
    assert "building" in json.dumps(meta)
    expected = osm_targets(osm_case.xml, osm_case.scene_path, classes=osm_case.classes)
    masks = sorted((out / "masks").glob("*.tif"))
    burned = 0
    for path in masks:
        with rasterio.open(path) as src:
            burned += int((src.read(1) == 3).sum())
    assert burned == int((expected.mask.values == 3).sum())


def test_osm_errors_are_one_line(osm_case, tmp_path):
    corrupt = tmp_path / "bad.osm.pbf"
    corrupt.write_bytes(b"\x00\x00\x00\x0dgarbage" * 32)
    result = RUNNER.invoke(
        app, ["osm", "labels", str(corrupt), str(osm_case.scene_path), str(tmp_path / "o.tif")]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.osm.pbf" in lines[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  - name: shop\n    tags: {amenity: shop}\n")
    result = RUNNER.invoke(app, ["osm", "labels", str(osm_case.pbf), str(osm_case.scene_path),
                                 str(tmp_path / "o.tif"), "--classes", str(bad)])  # fmt: skip
    assert result.exit_code == 1 and "unknown tag key 'amenity'" in result.output
    assert not (tmp_path / "o.tif").exists()
