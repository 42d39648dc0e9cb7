"""Bandit work must not pay for torch: importing envs/agents and comparing bandits stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("torch", "stable_baselines3")
#: The CLI may know the supervised experiments' names and data errors, and write files and
#: figures through the base package's one atomic writer, but import no model module, and of
#: the base package not the part that needs torch.
LIGHT = (
    "supervised",
    "supervised.data",
    "supervised.experiments",
    "supervised.plots",
    "common",
    "common.atomic",
    "common.deprecation",
    "common.devices",
    "common.figures",
    "common.packages",
)
CHECKED = ("supervised", "common")

SCRIPT = textwrap.dedent(
    """
    import sys

    import envs, agents, rlcourse
    from rlcourse.cli import main

    assert main(["agents"]) == 0
    assert main(["compare", "bandit", "--agents", "greedy", "epsilon-greedy:epsilon=0.1",
                 "ucb", "gradient-bandit", "--steps", "20", "--runs", "5", "--out", "out"]) == 0
    assert main(["plot", "out", "--metric", "reward", "--out", "again.png"]) == 0
    heavy = sorted(
        m for m in sys.modules
        if m.split(".")[0] in {heavy!r} or (m.split(".")[0] in {checked!r} and m not in {light!r})
    )
    print("HEAVY:", heavy)
    """
)


def test_bandit_comparison_does_not_import_torch(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT.format(heavy=set(HEAVY), light=set(LIGHT), checked=set(CHECKED)),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "HEAVY: []" in completed.stdout, completed.stdout
    assert (tmp_path / "out" / "runs.npz").is_file()
    assert (tmp_path / "again.png").is_file()
