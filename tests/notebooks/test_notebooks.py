"""Every course notebook runs top to bottom in a fresh kernel with its small test budgets."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
_spec = importlib.util.spec_from_file_location("notebook_execute", NOTEBOOKS / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)

PATHS = execute.notebooks()
INSTALL_CELL = (NOTEBOOKS / "install_cell.py").read_text(encoding="utf-8").strip()


def test_there_is_a_notebook_per_topic_and_the_readme_lists_each():
    assert [p.name[:3] for p in PATHS] == [f"{i:02d}-" for i in range(1, len(PATHS) + 1)]
    assert len(PATHS) >= 13
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\]\((\d\d-[\w-]+\.ipynb)\)", readme))
    assert listed == {path.name for path in PATHS}


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_notebook_runs_with_its_small_budgets(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    small = notebook.metadata["rlcourse"]["test_parameters"]
    executed = execute.execute(path, small, cwd=tmp_path)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_the_notebook_is_saved_with_figures_and_the_shared_first_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source.strip() == INSTALL_CELL
    assert "parameters" in code[1].metadata.get("tags", [])
    assert all(cell.get("execution_count") for cell in code), "saved unexecuted: make notebooks"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "no figure in the saved outputs"
    text = json.dumps([c.outputs for c in code])
    host = socket.gethostname()
    private = [str(NOTEBOOKS.parent), "/home/", "/work/", "/tmp/"] + [host] * (len(host) >= 6)
    for name in private:
        assert name not in text, name
    assert not re.search(r"injected-parameters", json.dumps(notebook.cells))


def test_injecting_a_name_the_parameters_cell_lacks_is_refused():
    notebook = nbformat.read(PATHS[0], as_version=4)
    with pytest.raises(ValueError, match="not parameters of this notebook: no_such_budget"):
        execute.inject(notebook, {"no_such_budget": 1})
