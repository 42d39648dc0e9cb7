"""Output directories: refused when not ours, staged, swapped in only when the writing finished."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rlcourse_helpers import snapshot

from rlcourse.errors import UsageError
from rlcourse.outputs import (
    STAMP,
    add_to_stamp,
    check_output_dir,
    foreign_files,
    leftovers,
    prepare_output,
    read_stamp,
    write_stamp,
)


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C while a command writes."""


@pytest.fixture
def previous(tmp_path):
    """A results directory of an earlier run (a file, a subdirectory, rlcourse's stamp)."""
    out = tmp_path / "out"
    (out / "dqn").mkdir(parents=True)
    (out / "metrics.json").write_text('{"old": 1}\n')
    (out / "dqn" / "checkpoint.pt").write_bytes(b"\x00old weights")
    write_stamp(out, "rlcourse old")
    return out


def test_success_replaces_the_old_directory(previous, tmp_path):
    with prepare_output(previous, force=True) as staging:
        assert staging != previous and staging.parent == previous.parent
        (staging / "metrics.json").write_text('{"new": 2}\n')
        assert snapshot(previous)["metrics.json"] == b'{"old": 1}\n'  # not yet swapped
    assert set(snapshot(previous)) == {"metrics.json", STAMP}
    assert snapshot(previous)["metrics.json"] == b'{"new": 2}\n'
    assert read_stamp(previous)["files"] == ["metrics.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failure_inside_leaves_the_old_directory_byte_identical(previous, tmp_path):
    before = snapshot(previous)
    with pytest.raises(Interrupted), prepare_output(previous, True) as staging:
        (staging / "metrics.json").write_text("half")
        raise Interrupted
    assert snapshot(previous) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind


def test_a_new_directory_appears_only_when_the_block_ends(tmp_path):
    out = tmp_path / "results" / "run"
    with prepare_output(out, force=False) as staging:
        (staging / "manifest.json").write_text("{}")
        assert not out.exists()
    assert snapshot(out)["manifest.json"] == b"{}"
    assert read_stamp(out)["files"] == ["manifest.json"]


def test_the_check_runs_before_the_block_and_touches_nothing(previous, tmp_path):
    before = snapshot(previous)
    with pytest.raises(UsageError, match="already exists; choose another --out or pass --force"):
        prepare_output(previous, force=False)
    assert snapshot(previous) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _ours_plus(extra):
    def make(p):
        p.mkdir()
        (p / "manifest.json").write_text("{}")
        write_stamp(p)
        (p / extra).write_text("mine")

    return make


def _ours(p):
    p.mkdir()
    (p / "manifest.json").write_text("{}")
    write_stamp(p)


@pytest.mark.parametrize(
    ("make", "force", "message"),
    [
        (
            lambda p: p.write_text("a file"),
            True,
            "{p} exists and is not a directory; choose another --out",
        ),
        (
            lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")),
            True,
            "{p} is a non-empty directory not written by rlcourse (no .rlcourse.json); "
            "choose another --out",
        ),
        (  # a results file alone does not make a directory ours
            lambda p: (p.mkdir(), (p / "manifest.json").write_text("{}")),
            True,
            "{p} is a non-empty directory not written by rlcourse (no .rlcourse.json); "
            "choose another --out",
        ),
        (
            _ours_plus("thesis.tex"),
            True,
            "{p} holds files rlcourse did not write (thesis.tex); choose another --out",
        ),
        (
            lambda p: (_ours(p), (p / STAMP).write_text('{"written_by": "me"}')),
            True,
            "{p} is a non-empty directory not written by rlcourse (no .rlcourse.json); "
            "choose another --out",
        ),
        (_ours, False, "{p} already exists; choose another --out or pass --force"),
        (
            lambda p: (p.parent.joinpath("real").mkdir(), p.symlink_to(p.parent / "real")),
            True,
            "{p} is a symbolic link; give the directory itself (or a new one) as --out",
        ),
    ],
)
def test_check_output_dir_refuses_with_these_messages(tmp_path, make, force, message):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(UsageError) as refused:
        check_output_dir(target, force)
    assert str(refused.value) == message.format(p=target)


def test_an_out_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError) as refused:
        check_output_dir(tmp_path / "file" / "sub" / "out", force=True)
    assert str(refused.value) == (
        f"{tmp_path / 'file'} is a file, so --out {tmp_path / 'file/sub/out'} cannot be made; "
        "choose another"
    )


@pytest.mark.parametrize("force", [False, True])
def test_check_output_dir_accepts_a_missing_or_empty_directory(tmp_path, force):
    check_output_dir(tmp_path / "missing", force)
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty", force)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_force_replaces_a_stamped_directory_with_subdirectories(previous):
    check_output_dir(previous, force=True)
    assert read_stamp(previous)["files"] == ["dqn/checkpoint.pt", "metrics.json"]


KILLED_WHILE_WRITING = """\
import os, signal, sys
from common.atomic import atomic_directory, atomic_path

out = sys.argv[1]
with atomic_directory(out + "/plots") as staging:
    (staging / "curve.png").write_bytes(b"half a plot")
    with atomic_path(out + "/dqn/checkpoint.pt") as temporary:
        temporary.write_bytes(b"half the weights")
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_what_a_killed_write_leaves_is_ours_and_anything_else_is_foreign(previous):
    add_to_stamp(previous, "plots/curve.png")  # as a command that writes as it goes does
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WHILE_WRITING, str(previous)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    process.wait()
    left = leftovers(previous)
    pattern = r"(staging\.[0-9]+\.|tmp-)[a-z0-9_]{8}"  # the maker's pid, then tempfile's part
    assert [re.sub(pattern, r"\1RANDOM", name) for name in left] == [
        f".plots.staging.{process.pid}.RANDOM",
        "dqn/.checkpoint.tmp-RANDOM.pt",
    ]
    assert foreign_files(previous) == []
    check_output_dir(previous, force=True)  # --force may replace it
    theirs = [".thesis.tmp-ab12cd_9.tex", ".metrics.json", ".metrics.ab12cd.json", ".DS_Store"]
    for name in theirs:  # dot files that are not the temporary of a file the stamp lists
        (previous / name).write_text("mine")
    assert foreign_files(previous) == sorted(theirs)
    assert leftovers(previous) == left


def test_plots_drawn_from_python_stay_rlcourses_and_others_are_kept(tmp_path):
    import rlcourse

    results = rlcourse.compare("bandit", ["greedy"], runs=2, steps=10, progress=False)
    out = results.save(tmp_path / "res")
    assert [p.name for p in rlcourse.plot(out)] == ["reward.png", "optimal_action.png"]
    assert rlcourse.plot(out)  # its own plots are replaced without force
    results.save(out, force=True)  # still rlcourse's directory: the plots joined the stamp
    (out / "reward.png").write_bytes(b"a student's own figure")
    with pytest.raises(rlcourse.UsageError, match="reward.png"):
        rlcourse.plot(out)
    assert (out / "reward.png").read_bytes() == b"a student's own figure"
