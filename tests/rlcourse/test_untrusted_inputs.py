"""Files and folders rlcourse is given: names allow-listed, contents checked, one line each."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time

import numpy as np
import pytest
import torch
from rlcourse_helpers import assert_usage_error, snapshot

from envs.layouts import MAX_CELLS, LayoutError, get_layout
from rlcourse.errors import UsageError
from rlcourse.loop import BIT_GENERATORS, Position
from rlcourse.reading import MAX_DEPTH, UnreadableFile, parse_json
from rlcourse.sweep import load_sweep


def test_tensorboard_is_never_imported_from_the_working_folder(cli, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "tensorboard.py").write_text(f"open({str(marker)!r}, 'w')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")  # as `python -m rlcourse` runs it
    monkeypatch.delitem(sys.modules, "tensorboard", raising=False)
    result = cli("train dqn CartPole-v1 --tensorboard --dry-run --out o")
    assert not marker.exists()
    if result.code:  # tensorboard is not installed here: said in one line
        assert "needs the tensorboard package" in assert_usage_error(result)


# -- a trained run whose files the tests below damage -----------------------------------------

RUN = ["--steps", "300", "--eval-every", "300", "--eval-episodes", "1", "--set",
       "learning_starts=100", "train_freq=50", "hidden=8", "buffer_size=500"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from rlcourse.cli import main

    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "dqn", "CartPole-v1", *RUN, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run, to damage."""
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _edit(path, change):
    saved = torch.load(path, weights_only=True)
    change(saved)
    torch.save(saved, path)


def test_an_unknown_bit_generator_in_resume_pt_is_refused_unlooked_up(cli, run, monkeypatch):
    """``getattr(np.random, NAME)`` with ``test`` ran numpy's test suite (and pytest loaded the
    working folder's conftest.py): only numpy's bit generators are names a file may give."""
    marker = run.parent / "imported"
    (run.parent / "conftest.py").write_text(f"open({str(marker)!r}, 'w')\n")
    monkeypatch.chdir(run.parent)

    def unknown(saved):
        saved["position"]["episode_start"] = {"bit_generator": "test", "state": {}}

    _edit(run / "resume.pt", unknown)
    before = snapshot(run)
    line = assert_usage_error(cli("train dqn --resume", run, "--steps 400"))
    assert line == (
        f"rlcourse train: error: {run / 'resume.pt'} has bad settings: unknown bit generator "
        "'test' (numpy's: PCG64, PCG64DXSM, Philox, SFC64, MT19937)"
    )
    assert not marker.exists()
    assert snapshot(run) == before


@pytest.mark.parametrize("name", list(BIT_GENERATORS))
def test_each_of_numpys_bit_generators_restores_a_position(name):
    state = BIT_GENERATORS[name](7).state
    position = Position.from_dict({"t": 3, "episode_return": 1.0, "episode_start": state,
                                   "actions": [0, 1]})  # fmt: skip
    assert position.episode_start["bit_generator"] == name


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ({"bit_generator": "PCG64", "state": "x"}, "a bad PCG64 state"),
        ({"bit_generator": ["PCG64"]}, "unknown bit generator ['PCG64']"),
        (-1, "episode_start must be a seed or a generator state, got -1"),
        ("0", "episode_start must be a seed or a generator state, got '0'"),
    ],
)
def test_a_bad_episode_start_is_refused(start, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Position.from_dict({"t": 1, "episode_return": 0.0, "episode_start": start, "actions": []})


def _nan_weights(part):
    def change(saved):
        weights = saved[part] if part == "model" else saved["learner"][part]
        weights["layers.0.weight"][0, 0] = float("nan")

    return change


def test_nan_weights_in_best_pt_are_refused(cli, run):
    _edit(run / "best.pt", _nan_weights("model"))
    line = assert_usage_error(cli("evaluate", run, "--episodes 1"))
    assert line == (
        f"rlcourse evaluate: error: {run / 'best.pt'} holds NaN or infinite weights "
        "(layers.0.weight): the training diverged or the file is damaged"
    )
    assert not list(run.glob("evaluation*.json"))


@pytest.mark.parametrize("part", ["online", "target"])
def test_nan_weights_in_resume_pt_are_refused(cli, run, part):
    _edit(run / "resume.pt", _nan_weights(part))
    before = snapshot(run)
    line = assert_usage_error(cli("train dqn --resume", run, "--steps 400"))
    assert line.endswith(f"{run / 'resume.pt'} holds NaN or infinite weights (layers.0.weight): "
                         "the training diverged or the file is damaged")  # fmt: skip
    assert snapshot(run) == before and not run.with_name("run.partial").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "100"])
