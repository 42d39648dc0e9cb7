"""Bad input with --force over an earlier output: refused before the output is touched.

For every command that writes, the old output (a directory rlcourse stamped, or a gallery) is
left byte-identical, no staging directory is entered, and nothing is left beside it.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from rlcourse_helpers import assert_usage_error, snapshot

import rlcourse.outputs
from rlcourse.cli import main
from rlcourse.outputs import STAMP, write_stamp


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def entered(monkeypatch) -> list[Path]:
    """The targets whose staging directory a command entered."""
    targets: list[Path] = []
    real = rlcourse.outputs.atomic_directory

    @contextmanager
    def recording(target, *args):
        targets.append(Path(target))
        with real(target, *args) as staging:
            yield staging

    monkeypatch.setattr(rlcourse.outputs, "atomic_directory", recording)
    return targets


@pytest.fixture(scope="module")
def _compared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compared") / "old"
    argv = ["compare", "bandit", "--agents", "greedy", "ucb", "--steps", "20", "--runs", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def stamped(directory: Path, files: dict[str, bytes]) -> Path:
    """A directory as a command leaves it: its files and rlcourse's stamp."""
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    write_stamp(directory)
    return directory


def old_output(kind: str, tmp_path: Path, compared: Path) -> Path:
    if kind == "results":
        return Path(shutil.copytree(compared, tmp_path / "old"))
    if kind == "gallery":
        from supervised.face import Gallery

        folder = tmp_path / "old"
        folder.mkdir()
        Gallery("0123456789abcdef", ["ann"], np.ones((1, 64), np.float32), ["a.png"]).save(
            folder / "g.npz"
        )
        return folder
    files = {
        "supervised": {"metrics.json": b'{"test_accuracy": 0.98}\n', "history.png": b"\x89PNG"},
        "faces": {"embedder.pt": b"weights", "metrics.json": b"{}\n", "roc.png": b"\x89PNG"},
        "denoise": {"psnr.csv": b"method,sigma,psnr\n", "report.png": b"\x89PNG"},
    }[kind]
    return stamped(tmp_path / "old", files)


