"""Optional packages (tensorboard, Ray, minigrid, …) imported from the installed ones only.

Python puts the working folder first on its path when started as ``python -m`` or ``-c``, and
rlcourse appends it (last) to import a ``module:Class`` env the user names. A file there named
like an optional package (``tensorboard.py``, ``ray.py``) would then be imported, and run, in
its place. Every optional import goes through :func:`import_installed` (or
:func:`find_installed`), which look the package up with the working folder left off the path.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType


@contextlib.contextmanager
def installed_only() -> Iterator[None]:
    """Leave the working folder (``''`` or its path) off ``sys.path`` for a block of imports."""
    here = os.path.realpath(os.getcwd())
    removed = [
        (i, entry)
        for i, entry in enumerate(sys.path)
        if os.path.realpath(entry or os.curdir) == here
    ]
    for i, _ in reversed(removed):
        del sys.path[i]
    try:
        yield
    finally:
        for i, entry in removed:
            sys.path.insert(i, entry)


def import_installed(name: str) -> ModuleType:
    """``import name``, from the installed packages only (see :func:`installed_only`).

    Raises:
        ImportError: the package is not installed.
    """
    with installed_only():
        return importlib.import_module(name)


def find_installed(name: str) -> ModuleSpec | None:
    """The spec of an installed top-level package, found without importing it (None: none)."""
    with installed_only():
        return importlib.util.find_spec(name)
