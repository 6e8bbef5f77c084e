"""The prep package's face: every name flat and lazy, the old datasets paths still working.

Chipping, XYZ tiling, label rasterising and downloading moved from
``satlearn.datasets`` to ``satlearn.prep``. The old modules stay importable
for one release and warn on import; ``import satlearn.datasets`` does not
import them, so it stays silent. Each import case runs in a fresh
interpreter, so what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import satlearn.prep
from satlearn.datasets import DatasetError


def forget_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Drop ``name`` from sys.modules for this test, so importing it runs its body again."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    package, _, attribute = name.rpartition(".")
    if package in sys.modules:
        monkeypatch.delattr(sys.modules[package], attribute, raising=False)


def _modules_after(statement: str, prefixes: tuple[str, ...]) -> list[str]:
    """Modules starting with one of ``prefixes`` in sys.modules after ``statement``."""
    code = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('error')\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        (
            "satlearn.datasets.chips",
            "satlearn.prep.chips",
            ["grid_chips", "grid_windows", "random_chips", "write_chip_set", "ChipSetSummary"],
        ),
        (
            "satlearn.datasets.labels",
            "satlearn.prep.labels",
            ["rasterize_features", "read_vector_labels", "vectorize_mask", "burn_values"],
        ),
        (
            "satlearn.datasets.tiles",
            "satlearn.prep.tiles",
            ["xyz_tiles", "write_xyz_tiles", "tile_transform", "WEB_MERCATOR_QUAD"],
        ),
    ],
)
def test_old_module_paths_warn_and_give_the_moved_objects(old, new, names, monkeypatch):
    forget_module(monkeypatch, old)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {new}") as caught:
        old_module = __import__(old, fromlist=["x"])
    # stacklevel=2: the warning names the module that imported the old path.
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]
    new_module = __import__(new, fromlist=["x"])
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name)
        assert getattr(satlearn.prep, name) is getattr(new_module, name)


def test_old_download_path_warns_and_gives_the_moved_functions(monkeypatch):
    import satlearn.datasets
    import satlearn.prep.download

    forget_module(monkeypatch, "satlearn.datasets.download")
    with pytest.warns(DeprecationWarning, match=r"satlearn\.datasets\.download moved"):
        from satlearn.datasets import download as old_module
    for name in ("download_file", "extract_archive", "sha256sum"):
        assert getattr(old_module, name) is getattr(satlearn.prep.download, name)
        assert getattr(satlearn.prep, name) is getattr(satlearn.prep.download, name)
    assert old_module.download_dataset is satlearn.datasets.download_dataset
    assert satlearn.datasets.Download is satlearn.prep.Download


def test_the_chip_set_reader_is_still_the_registered_chips_dataset(monkeypatch):
    from satlearn.datasets import get_dataset
    from satlearn.datasets.chip_set import ChipDataset

    forget_module(monkeypatch, "satlearn.datasets.chips")
    with pytest.warns(DeprecationWarning, match="ChipDataset to satlearn.datasets.chip_set"):
        from satlearn.datasets.chips import ChipDataset as old_path

    assert get_dataset("chips") is ChipDataset is old_path


def test_importing_datasets_registers_every_reader_but_imports_no_shim():
    loaded = _modules_after(
        "import satlearn.datasets as d\nassert 'chips' in d.DATASETS",
        ("satlearn.datasets.",),
    )
    assert "satlearn.datasets.chip_set" in loaded
    assert not {"satlearn.datasets.chips", "satlearn.datasets.labels"} & set(loaded)
    assert "satlearn.datasets.tiles" not in loaded
    assert "satlearn.datasets.download" not in loaded


def test_prep_imports_no_dataset_reader_and_loads_a_submodule_on_first_use():
    loaded = _modules_after(
        "from satlearn.prep.labels import rasterize_features", ("satlearn.", "morecantile")
    )
    assert not [m for m in loaded if m.startswith("satlearn.datasets")]
    assert "satlearn.prep.tiles" not in loaded and "morecantile" not in loaded
    loaded = _modules_after("import satlearn.prep as p\np.xyz_tiles", ("satlearn.prep.",))
    assert "satlearn.prep.tiles" in loaded and "satlearn.prep.chips" not in loaded


def test_unknown_names_are_attribute_errors_and_dir_lists_the_face():
    with pytest.raises(AttributeError, match="has no attribute 'chip_everything'"):
        satlearn.prep.chip_everything  # noqa: B018
    assert {"grid_chips", "rasterize_features", "write_xyz_tiles"} <= set(dir(satlearn.prep))
    assert set(satlearn.prep.__all__) <= set(dir(satlearn.prep))


def test_a_label_error_from_prep_is_the_datasets_dataset_error(tmp_path):
    import satlearn.errors
    from satlearn.prep.labels import read_vector_labels

    # One class: datasets.base used to define a second DatasetError of its own.
    assert DatasetError is satlearn.errors.DatasetError

    with pytest.raises(DatasetError, match=r"missing\.geojson: vector labels not found"):
        read_vector_labels(tmp_path / "missing.geojson")
