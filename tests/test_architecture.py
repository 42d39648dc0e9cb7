"""Imports go one way, as docs/architecture.md draws them.

rlcourse → agents, envs, supervised; agents → supervised; envs and supervised import none of the
others. Checked on every import statement of the packages, those inside functions included.
"""

from __future__ import annotations

import ast
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


def project_imports(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) of every import of one of the four packages in a file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in PACKAGES}
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
