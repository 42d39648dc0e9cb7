"""DQN presets by env id or family: chosen, printed, overridden, listed, refused when unknown."""

from __future__ import annotations

import json

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
        ("LunarLander-v3", "LunarLander-v3"),
        ("MiniGrid-Empty-5x5-v0", "MiniGrid"),
        ("MiniGrid-DoorKey-8x8-v0", "MiniGrid"),
        ("BabyAI-GoToLocal-v0", None),
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
        "unknown preset 'Nope' (presets: CartPole-v1, Acrobot-v1, MountainCar-v0, "
        "LunarLander-v3, MiniGrid, MinAtar, Atari; or none)"
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


def test_the_lunarlander_preset_holds_rl_zoos_values():
    from rlcourse.training.settings import dqn_config

    preset = find_preset("LunarLander-v3")
    assert preset.steps == 100_000 and preset.source.startswith("rl-zoo dqn.yml")
    config = dqn_config(preset.overrides())
    assert (config.lr, config.lr_end, config.batch_size, config.buffer_size) == (
        6.3e-4, None, 128, 50_000)  # fmt: skip
    assert (config.learning_starts, config.gamma, config.train_freq, config.gradient_steps) == (
        0, 0.99, 4, 4)  # gradient_steps -1: as many as the phase's env steps  # fmt: skip
    # SB3's 250 env steps, in gradient steps (× 4 / 4); exploration_fraction 0.12 of 1e5
    assert (config.target_update, config.exploration_steps, config.epsilon_end) == (
        250, 12_000, 0.1)  # fmt: skip
    assert config.hidden == (256, 256)


def test_lunarlander_takes_its_preset(cli, tmp_path):
    pytest.importorskip("Box2D")
    result = cli("train dqn LunarLander-v3 --dry-run --out", tmp_path / "o")
    assert result.code == 0, result.err
    assert "preset: LunarLander-v3" in result.out and "for 100000 steps" in result.out
    assert not (tmp_path / "o").exists()


def _trained_config(cli, tmp_path, args: str) -> dict:
    out = tmp_path / "run"
    result = cli(f"train dqn {args} --eval-every 200 --eval-episodes 1 --out", out)
    assert result.code == 0, result.err
    return torch.load(out / "resume.pt", weights_only=True)["settings"]["config"]


def test_the_learning_rate_decays_over_the_runs_steps(cli, tmp_path):
    config = _trained_config(cli, tmp_path, "CartPole-v1 --steps 200 --set learning_starts=100")
    assert config["lr_end"] == 0 and config["lr_decay_steps"] == 200  # not the default 50 000


def test_an_explicit_lr_decay_steps_is_kept(cli, tmp_path):
    config = _trained_config(
        cli, tmp_path, "CartPole-v1 --steps 200 --set learning_starts=100 lr_decay_steps=150"
    )
    assert config["lr_decay_steps"] == 150


def test_the_minigrid_preset_finds_the_shortest_path_from_the_image(cli, tmp_path):
    pytest.importorskip("minigrid")
    out = tmp_path / "run"
    result = cli("train dqn MiniGrid-Empty-5x5-v0 --seed 1 --eval-every 1000 --eval-episodes 5 "
                 "--stop-at 0.95 --out", out)  # fmt: skip
    assert result.code == 0, result.err
    assert "preset MiniGrid: rlcourse, measured" in result.err
    assert "leaves out the observation part" not in result.err  # the image only: no Dict
    settings = torch.load(out / "resume.pt", weights_only=True)["settings"]
    assert settings["wrappers"] == ["minigrid.wrappers:ImgObsWrapper"]
    assert settings["config"]["lr_decay_steps"] == 12_000  # the preset's steps: it leaves it free
    shortest = 1 - 0.9 * 5 / 100  # forward, forward, turn, forward, forward of 100 allowed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_eval_return"] == pytest.approx(shortest)
