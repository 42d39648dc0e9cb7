"""Sweeps on the local backend: seeds, identical results however run, resume, refusals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rlcourse_helpers import assert_usage_error, snapshot
from scipy import stats

import rlcourse
from rlcourse.outputs import foreign_files, read_stamp
from rlcourse.stats import final_scores
from rlcourse.sweep import load_sweep, plan, run_sweep
from rlcourse.sweep.analysis import SUMMARY_COLUMNS
from rlcourse.sweep.config import parse_config

TOML = """\
[sweep]
runs = {runs}
steps = {steps}
seed = 3
chunk = {chunk}
[[env]]
id = "bandit"
[[agent]]
name = "epsilon-greedy"
grid = {{ epsilon = [0.0, 0.1] }}
[[agent]]
name = "ucb"
params = {{ c = 2 }}
"""
AGENTS = ["epsilon-greedy:epsilon=0.0", "epsilon-greedy:epsilon=0.1", "ucb:c=2"]
UCB = 'name = "ucb"\nparams = { c = 2 }'  # the last agent, as the formatted TOML has it


def _write(tmp_path: Path, name="sweep.toml", runs=12, steps=60, chunk=4) -> Path:
    path = tmp_path / name
    path.write_text(TOML.format(runs=runs, steps=steps, chunk=chunk))
    return path


def _config(runs=12, steps=60, chunk=4):
    return parse_config(TOML.format(runs=runs, steps=steps, chunk=chunk))


def _outputs(directory: Path) -> dict[str, bytes]:
    """What must be identical between two runs of one sweep (everything but timings)."""
    files = {n: (directory / n).read_bytes() for n in ("summary.csv", "iqm.csv", "curves.csv")}
    for path in sorted((directory / "units").iterdir()):
        with np.load(path) as data:  # the unit's arrays, not its timing
            files |= {f"{path.name}/{k}": data[k].tobytes() for k in data.files if k != "__about__"}
    return files


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference sweep, run in this process (workers=1)."""
    out = tmp_path_factory.mktemp("serial") / "sweep"
    swept = run_sweep(_config(), out, workers=1, progress=False)
    return out, swept


def test_units_are_env_agent_chunk_seeded_by_their_first_run():
    config = _config(runs=10, chunk=4)
    units = plan(config)
    assert len(units) == 3 * 3
    assert [(u.agent, u.start, u.runs, u.seed) for u in units[:3]] == [
        (AGENTS[0], 0, 4, 3),
        (AGENTS[0], 4, 4, 7),
        (AGENTS[0], 8, 2, 11),
    ]
    assert len({u.digest for u in units}) == len(units)


def test_a_one_chunk_sweep_equals_compare_and_chunks_equal_compare_at_their_seed(tmp_path):
    swept = run_sweep(
        _config(runs=8, chunk=8), tmp_path / "one", workers=1, progress=False, plots=False
    )
    direct = rlcourse.compare("bandit", AGENTS, runs=8, steps=60, seed=3, progress=False)
    for agent in AGENTS:
        for metric, values in direct.data[agent].items():
            np.testing.assert_array_equal(swept.results["bandit"].data[agent][metric], values)
    chunked = run_sweep(
        _config(runs=8, chunk=4), tmp_path / "two", workers=1, progress=False, plots=False
    )
    second = rlcourse.compare("bandit", AGENTS, runs=4, steps=60, seed=3 + 4, progress=False)
    for agent in AGENTS:
        np.testing.assert_array_equal(
            chunked.results["bandit"].data[agent]["reward"][4:], second.data[agent]["reward"]
        )


def test_outputs_hold_the_issue_columns_and_numbers_from_the_runs(serial):
    out, swept = serial
    summary = pd.read_csv(out / "summary.csv")
    assert summary.columns.tolist() == SUMMARY_COLUMNS
    assert summary.agent.tolist() == [a for a in AGENTS for _ in ("reward", "optimal_action")]
    assert (summary.n == 12).all()
    rewards = swept.results["bandit"].data["ucb:c=2"]["reward"]
    assert rewards.shape == (12, 60)
    scores = final_scores(rewards)
    row = summary[(summary.agent == "ucb:c=2") & (summary.metric == "reward")].iloc[0]
    assert row["mean"] == pytest.approx(scores.mean(), rel=1e-5)
    assert row["iqm"] == pytest.approx(stats.trim_mean(scores, 0.25), rel=1e-5)
    assert row.ci_low < row["mean"] < row.ci_high
    curves = pd.read_csv(out / "curves.csv")
    assert curves.columns.tolist()[:3] == ["env", "agent", "metric"]
    assert len(curves) == 3 * 2 * 60
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == [
        "bandit-optimal_action.png",
        "bandit-profile-optimal_action.png",
        "bandit-profile-reward.png",
        "bandit-reward.png",
    ]  # no study: ucb has one configuration
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units"] == manifest["units_run"] == 9
    assert "ucb" in manifest["study_skipped"]["bandit"]


