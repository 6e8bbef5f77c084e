"""``satlearn stac build | search | validate``: catalogues from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from typer.testing import CliRunner

from conftest import TRANSFORM, write_geotiff
from satlearn.cli import app

RUNNER = CliRunner()
DATES = ["2021-06-01", "2021-06-15", "2021-07-01"]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    src = tmp_path / "data"
    src.mkdir()
    for i, date in enumerate(DATES):
        # Each scene shifted 1 km (100 px) east of the previous one.
        shifted = Affine.translation(1000.0 * i, 0) @ TRANSFORM
        write_geotiff(
            src / f"s2_{date}.tif",
            np.full((3, 20, 20), i + 1, "uint8"),
            transform=shifted,
            descriptions=["red", "green", "blue"],
        )
    write_geotiff(src / "nocrs_2021-06-01.tif", np.ones((1, 4, 4), "uint8"), crs=None)
    out = tmp_path / "catalog"
    result = RUNNER.invoke(app, ["stac", "build", str(src), "--out", str(out), "--no-thumbnails"])
    assert result.exit_code == 0, result.output
    assert (
        f"{out / 'catalog.json'}: 1 collection(s), 3 item(s), 1 raster(s) skipped" in result.stdout
    )
    assert (
        "skipped:" in result.stderr and "nocrs_2021-06-01.tif: raster has no CRS" in result.stderr
    )
    return out


def run(*args: str):
    return RUNNER.invoke(app, ["stac", *args])


def test_build_then_validate(built: Path):
    result = run("validate", str(built))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{built}: valid"
    item = built / "data" / "s2_2021-06-01" / "s2_2021-06-01.json"
    assert run("validate", str(item)).exit_code == 0


def test_validate_invalid_prints_one_line_per_problem(built: Path):
    item = built / "data" / "s2_2021-06-01" / "s2_2021-06-01.json"
    doc = json.loads(item.read_text())
    doc["properties"]["proj:shape"] = "big"
    doc["assets"]["data"]["raster:bands"][0]["data_type"] = "int128"
    item.write_text(json.dumps(doc))
    result = run("validate", str(built))
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: 's2_2021-06-01'") for line in lines)
    assert any("$.properties.proj:shape" in line for line in lines)
    assert any("raster:bands[0].data_type" in line for line in lines)


def test_validate_warnings_pass_unless_strict(built: Path):
    item = built / "data" / "s2_2021-06-01" / "s2_2021-06-01.json"
    doc = json.loads(item.read_text())
    doc["stac_extensions"].append("https://example.com/x/v1.0.0/schema.json")
    item.write_text(json.dumps(doc))
    ok = run("validate", str(item))
    assert ok.exit_code == 0 and "(1 warning(s))" in ok.stdout
    assert "unknown extension" in ok.stdout
    assert run("validate", "--strict", str(item)).exit_code == 1
    missing = run("validate", str(built / "nope.json"))
    assert missing.exit_code == 1 and "cannot read" in missing.stdout


def test_search_bbox_datetime_filter(built: Path):
    assert run("search", str(built)).stdout.split() == [f"s2_{d}" for d in DATES]
    later = run("search", str(built), "--datetime", "2021-06-10/..")
    assert later.stdout.split() == ["s2_2021-06-15", "s2_2021-07-01"]
    # Only the first scene reaches this far west (lon of x = 399960..400160 m in UTM 33N).
    west = run("search", str(built), "--bbox", "13.7270,45.14,13.7282,45.15")
    assert west.exit_code == 0, west.output
    assert west.stdout.split() == ["s2_2021-06-01"]
    cql = json.dumps({"op": "=", "args": [{"property": "id"}, "s2_2021-06-15"]})
    assert run("search", str(built), "--filter", cql).stdout.split() == ["s2_2021-06-15"]
    limited = run("search", str(built), "--limit", "1", "--collections", "data")
    assert limited.stdout.split() == ["s2_2021-06-01"]
    assert run("search", str(built), "--ids", "s2_2021-07-01,zzz").stdout.split() == [
        "s2_2021-07-01"
    ]


def test_search_json_and_files(built: Path, tmp_path: Path):
    geometry = tmp_path / "aoi.geojson"
    geometry.write_text(json.dumps({"type": "Point", "coordinates": [13.7275, 45.145]}))
    result = run("search", str(built), "--intersects", f"@{geometry}", "--json")
    collection = json.loads(result.stdout)
    assert collection["type"] == "FeatureCollection"
    assert [f["id"] for f in collection["features"]] == ["s2_2021-06-01"]
    assert collection["features"][0]["assets"]["data"]["roles"] == ["data"]


def test_search_reports_broken_branches_and_goes_on(built: Path):
    (built / "data" / "s2_2021-06-15" / "s2_2021-06-15.json").unlink()
    result = run("search", str(built))
    assert result.exit_code == 0
    assert result.stdout.split() == ["s2_2021-06-01", "s2_2021-07-01"]
    assert "1 broken branch(es) skipped" in result.stderr
    assert "s2_2021-06-15.json" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bbox", "1,2,x,4"], "--bbox '1,2,x,4'"),
        (["--bbox", "0,0,500,10"], "--bbox '0,0,500,10': longitude 500.0 is outside [-180, 180]"),
        (["--bbox", "0,-95,1,10"], "--bbox '0,-95,1,10': latitude -95.0 is outside [-90, 90]"),
        (["--bbox", "0,10,1,5"], "--bbox '0,10,1,5': south > north"),
        (["--datetime", "June"], "RFC 3339"),
        (["--filter", "{bad"], "--filter: not JSON"),
        (["--intersects", "@/nonexistent.geojson"], "cannot read"),
        (["--filter", '{"op": "like", "args": []}'], "unsupported CQL2 operator 'like'"),
    ],
)
def test_search_errors_are_one_line(built: Path, args, message):
    result = run("search", str(built), *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_build_errors_are_one_line(tmp_path: Path):
    result = run("build", str(tmp_path / "missing"), "--out", str(tmp_path / "c"))
    assert result.exit_code == 1 and "not a folder" in result.stderr
    result = run("search", str(tmp_path / "missing"))
    assert result.exit_code == 1 and "cannot read" in result.stderr


def test_validate_strict_checks_that_asset_hrefs_resolve(built: Path, tmp_path: Path):
    import shutil

    moved = tmp_path / "elsewhere" / "catalog"
    shutil.move(built, moved)
    assert run("validate", str(moved)).exit_code == 0  # the schemas still pass
    strict = run("validate", str(moved), "--strict")
    assert strict.exit_code == 1
    assert "does not resolve to a file" in strict.stdout
    assert not strict.stdout.rstrip().endswith(": valid")


def test_build_absolute_hrefs_and_a_bad_datetime_reported_once(tmp_path: Path):
    src = tmp_path / "data"
    src.mkdir()
    write_geotiff(src / "a.tif", np.ones((1, 4, 4), "uint8"))
    write_geotiff(src / "b.tif", np.ones((1, 4, 4), "uint8"))
    bad = run("build", str(src), "--out", str(tmp_path / "c"), "--datetime", "June")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: --datetime: ") and len(bad.stderr.splitlines()) == 1
    out = tmp_path / "c"
    result = run(
        "build", str(src), "--out", str(out), "--datetime", "2021-06-01T00:00:00Z",
        "--absolute-hrefs", "--no-thumbnails",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    item = json.loads((out / "data" / "a" / "a.json").read_text())
    assert item["assets"]["data"]["href"] == str((src / "a.tif").resolve())
    assert run("validate", str(out), "--strict").exit_code == 0
