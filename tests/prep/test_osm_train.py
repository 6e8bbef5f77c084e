"""An OSM extract as a training data source: ``data: {kind: osm, extract:, scene:, classes:}``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from satlearn.errors import InvalidInputError
from satlearn.prep.osm import osm_targets
from satlearn.train.config import OsmSource, TrainConfig, parse_data_source
from satlearn.train.data import IGNORE, load_task_data


def test_osm_source_gives_segmentation_chips_of_the_targets(osm_case):
    source = parse_data_source(
        {"kind": "osm", "extract": str(osm_case.pbf), "scene": str(osm_case.scene_path),
         "classes": str(osm_case.classes), "chip_size": 64, "edge_ignore_px": 1}
    )  # fmt: skip
    assert isinstance(source, OsmSource)
    data = load_task_data("segmentation", source, val_fraction=0.25)
    assert data.classes == ["background", "water", "road", "building"]
    assert data.bands == ["blue", "green", "red"] and data.tile_size == 64
    assert len(data.train) == 3 and len(data.val) == 1
    targets = osm_targets(
        osm_case.pbf, osm_case.scene_path, classes=osm_case.classes, edge_ignore_px=1
    )
    masks = np.concatenate([s["mask"].ravel() for s in [*data.train, *data.val]])
    assert masks.dtype == np.int64 and (masks == IGNORE).sum() == (targets.mask == 255).sum()
    assert data.train[0]["image"].shape == (3, 64, 64)
    assert data.provenance["source"] == "osm" and "labelled_fraction" in data.provenance


def test_osm_config_paths_are_relative_to_the_file_and_the_task_is_checked(osm_case, tmp_path):
    for name in ("truth.osm.pbf", "scene.tif", "classes.yaml"):
        src = {"truth.osm.pbf": osm_case.pbf, "scene.tif": osm_case.scene_path,
               "classes.yaml": osm_case.classes}[name]  # fmt: skip
        shutil.copy(src, tmp_path / name)
    config = tmp_path / "train.yaml"
    config.write_text(
        "task: segmentation\n"
        "data: {kind: osm, extract: truth.osm.pbf, scene: scene.tif, classes: classes.yaml,"
        " chip_size: 64}\n"
        "model: {name: unet, options: {width: 4}}\n"
        "epochs: 1\nbatch_size: 4\nnum_workers: 0\n"
        "output: {directory: models, name: osm}\n"
    )
    parsed = TrainConfig.from_yaml(config)
    assert parsed.data.extract == tmp_path / "truth.osm.pbf"
    assert parsed.data.classes == tmp_path / "classes.yaml"
    with pytest.raises(InvalidInputError, match="osm data source trains segmentation"):
        TrainConfig.from_dict({**parsed.model_dump(mode="json"), "task": "classification"})
    with pytest.raises(InvalidInputError, match=r"unknown key 'data\.classses'"):
        parse_data_source({"kind": "osm", "extract": "a", "scene": "b", "classses": "c"})

    # What `satlearn train` loads from it (training itself is the loop's, tested there).
    data = load_task_data(parsed.task, parsed.data, val_fraction=0.25)
    assert len(data.train) + len(data.val) == 4
