"""No import cycle inside ``supervised/``: its modules' imports form a directed acyclic graph.

Every import statement counts, those inside functions included (as in tests/test_architecture.py).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    """``supervised/train.py`` → ``supervised.train``; a package's ``__init__.py`` → its name."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """``module: modules of the package it imports`` for every module of ``package``."""
    files = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}

    def known(name: str) -> str | None:
        """The longest prefix of ``name`` that is a module of the package."""
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets |= {known(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets |= {known(f"{base}.{alias.name}") or known(base) for alias in node.names}
        graph[module] = targets - {None, module}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its first module repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return error.args[1]
    return None


def test_supervised_has_no_import_cycle():
    graph = import_graph("supervised")
    assert "supervised.experiments" in graph and graph["supervised.classifiers"]
    found = cycle(graph)
    assert found is None, "import cycle: " + " → ".join(reversed(found))


def test_the_check_finds_a_cycle_through_an_import_inside_a_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import f\n")
    (package / "b.py").write_text("def f():\n    from pkg import c\n")
    (package / "c.py").write_text("import numpy\nfrom . import a\n")
    graph = import_graph("pkg", tmp_path)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}
    assert sorted(cycle(graph)[:-1]) == ["pkg.a", "pkg.b", "pkg.c"]
    (package / "c.py").write_text("import numpy\n")
    assert cycle(import_graph("pkg", tmp_path)) is None
