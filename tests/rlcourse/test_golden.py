"""Golden values: the numbers of the figures, a sweep, the quick denoise report and a short DQN run.

Recorded once from the code as it stood (``RLCOURSE_WRITE_GOLDEN=1 pytest
tests/rlcourse/test_golden.py`` rewrites ``golden.json``), then kept: a change of structure must
not change a number. Everything runs through the ``rlcourse`` command line, which outlives any
reorganization of the modules behind it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

GOLDEN = Path(__file__).with_name("golden.json")
WRITE = os.environ.get("RLCOURSE_WRITE_GOLDEN") == "1"

FIGURES = {  # figure: budget flags small enough for a test
    "2.2": "--runs 50 --steps 200",
    "2.3": "--runs 50 --steps 200",
    "2.4": "--runs 50 --steps 200",
    "2.5": "--runs 50 --steps 200",
    "2.6": "--runs 10 --steps 100",
    "6.4": "--runs 5 --episodes 40",
}
SWEEP = """
[sweep]
runs = 20
steps = 150
seed = 3
chunk = 10

[[env]]
id = "bandit"

[[agent]]
name = "epsilon-greedy"
grid = { epsilon = [0.01, 0.1] }

[[agent]]
name = "ucb"
"""
DQN = (
    "train dqn CartPole-v1 --steps 1500 --seed 2 --eval-every 500 --eval-episodes 3 --set "
    "learning_starts=200 train_freq=4 gradient_steps=1 target_update=100 buffer_size=1000 "
    "batch_size=32 hidden=32x32 exploration_steps=500 lr=1e-3 lr_end=none"
)  # lr_end=none: the constant learning rate these values were recorded with


def _rounded(frame: pd.DataFrame) -> list[list]:
    return [[round(v, 6) if isinstance(v, float) else v for v in row] for row in frame.values]


def _check(key: str, value) -> None:
    """Compare with the recorded value (or record it when writing)."""
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    if WRITE:
        golden[key] = value
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    assert key in golden, f"no golden value for {key}: record it with RLCOURSE_WRITE_GOLDEN=1"
    assert json.loads(json.dumps(value)) == golden[key]


@pytest.mark.parametrize("number", list(FIGURES))
def test_figure_summaries_are_unchanged(cli, tmp_path, number):
    result = cli(f"figure {number} {FIGURES[number]} --seed 1 --out", tmp_path / "fig")
    assert result.code == 0, result.err
    _check(f"figure {number}", _rounded(pd.read_csv(tmp_path / "fig" / "summary.csv")))


def test_sweep_summary_is_unchanged(cli, tmp_path):
    (tmp_path / "s.toml").write_text(SWEEP)
    result = cli("sweep", tmp_path / "s.toml", "--out", tmp_path / "out")
    assert result.code == 0, result.err
    _check("sweep", _rounded(pd.read_csv(tmp_path / "out" / "summary.csv")))


def test_quick_denoise_report_is_unchanged(cli, tmp_path):
    result = cli("denoise report --quick --sigma 30 --seed 1 --out", tmp_path / "d")
    assert result.code == 0, result.err
    _check("denoise quick", _rounded(pd.read_csv(tmp_path / "d" / "psnr.csv")))


def test_short_dqn_run_is_unchanged(cli, tmp_path):
    result = cli(DQN, "--out", tmp_path / "dqn")
    assert result.code == 0, result.err
    evaluations = pd.read_csv(tmp_path / "dqn" / "evaluations.csv")
    episodes = pd.read_csv(tmp_path / "dqn" / "episodes.csv")
    _check("dqn evaluations", _rounded(evaluations[["step", "mean_return", "episodes"]]))
    _check("dqn episodes", _rounded(episodes))
    result = cli(
        "evaluate", tmp_path / "dqn", "--episodes 5 --seed 3 --final"
    )  # the policy recorded
    assert result.code == 0, result.err
    evaluation = json.loads(
        (tmp_path / "dqn" / "evaluation-final-seed3-episodes5.json").read_text()
    )
    _check("dqn evaluate", evaluation["returns"])
