"""The README's examples really run: its Python block, and its command-line block."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_starts_with_the_two_commands():
    first = blocks("sh")[0].splitlines()
    assert first[0].startswith("make demo")
    assert first[1].startswith("make test")


def test_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python")
    # Our own README, not user input.
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.split()
    assert -1.0 <= float(printed[0]) <= 1.0
    assert printed[1] == "B08"


@pytest.mark.slow
def test_command_line_example_runs(tmp_path):
    cli_block = blocks("sh")[1]
    satlearn = Path(sys.executable).with_name("satlearn")
    for line in cli_block.splitlines():
        command = shlex.split(line.split("#")[0])
        if not command or command[:2] == ["satlearn", "demo"]:
            continue  # demo is covered by the CLI tests at a smaller size
        result = subprocess.run(
            [str(satlearn), *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "120"},
        )
        assert result.returncode == 0, (line, result.stderr)
    outputs = ("dem-zstd.tif", "indices.tif", "sharp.tif", "aligned.tif", "clouds.tif")
    outputs += ("change.tif", "ships-found.geojson", "landcover-k6.tif", "dem-stereo.tif")
    outputs += ("catalog/catalog.json",)
    for output in outputs:
        assert (tmp_path / output).is_file(), output


@pytest.mark.slow
def test_training_example_runs(tmp_path):
    (config,) = blocks("yaml")
    (tmp_path / "water.yaml").write_text(config)
    satlearn = Path(sys.executable).with_name("satlearn")
    for line in blocks("sh")[2].splitlines():
        command = shlex.split(line.split("#")[0])
        result = subprocess.run(
            [str(satlearn), *command[1:]], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, (line, result.stderr)
    bundle = tmp_path / "models" / "water" / "1"
    assert {p.name for p in bundle.iterdir()} == {
        "model.onnx",
        "weights.safetensors",
        "bundle.json",
    }
    assert "iou" in (tmp_path / "evaluation" / "metrics.json").read_text()
    predicted = {p.name for p in (tmp_path / "prediction").iterdir()}
    assert {"classes.tif", "polygons.parquet", "polygons.geojson", "item.json"} <= predicted
