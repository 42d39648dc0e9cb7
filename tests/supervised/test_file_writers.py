"""Every file `supervised` and `common` write goes through `common.atomic`: never partial."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import common
import supervised
from supervised.experiments import save_metrics
from supervised.face import Gallery, load_gallery
from supervised.face_embed import Embedder, EmbeddingNet, load_embedder
from supervised.train import History, seed_torch

WRITERS = {"savefig", "to_csv", "write_text", "write_bytes", "save", "savez", "savez_compressed"}
"""Methods that write a file when called on a path (``save`` only as ``torch.save``/``np.save``)."""


def writes_in_place(call: ast.Call) -> bool:
    """A call that writes a file and is handed something other than the atomic temporary."""
    func = call.func
    if isinstance(func, ast.Name):
        if func.id != "open" or len(call.args) < 2:
            return False
        mode = call.args[1]
        is_write = isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax")
        return is_write and not (
            isinstance(call.args[0], ast.Name) and call.args[0].id == "temporary"
        )
    if not isinstance(func, ast.Attribute) or func.attr not in WRITERS:
        return False
    if func.attr == "save" and not (
        isinstance(func.value, ast.Name) and func.value.id in ("torch", "np")
    ):
        return False
    if func.attr in ("write_text", "write_bytes"):  # path.write_text(text)
        target = func.value
    elif func.attr == "save" and func.value.id == "torch":  # torch.save(obj, path)
        target = call.args[1]
    else:  # fig.savefig(path), frame.to_csv(path), np.savez(path, ...)
        target = call.args[0]
    return not (isinstance(target, ast.Name) and target.id in ("temporary", "file"))


def test_no_module_writes_a_file_in_place():
    offenders = []
    for package in (supervised, common):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            if path.name == "atomic.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and writes_in_place(node):
                    offenders.append(f"{package.__name__}/{path.name}:{node.lineno}")
    assert offenders == []


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_gallery_round_trips_without_a_suffix_added(tmp_path):
    gallery = Gallery("abc", ["ann", "bob"], np.eye(2, 3, dtype=np.float32), ["a.png", "b.png"])
    path = gallery.save(tmp_path / "people.gallery")
    assert path == tmp_path / "people.gallery" and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.gallery"]
    loaded = load_gallery(path)
    assert (loaded.fingerprint, loaded.names, loaded.files) == (
        "abc",
        ["ann", "bob"],
        gallery.files,
    )
    np.testing.assert_array_equal(loaded.embeddings, gallery.embeddings)


def test_an_interrupted_gallery_save_keeps_the_old_gallery(tmp_path, monkeypatch):
    path = Gallery("old", ["ann"], np.ones((1, 2), np.float32), ["a.png"]).save(tmp_path / "g.npz")
    before = path.read_bytes()

    def interrupted(file, **arrays):
        file.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Gallery("new", ["bob"], np.zeros((1, 2), np.float32), ["b.png"]).save(path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_embedder_files_are_the_same_bytes_for_the_same_model(tmp_path):
    seed_torch(0)
    embedder = Embedder(EmbeddingNet(dim=8), 0.75, {"test_roc_auc": 0.5})
    first, second = embedder.save(tmp_path / "a.pt"), embedder.save(tmp_path / "b.pt")
    assert first.read_bytes() == second.read_bytes() and leftovers(tmp_path) == []
    loaded = load_embedder(first)
    assert loaded.fingerprint == embedder.fingerprint and loaded.threshold == 0.75


def test_an_interrupted_history_save_keeps_the_old_files(tmp_path, monkeypatch):
    history = History([{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6}], best_epoch=1)
    history.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "history.png"]
    before = (tmp_path / "history.csv").read_text()
    assert before == "epoch,train_loss,val_loss\n1,0.5,0.6\n"

    def interrupted(frame, path, **options):
        Path(path).write_text("epoch\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        History([{"epoch": 1, "train_loss": 9.0}]).save(tmp_path)
    assert (tmp_path / "history.csv").read_text() == before and leftovers(tmp_path) == []


def test_metrics_are_written_whole(tmp_path):
    path = save_metrics(tmp_path / "out", {"b": np.float32(0.5), "a": np.int64(3)})
    assert path.read_text() == '{\n  "a": 3,\n  "b": 0.5\n}\n'
    assert leftovers(tmp_path / "out") == []
