"""The layout holds: no private name crosses a module boundary, and the layers hold.

The layer contracts themselves are import-linter's (``[tool.importlinter]`` in
pyproject.toml, run by ``make test``); this file checks what import-linter
cannot see: names, not modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import satlearn

SRC = Path(satlearn.__file__).parent


def _private_imports(root: Path = SRC) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("satlearn"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        where = f"{path.relative_to(root.parent)}:{node.lineno}"
                        found.append(f"{where} imports {alias.name} from {node.module}")
    return found


def test_no_module_imports_a_private_name_from_another():
    assert _private_imports() == []


def test_the_scan_sees_a_private_import_and_passes_dunders(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text(
        "from satlearn.ops.water import _metres_per_unit\nfrom satlearn import __version__\n"
    )
    assert _private_imports(package) == [
        "pkg/a.py:1 imports _metres_per_unit from satlearn.ops.water"
    ]
