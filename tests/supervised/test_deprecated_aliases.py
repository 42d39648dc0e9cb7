"""What moved to the base package imports from its old path for one release, with a warning."""

from __future__ import annotations

import importlib
import warnings

import pytest

OLD = [
    ("supervised.atomic", "write_text", "common.atomic"),
    ("supervised.atomic", "atomic_directory", "common.atomic"),
    ("supervised.devices", "using", "common.devices"),
    ("supervised.devices", "DeviceError", "common.devices"),
    ("supervised.packages", "import_installed", "common.packages"),
    ("supervised.train", "FlatParameters", "common.parameters"),
    ("supervised.train", "flush_denormals", "common.parameters"),
    ("supervised.plots", "save_figure", "common.figures"),
    ("supervised.plots", "figure_path", "common.figures"),
]


@pytest.mark.parametrize(("old", "name", "new"), OLD)
def test_an_old_path_gives_the_same_object_and_warns(old, name, new):
    module = importlib.import_module(old)
    with pytest.warns(
        DeprecationWarning, match=rf"^{old}\.{name} is deprecated: import it from {new}$"
    ):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)


def test_from_import_of_an_old_path_works_and_names_the_caller():
    with pytest.warns(DeprecationWarning) as caught:
        from supervised.devices import DeviceError
        from supervised.train import FlatParameters
    from common.devices import DeviceError as Same
    from common.parameters import FlatParameters as SameFlat

    assert DeviceError is Same and FlatParameters is SameFlat
    assert {w.filename for w in caught} == {__file__}


def test_what_did_not_move_imports_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from supervised.plots import image_grid
        from supervised.train import fit

    assert callable(image_grid) and callable(fit)


@pytest.mark.parametrize(
    ("old", "name"),
    [
        ("supervised.atomic", "no_such_name"),
        ("supervised.train", "no_such_name"),
        ("supervised.plots", "atomic_path"),
        ("supervised.devices", "__wrapped__"),
    ],
)
def test_a_name_that_was_never_there_is_an_attribute_error(old, name):
    module = importlib.import_module(old)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match=rf"module '{old}' has no attribute '{name}'"):
            getattr(module, name)
