"""TrainConfig: YAML in, unknown keys refused by name, consistency checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from satlearn.errors import InvalidInputError
from satlearn.train.config import TrainConfig, parse_data_source

BASE = """
task: segmentation
data:
  kind: synthetic
  target: water
  size: 128
model:
  name: unet
  options: {width: 8}
epochs: 3
output:
  directory: out
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text)
    return path


def test_from_yaml_reads_defaults_and_rebases_paths(tmp_path) -> None:
    config = TrainConfig.from_yaml(_write(tmp_path, BASE))
    assert config.task == "segmentation" and config.epochs == 3
    assert config.model.options == {"width": 8}
    assert config.schedule == "cosine" and config.device == "auto"
    assert config.stop_metric == "miou"
    assert config.output.bundle_dir == tmp_path / "out" / "model" / "1"
    assert config.output.checkpoint_dir == tmp_path / "out" / "model" / ".1.checkpoints"
    dataset = TrainConfig.from_yaml(_write(tmp_path, BASE.replace(
        "kind: synthetic\n  target: water\n  size: 128", "kind: dataset\n  name: eurosat\n  root: d"
    )))  # fmt: skip
    assert dataset.data.root == tmp_path / "d"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "learning_rat: 0.1\n", "unknown key 'learning_rat'"),
        (BASE.replace("size: 128", "size: 128\n  colour: red"), "unknown key 'data.colour'"),
        (BASE.replace("epochs: 3", "epochs: 0"), "epochs"),
        (BASE.replace("task: segmentation", "task: change"), "trains task 'segmentation'"),
        (BASE + "augment: {crop: 100}\n", "larger than the chips"),
        (BASE + "bands: [red, red]\n", "repeat"),
        (BASE.replace("model:\n  name: unet\n  options: {width: 8}\n", ""), "missing key 'model'"),
        ("task: [unclosed", "not valid YAML"),
        ("- a list", "expected a mapping"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path, text, message) -> None:
    with pytest.raises(InvalidInputError, match=message) as err:
        TrainConfig.from_yaml(_write(tmp_path, text))
    assert str(tmp_path / "train.yaml") in str(err.value)
    assert "\n" not in str(err.value).strip()


def test_missing_file_and_data_source_parser(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        TrainConfig.from_yaml(tmp_path / "absent.yaml")
    assert parse_data_source({"kind": "chips", "root": "x"}).root == Path("x")
    with pytest.raises(InvalidInputError, match=r"unknown key 'data\.bogus'"):
        parse_data_source({"kind": "synthetic", "target": "water", "bogus": 1})
