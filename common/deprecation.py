"""Names served at an old import path for one release, with a DeprecationWarning when used.

A module that moved keeps a small module at its old path whose ``__getattr__`` is
:func:`moved`; the names are looked up in the new home only when used, so the old module imports
nothing more than this one (no import cycle through it). A name that changed in its own module
stays there through :func:`renamed`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Collection, Mapping


def moved(old: str, new: str, names: Collection[str] | None = None) -> Callable[[str], object]:
    """A module ``__getattr__`` for module ``old`` that serves ``names`` from module ``new``.

    ``names`` None serves every public name of ``new``. Each use warns (DeprecationWarning,
    pointing at the caller) and names the new home.
    """

    def __getattr__(name: str) -> object:
        if name.startswith("__") or (names is not None and name not in names):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(new), name)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
        warnings.warn(
            f"{old}.{name} is deprecated: import it from {new}", DeprecationWarning, stacklevel=2
        )
        return value

    return __getattr__


def renamed(module: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for module ``module`` that serves old names of its own objects.

    ``names`` maps each old name to the new one it stands for; each use warns
    (DeprecationWarning, pointing at the caller) and names the new one.
    """

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} is deprecated: it is {module}.{names[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(sys.modules[module], names[name])

    return __getattr__