def test_a_saved_stop_at_that_is_not_a_finite_number_is_refused(cli, run, value):
    def change(saved):
        saved["settings"]["stop_at"] = value

    _edit(run / "resume.pt", change)
    line = assert_usage_error(cli("train dqn --resume", run, "--steps 400"))
    assert line.endswith(
        f"has bad settings: stop_at must be a finite number or None, got {value!r}"
    )


@pytest.mark.parametrize(("key", "value"), [("max_grad_norm", float("nan")), ("lr", float("inf"))])
def test_a_saved_config_with_a_non_finite_number_is_refused(cli, run, key, value):
    def change(saved):
        saved["config"][key] = value

    _edit(run / "best.pt", change)
    line = assert_usage_error(cli("evaluate", run, "--episodes 1"))
    assert line.endswith(f"has a bad config: {key} must be a finite number, got {value}")


def test_a_deeply_nested_evaluation_file_is_one_line(cli, run):
    (run / ".rlcourse.json").unlink()  # unstamped: the file's own settings are read
    target = run / "evaluation-seed0-episodes1.json"
    target.write_text("[" * 100_000 + "]" * 100_000)
    line = assert_usage_error(cli("evaluate", run, "--episodes 1"))
    assert line == (
        f"rlcourse evaluate: error: {target} exists and rlcourse did not write it; move it away "
        "first"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "train dqn CartPole-v1 --stop-at nan --out o",
            "--stop-at: must be a finite number, got nan",
        ),
        (
            "train dqn CartPole-v1 --stop-at inf --out o",
            "--stop-at: must be a finite number, got inf",
        ),
        ("train dqn CartPole-v1 --stop-at=-inf --out o", "must be a finite number, got -inf"),
        ("train dqn --resume o --stop-at nan", "--stop-at: must be a finite number, got nan"),
        ("denoise report --sigma nan --quick", "sigma must be > 0 grey levels (of 255) and finite"),
        (
            "faces identify x.png --gallery g.npz --threshold nan",
            "must be a finite number, got nan",
        ),
        ("faces identify x.png --gallery g.npz --threshold 0", "must be a positive number, got 0"),
    ],
)
def test_float_options_refuse_nan_inf_and_out_of_range(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert message in assert_usage_error(cli(args))
    assert list(tmp_path.iterdir()) == []


def test_prepare_training_refuses_a_nan_stop_at():
    from rlcourse.errors import UsageError
    from rlcourse.training.train import prepare_training

    with pytest.raises(UsageError, match="stop_at must be a finite number or None, got nan"):
        prepare_training("CartPole-v1", steps=2000, stop_at=float("nan"))


# -- results directories, sweep files and stamps ----------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def results(cli, tmp_path):
    out = tmp_path / "results"
    assert cli("compare bandit --agents greedy --runs 3 --steps 20 --out", out).code == 0
    return out


def _rewrite_runs(directory, change):
    with np.load(directory / "runs.npz") as arrays:
        data = {key: change(arrays[key]) for key in arrays.files}
    np.savez(directory / "runs.npz", **data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: np.full(a.shape, np.nan), "'greedy' reward holds NaN or infinite values"),
        (lambda a: np.where(np.arange(a.shape[1]) == 3, np.inf, a), "holds NaN or infinite"),
        (lambda a: a[:2], "'greedy' reward has 2 runs, but manifest.json says 3"),
        (lambda a: a.astype(str), "'greedy' reward holds <U32 values, not numbers"),
    ],
)
def test_damaged_runs_npz_is_refused(cli, results, change, message):
    _rewrite_runs(results, change)
    line = assert_usage_error(cli("plot", results))
    assert line.startswith(f"rlcourse plot: error: cannot read results in {results}: ")
    assert message in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: np.full_like(q, np.nan), "values.npz of 'greedy' holds NaN or infinite values"),
        (lambda q: q[:2], "values.npz of 'greedy' has 2 runs, but manifest.json says 3"),
        (lambda q: q[0], "values.npz of 'greedy' has shape (1, 10), not (runs, states, actions)"),
    ],
)
def test_damaged_action_values_are_refused(cli, results, change, message):
    with np.load(results / "values.npz") as arrays:
        data = {key: change(arrays[key]) for key in arrays.files}
    np.savez(results / "values.npz", **data)
    line = assert_usage_error(cli("plot", results))
    assert line == f"rlcourse plot: error: cannot read results in {results}: {message}"