def test_a_process_pool_gives_identical_files(serial, tmp_path):
    out, _ = serial
    run_sweep(_config(), tmp_path / "pool", workers=2, progress=False, plots=False)
    assert _outputs(tmp_path / "pool") == _outputs(out)


def test_rerunning_skips_finished_units_and_ends_identical(serial, tmp_path):
    out, _ = serial
    copy = tmp_path / "copy"
    run_sweep(_config(), copy, workers=1, progress=False, plots=False)
    victims = _units(copy)[:2]
    for path in victims:
        path.unlink()
    half = copy / "units" / f".{victims[0].stem}.tmp-q7x_2kd9.npz"  # as a kill mid-write leaves it
    half.write_bytes(b"half a unit")
    staging = copy / ".plots.staging.a1b2c3d4"  # a kill while the plots were drawn
    staging.mkdir()
    (staging / "bandit-reward.png").write_bytes(b"half a plot")
    assert foreign_files(copy) == []  # rlcourse's leftovers, not someone's files
    (copy / "summary.csv").unlink()
    run_sweep(_config(), copy, workers=1, progress=False, plots=False)
    manifest = json.loads((copy / "manifest.json").read_text())
    assert (manifest["units_run"], manifest["units_resumed"]) == (2, 7)
    assert not half.exists() and not staging.exists()
    assert _outputs(copy) == _outputs(out)


def _units(directory: Path) -> list[Path]:
    """The finished unit files of a sweep directory (not a temporary ``.NAME.XXXX.npz``)."""
    return sorted(p for p in (directory / "units").glob("*.npz") if not p.name.startswith("."))


def test_a_sweep_killed_mid_way_resumes_to_the_uninterrupted_result(tmp_path, cli):
    config = tmp_path / "slow.toml"  # 8 units of about 0.1 s, finishing one by one
    config.write_text(TOML.format(runs=16, steps=1500, chunk=2).split("[[agent]]")[0])
    config.write_text(config.read_text() + '[[agent]]\nname = "ucb"\n')
    reference = tmp_path / "reference"
    run_sweep(parse_config(config.read_text()), reference, workers=1, progress=False)
    total = len(_units(reference))
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "rlcourse", "sweep", str(config), "--out", str(out), "--workers=1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_units(out)) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep wrote no unit in 60 s"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its pool workers, if still there
        except ProcessLookupError:
            pass
    finished = len(_units(out))
    assert 2 <= finished < total, "killed too late to test a resume"
    assert not (out / "summary.csv").exists()
    assert foreign_files(out) == []  # the stamp listed every unit before it was written
    result = cli("sweep", config, "--out", out, "--workers", "2", "--no-plots")
    assert result.code == 0, result.err
    assert "bootstrap 95% CI" in result.out
    assert _outputs(out) == _outputs(reference)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["units_resumed"] == finished


