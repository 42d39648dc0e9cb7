"""Optional packages come from the installed ones, never from a file in the working folder."""

from __future__ import annotations

import sys

import pytest

from common.packages import find_installed, import_installed


@pytest.fixture
def shadowing_folder(tmp_path, monkeypatch):
    """The working folder first on the path (as ``python -m`` puts it), holding a module that
    writes a marker when imported."""
    marker = tmp_path / "imported"
    (tmp_path / "rlcourse_optional_probe.py").write_text(f"open({str(marker)!r}, 'w')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    monkeypatch.delitem(sys.modules, "rlcourse_optional_probe", raising=False)
    return marker


def test_a_module_in_the_working_folder_is_not_imported(shadowing_folder):
    with pytest.raises(ImportError):
        import_installed("rlcourse_optional_probe")
    assert find_installed("rlcourse_optional_probe") is None
    assert not shadowing_folder.exists()
    assert sys.path[0] == ""  # the path is given back as it was


def test_an_installed_package_is_imported():
    assert import_installed("json").__name__ == "json"
