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
