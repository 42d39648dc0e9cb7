"""Imports go one way, as docs/architecture.md draws them.

rlcourse → agents, envs, supervised; agents → supervised; envs and supervised import none of the
others. Checked on every import statement of the packages, those inside functions included.
One exception: ``agents/__init__.py`` imports the package ``envs`` itself, whose import registers
the ``rlcourse/`` env ids (so that ``import agents`` does, as ``import rlcourse`` does).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rlcourse", "agents", "envs", "supervised")
ALLOWED = {
    "rlcourse": {"rlcourse", "agents", "envs", "supervised"},
    "agents": {"agents", "supervised"},
    "envs": {"envs"},
    "supervised": {"supervised"},
}
REGISTRATION = ("agents/__init__.py", "envs")
"""The one import across the rule: registering the env ids, nothing else of ``envs``."""


def project_imports(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) of every import of one of the four packages in a file.

    The registration import (:data:`REGISTRATION`: ``import envs`` exactly) is left out.
    """
    found = set()
    exempt = path.relative_to(ROOT).as_posix() == REGISTRATION[0] if ROOT in path.parents else False
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {
            (node.lineno, n.split(".")[0])
            for n in names
            if n.split(".")[0] in PACKAGES
            and not (exempt and isinstance(node, ast.Import) and n == REGISTRATION[1])
        }
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, target in sorted(project_imports(path))
        if target not in ALLOWED[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import numpy\n\ndef f():\n    from rlcourse.loop import run\n")
    assert project_imports(source) == {(4, "rlcourse")}


def test_agents_may_import_envs_only_to_register_its_ids(tmp_path, monkeypatch):
    fake = tmp_path / "agents" / "__init__.py"
    fake.parent.mkdir()
    fake.write_text("import envs\nfrom envs.bandit import BanditEnv\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert project_imports(fake) == {(2, "envs")}
