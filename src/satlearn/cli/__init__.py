"""The ``satlearn`` command line: a thin face over the library.

Every command calls library functions and formats their results; none holds
logic the library lacks. Errors satlearn raises on purpose are printed on one
line (``error: ...``) with exit status 1; ``--debug`` shows the traceback.

Each sibling module holds the commands of one job and registers them on
:data:`satlearn.cli.app.app`; importing this package imports them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from satlearn.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["app"]
