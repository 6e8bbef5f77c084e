"""Start-up budget: what importing satlearn, its command line and a config pulls in.

``satlearn --help`` and a config error must answer in well under a second, so
the package face, the CLI (every command registered) and the training config
import none of the heavy libraries: torch (seconds), dask, rioxarray, xarray
and pandas (together about 1.2 s). Each case runs in a fresh interpreter, so
what other tests imported does not count; nothing here measures time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "dask", "rioxarray", "xarray", "pandas", "onnxruntime", "scipy")


def _heavy_modules_after(statement: str) -> list[str]:
    """The HEAVY top-level packages in sys.modules after ``statement``, in a fresh process."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import satlearn",
        "import satlearn.cli",
        "from satlearn.train import TrainConfig",
        "from satlearn.train.config import TrainConfig",
    ],
)
def test_light_imports_load_no_heavy_library(statement) -> None:
    assert _heavy_modules_after(statement) == []


def test_the_command_line_loads_no_numpy_until_a_command_runs() -> None:
    # numpy costs about 0.1-0.2 s of every `satlearn ... --help`.
    code = "import sys\nimport satlearn.cli\nprint('numpy' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_the_public_raster_names_still_work_and_load_rioxarray_on_first_use() -> None:
    loaded = _heavy_modules_after(
        "import satlearn\n"
        "from satlearn.raster import open_raster, save_cog\n"
        "assert satlearn.open_raster is open_raster and satlearn.save_cog is save_cog\n"
        "assert {'open_raster', 'save_cog'} <= set(dir(satlearn))"
    )
    assert "rioxarray" in loaded


def test_unknown_top_level_names_are_attribute_errors() -> None:
    import satlearn

    with pytest.raises(AttributeError, match="no attribute 'open_rastr'"):
        satlearn.open_rastr  # noqa: B018


def test_train_names_resolve_to_the_functions_whatever_was_imported_first() -> None:
    # ``evaluate`` is both a function and its submodule's name: importing the
    # submodule first must not make the package hand out the module.
    _heavy_modules_after(
        "import inspect\n"
        "from satlearn.train.evaluate import bundle_training_task\n"
        "from satlearn.train import TrainResult, evaluate, train\n"
        "assert inspect.isfunction(evaluate) and inspect.isfunction(train), (evaluate, train)\n"
        "assert inspect.isclass(TrainResult)"
    )


def test_a_config_error_is_reported_before_torch_is_imported(tmp_path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("task: classification\nlearning_rat: 0.1\n")
    loaded = _heavy_modules_after(
        "from typer.testing import CliRunner\n"
        "from satlearn.cli import app\n"
        f"result = CliRunner().invoke(app, ['train', {str(config)!r}])\n"
        "assert result.exit_code == 1 and \"unknown key 'learning_rat'\" in result.output, "
        "result.output"
    )
    assert "torch" not in loaded