def test_a_manifest_whose_runs_disagree_with_the_arrays_is_refused(cli, results):
    manifest = json.loads((results / "manifest.json").read_text())
    (results / "manifest.json").write_text(json.dumps({**manifest, "runs": 5}))
    line = assert_usage_error(cli("plot", results))
    assert line.endswith("'greedy' reward has 3 runs, but manifest.json says 5")


@pytest.mark.parametrize("text", [DEEP, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_a_deeply_nested_manifest_is_one_line(cli, results, text):
    (results / "manifest.json").write_text(text)
    before = snapshot(results)
    line = assert_usage_error(cli("plot", results))
    assert line == (
        f"rlcourse plot: error: cannot read results in {results}: manifest.json nested more "
        f"than {MAX_DEPTH} levels deep"
    )
    assert snapshot(results) == before


def test_nesting_just_within_the_limit_is_read_and_one_more_level_is_not():
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") == eval(
        "[" * MAX_DEPTH + "]" * MAX_DEPTH
    )
    with pytest.raises(UnreadableFile, match="nested more than"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "x")


SWEEP = (
    '[sweep]\nruns = 2\nsteps = 5\nseed = 0\n[[env]]\nid = "bandit"\n[[agent]]\nname = "greedy"\n'
)


@pytest.mark.parametrize("dry_run", ["", "--dry-run"])
def test_a_deeply_nested_sweep_toml_is_one_line(cli, tmp_path, dry_run):
    config = tmp_path / "deep.toml"
    config.write_text(SWEEP + "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    line = assert_usage_error(cli("sweep", config, "--out", tmp_path / "o", dry_run))
    assert line == f"rlcourse sweep: error: deep.toml: nested more than {MAX_DEPTH} levels deep"
    assert not (tmp_path / "o").exists()


def test_a_deeply_nested_sweep_json_is_one_line(cli, tmp_path):
    config, out = tmp_path / "s.toml", tmp_path / "o"
    config.write_text(SWEEP)
    assert cli("sweep", config, "--workers 1 --no-plots --out", out).code == 0
    (out / "sweep.json").write_text(DEEP)
    for dry_run in ("", "--dry-run"):
        line = assert_usage_error(cli("sweep", config, "--out", out, dry_run))
        assert line.endswith(
            f"{out}/sweep.json is damaged (nested more than {MAX_DEPTH} levels deep); "
            "choose another --out"
        )
    with pytest.raises(UsageError, match=f"sweep.json is damaged: nested more than {MAX_DEPTH}"):
        load_sweep(out)


def test_a_sweep_unit_of_nan_is_refused_and_run_again(cli, tmp_path):
    config, out = tmp_path / "s.toml", tmp_path / "o"
    config.write_text(SWEEP)
    assert cli("sweep", config, "--workers 1 --no-plots --out", out).code == 0
    (unit,) = (out / "units").iterdir()
    with np.load(unit) as data:
        arrays = {k: data[k] if k == "__about__" else np.full(data[k].shape, np.nan)
                  for k in data.files}  # fmt: skip
    np.savez(unit, **arrays)
    with pytest.raises(UsageError, match=r"unit .*: reward holds NaN or infinite values"):
        load_sweep(out)
    assert cli("sweep", config, "--workers 1 --no-plots --out", out).code == 0  # run again
    assert np.isfinite(load_sweep(out).results["bandit"].data["greedy"]["reward"]).all()


def test_a_deeply_nested_stamp_is_not_a_stamp(cli, results):
    (results / ".rlcourse.json").write_text(DEEP)
    line = assert_usage_error(cli("compare bandit --agents greedy --runs 2 --steps 5 --force "
                                  "--out", results))  # fmt: skip
    assert "is a non-empty directory not written by rlcourse" in line


@pytest.mark.parametrize("out", [".", "..", "../results"])
def test_compare_refuses_the_folder_it_runs_in_before_running(cli, results, monkeypatch, out):
    monkeypatch.chdir(results)
    before = snapshot(results.parent)
    line = assert_usage_error(cli("compare bandit --agents greedy --runs 2 --steps 5 --force "
                                  "--out", out))  # fmt: skip
    assert line == (
        f"rlcourse compare: error: --out {out} is the folder you are working in, or holds it, and "
        "cannot be replaced while in use; run from another folder or choose another --out"
    )
    assert snapshot(results.parent) == before


@pytest.mark.parametrize("flag", ["--out", "--resume"])
def test_train_refuses_the_folder_it_runs_in(cli, run, monkeypatch, flag):
    monkeypatch.chdir(run)
    before = snapshot(run)
    line = assert_usage_error(cli("train dqn", "CartPole-v1" if flag == "--out" else "", flag, "."))
    assert line.endswith(
        f"{flag} . is the folder you are working in, or holds it, and cannot be replaced while "
        f"in use; run from another folder or choose another {flag}"
    )
    assert snapshot(run) == before


# -- gridworld layouts ------------------------------------------------------------------------


def test_a_million_cell_layout_is_refused_at_once(capsys):
    from rlcourse.cli import main

    rows = "/".join(["S" + "." * 999] * 999 + ["." * 999 + "G"])  # 1000 x 1000
    started = time.perf_counter()
    argv = ["compare", "gridworld", "--agents", "random", "--runs", "1", "--episodes", "1",
            "--env-kwargs", f"layout={rows}"]  # fmt: skip
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "layout has 1000 rows of 1000 cells; layouts have at most 10000 cells" in line
    assert time.perf_counter() - started < 5


def test_the_largest_layout_is_parsed_quickly_with_every_cell_a_start():
    started = time.perf_counter()
    layout = get_layout("/".join(["S" * 100] * 99 + ["S" * 99 + "G"]))
    assert layout.shape == (100, 100) and len(layout.cells("S")) == MAX_CELLS - 1
    assert time.perf_counter() - started < 1
    with pytest.raises(LayoutError, match="layout has 101 rows of 100 cells"):
        get_layout("/".join(["S" * 100] * 100 + ["." * 99 + "G"]))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("torch_rng", torch.zeros(3, dtype=torch.uint8), "torch_rng is not a state of torch's"),
        ("best", [1], "not enough values to unpack"),
        ("train_seconds", "soon", "could not convert string to float"),
    ],
)
def test_the_rest_of_resume_pt_is_checked_before_anything_is_written(cli, run, key, value, message):
    def change(saved):
        saved[key] = value

    _edit(run / "resume.pt", change)
    before = snapshot(run)
    line = assert_usage_error(cli("train dqn --resume", run, "--steps 400"))
    assert f"{run / 'resume.pt'} has bad settings: " in line and message in line
    assert snapshot(run) == before and not run.with_name("run.partial").exists()


def test_a_cliff_layout_with_too_many_starts_is_refused_at_once():
    cliff = "C" * 99 + "."
    many = ["S" * 100] * 50 + [cliff] + ["." * 100] * 48 + ["." * 99 + "G"]
    started = time.perf_counter()
    with pytest.raises(LayoutError, match="layout has cliffs, 5000 starts and 10000 cells; a lay"):
        get_layout("/".join(many))
    assert time.perf_counter() - started < 1
    few = ["S" * 100] + ["." * 100] * 49 + [cliff] + ["." * 100] * 48 + ["." * 99 + "G"]
    assert len(get_layout("/".join(few)).cells("S")) == 100
