"""``wrappers = [...]`` in sweep env tables: applied, labelled, checked without importing."""

from __future__ import annotations

import textwrap
from dataclasses import asdict

from rlcourse_helpers import assert_usage_error

from rlcourse.sweep.config import digest, load_config
from rlcourse.sweep.units import UNIT_FORMAT, Unit, plan

STACK = "gymnasium.wrappers:FrameStackObservation:stack_size=2"


def _write(tmp_path, wrappers: str) -> str:
    path = tmp_path / "wrapped.toml"
    path.write_text(
        textwrap.dedent(f"""
        [sweep]
        runs = 2
        steps = 20

        [[env]]
        id = "CartPole-v1"

        [[env]]
        id = "CartPole-v1"
        wrappers = {wrappers}

        [[agent]]
        name = "random"
    """)
    )
    return str(path)


def test_wrapped_envs_are_their_own_rows(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("sweep", _write(tmp_path, f'["{STACK}"]'), "--out", out, "--workers 1")
    assert result.code == 0, result.err
    rows = (out / "summary.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["CartPole-v1", f"CartPole-v1 [{STACK}]"]
    units = plan(load_config(_write(tmp_path, f'["{STACK}"]')))
    assert [unit.wrappers for unit in units] == [(), (STACK,)]


def test_a_unit_without_wrappers_keeps_its_digest():
    unit = Unit("bandit", {}, "ucb", 0, 2, 0, 5, None)
    about = asdict(unit)
    # the fields a unit's hash leaves out when unset: units of older sweeps keep their files
    del about["wrappers"], about["gym_packages"], about["eval_every"], about["eval_episodes"]
    assert unit.digest == digest({"format": UNIT_FORMAT, **about})
    assert Unit("bandit", {}, "ucb", 0, 2, 0, 5, None, eval_every=5, eval_episodes=1).digest != (
        unit.digest
    )
    assert Unit("bandit", {}, "ucb", 0, 2, 0, 5, None, ("m:W",)).digest != unit.digest
    assert Unit("bandit", {}, "ucb", 0, 2, 0, 5, None, (), ("pkg",)).digest == unit.digest


def test_a_dry_run_checks_wrappers_without_importing_them(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"wrapmod_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text("import pathlib; pathlib.Path('MARKER').touch()\n")
    result = cli("sweep", _write(tmp_path, f'["{module}:W"]'), "--dry-run")
    assert result.code == 0, result.err
    assert not (tmp_path / "MARKER").exists()


def test_a_malformed_wrapper_is_one_line(cli, tmp_path):
    line = assert_usage_error(cli("sweep", _write(tmp_path, '["not a wrapper"]'), "--dry-run"))
    assert "wrapper 'not a wrapper' is not module:Class[:KEY=VALUE,...]" in line
    line = assert_usage_error(cli("sweep", _write(tmp_path, "[3]"), "--dry-run"))
    assert "'wrappers' must be a list of module:Class strings" in line
