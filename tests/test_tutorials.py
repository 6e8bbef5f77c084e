"""The tutorials in docs/tutorials/ run from top to bottom, as a reader would run them.

Each jupytext "percent" file is converted to a notebook and executed with nbclient on
the venv's own ``python3`` kernel (ipykernel), in a temporary working directory, one
cell at a time under a timeout. The executed notebook is saved as
``test-artifacts/tutorials/NAME.ipynb`` (gitignored) for people to look at, and each
test checks something the tutorial shows: a picture rendered inline, a score printed
above a bound.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "docs" / "tutorials"
ARTIFACTS = REPO / "test-artifacts" / "tutorials"
CELL_TIMEOUT_S = 120
NAMES = sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]-*.py"))

pytestmark = pytest.mark.timeout(400)


def run_tutorial(name: str, workdir: Path) -> nbformat.NotebookNode:
    """Execute ``docs/tutorials/NAME.py``; save it executed (failed or not); return it."""
    notebook = jupytext.read(TUTORIALS / f"{name}.py")
    # The kernel is the interpreter running the tests (the venv's), whatever the
    # kernelspec a user's Jupyter would pick: its folder comes first on PATH, so the
    # tutorials' `satlearn` commands are the venv's too.
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        allow_errors=False,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("PATH")
    os.environ["PATH"] = env_path
    try:
        client.execute()
    finally:
        if previous is not None:
            os.environ["PATH"] = previous
        nbformat.write(notebook, ARTIFACTS / f"{name}.ipynb")
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[str, int]:
    """Everything the code cells printed, and how many PNG pictures they showed.

    A warning shown to the reader fails the test, as the suite's own warnings do:
    a tutorial that warns teaches a use that is going away.
    """
    text, pictures = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                assert output["name"] == "stdout" or "Warning" not in output["text"], (
                    f"a cell warned:\n{cell['source']}\n{output['text']}"
                )
                text.append(output["text"])
            data = output.get("data", {})
            pictures += "image/png" in data
            text.append(data.get("text/plain", ""))
    return "".join(text), pictures


def number(text: str, label: str) -> float:
    """The number printed after ``label`` (the last time it was printed)."""
    found = re.findall(rf"{re.escape(label)}\s*[:=]?\s*(-?[0-9.]+)", text)
    assert found, f"{label!r} not printed"
    return float(found[-1])


def test_every_tutorial_is_tested():
    # A tutorial added to docs/tutorials/ needs its check below, and its line here.
    assert NAMES == [
        "01-first-steps",
        "02-clouds-and-change",
        "03-train-and-predict",
        "04-catalogue",
        "05-serving",
        "06-dask",
    ]
    assert set(NAMES) <= set(CHECKS)


@pytest.mark.parametrize("name", NAMES)
def test_tutorial_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    notebook = run_tutorial(name, tmp_path)
    text, pictures = outputs(notebook)
    assert pictures >= 1, "no picture was rendered"
    assert list(tmp_path.iterdir()) == [], "the tutorial wrote into its working directory"
    CHECKS[name](text, pictures)


def check_first_steps(text: str, pictures: int) -> None:
    assert pictures >= 2
    assert "is a COG: True" in text
    assert "is_cog = True" in text
    assert number(text, "NDWI over water") > number(text, "elsewhere")


def check_clouds_and_change(text: str, pictures: int) -> None:
    assert number(text, "cloud IoU") > 0.5
    assert number(text, "change recall") > 0.5


def check_train_and_predict(text: str, pictures: int) -> None:
    assert "classes.tif is a COG: True" in text
    assert number(text, "water IoU") > 0.5


def check_catalogue(text: str, pictures: int) -> None:
    assert number(text, "items in the catalogue") >= 4
    assert "pystac-client found the same items: True" in text


def check_serving(text: str, pictures: int) -> None:
    assert "JSON and binary answers agree: True" in text
    assert "TF-Serving answer agrees: True" in text
    assert "server stopped, exit code" in text


def check_dask(text: str, pictures: int) -> None:
    assert "identical to the threaded result: True" in text
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/status", text)


CHECKS = {
    "01-first-steps": check_first_steps,
    "02-clouds-and-change": check_clouds_and_change,
    "03-train-and-predict": check_train_and_predict,
    "04-catalogue": check_catalogue,
    "05-serving": check_serving,
    "06-dask": check_dask,
}
