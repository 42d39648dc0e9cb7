"""What rlcourse must never lose or get wrong: a user's files, a run's ending, a run's identity.

The stamp lists only what rlcourse wrote; the target is checked again just before a swap; a
training run resumes only as itself, finishes a swap it was killed in, is locked while written;
what killed processes left is cleaned; evaluations never refuse one another.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rlcourse_helpers import assert_usage_error, snapshot

import rlcourse.training.curves
import rlcourse.training.train
from rlcourse.errors import UsageError
from rlcourse.outputs import (
    STAMP,
    ResumableOutput,
    clean_leftovers,
    output_lock,
    prepare_output,
    read_stamp,
    write_stamp,
)

SETTINGS = ["learning_starts=200", "train_freq=50", "gradient_steps=5", "hidden=16x16",
            "buffer_size=5000"]  # fmt: skip
QUICK = ["--eval-every", "500", "--eval-episodes", "2", "--set", *SETTINGS]
TRAIN = ["train", "dqn", "CartPole-v1", "--steps", "1000", *QUICK]
TIMING = {"train_seconds", "steps_per_second", "solved_at_train_seconds"}
COMPARE = "compare bandit --agents greedy --steps 5 --runs 2 --force --out"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished training run (1000 steps), not to be changed: tests copy it."""
    from rlcourse.cli import main

    out = tmp_path_factory.mktemp("finished") / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run", symlinks=True))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- the stamp lists only what rlcourse wrote ---------------------------------------------------


def test_a_runs_stamp_lists_exactly_the_files_it_wrote(finished):
    listed = read_stamp(finished)["files"]
    assert listed == sorted(p.name for p in finished.iterdir() if p.name != STAMP)
    assert "evaluation.json" not in listed and "tensorboard" not in listed


def test_force_never_deletes_a_users_evaluation_or_tensorboard_notes(cli, finished, tmp_path):
    run = _copy(finished, tmp_path)
    (run / "evaluation.json").write_text("my own evaluation")
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "notes.md").write_text("my notes")
    before = snapshot(run)
    line = assert_usage_error(cli(COMPARE, run))
    assert line.endswith(
        f"{run} holds files rlcourse did not write (evaluation.json, tensorboard/notes.md); "
        "choose another --out"
    )
    assert snapshot(run) == before


class FakeWriter:
    """TensorBoard's SummaryWriter as far as training uses it: it makes its event file."""

    def __init__(self, logdir: str):
        Path(logdir).mkdir(parents=True, exist_ok=True)
        (Path(logdir) / f"events.out.tfevents.{os.getpid()}").write_bytes(b"events")

    def add_scalar(self, *args):
        pass

    def flush(self):
        pass

    def close(self):
        pass


def test_tensorboard_files_are_listed_one_by_one_and_a_users_notes_there_are_kept(
    cli, tmp_path, monkeypatch
):
    monkeypatch.setattr(rlcourse.training.curves, "require_tensorboard", lambda: FakeWriter)
    run = tmp_path / "run"
    assert cli(*TRAIN, "--tensorboard", "--out", run).code == 0
    listed = read_stamp(run)["files"]
    assert [n for n in listed if n.startswith("tensorboard")] == [
        "tensorboard/",
        f"tensorboard/events.out.tfevents.{os.getpid()}",
    ]
    (run / "tensorboard" / "notes.md").write_text("my notes")
    line = assert_usage_error(cli(COMPARE, run))
    assert "holds files rlcourse did not write (tensorboard/notes.md)" in line
    assert (run / "tensorboard" / "notes.md").read_text() == "my notes"


# -- the target is checked again just before the swap -------------------------------------------