def test_a_changed_config_is_refused_unless_force(serial, tmp_path, cli):
    out = tmp_path / "sweep"
    config = _write(tmp_path)
    assert cli("sweep", config, "--out", out, "--workers", "1", "--no-plots").code == 0
    before = snapshot(out)
    changed = _write(tmp_path, "changed.toml", runs=16)
    line = assert_usage_error(cli("sweep", changed, "--out", out))
    assert "holds a sweep of another configuration" in line and "--force" in line
    assert snapshot(out) == before
    result = cli("sweep", changed, "--out", out, "--workers", "1", "--force", "--no-plots")
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["units_resumed"], manifest["units_run"]) == (9, 3)  # runs 12-15 are new
    assert (pd.read_csv(out / "summary.csv").n == 16).all()
    again = cli("sweep", changed, "--out", out, "--workers", "1", "--no-plots")
    assert json.loads((out / "manifest.json").read_text())["units_run"] == 0, again.err


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("other", "is a non-empty directory not written by rlcourse (no .rlcourse.json)"),
        ("compare", "holds other rlcourse results (no sweep.json: not a sweep directory)"),
        ("unstamped sweep", "is a non-empty directory not written by rlcourse (no .rlcourse.json)"),
        ("sweep + thesis", "holds files rlcourse did not write (thesis.tex)"),
        ("sweep + unit", "holds files rlcourse did not write (units/0123456789abcdef.npz)"),
    ],
)
def test_a_directory_holding_other_data_is_refused_even_with_force(tmp_path, cli, kind, message):
    out = tmp_path / "taken"
    if kind == "compare":
        assert cli("compare bandit --agents greedy --steps 5 --runs 2 --out", out).code == 0
    elif kind.startswith("sweep"):
        changed = _write(tmp_path, "changed.toml", runs=4, steps=5)
        assert cli("sweep", changed, "--out", out, "--workers 1 --no-plots").code == 0
        if kind == "sweep + thesis":
            (out / "thesis.tex").write_text("precious")
        else:  # a file that looks like a unit, put there by someone else
            (out / "units" / "0123456789abcdef.npz").write_bytes(b"not ours")
    elif kind == "unstamped sweep":  # a sweep.json does not make a directory rlcourse's
        out.mkdir()
        (out / "sweep.json").write_text('{"digest": "0", "config": {}}')
        (out / "notes.md").write_text("precious")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("precious")
    before = snapshot(out)
    for extra in ([], ["--force"], ["--force", "--dry-run"]):
        line = assert_usage_error(cli("sweep", _write(tmp_path), "--out", out, *extra))
        assert line == f"rlcourse sweep: error: {out} {message}; choose another --out", line
    assert snapshot(out) == before


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, cli):
    out = tmp_path / "sweep"
    result = cli("sweep", _write(tmp_path), "--out", out, "--dry-run", "--workers", "2")
    assert result.code == 0, result.err
    assert "units: 9 (3 chunk(s) of up to 4 runs" in result.out
    assert "0 finished" in result.out and "9 to run" in result.out
    assert "cost: 2,160 env steps in 9 unit(s) on 2 of 2 worker(s)" in result.out
    assert all(agent in result.out for agent in AGENTS)
    assert not out.exists()


EVIL = """\
import pathlib

pathlib.Path("MARKER").write_text("imported")
from rlcourse_helpers import CountingEnv as Env  # noqa: E402
"""


