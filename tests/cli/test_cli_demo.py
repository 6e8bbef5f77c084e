"""``satlearn demo``: the whole pipeline, subsets, a failed step, a user's scene, the folder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from satlearn.cli import app
from satlearn.errors import InvalidInputError
from satlearn.raster import save_cog, validate_cog
from satlearn.synth import make_scene

RUNNER = CliRunner()


def test_demo_writes_valid_cogs_and_quicklooks(tmp_path):
    out = tmp_path / "demo"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--size", "128"])
    assert result.exit_code == 0, result.output
    pngs = sorted(out.glob("quicklook_*.png"))
    assert len(pngs) == 2
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cogs = sorted((out / "scene").glob("*.tif"))
    assert len(cogs) > 10
    assert all(validate_cog(p)[0] for p in cogs)
    assert "valid COGs" in result.stdout
    assert str(pngs[0]) in result.stdout.replace("\n", "")


def test_a_subset_prints_a_table_of_its_steps_and_the_report(tmp_path):
    out = tmp_path / "demo"
    result = RUNNER.invoke(
        app, ["demo", "--out", str(out), "--size", "128", "--steps", "water,clouds"]
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows if row.split("│")[1].strip()] == [
        "clouds",
        "water",
    ]
    assert "water IoU" in result.stdout and "cloud IoU" in result.stdout
    assert "[1/2] clouds" in result.stderr and "[2/2] water" in result.stderr
    steps = json.loads((out / "results.json").read_text())["steps"]
    assert [s["name"] for s in steps] == ["clouds", "water"]
    assert not (out / "stereo").exists()
    assert (out / "report.html").is_file()
    assert f"report: {out / 'report.html'}" in result.stdout.replace("\n", "")


def test_an_unknown_step_is_one_line_listing_the_valid_ones(tmp_path):
    out = tmp_path / "demo"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--steps", "clouds,nope"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: unknown step 'nope'; the steps are: scene, clouds, indices, registration, "
        "change, water, ships, landcover, segmentation, pansharpen, stereo, catalog"
    )
    assert not out.exists()  # refused before any work


def test_a_failed_step_exits_1_after_the_others_ran(tmp_path, monkeypatch):
    import satlearn.ops.registration

    def broken(*args, **kwargs):
        raise InvalidInputError("the images do not overlap")

    monkeypatch.setattr(satlearn.ops.registration, "coregister", broken)
    out = tmp_path / "demo"
    steps = "registration,change,water"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--size", "96", "--steps", steps])
    assert result.exit_code == 1
    assert "error: 1 step(s) failed: registration" in result.stderr
    table = result.stdout.replace("\n", "")
    assert "failed: the images do not overlap" in table
    assert "skipped: the registration step it builds on failed" in table
    assert "water IoU" in table
    assert (out / "report.html").is_file()  # the report shows the failure too


def test_a_users_scene_runs_the_steps_that_apply_without_scores(tmp_path):
    scene = make_scene(96, seed=2, n_dates=1)
    path = save_cog(scene.image.isel(time=0), tmp_path / "mine.tif")
    out = tmp_path / "demo"
    steps = "scene,clouds,water,stereo"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--scene", str(path), "--steps", steps])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["scene"] == {"kind": "user", "source": str(path)}
    by_name = {s["name"]: s for s in saved["steps"]}
    assert all(s["scores"] == {} and s["error"] is None for s in saved["steps"])
    assert by_name["stereo"]["skipped"].endswith("it needs a rectified stereo pair")
    assert validate_cog(out / by_name["water"]["outputs"]["water mask"])[0]
    assert validate_cog(out / by_name["clouds"]["outputs"]["cloud mask date1"])[0]
    assert "skipped" in result.stdout


@pytest.mark.parametrize("overwrite", [False, True])
def test_another_scene_in_the_folder_needs_overwrite(tmp_path, overwrite):
    out = tmp_path / "demo"
    first = ["demo", "--out", str(out), "--size", "64", "--steps", "scene"]
    assert RUNNER.invoke(app, first).exit_code == 0
    again = [*first, "--seed", "3"] + (["--overwrite"] if overwrite else [])
    result = RUNNER.invoke(app, again)
    if overwrite:
        assert result.exit_code == 0, result.output
        assert json.loads((out / "scene" / "scene.json").read_text())["seed"] == 3
    else:
        assert result.exit_code == 1
        assert "holds the demo of another scene" in result.stderr
        assert "--overwrite" in result.stderr


def test_without_the_report_module_the_demo_says_so_and_succeeds(tmp_path, monkeypatch):
    import sys

    import satlearn.demo

    monkeypatch.delitem(vars(satlearn.demo), "write_report", raising=False)
    monkeypatch.setitem(sys.modules, "satlearn.demo._report", None)  # as if not installed
    out = tmp_path / "demo"
    result = RUNNER.invoke(app, ["demo", "--out", str(out), "--size", "64", "--steps", "indices"])
    assert result.exit_code == 0, result.output
    assert "warning: no HTML report in this build" in result.stderr
    assert not (out / "report.html").exists() and (out / "results.json").is_file()
