"""The old ``satlearn.ml`` paths still give the moved objects, with a DeprecationWarning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import satlearn.pixelml
import satlearn.pixelml.features
import satlearn.pixelml.pixel

CASES = [
    ("satlearn.ml", satlearn.pixelml),
    ("satlearn.ml.features", satlearn.pixelml.features),
    ("satlearn.ml.pixel", satlearn.pixelml.pixel),
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_old_ml_paths_warn_on_import_and_give_the_same_objects(old, new, monkeypatch):
    # Forget any earlier import of the shims, so this import runs their warning.
    for name in [m for m in sys.modules if m == "satlearn.ml" or m.startswith("satlearn.ml.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.warns(DeprecationWarning, match=r"satlearn\.pixelml") as caught:
        __import__(old)
    old_module = sys.modules[old]
    # stacklevel=2: the warning names the module that imported the old path.
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}
    assert set(new.__all__) <= set(old_module.__all__)
    for name in old_module.__all__:
        assert getattr(old_module, name) is getattr(new, name), name
