"""Ecosystem envs (Minigrid, MinAtar, ALE) resolve as typed; a missing one names its package."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from rlcourse_helpers import assert_usage_error

import rlcourse

IDS = ["ALE/Pong-v5", "MinAtar/Breakout-v1", "MiniGrid-Empty-5x5-v0"]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("env_id", IDS)
def test_an_ecosystem_id_resolves_as_typed_in_a_fresh_interpreter(env_id):
    done = _python(
        f"from rlcourse.environments import resolve_env; print(resolve_env({env_id!r}).name)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == env_id


MISSING = """
import sys
sys.modules[{module!r}] = None  # as if the package were not installed
from rlcourse.cli import main
raise SystemExit(main(["compare", {env!r}, "--agents", "random", "--steps", "5", "--dry-run"]))
"""


@pytest.mark.parametrize(
    ("module", "env", "line"),
    [
        ("minigrid", "MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-5x5-v0 is an env of the minigrid "
         "package, which is not installed: pip install minigrid"),
        ("minatar", "MinAtar/Breakout-v1", "MinAtar/Breakout-v1 is an env of the minatar package, "
         "which is not installed: pip install minatar"),
        ("ale_py", "ALE/Pong-v5", "ALE/Pong-v5 is an env of the ale-py package, which is not "
         "installed: pip install ale-py"),
        ("minigrid", "minigrid:MiniGrid-Empty-5x5-v0", "cannot import 'minigrid' for env "
         "'minigrid:MiniGrid-Empty-5x5-v0': import of minigrid halted; None in sys.modules; "
         "pip install minigrid"),
    ],
)  # fmt: skip
def test_an_uninstalled_package_is_one_line_naming_it(module, env, line):
    done = _python(MISSING.format(module=module, env=env))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"rlcourse compare: error: {line}"]


def test_random_plays_a_few_hundred_steps_of_pong():
    results = rlcourse.compare("ALE/Pong-v5", ["random"], runs=1, steps=300, progress=False)
    rewards = results.data["random"]["reward"]
    assert rewards.shape == (1, 300) and set(rewards.ravel()) <= {-1.0, 0.0, 1.0}


def test_dqn_trains_on_minatars_boolean_images(cli, tmp_path):
    out = tmp_path / "breakout"
    result = cli(
        "train dqn MinAtar/Breakout-v1 --steps 1200 --eval-every 600 --eval-episodes 2 --set "
        "learning_starts=300 train_freq=4 gradient_steps=1 hidden=32 buffer_size=1200 "
        "lr_decay_steps=1200 --out",
        out,
    )
    assert result.code == 0, result.err
    buffer = torch.load(out / "resume.pt", weights_only=True)["learner"]["buffer"]
    assert buffer["obs"].dtype == torch.bool and buffer["obs"].shape == (1200, 10, 10, 4)
    # 1200 × (2 × 400 bool + 8 + 4 + 2) bytes
    assert "replay buffer 976.8 kB" in result.err


def test_atari_frames_with_the_default_buffer_are_refused_with_the_estimate(
    cli, tmp_path, monkeypatch
):
    import rlcourse.memory

    monkeypatch.setattr(rlcourse.memory, "available_bytes", lambda: 16_000_000_000)
    raw = "train dqn ALE/Pong-v5 --preset none --dry-run --out"  # raw frames, no preprocessing
    line = assert_usage_error(cli(raw, tmp_path / "pong"))
    # 100 000 × (2 × 210 × 160 × 3 uint8 + 8 + 4 + 2) bytes
    assert line == (
        "rlcourse train: error: needs about 20.3 GB (replay buffer 20.2 GB, networks 90.1 MB, "
        "results 500.6 kB, envs 6.5 MB) but 16.0 GB is available; lower --steps, "
        "--eval-episodes or the sizes of --set (buffer_size, hidden)"
    )


def test_dqn_learns_minigrids_shortest_path_from_its_dict_observation(cli, tmp_path):
    out = tmp_path / "empty"
    result = cli(
        "train dqn MiniGrid-Empty-5x5-v0 --preset none --seed 1 --steps 12000 --eval-every 2000 "
        "--eval-episodes 5 --set lr=1e-3 lr_decay_steps=12000 train_freq=4 gradient_steps=1 "
        "target_update=250 buffer_size=12000 exploration_steps=6000 hidden=64x64 "
        "learning_starts=1000 epsilon_end=0.05 --out",
        out,
    )
    assert result.code == 0, result.err
    assert "DQN leaves out the observation part(s) mission" in result.err  # the text
    shortest = 1 - 0.9 * 5 / 100  # forward, forward, turn, forward, forward of 100 allowed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_eval_return"] == pytest.approx(shortest)
    evaluated = cli("evaluate", out, "--episodes 3")
    assert evaluated.code == 0, evaluated.err
    assert json.loads((out / "evaluation-seed0-episodes3.json").read_text())[
        "returns"
    ] == pytest.approx([shortest] * 3)


def test_dqn_with_the_minatar_preset_beats_random_on_breakout(cli, tmp_path):
    out = tmp_path / "breakout"
    result = cli(
        "train dqn MinAtar/Breakout-v1 --steps 10000 --eval-every 5000 --eval-episodes 10 --set "
        "learning_starts=1000 exploration_steps=10000 train_freq=4 target_update=250 lr=1e-3 "
        "lr_end=0 lr_decay_steps=20000 --out",  # the preset, shortened to seconds
        out,
    )
    assert result.code == 0, result.err
    assert "preset MinAtar" in result.err
    trained = json.loads((out / "metrics.json").read_text())["final_eval_return"]
    random = rlcourse.compare("MinAtar/Breakout-v1", ["random"], runs=10, episodes=20,
                              progress=False).data["random"]["return"].mean()  # fmt: skip
    assert random < 0.6 and trained > 3 * random, (trained, random)