def test_a_file_added_while_a_command_works_is_never_deleted_by_the_swap(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("old")
    write_stamp(out)
    with pytest.raises(UsageError) as refused:
        with prepare_output(out, force=True) as staging:
            (staging / "metrics.json").write_text("new")
            (out / "notes.md").write_text("written meanwhile")
    assert str(refused.value) == (
        f"{out} holds files rlcourse did not write (notes.md), which changed while this command "
        f"ran; it was left as it is and the new results are in {out}.new/"
    )
    assert snapshot(out) == {"metrics.json": b"old", "notes.md": b"written meanwhile",
                             STAMP: (out / STAMP).read_bytes()}  # fmt: skip
    assert (tmp_path / "out.new" / "metrics.json").read_text() == "new"
    assert read_stamp(tmp_path / "out.new")["files"] == ["metrics.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.new"]


def test_a_directory_made_meanwhile_at_a_new_out_is_kept_too(cli, tmp_path, monkeypatch):
    import rlcourse.results

    out = tmp_path / "new"
    real = rlcourse.results.Results.write

    def write_and_meanwhile(self, directory):
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
        return real(self, directory)

    monkeypatch.setattr(rlcourse.results.Results, "write", write_and_meanwhile)
    line = assert_usage_error(cli(COMPARE.replace("--force ", ""), out))
    assert line.endswith(f"the new results are in {out}.new/")
    assert (out / "thesis.tex").read_text() == "mine"
    assert (tmp_path / "new.new" / "manifest.json").is_file()


def test_an_out_made_while_a_new_run_trains_is_replaced_only_with_force(cli, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = rlcourse.training.train.train_from_settings

    def train_and_meanwhile(*args, **kwargs):
        out.mkdir()
        (out / "metrics.json").write_text("another run's")
        write_stamp(out)  # rlcourse's, but not to be replaced without --force
        return real(*args, **kwargs)

    monkeypatch.setattr(rlcourse.training.train, "train_from_settings", train_and_meanwhile)
    result = cli(*TRAIN, "--out", out)  # its progress lines, then the one error line
    assert (result.code, result.err_lines[-1]) == (2, f"rlcourse train: error: {out} already "
            f"exists; choose another --out or pass --force; the finished run stays in "
            f"{out}.partial/")  # fmt: skip
    assert (out / "metrics.json").read_text() == "another run's"
    assert (tmp_path / "run.partial" / "metrics.json").is_file()


# -- a run resumes only as itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["CartPole-v0"],
            "{out} was trained on CartPole-v1, not CartPole-v0: a resume keeps the run's env "
            "(leave ENV out)",
        ),
        (
            ["--wrapper", "gymnasium.wrappers:RecordEpisodeStatistics"],
            "{out} was trained with the wrappers (none), not "
            "gymnasium.wrappers:RecordEpisodeStatistics: a resume keeps the run's wrappers",
        ),
        (
            ["--preset", "Acrobot-v1"],
            "{out} was trained with the preset CartPole-v1, not Acrobot-v1: a resume keeps the "
            "run's preset (leave --preset out)",
        ),
        (
            ["--preset", "none"],
            "{out} was trained with the preset CartPole-v1, not none: a resume keeps the run's "
            "preset (leave --preset out)",
        ),
    ],
)
def test_resuming_with_another_env_wrappers_or_preset_is_refused(
    cli, finished, tmp_path, args, message
):
    run = _copy(finished, tmp_path)
    before = snapshot(run)
    line = assert_usage_error(cli("train dqn", *args, "--resume", run, "--steps 2000"))
    assert line.endswith(message.format(out=run))
    assert snapshot(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_resuming_with_the_runs_own_env_and_preset_is_accepted(cli, finished):
    result = cli("train dqn CartPole-v1 --resume", finished, "--steps 2000 --preset CartPole-v1",
                 "--dry-run")  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.strip() == f"would resume {finished}/ at step 1000 of 2000"


# -- a run killed after its last checkpoint finishes its swap ------------------------------------


def _killed_before_the_swap(cli, tmp_path, monkeypatch, *extra) -> Path:
    def killed(self, force=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(ResumableOutput, "finish", killed)
    out = tmp_path / "run"
    assert cli(*TRAIN, *extra, "--out", out).code == 130
    monkeypatch.undo()
    assert not out.exists() and (tmp_path / "run.partial" / "resume.pt").is_file()
    return out


def _same_metrics(one: Path, two: Path) -> None:
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert {k: v for k, v in a.items() if k not in TIMING} == {
        k: v for k, v in b.items() if k not in TIMING
    }


def test_a_run_killed_before_its_swap_is_finished_by_resume(cli, finished, tmp_path, monkeypatch):
    out = _killed_before_the_swap(cli, tmp_path, monkeypatch)
    (tmp_path / "run.partial" / "metrics.json").unlink()  # killed before it was written, even
    result = cli("train dqn --resume", out)
    assert result.code == 0, result.err
    assert not (tmp_path / "run.partial").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in finished.iterdir())
    _same_metrics(out, finished)
    assert read_stamp(out)["files"] == read_stamp(finished)["files"]
    line = assert_usage_error(cli("train dqn --resume", out))
    assert line.endswith(f"{out} finished at step 1000 of 1000: nothing to resume (give more "
                         "steps to train on)")  # fmt: skip


def test_a_run_stopped_early_and_killed_before_its_swap_is_finished_not_trained_on(
    cli, tmp_path, monkeypatch
):
    out = _killed_before_the_swap(cli, tmp_path, monkeypatch, "--stop-at", "0")
    result = cli("train dqn --resume", out)
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["steps"], metrics["stopped_early"]) == (500, True)
    line = assert_usage_error(cli("train dqn --resume", out))
    assert line.endswith(f"{out} stopped at step 500, where an evaluation reached --stop-at 0.0: "
                         "nothing to resume (give a higher --stop-at to train on)")  # fmt: skip


# -- one process at a time writes a run -----------------------------------------------------------


