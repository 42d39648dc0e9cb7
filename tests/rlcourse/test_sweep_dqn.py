"""A sweep of ``dqn`` agents with a grid, resumed unit by unit."""

from __future__ import annotations

import json

import numpy as np
import torch

from agents.off_policy import LearnerPerRun

DQN_SWEEP = """\
[sweep]
runs = 2
steps = 60
seed = 1
chunk = 2
[[env]]
id = "CartPole-v1"
[[agent]]
name = "dqn"
params = { learning_starts = 40, train_freq = 10, gradient_steps = 1, target_update = 20, \
hidden = 16 }
grid = { double = [false, true] }
"""


def _arrays(directory):
    arrays = {}
    for path in sorted((directory / "units").glob("[!.]*.npz")):
        with np.load(path) as data:
            names = [k for k in data.files if k != "__about__"]  # not the unit's timing
            arrays |= {f"{path.name}/{k}": data[k].tobytes() for k in names}
    return arrays


def test_a_dqn_grid_sweep_runs_its_units_and_resumes_the_missing_one(tmp_path, cli):
    config = tmp_path / "dqn.toml"
    config.write_text(DQN_SWEEP)
    out = tmp_path / "sweep"
    result = cli("sweep", config, "--out", out, "--workers", "1", "--no-plots")
    assert result.code == 0, result.err
    units = sorted((out / "units").glob("[!.]*.npz"))
    assert len(units) == 2  # 2 configurations x 1 chunk of two runs
    summary = (out / "summary.csv").read_text()
    assert "dqn:" in summary and "double=true" in summary and "double=false" in summary
    before = _arrays(out)
    units[1].unlink()  # as if the sweep had been killed before this unit finished
    result = cli("sweep", config, "--out", out, "--workers", "1", "--no-plots")
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["units_resumed"], manifest["units_run"]) == (1, 1)
    assert _arrays(out) == before  # the unit run again: the same numbers


def test_a_dqn_sweep_unit_runs_torch_on_one_thread(tmp_path, monkeypatch):
    from rlcourse.sweep import plan, run_unit
    from rlcourse.sweep.config import parse_config

    seen = set()
    act = LearnerPerRun.act

    def recording(self, obs):
        seen.add(torch.get_num_threads())
        return act(self, obs)

    monkeypatch.setattr(LearnerPerRun, "act", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # what a unit left alone would run on
    try:
        run_unit(plan(parse_config(DQN_SWEEP.replace("steps = 60", "steps = 5")))[0])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == {1}


EVAL_SWEEP = """\
[sweep]
runs = 3
steps = 60
seed = 4
chunk = 3
eval_every = 30
eval_episodes = 2
[[env]]
id = "gridworld"
[[agent]]
name = "epsilon-greedy"
params = { alpha = 0.5, learner = "q-learning", gamma = 1 }
"""
AGENT = "epsilon-greedy:alpha=0.5,learner=q-learning,gamma=1"


def _sweep(tmp_path, cli, text):
    from rlcourse.sweep import load_sweep

    config = tmp_path / "eval.toml"
    config.write_text(text)
    out = tmp_path / "sweep"
    result = cli("sweep", config, "--out", out, "--workers", "1", "--no-plots", "--force")
    assert result.code == 0, result.err
    return out, load_sweep(out).results["gridworld"].data[AGENT]


def test_sweep_evaluations_are_those_of_compare(tmp_path, cli):
    """One unit of three runs is compare's batch of three, greedy evaluations included."""
    from rlcourse import compare

    out, swept = _sweep(tmp_path, cli, EVAL_SWEEP)
    compared = compare("gridworld", [AGENT], runs=3, steps=60, seed=4, eval_every=30,
                       eval_episodes=2, progress=False).data[AGENT]  # fmt: skip
    assert swept["eval_return"].shape == (3, 2)
    for metric in ("reward", "eval_return"):
        np.testing.assert_array_equal(swept[metric], compared[metric])
    curves = (out / "curves.csv").read_text().splitlines()
    assert any(line.startswith(f'gridworld,"{AGENT}",eval_return,30,') for line in curves)
    assert f'"{AGENT}",eval_return,' in (out / "summary.csv").read_text()

    # chunks of one run: run 0 is compare's run of one; the others are evaluated on episodes of
    # their own (numbered by run in the whole sweep), not on run 0's again
    _, chunked = _sweep(tmp_path, cli, EVAL_SWEEP.replace("chunk = 3", "chunk = 1"))
    alone = compare("gridworld", [AGENT], runs=1, steps=60, seed=4, eval_every=30,
                    eval_episodes=2, progress=False).data[AGENT]  # fmt: skip
    np.testing.assert_array_equal(chunked["eval_return"][:1], alone["eval_return"])
    assert np.isfinite(chunked["eval_return"]).all()


def test_sweep_evaluations_are_checked_before_any_work(tmp_path, cli):
    config = tmp_path / "eval.toml"
    config.write_text(EVAL_SWEEP.replace("eval_every = 30", "eval_every = 61"))
    result = cli("sweep", config, "--out", tmp_path / "out")
    assert result.code == 2
    assert result.err.strip().endswith(
        "[sweep]: eval_every 61 is more than the budget (60): no evaluation"
    )
    config.write_text(EVAL_SWEEP.replace("eval_every = 30\n", ""))
    result = cli("sweep", config, "--out", tmp_path / "out")
    assert result.code == 2
    assert result.err.strip().endswith("[sweep]: 'eval_episodes' needs 'eval_every'")
    config.write_text(EVAL_SWEEP.replace('name = "epsilon-greedy"', 'name = "random"').replace(
        'params = { alpha = 0.5, learner = "q-learning", gamma = 1 }', ""))  # fmt: skip
    result = cli("sweep", config, "--out", tmp_path / "out")
    assert result.code == 2
    assert "random has no greedy policy to evaluate" in result.err
    assert not (tmp_path / "out").exists()


def test_a_sweep_counts_the_memory_of_its_evaluations():
    from rlcourse.sweep.config import parse_config
    from rlcourse.sweep.units import check_config

    plain = check_config(parse_config(EVAL_SWEEP.replace("eval_every = 30\n", "").replace(
        "eval_episodes = 2\n", "")))  # fmt: skip
    evaluated = check_config(parse_config(EVAL_SWEEP.replace("eval_episodes = 2",
                                                             "eval_episodes = 1000")))  # fmt: skip
    assert evaluated["envs"] > plain["envs"]  # 3 runs × 1000 evaluation envs side by side
    assert evaluated["results"] > plain["results"]  # eval_return