def write_inputs(tmp_path: Path) -> None:
    """The files the bad commands name: a short corpus, broken MNIST files, a bomb image."""
    (tmp_path / "tiny.txt").write_text("abc" * 10)
    (tmp_path / "images.idx").write_bytes(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02" * 3 + b"\x00")
    (tmp_path / "labels.idx").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x0b")
    people = tmp_path / "people" / "ann"
    people.mkdir(parents=True)
    (people / "bomb.png").write_bytes(png_claiming(100_000, 100_000))


def png_claiming(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


CASES = {
    # name: (the old output, the command ({old}: its path), the one line it must print)
    "compare unknown agent": (
        "results",
        "compare bandit --agents wizard --steps 5 --force --out {old}",
        (
            "rlcourse compare: error: unknown agent 'wizard' (agents: random, greedy,"
            " epsilon-greedy, decaying-epsilon, ucb, gradient-bandit, dqn, pixel-dqn)"
        ),
    ),
    "compare bad env kwarg": (
        "results",
        "compare bandit --agents greedy --steps 5 --env-kwargs k=-1 --force --out {old}",
        (
            "rlcourse compare: error: cannot make rlcourse/Bandit-v0 with {'k': -1}: "
            "ValueError: k must be a positive integer, got -1"
        ),
    ),
    "figure budget in the wrong unit": (
        "results",
        "figure 2.2 --episodes 5 --force --out {old}",
        "rlcourse figure: error: figure 2.2 has a budget in steps: use --steps",
    ),
    "plot no such metric": (
        "results",
        "plot {old} --metric regret --force",
        (
            "rlcourse plot: error: no metric 'regret' in these results (metrics: "
            "reward, optimal_action)"
        ),
    ),
    "plot no parameter study": (
        "results",
        "plot {old} --kind study --force",
        (
            "rlcourse plot: error: a parameter study needs agents of one name that "
            "differ in exactly one parameter; 'greedy' has 1 agent(s) differing in "
            "nothing"
        ),
    ),
    "plot values of a bandit": (
        "results",
        "plot {old} --kind values --force",
        (
            "rlcourse plot: error: value heatmaps need a grid env "
            "(rlcourse/GridWorld-v0, ...), not rlcourse/Bandit-v0"
        ),
    ),
    "supervised cnn --cell": (
        "supervised",
        "supervised cnn --cell lstm --force --out {old}",
        "rlcourse supervised: error: --cell is an option of the rnn experiment",
    ),
    "supervised missing corpus": (
        "supervised",
        "supervised rnn --corpus missing.txt --force --out {old}",
        "rlcourse supervised: error: missing.txt: no such file",
    ),
    "supervised corpus too short": (
        "supervised",
        "supervised rnn --corpus tiny.txt --force --out {old}",
        (
            "rlcourse supervised: error: corpus too short: 30 characters; sequences "
            "of 64 need at least 130 (one to train on, one held out)"
        ),
    ),
    "supervised broken MNIST": (
        "supervised",
        "supervised cnn --mnist-images images.idx --mnist-labels labels.idx --force --out {old}",
        (
            "rlcourse supervised: error: images.idx: header says shape (2, 2, 2) (8 "
            "bytes of data), file has 1"
        ),
    ),
    "faces train zero epochs": (
        "faces",
        "faces train --epochs 0 --force --out {old}",
        (
            "rlcourse faces train: error: argument --epochs: must be a positive "
            "integer, got 0 (see rlcourse faces train --help)"
        ),
    ),
    "faces enroll a bomb": (
        "gallery",
        "faces enroll people --gallery {old}/g.npz --model missing.pt --force",
        (
            "rlcourse faces: error: people/ann/bomb.png: 10,000,000,000 pixels, over "
            "the limit of 89,478,485; refused unread (a decompression bomb?)"
        ),
    ),
    "faces enroll missing folder": (
        "gallery",
        "faces enroll nobody --gallery {old}/g.npz --force",
        "rlcourse faces: error: nobody: no such folder",
    ),
    "denoise report sigma 0": (
        "denoise",
        "denoise report --sigma 0 --force --out {old}",
        "rlcourse denoise: error: sigma must be > 0 grey levels (of 255) and finite, got 0.0",
    ),
    "denoise report sigma inf": (
        "denoise",
        "denoise report --sigma inf --force --out {old}",
        "rlcourse denoise: error: sigma must be > 0 grey levels (of 255) and finite, got inf",
    ),
    "denoise report negative seed": (
        "denoise",
        "denoise report --seed -1 --force --out {old}",
        (
            "rlcourse denoise report: error: argument --seed: must be a non-negative "
            "integer, got -1 (see rlcourse denoise report --help)"
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_with_force_leaves_the_old_output_byte_identical(
    cli, tmp_path, entered, _compared, case
):
    kind, command, expected = CASES[case]
    write_inputs(tmp_path)
    old = old_output(kind, tmp_path, _compared)
    before = snapshot(old)
    around = sorted(p.name for p in tmp_path.iterdir())
    line = assert_usage_error(cli(command.format(old=old)))
    assert line == expected
    assert snapshot(old) == before
    assert entered == []
    assert sorted(p.name for p in tmp_path.iterdir()) == around


def test_faces_train_replaces_the_old_output_only_once_finished(cli, tmp_path, monkeypatch):
    import supervised.face_embed as face_embed
    from supervised.face_embed import Embedder, EmbeddingNet, Verification

    old = old_output("faces", tmp_path, tmp_path)
    before = snapshot(old)

    def interrupted(**options):
        raise KeyboardInterrupt

    monkeypatch.setattr(face_embed, "train_embedder", interrupted)
    result = cli("faces train --epochs 1 --force --out", old)
    said = [line for line in result.err_lines if not line.startswith("device: ")]  # where it ran
    assert (result.code, said) == (130, ["rlcourse faces: interrupted; nothing was saved"])
    assert snapshot(old) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]

    pairs = {"test": Verification(np.array([0.1, 0.3]), np.array([0.9, 1.2]))}
    trained = Embedder(EmbeddingNet().eval(), 0.6, {"test_roc_auc": 1.0})
    monkeypatch.setattr(face_embed, "train_embedder", lambda **options: (trained, pairs))
    result = cli("faces train --epochs 1 --force --out", old)
    assert result.code == 0, result.err
    assert set(snapshot(old)) == {"embedder.pt", "metrics.json", "roc.png", STAMP}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