def test_a_second_resume_of_a_run_being_written_is_refused_naming_the_first(cli, finished):
    with output_lock(finished):
        line = assert_usage_error(cli("train dqn --resume", finished, "--steps 2000"))
        again = assert_usage_error(cli(*TRAIN, "--force --out", finished))
    who = f"pid {os.getpid()} on {socket.gethostname()}"
    assert line.endswith(
        f"{finished} is being written by another rlcourse process ({who}); wait for it to end"
    )
    assert again == line.replace("train dqn --resume", "train")
    assert not finished.with_name(".run.lock").exists()


@pytest.mark.parametrize("holder", ["[" * 4096, "not json", '{"pid": "x"}'])
def test_a_lock_whose_holder_cannot_be_read_is_refused_in_one_line(tmp_path, holder):
    out = tmp_path / "run"
    with output_lock(out):
        (tmp_path / ".run.lock").write_text(holder)  # the same file, still locked
        with pytest.raises(UsageError) as refused:
            with output_lock(out):
                pass
    assert str(refused.value) == (
        f"{out} is being written by another rlcourse process (pid unknown); wait for it to end"
    )


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    lock = tmp_path / ".run.lock"
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    with output_lock(out):  # no flock on it: taken at once
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    holder = subprocess.Popen(  # a child of the dead process still holds the flock
        [sys.executable, "-c", HOLDS_THE_LOCK, str(lock), str(_dead_pid())],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        with output_lock(out):
            assert json.loads(lock.read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()


HOLDS_THE_LOCK = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": int(sys.argv[2]), "host": socket.gethostname()}).encode())
print("locked", flush=True)
time.sleep(30)
"""


# -- what killed processes left is cleaned ---------------------------------------------------------


def test_leftovers_of_dead_processes_beside_out_are_cleaned_and_nothing_else(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_stamp(out)  # an earlier output, replaced with --force
    dead, alive = _dead_pid(), os.getpid()
    names = {
        f".out.staging.{dead}.a1b2c3d4": False,  # a killed command's work: removed
        f".out.old.{dead}.a1b2c3d4": False,  # the old out a killed swap set aside, out there
        f".out.staging.{alive}.a1b2c3d4": True,  # a running command's
        ".out.staging.a1b2c3d4": True,  # whose maker is unknown
        f".other.staging.{dead}.a1b2c3d4": True,  # another output's
        f".out.staging.{dead}.notours": True,  # not a name rlcourse makes
    }
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.csv").write_text("x")
    assert cli(COMPARE, out).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", *(name for name, kept in names.items() if kept)]
    )


def test_the_old_out_a_killed_swap_set_aside_stays_while_out_is_missing(tmp_path):
    aside = tmp_path / f".out.old.{_dead_pid()}.a1b2c3d4"
    (aside / "out").mkdir(parents=True)
    assert clean_leftovers(tmp_path / "out") == []
    assert aside.is_dir()


def test_pool_workers_end_with_their_parent(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", ORPHANED], stdout=subprocess.PIPE)
    worker = int(parent.stdout.readline())
    parent.wait(timeout=30)
    deadline = time.monotonic() + 10
    try:
        while _running(worker):
            assert time.monotonic() < deadline, f"worker {worker} outlived its parent"
            time.sleep(0.05)
    finally:
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


ORPHANED = """
import os, signal
from concurrent.futures import ProcessPoolExecutor
from rlcourse.sweep.backends import _start_worker
pool = ProcessPoolExecutor(1, initializer=_start_worker, initargs=(os.getpid(),))
print(pool.submit(os.getpid).result(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# -- evaluations never refuse one another ---------------------------------------------------------


def test_an_evaluation_waits_for_no_resume_it_would_be_lost_to(cli, finished, tmp_path):
    run = _copy(finished, tmp_path)
    before = snapshot(run)
    with output_lock(run):  # a --resume of the run swaps a new copy in when it ends
        line = assert_usage_error(cli("evaluate", run, "--episodes 2"))
    assert line == (
        f"rlcourse evaluate: error: {run} is being written by another rlcourse process "
        f"(pid {os.getpid()} on {socket.gethostname()}); wait for it to end"
    )
    assert snapshot(run) == before
    assert cli("evaluate", run, "--episodes 2").code == 0


def test_evaluations_of_other_seeds_each_keep_their_own_file(cli, finished, tmp_path):
    run = _copy(finished, tmp_path)
    first = cli("evaluate", run, "--episodes 2")
    second = cli("evaluate", run, "--episodes 2 --seed 5")
    assert (first.code, second.code) == (0, 0), second.err
    assert second.err_lines[-1] == f"wrote {run}/evaluation-seed5-episodes2.json"
    files = ["evaluation-seed0-episodes2.json", "evaluation-seed5-episodes2.json"]
    answers = [json.loads((run / name).read_text()) for name in files]
    assert [a["seed"] for a in answers] == [0, 5]
    assert cli("evaluate", run, "--episodes 2 --seed 5").code == 0  # the same question again
    assert json.loads((run / files[1]).read_text()) == answers[1]
    assert set(files) <= set(read_stamp(run)["files"])
    (run / "evaluation-seed7-episodes2.json").write_text("my own")
    line = assert_usage_error(cli("evaluate", run, "--episodes 2 --seed 7"))
    assert line.endswith(f"{run}/evaluation-seed7-episodes2.json exists and rlcourse did not "
                         "write it; move it away first")  # fmt: skip
    assert (run / "evaluation-seed7-episodes2.json").read_text() == "my own"


# -- progress where no bar is drawn ---------------------------------------------------------------


def test_training_prints_a_line_per_evaluation(tmp_path, cli):
    result = cli(*TRAIN, "--out", tmp_path / "run")
    assert result.code == 0
    lines = [line for line in result.err_lines if line.startswith("eval at step")]
    assert len(lines) == 2
    assert lines[0].startswith("eval at step 500 of 1000: mean return ")
    assert " over 2 episodes; best " in lines[1] and lines[1].startswith("eval at step 1000 of")


# -- a sweep's plots/ -----------------------------------------------------------------------------

SWEEP = """\
[sweep]
runs = {runs}
steps = 5
seed = 0
chunk = 2
[[env]]
id = "bandit"
[[agent]]
name = "greedy"
"""


@pytest.fixture
def swept(cli, tmp_path) -> tuple[Path, Path]:
    config = tmp_path / "sweep.toml"
    config.write_text(SWEEP.format(runs=2))
    out = tmp_path / "sweep"
    assert cli("sweep", config, "--out", out, "--workers 1").code == 0
    return config, out


def test_a_users_file_in_a_sweeps_plots_is_never_deleted(cli, swept, tmp_path):
    config, out = swept
    listed = read_stamp(out)["files"]
    assert "plots/" in listed and "plots" not in listed
    written = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert listed == sorted(["plots/", *(n for n in written if n != STAMP)])  # its plan: pruned
    assert any(name.startswith("plots/") and name.endswith(".png") for name in listed)
    (out / "plots" / "notes.md").write_text("mine")
    before = snapshot(out)
    other = tmp_path / "other.toml"
    other.write_text(SWEEP.format(runs=4))
    for command in ([config], [config, "--force"], [other, "--force"]):
        line = assert_usage_error(cli("sweep", *command, "--out", out, "--workers 1"))
        assert line.endswith(
            f"{out} holds files rlcourse did not write (plots/notes.md); choose another --out"
        )
    assert snapshot(out) == before


def test_a_file_put_in_plots_while_a_sweep_draws_is_kept(cli, swept, monkeypatch):
    import rlcourse.sweep.run

    config, out = swept
    old_plots = snapshot(out / "plots")
    real = rlcourse.sweep.run._draw

    def draw_and_meanwhile(results, staging):
        (out / "plots" / "notes.md").write_text("mine")
        return real(results, staging)

    monkeypatch.setattr(rlcourse.sweep.run, "_draw", draw_and_meanwhile)
    (out / "summary.csv").unlink()
    line = assert_usage_error(cli("sweep", config, "--out", out, "--workers 1"))
    assert line.endswith(
        f"{out}/plots now holds files rlcourse did not write (plots/notes.md), put there while "
        "the sweep ran; they were left as they are and the plots were not replaced (the units "
        "and tables are written: move the files and run the same command again to draw them)"
    )
    assert snapshot(out / "plots") == {**old_plots, "notes.md": b"mine"}
    assert (out / "summary.csv").is_file()
    assert not [p for p in out.iterdir() if ".staging." in p.name]


def test_a_finished_run_copied_to_train_on_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    import rlcourse.outputs

    out = tmp_path / "run"
    out.mkdir()
    (out / "resume.pt").write_bytes(b"state")
    write_stamp(out)

    def killed(source, target, **kwargs):
        Path(target, "resume.pt").write_bytes(b"sta")
        raise KeyboardInterrupt

    monkeypatch.setattr(rlcourse.outputs.shutil, "copytree", killed)
    run = ResumableOutput(out)
    with pytest.raises(KeyboardInterrupt):
        run.resumable(run.holder())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert run.holder() == out


def test_a_second_sweep_into_a_directory_being_written_is_refused(cli, swept):
    config, out = swept
    before = snapshot(out)
    with output_lock(out):
        line = assert_usage_error(cli("sweep", config, "--out", out, "--workers 1"))
    assert line.endswith(f"{out} is being written by another rlcourse process (pid {os.getpid()} "
                         f"on {socket.gethostname()}); wait for it to end")  # fmt: skip
    assert snapshot(out) == before
