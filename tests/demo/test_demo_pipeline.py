"""The demo pipeline on a small synthetic scene: steps scored; subsets, failures, own scenes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from satlearn.demo import RESULTS_JSON, STEPS, StepResult, read_results, run_demo, select_steps
from satlearn.errors import InvalidInputError
from satlearn.raster import save_cog, validate_cog
from satlearn.synth import make_scene

#: Scores that are fractions (the rest are errors in pixels or metres, or counts).
FRACTIONS = ("IoU", "F1", "kappa", "accuracy", "precision", "recall", "Q2n")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    events = []
    results = run_demo(out, size=256, on_step=lambda r, done: events.append((r.name, done)))
    return out, results, events


def by_name(results: list[StepResult]) -> dict[str, StepResult]:
    return {r.name: r for r in results}


def test_every_step_runs_in_order_and_reports_its_start_and_end(run):
    _, results, events = run
    assert [r.name for r in results] == list(STEPS)
    assert events == [(name, done) for name in STEPS for done in (False, True)]
    for result in results:
        assert result.error is None and result.skipped is None, (result.name, result.error)
        assert result.seconds > 0


def test_scores_are_fractions_above_floors_where_the_method_is_good(run):
    _, results, _ = run
    steps = by_name(results)
    for result in results:
        for name, value in result.scores.items():
            if any(word in name for word in FRACTIONS):
                assert 0.0 <= value <= 1.0, (result.name, name, value)
    scores = {name: v for r in results for name, v in r.scores.items()}
    assert scores["cloud IoU"] > 0.7
    assert scores["water IoU"] > 0.7
    assert scores["ship F1"] > 0.6
    assert scores["shift error (px)"] < 0.3
    assert scores["k-means accuracy"] > 0.5
    assert scores["classifier kappa"] > 0.75
    assert scores["accuracy (held-out south)"] > 0.4
    assert scores["Q2n (Wald)"] > 0.9
    assert scores["DEM NMAD (m)"] < 10.0
    assert scores["STAC validation errors"] == 0
    # Change is scored (honestly low on this scene: seasons change more than the events).
    assert {"change F1", "change IoU"} <= set(steps["change"].scores)
    assert steps["indices"].scores == {} and steps["indices"].notes


def test_outputs_are_valid_cogs_pictures_vectors_and_a_bundle(run):
    out, results, _ = run
    tifs = [p for r in results for p in r.outputs.values() if p.suffix == ".tif"]
    assert len(tifs) > 30
    for path in tifs:
        assert validate_cog(path)[0], path
    for result in results:
        for path in result.images.values():
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        if result.name not in ("scene", "catalog"):
            assert all(out / result.name in p.parents for p in result.outputs.values())
    steps = by_name(results)
    ships = steps["ships"].outputs
    import geopandas as gpd

    frame = gpd.read_parquet(ships["ships (GeoParquet)"])
    assert len(frame) == len(json.loads(ships["ships (GeoJSON)"].read_text())["features"]) > 0
    assert (steps["segmentation"].outputs["model bundle"] / "bundle.json").is_file()
    assert steps["segmentation"].outputs["predicted classes"].name == "classes.tif"
    assert (out / "catalog" / "catalog.json").is_file()
    assert sorted(out.glob("quicklook_*.png")) == sorted(
        p for p in steps["scene"].images.values() if p.parent == out
    )


def test_results_json_holds_every_step(run):
    out, results, _ = run
    saved = read_results(out)
    assert saved == json.loads((out / RESULTS_JSON).read_text())
    assert saved["status"] == "finished" and saved["scene"] == {
        "kind": "synthetic", "seed": 0, "size": 256,
    }  # fmt: skip
    assert [s["name"] for s in saved["steps"]] == list(STEPS)
    water = saved["steps"][STEPS.index("water")]
    assert water["scores"] == by_name(results)["water"].scores
    assert water["outputs"]["water mask"] == "water/water.tif"  # relative to the folder
    assert saved["total_seconds"] >= sum(r.seconds for r in results)


def test_a_subset_runs_only_those_steps_and_makes_what_it_needs(tmp_path):
    results = run_demo(tmp_path / "out", steps="change,clouds", size=128)
    assert [r.name for r in results] == ["clouds", "change"]  # pipeline order
    assert not (tmp_path / "out" / "registration").exists()
    change = results[1]
    assert change.error is None and "change F1" in change.scores
    assert any("co-registered here" in note for note in change.notes)


def test_unknown_steps_are_refused_with_the_valid_names():
    with pytest.raises(
        InvalidInputError, match="unknown step 'cloudz'; the steps are: scene, clouds"
    ):
        select_steps("clouds,cloudz")
    with pytest.raises(InvalidInputError, match="no step given"):
        select_steps(" , ")
    assert select_steps(["water", "scene"]) == ["scene", "water"]
    assert select_steps(None) == list(STEPS)


def test_a_failed_step_is_reported_and_the_steps_that_need_it_are_skipped(tmp_path, monkeypatch):
    import satlearn.ops.registration

    def broken(*args, **kwargs):
        raise InvalidInputError("the images do not overlap")

    monkeypatch.setattr(satlearn.ops.registration, "coregister", broken)
    results = by_name(run_demo(tmp_path / "out", steps="registration,change,water", size=128))
    assert results["registration"].error == "the images do not overlap"
    assert results["change"].skipped == "the registration step it builds on failed"
    assert results["change"].error is None and not results["change"].outputs
    assert results["water"].error is None and "water IoU" in results["water"].scores
    saved = read_results(tmp_path / "out")["steps"]
    assert saved[0]["error"] == "the images do not overlap"


def test_a_users_scene_gives_outputs_and_no_scores(tmp_path):
    scene = make_scene(96, seed=4, n_dates=1)
    no_cirrus = [b for b in scene.image["band"].values if b != "cirrus"]
    path = save_cog(scene.image.isel(time=0).sel(band=no_cirrus), tmp_path / "mine.tif")
    results = by_name(run_demo(tmp_path / "out", scene=path))
    assert list(results) == list(STEPS)
    ran = [name for name, r in results.items() if r.skipped is None]
    assert ran == ["scene", "indices", "water", "ships", "landcover", "catalog"]
    assert "no cirrus band" in results["clouds"].skipped
    assert "two dates" in results["change"].skipped
    assert "labels" in results["segmentation"].skipped
    for result in results.values():
        assert result.error is None, (result.name, result.error)
        assert result.scores == {} or result.name == "catalog"
    assert results["catalog"].scores == {"STAC validation errors": 0}
    assert validate_cog(results["landcover"].outputs["k-means clusters"])[0]
    assert (tmp_path / "out" / "quicklook_date1.png").is_file()
    assert read_results(tmp_path / "out")["scene"] == {"kind": "user", "source": str(path)}


def test_the_output_folder_must_be_a_demos(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not a satlearn demo's"):
        run_demo(foreign, steps="scene", size=64)
    out = tmp_path / "out"
    run_demo(out, steps="scene", size=64)
    run_demo(out, steps="scene", size=64)  # the same scene again: fine
    with pytest.raises(InvalidInputError, match=r"another scene.*--overwrite"):
        run_demo(out, steps="scene", size=64, seed=1)
    (result,) = run_demo(out, steps="scene", size=64, seed=1, overwrite=True)
    assert result.error is None
    assert json.loads((out / "scene" / "scene.json").read_text())["seed"] == 1
    assert np.isfinite(read_results(out)["total_seconds"])


def test_a_stac_item_names_the_users_scene(tmp_path):
    scene = make_scene(64, seed=5, n_dates=1)
    image = scene.image.isel(time=0)
    save_cog(image, tmp_path / "mine.tif")
    bands = [{"name": str(b)} for b in image["band"].values]
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": "mine", "properties": {},
        "assets": {"data": {"href": "mine.tif", "roles": ["data"], "eo:bands": bands}},
    }  # fmt: skip
    (tmp_path / "item.json").write_text(json.dumps(item))
    results = run_demo(tmp_path / "out", scene=tmp_path / "item.json", steps="indices")
    assert results[0].error is None and results[0].outputs
    (tmp_path / "bad.json").write_text(json.dumps({"type": "Collection"}))
    with pytest.raises(InvalidInputError, match="not a STAC item"):
        run_demo(tmp_path / "out2", scene=tmp_path / "bad.json", steps="indices")


def test_a_stac_item_of_single_band_assets_is_stacked(tmp_path):
    import copy

    from satlearn.catalog import item_from_raster

    image = make_scene(64, seed=5, n_dates=1).image.isel(time=0)
    bands = ["green", "red", "nir", "swir16"]
    for band in bands:
        save_cog(image.sel(band=[band]), tmp_path / f"{band}.tif")
    item = item_from_raster(tmp_path / "red.tif", id="mine", datetime="2024-04-18").to_dict()
    template = item["assets"].pop("data")
    for band in bands:
        asset = copy.deepcopy(template)
        asset["href"] = str(tmp_path / f"{band}.tif")
        asset["eo:bands"] = [{"name": band, "common_name": band}]
        item["assets"][band] = asset
    (tmp_path / "item.json").write_text(json.dumps(item))
    (result,) = run_demo(tmp_path / "out", scene=tmp_path / "item.json", steps="water")
    assert result.error is None and validate_cog(result.outputs["water mask"])[0]