def _evil_sweep(tmp_path: Path, monkeypatch) -> Path:
    """A sweep naming ``evilmod:Env``, whose import touches MARKER; the cwd is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # importable, were anything to import it
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    (tmp_path / "evilmod.py").write_text(EVIL)
    config = tmp_path / "evil.toml"
    config.write_text(
        TOML.format(runs=2, steps=4, chunk=2)
        .replace('"bandit"', '"evilmod:Env"')
        .split("[[agent]]")[0]
        + '[[agent]]\nname = "random"\n'
    )
    return config


def test_dry_run_builds_nothing_so_a_sweep_file_runs_no_code(tmp_path, cli, monkeypatch):
    config = _evil_sweep(tmp_path, monkeypatch)
    result = cli("sweep", config, "--dry-run", "--out", "out")
    assert result.code == 0, result.err
    assert "evilmod:Env" in result.out and "units: 1 " in result.out
    assert (
        "note: env evilmod:Env is code (module:Class): the dry run did not import it" in result.out
    )
    assert not (tmp_path / "MARKER").exists()
    assert "evilmod" not in sys.modules
    assert not (tmp_path / "out").exists()


def test_reading_a_received_sweep_directory_runs_no_code(tmp_path, cli, monkeypatch):
    config = _evil_sweep(tmp_path, monkeypatch)
    assert cli("sweep", config, "--out", "out", "--workers 1").code == 0  # the user ran it
    (tmp_path / "MARKER").unlink()
    monkeypatch.delitem(sys.modules, "evilmod")
    received = tmp_path / "received"
    (tmp_path / "out").rename(received)
    swept = load_sweep(received)  # what plotting and analysis read: data only
    assert swept.results["evilmod:Env"].data["random"]["reward"].shape == (2, 4)
    result = cli("sweep", config, "--dry-run", "--out", received)  # a dry run reads it too
    assert result.code == 0, result.err
    assert f"1 finished in {received}, 0 to run" in result.out
    assert not (tmp_path / "MARKER").exists()
    assert "evilmod" not in sys.modules


def test_bad_agents_and_envs_fail_before_any_work(tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text(TOML.format(runs=2, steps=3, chunk=1).replace("c = 2", "k = 2"))
    for dry in ([], ["--dry-run"]):
        line = assert_usage_error(cli("sweep", path, "--out", tmp_path / "out", *dry))
        assert line.startswith(
            "rlcourse sweep: error: [[agent]] ucb:k=2: agent 'ucb' has no parameter 'k' "
        ), line
    assert not (tmp_path / "out").exists()
    path.write_text(TOML.format(runs=2, steps=3, chunk=1).replace('"bandit"', '"nope"'))
    assert "unknown env 'nope'" in assert_usage_error(cli("sweep", path, "--out", tmp_path / "o"))
    path.write_text(TOML.format(runs=2, steps=3, chunk=1).replace(UCB, 'name = "pixel-dqn"'))
    line = assert_usage_error(cli("sweep", path, "--out", tmp_path / "o"))  # fits no bandit
    assert line.startswith("rlcourse sweep: error: [[env]] bandit: agent 'pixel-dqn' needs "), line
    assert not (tmp_path / "o").exists()


BAD_INPUTS = {
    "agent": ("replace", "c = 2", "k = 2"),
    "env": ("replace", '"bandit"', '"nope"'),
    "fit": ("replace", UCB, 'name = "pixel-dqn"'),
    "budget": ("replace", "runs = 8", "runs = 0"),
    "type": ("replace", "seed = 3", 'seed = "3"'),
    "date": ("replace", 'id = "bandit"', 'id = "bandit"\nkwargs = { start = 1979-05-27 }'),
    "encoding": ("bytes", b"# caf\xe9\n"),
    "backend": ("args", "--backend ray --address nowhere"),
    "out under a file": ("args", "--out {out}/summary.csv/x"),
}


@pytest.mark.parametrize("bad", list(BAD_INPUTS))
def test_bad_input_with_force_leaves_the_old_sweep_byte_identical(serial, tmp_path, cli, bad):
    out = tmp_path / "sweep"
    assert cli("sweep", _write(tmp_path, runs=4, steps=5), "--out", out, "--workers 1").code == 0
    before = snapshot(out)
    kind, *what = BAD_INPUTS[bad]
    config, args = _write(tmp_path, "bad.toml", runs=8, steps=5), ""
    if kind == "replace":
        config.write_text(config.read_text().replace(*what))
    elif kind == "bytes":
        config.write_bytes(config.read_bytes() + what[0])
    else:
        args = what[0].format(out=out)
    assert_usage_error(cli("sweep", config, "--out", out, "--force", "--workers 1", args))
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "sweep", "sweep.toml"]


def test_a_stamped_sweep_is_replaced_with_force_and_its_stamp_lists_every_file(tmp_path, cli):
    out = tmp_path / "sweep"
    assert cli("sweep", _write(tmp_path, runs=4, steps=5), "--out", out, "--workers 1").code == 0
    assert foreign_files(out) == []
    assert "plots/bandit-reward.png" in read_stamp(out)["files"]
    changed = _write(tmp_path, "changed.toml", runs=4, steps=6)  # no unit in common
    result = cli("sweep", changed, "--out", out, "--force", "--workers 1", "--no-plots")
    assert result.code == 0, result.err
    assert foreign_files(out) == []
    assert set(_units(out)) == {
        out / f"units/{u.digest}.npz" for u in plan(parse_config(changed.read_text()))
    }
    assert not list((out / "plots").iterdir())


def test_tracebacks_found_in_the_issue_are_one_line_and_leave_nothing(tmp_path, cli):
    config = _write(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(config.read_bytes().replace(b"seed = 3", b"seed = 3 # caf\xe9"))
    assert assert_usage_error(cli("sweep", latin, "--out", tmp_path / "a")) == (
        "rlcourse sweep: error: latin.toml, line 4: not UTF-8 (byte 0xe9); TOML files are UTF-8: "
        "save it as UTF-8"
    )
    dated = tmp_path / "dated.toml"
    dated.write_text(
        config.read_text().replace(
            'id = "bandit"', 'id = "bandit"\nkwargs = { start = 1979-05-27 }'
        )
    )
    assert assert_usage_error(cli("sweep", dated, "--out", tmp_path / "b")) == (
        "rlcourse sweep: error: dated.toml, line 8: [[env]] 1: kwargs.start holds the TOML date or "
        'time 1979-05-27, which rlcourse does not pass to envs; write it as a string ("1979-05-27")'
    )
    (tmp_path / "file").write_text("a file")
    assert assert_usage_error(cli("sweep", config, "--out", tmp_path / "file" / "sub")) == (
        f"rlcourse sweep: error: {tmp_path / 'file'} is a file, so --out "
        f"{tmp_path / 'file' / 'sub'} cannot be made; choose another"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dated.toml",
        "file",
        "latin.toml",
        "sweep.toml",
    ]
    target = tmp_path / "target"
    assert cli("sweep", config, "--out", target, "--workers 1", "--no-plots").code == 0
    before = snapshot(target)
    link = tmp_path / "link"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        assert assert_usage_error(cli("sweep", config, "--out", link, *extra)) == (
            f"rlcourse sweep: error: {link} is a symbolic link; give the directory itself (or a "
            "new one) as --out"
        )
    assert snapshot(target) == before


def test_an_unreachable_ray_address_fails_within_seconds(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out, results/sweep, goes there
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    line = assert_usage_error(
        cli("sweep", _write(tmp_path), "--backend", "ray", "--address", f"127.0.0.1:{port}")
    )
    assert time.monotonic() - start < 10
    assert f"cannot reach Ray at 127.0.0.1:{port}" in line
    line = assert_usage_error(cli("sweep", _write(tmp_path), "--backend ray --address nowhere"))
    assert "is not HOST:PORT" in line
    with socket.socket() as listener:  # something answers, but it is not Ray
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        start = time.monotonic()
        line = assert_usage_error(
            cli("sweep", _write(tmp_path), "--backend", "ray", "--address", f"127.0.0.1:{port}")
        )
        assert time.monotonic() - start < 10
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in line


def test_load_sweep_refuses_an_unfinished_directory(serial, tmp_path):
    out, swept = serial
    again = load_sweep(out)
    np.testing.assert_array_equal(
        again.results["bandit"].data["ucb:c=2"]["reward"],
        swept.results["bandit"].data["ucb:c=2"]["reward"],
    )
    part = tmp_path / "part"
    run_sweep(_config(), part, workers=1, progress=False, plots=False)
    _units(part)[0].unlink()
    with pytest.raises(rlcourse.UsageError, match="1 of 9 units not finished"):
        load_sweep(part)


def test_a_multi_env_sweep_labels_envs_and_aggregates(tmp_path):
    text = TOML.format(runs=6, steps=20, chunk=3) + textwrap.dedent(
        """
        [[env]]
        id = "bandit"
        kwargs = { value_mean = 4 }
        """
    )
    swept = run_sweep(parse_config(text), tmp_path / "two", workers=1, progress=False, plots=False)
    assert list(swept.results) == ["bandit", "bandit:value_mean=4"]
    iqm = pd.read_csv(tmp_path / "two" / "iqm.csv")
    assert set(iqm.env) == {"bandit", "bandit:value_mean=4", "all envs (normalized)"}
    shifted = pd.read_csv(tmp_path / "two" / "summary.csv").query("env == 'bandit:value_mean=4'")
    assert shifted[shifted.metric == "reward"]["mean"].min() > 2  # rewards around +4


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("runs", "12", "[sweep]: 'runs' must be an integer, got str '12'"),
        ("runs", 10**12, "more than a sweep may have (100,000); raise 'chunk' or split the sweep"),
        ("runs", 10**18, "runs 1,000,000,000,000,000,000 is more than any run could reach"),
        ("chunk", 0, "[sweep]: 'chunk' must be a positive integer, got 0"),
        ("envs", [{"id": 5, "kwargs": {}}], "[[env]] 1: 'id' must be a non-empty string, got 5"),
        ("agents", [3], "'agents' must be a non-empty list of agent specs"),
        ("seed", 4, "is damaged: its configuration does not have its hash"),
    ],
)
def test_a_damaged_sweep_json_is_one_clear_error(serial, tmp_path, key, value, message):
    out, _ = serial
    received = tmp_path / "received"
    shutil.copytree(out, received)
    marker = json.loads((received / "sweep.json").read_text())
    marker["config"][key] = value
    (received / "sweep.json").write_text(json.dumps(marker))
    with pytest.raises(rlcourse.UsageError) as refused:
        load_sweep(received)
    assert str(refused.value).startswith(f"{received / 'sweep.json'}")
    assert message in str(refused.value)
