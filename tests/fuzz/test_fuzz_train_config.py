"""Fuzzing training configs: YAML read by TrainConfig.from_yaml."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, expect_clean, json_values, mutated_bytes, mutated_json
from satlearn.train.config import TrainConfig

pytestmark = pytest.mark.timeout(120)

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
# YAML's own hazards: anchors and aliases (a billion-laughs document), tags, deep nesting.
HAZARDS = [
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "task: *i\n",
    "task: !!python/object/apply:os.system ['true']\n",
    "task: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "epochs: 1e309\ntask: segmentation\n",
    "\ufefftask: segmentation\n",
    "--- \n--- \n",
]


def _yaml(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode()


_SAMPLE = yaml.safe_load(BASE)


@FUZZ
@given(
    body=st.one_of(
        mutated_bytes(BASE.encode()),
        mutated_json(_SAMPLE).map(_yaml),
        json_values().map(_yaml),
        st.sampled_from(HAZARDS).map(str.encode),
    )
)
def test_config_is_read_or_named(body):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.yaml"
        path.write_bytes(body)
        config = expect_clean(lambda: TrainConfig.from_yaml(path), [str(path)])
        if config is not None:
            assert config.epochs >= 1
