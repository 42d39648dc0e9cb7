"""Imports go one way, as docs/architecture.md draws them, and no module imports itself back.

rlcourse → agents, envs, supervised, common; agents → supervised, common; supervised → common;
envs → common; common imports none of the others. Checked on every import statement of the
packages, those inside functions included. One exception: ``agents/__init__.py`` imports the
package ``envs`` itself, whose import registers the ``rlcourse/`` env ids (so that
``import agents`` does, as ``import rlcourse`` does).

The same import statements make a graph of modules, in which no cycle may be (a cycle makes
what a module finds at import time depend on which module was imported first).
"""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rlcourse", "agents", "envs", "supervised", "common")
ALLOWED = {
    "rlcourse": {"rlcourse", "agents", "envs", "supervised", "common"},
    "agents": {"agents", "supervised", "common"},
    "envs": {"envs", "common"},
    "supervised": {"supervised", "common"},
    "common": {"common"},
}
REGISTRATION = ("agents/__init__.py", "envs")
"""The one import across the rule: registering the env ids, nothing else of ``envs``."""


def project_imports(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) of every import of one of the packages in a file.

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


MOVED = {
    "supervised.atomic": "common.atomic",
    "supervised.devices": "common.devices",
    "supervised.packages": "common.packages",
    "supervised.train.FlatParameters": "common.parameters",
    "supervised.train.flush_denormals": "common.parameters",
    "supervised.plots.figure_path": "common.figures",
    "supervised.plots.save_figure": "common.figures",
}
"""What moved into the base package: its old paths are deprecated aliases, used by no module."""


def old_paths(path: Path) -> set[tuple[int, str]]:
    """(line, old path) of every import of a :data:`MOVED` name or module in a file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {
            (node.lineno, old)
            for name in names
            for old in MOVED
            if f"{name}.".startswith(f"{old}.")
        }
    return found


def test_no_module_imports_what_moved_to_the_base_package_from_its_old_path():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {old} (now in {MOVED[old]})"
        for folder in (*PACKAGES, "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, old in sorted(old_paths(path))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_old_paths_check_sees_each_form_of_import(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(
        "import supervised.atomic\n"
        "from supervised import devices, networks\n"
        "from supervised.train import fit, FlatParameters\n"
        "def f():\n"
        "    from supervised.plots import image_grid, save_figure\n"
        "from supervised.plots import image_grid\n"
    )
    assert old_paths(source) == {
        (1, "supervised.atomic"),
        (2, "supervised.devices"),
        (3, "supervised.train.FlatParameters"),
        (5, "supervised.plots.save_figure"),
    }


KNOWN_CYCLES: set[tuple[str, str]] = set()
"""Imports (importer, imported) that close a cycle found before the cycle check was written.

Each is left out of the graph; :func:`test_no_import_cycle` then finds none. An entry that no
longer closes a cycle fails :func:`test_each_known_cycle_is_still_there`: remove it.
"""


def modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root`` by its dotted name (a package by its own)."""
    found = {}
    for package in packages:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    """Module → the modules of the packages it imports, by every import statement in it.

    ``from a.b import c`` is an edge to the module ``a.b.c`` where there is one, else to
    ``a.b``; relative imports are resolved; modules outside ``packages`` are left out.
    """
    known = modules(root, packages)

    def module_of(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                targets |= {
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in node.names
                }
        graph[name] = {module_of(target) for target in targets} - {None, name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (``[a, b, …, a]`` in import order), or None where there is none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(reversed(error.args[1]))
    return None


def without_known_cycles(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        name: {target for target in targets if (name, target) not in KNOWN_CYCLES}
        for name, targets in graph.items()
    }


def test_no_import_cycle():
    cycle = find_cycle(without_known_cycles(import_graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_each_known_cycle_is_still_there():
    graph = import_graph()
    for importer, imported in sorted(KNOWN_CYCLES):
        assert imported in graph[importer], f"{importer} no longer imports {imported}"
        rest = {name: set(targets) for name, targets in graph.items()}
        rest[importer].discard(imported)
        # The edge closes a cycle: ``imported`` leads back to ``importer`` without it.
        reached, todo = set(), [imported]
        while todo:
            for target in rest[todo.pop()] - reached:
                reached.add(target)
                todo.append(target)
        assert importer in reached, f"{importer} -> {imported} closes no cycle: remove it"


def test_the_cycle_check_finds_cycles_through_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("import numpy\nfrom pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .c import g\n")
    (package / "sub" / "c.py").write_text("import pkg.a\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.sub.c"}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"pkg.a", "pkg.sub.b", "pkg.sub.c"}
    (package / "sub" / "c.py").write_text("import numpy\n")
    assert find_cycle(import_graph(tmp_path, ("pkg",))) is None
