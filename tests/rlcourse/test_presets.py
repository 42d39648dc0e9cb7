"""DQN presets by env id or family: chosen, printed, overridden, listed, refused when unknown."""

from __future__ import annotations

import pytest
import torch
from rlcourse_helpers import assert_usage_error

from rlcourse.presets import find_preset, preset_for, presets


@pytest.mark.parametrize(
    ("env_id", "name"),
    [
        ("CartPole-v1", "CartPole-v1"),
        ("Acrobot-v1", "Acrobot-v1"),
        ("MountainCar-v0", "MountainCar-v0"),
        ("MinAtar/SpaceInvaders-v1", "MinAtar"),
        ("ALE/Pong-v5", "Atari"),
        ("Pendulum-v1", None),
        ("CartPole-v0", None),
    ],
)
def test_the_preset_of_an_env(env_id, name):
    preset = preset_for(env_id)
    assert (preset.name if preset else None) == name


def test_every_preset_makes_a_valid_config():
    from rlcourse.training.settings import dqn_config

    for preset in presets():
        dqn_config(preset.overrides())  # refused with the known keys if a name were wrong


def test_presets_lists_them(cli):
    result = cli("presets")
    assert result.code == 0
    for preset in presets():
        assert f"{preset.name}  (matches {preset.match}; {preset.steps} steps)" in result.out


def test_an_unknown_preset_is_one_line_naming_the_known(cli, tmp_path):
    line = assert_usage_error(cli("train dqn CartPole-v1 --preset Nope --out", tmp_path / "o"))
    assert line.endswith(
        "unknown preset 'Nope' (presets: CartPole-v1, Acrobot-v1, MountainCar-v0, MinAtar, "
        "Atari; or none)"
    )
    with pytest.raises(Exception, match="unknown preset"):
        find_preset("nope")


def test_the_matching_preset_is_used_and_set_overrides_it(cli, tmp_path):
    out = tmp_path / "breakout"
    result = cli("train dqn MinAtar/Breakout-v1 --steps 400 --eval-every 400 --eval-episodes 1 "
                 "--set buffer_size=400 learning_starts=100 --out", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "preset MinAtar: Young & Tian 2019" in result.err
    config = torch.load(out / "resume.pt", weights_only=True)["settings"]["config"]
    assert config["lr"] == 2.5e-4 and config["target_update"] == 1000  # the preset's
    assert config["buffer_size"] == 400 and config["learning_starts"] == 100  # --set's


def test_preset_none_takes_the_defaults(cli, tmp_path):
    result = cli("train dqn Acrobot-v1 --preset none --dry-run --out", tmp_path / "o")
    assert result.code == 0
    assert "preset: none (the defaults)" in result.out
    result = cli("train dqn Acrobot-v1 --dry-run --out", tmp_path / "o")
    assert "preset: Acrobot-v1" in result.out and "for 100000 steps" in result.out


def test_pong_runs_with_the_atari_preset_and_evaluates_with_its_wrappers(cli, tmp_path):
    plan = cli("train dqn ALE/Pong-v5 --dry-run --out", tmp_path / "plan")
    assert plan.code == 0, plan.err
    # 10 000 × (2 × 4 × 84 × 84 uint8 + 8 + 4 + 2) bytes: preprocessed, stacked frames
    assert "(replay buffer 564.6 MB, networks 40.0 MB," in plan.out
    out = tmp_path / "pong"
    quick = "--steps 300 --eval-every 300 --eval-episodes 1 --set buffer_size=500 "
    # episodes cut at 600 frames (150 agent steps): a full game of Pong is ~3500 agent steps
    short = "--env-kwargs max_num_frames_per_episode=600"
    result = cli("train dqn ALE/Pong-v5", quick, "learning_starts=100 exploration_steps=200",
                 short, "--out", out)  # fmt: skip
    assert result.code == 0, result.err
    buffer = torch.load(out / "resume.pt", weights_only=True)["learner"]["buffer"]
    assert buffer["obs"].dtype == torch.uint8 and buffer["obs"].shape == (300, 4, 84, 84)
    evaluated = cli("evaluate", out, "--episodes 1")  # the preset's wrappers: rlcourse's own
    assert evaluated.code == 0, evaluated.err
    assert "ALE/Pong-v5 (best.pt): mean return" in evaluated.out
