"""Execute the course notebooks: with their own budgets (``make notebooks``) or injected ones.

A notebook's budgets live in its cell tagged ``parameters`` (papermill's convention). Executing
with other values inserts a cell tagged ``injected-parameters`` after it, as papermill does, so
a longer course run is one edit of that cell, and a quick check one argument here. A notebook's
small budgets for the tests are in its metadata: ``metadata["rlcourse"]["test_parameters"]``.

    python notebooks/execute.py                 # every notebook at its budgets, saved in place
    python notebooks/execute.py 09-bandit.ipynb # one

Saved outputs hold no absolute paths: each notebook runs in a fresh kernel with the notebooks
folder as its working directory, and the path of this checkout is replaced by ``.`` if it
appears in an output anyway.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT = 600
"""Seconds a cell may run before the execution fails."""


def notebooks() -> list[Path]:
    """The course notebooks, in their order (``NN-topic.ipynb``)."""
    return sorted(HERE.glob("[0-9][0-9]-*.ipynb"))


def parameter_names(notebook: nbformat.NotebookNode) -> set[str]:
    """The names the ``parameters`` cell assigns."""
    import ast

    cell = _parameters_cell(notebook)
    tree = ast.parse(notebook.cells[cell].source)
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def _parameters_cell(notebook: nbformat.NotebookNode) -> int:
    for i, cell in enumerate(notebook.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    raise ValueError("the notebook has no cell tagged 'parameters'")


def inject(notebook: nbformat.NotebookNode, parameters: dict) -> None:
    """Insert a cell that sets ``parameters`` after the ``parameters`` cell (papermill's way).

    Raises:
        ValueError: a name the ``parameters`` cell does not assign (a typo would go unnoticed).
    """
    unknown = set(parameters) - parameter_names(notebook)
    if unknown:
        raise ValueError(f"not parameters of this notebook: {', '.join(sorted(unknown))}")
    source = "# Injected parameters\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(_parameters_cell(notebook) + 1, cell)


def execute(path: Path, parameters: dict | None = None, cwd: Path = HERE):
    """Run ``path`` top to bottom in a fresh kernel in ``cwd``; returns the executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell failed (its traceback in the message).
    """
    notebook = nbformat.read(path, as_version=4)
    if parameters:
        inject(notebook, parameters)
    client = NotebookClient(
        notebook, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": cwd}}
    )
    client.execute()
    return notebook


def scrub(notebook: nbformat.NotebookNode) -> None:
    """Make the saved outputs fit for the repository.

    This checkout's absolute path becomes ``.``; timing metadata goes; figures are stored as
    256-colour PNGs (a third of the bytes, the same plots to the eye).
    """
    root = str(HERE.parent)
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = output["text"].replace(str(HERE), ".").replace(root, ".")
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    output["data"][key] = value.replace(str(HERE), ".").replace(root, ".")
                if key == "image/png":
                    output["data"][key] = _smaller_png(value)


def _smaller_png(encoded: str) -> str:
    """A base64 PNG with an adaptive 256-colour palette, when that is smaller."""
    import base64
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
    smaller = base64.b64encode(buffer.getvalue()).decode("ascii")
    return smaller if len(smaller) < len(encoded) else encoded


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks named (default: all) at their own budgets and save them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
    args = parser.parse_args(argv)
    paths = [HERE / name for name in args.names] or notebooks()
    for path in paths:
        start = time.perf_counter()
        notebook = execute(path)
        scrub(notebook)
        nbformat.write(notebook, path)
        print(f"{path.name}: {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
