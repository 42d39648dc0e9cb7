"""`rlcourse restore report` (rlcourse.restore): tiny runs, the agent learning, bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from rlcourse_helpers import assert_usage_error

from agents.off_policy import GreedyPolicy
from envs.images import psnr
from rlcourse.restore.agent import task_rollout, train_pixel_dqn
from rlcourse.restore.config import QUICK, RESTORE_PIXEL_DQN, RestoreConfig
from rlcourse.restore.methods import evaluation_set
from rlcourse.restore.report import restore_report
from supervised.train import single_thread

TINY = {
    "crop": 36,
    "steps": 2,
    "eval_per_image": 1,
    "unet_pairs": 16,
    "unet_epochs": 1,
    "unet_base": 4,
    "pixel_envs": 2,
    "pixel_episodes": 2,
    "pixel_dqn": replace(RESTORE_PIXEL_DQN, gradient_steps=1),
    "channels": 4,
    "depth": 2,
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", params=["inpaint", "upres"])
def report(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    config = RestoreConfig(task=request.param, **TINY)
    return out, config, restore_report(out, config, progress=False, command="test")


def test_metrics_csv_has_every_method_once(report):
    out, config, metrics = report
    table = pd.read_csv(out / "metrics.csv")
    actions = config.env_task().actions
    classical = ["mean-fill", "biharmonic"] if config.task == "inpaint" else ["bilinear", "bicubic"]
    expected = ["input", *(f"fixed:{a}" for a in actions), *classical, "unet", "random"]
    assert list(table.method) == [*expected, "pixel-dqn"]
    hole = ["psnr_hole"] if config.task == "inpaint" else []
    assert list(table.columns) == ["method", "psnr", "ssim", *hole]
    assert table.notna().all().all()
    rows = table.set_index("method")
    assert rows.loc["fixed:keep"].equals(rows.loc["input"])  # keeping T times leaves the input
    assert (rows.ssim <= 1).all()
    if config.task == "inpaint":  # a fill beats the black hole, inside it above all
        assert rows.loc["biharmonic", "psnr_hole"] > rows.loc["input", "psnr_hole"] + 5
    else:
        assert rows.loc["bicubic", "psnr"] > rows.loc["input", "psnr"]
    assert metrics["scores"]["pixel-dqn"]["psnr"] == pytest.approx(rows.loc["pixel-dqn", "psnr"])


def test_report_writes_the_figure_and_metrics(report):
    out, config, metrics = report
    assert (out / "report.png").read_bytes()[:8] == PNG_MAGIC
    assert (out / "unet_history.csv").exists()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["config"]["task"] == config.task
    assert saved["actions"] == list(config.env_task().actions)
    assert saved["best_classical"] in ("biharmonic", "mean-fill", "bilinear", "bicubic")
    assert len(saved["pixel_dqn_action_share"]) == len(saved["actions"])
    assert sum(saved["pixel_dqn_action_share"]) == pytest.approx(1, abs=1e-3)
    assert saved["test_crops"] == 4


@pytest.mark.parametrize(("task", "margin"), [("inpaint", 5.0), ("upres", 0.2)])
def test_a_tiny_pixel_dqn_beats_keeping_the_input(task, margin):
    """Greedy after 6 episodes of 4 crops: above 'keep' on held-out crops, for two seeds."""
    for seed in (0, 1):
        config = RestoreConfig(task=task, crop=36, steps=2, seed=seed, eval_per_image=2,
                               pixel_envs=4, pixel_episodes=6, channels=8, depth=3,
                               pixel_dqn=replace(RESTORE_PIXEL_DQN, gradient_steps=2))  # fmt: skip
        with single_thread():
            learner, gains = train_pixel_dqn(config)
            clean, start, masks, _ = evaluation_set(config)
            final, _ = task_rollout(GreedyPolicy(learner), config, clean, start, masks)
        assert psnr(final, clean).mean() > psnr(start, clean).mean() + margin, seed
        assert len(gains) == 6


def test_the_cli_writes_the_report(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(QUICK, "eval_per_image", 1)
    for key, value in TINY.items():
        monkeypatch.setitem(QUICK, key, value)
    result = cli("restore report --task upres --quick --out", tmp_path / "r")
    assert result.code == 0, result.err
    assert "pixel-dqn" in result.out and "bicubic" in result.out
    assert {"metrics.csv", "metrics.json", "report.png"} <= {
        p.name for p in (tmp_path / "r").iterdir()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--task colour", "argument --task: invalid choice: 'colour'"),
        ("--task upres --factor 1", "argument --factor: must be a >= 2 integer, got 1"),
        ("--task upres --factor 5", "upres needs a crop divisible by factor 5, got 48"),
        ("--task inpaint --mask ring", "argument --mask: invalid choice: 'ring'"),
        ("--task inpaint --seed -1", "argument --seed: must be a non-negative integer, got -1"),
        ("--mask centre", "the following arguments are required: --task"),
    ],
)
def test_bad_report_options_are_one_line_errors(cli, tmp_path, args, message):
    line = assert_usage_error(cli(f"restore report {args} --quick", "--out", tmp_path / "r"))
    assert message in line
    assert not (tmp_path / "r").exists()


def test_report_refuses_to_overwrite_other_files(cli, tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    line = assert_usage_error(cli("restore report --task inpaint --quick --out", tmp_path))
    assert "non-empty directory" in line
    assert (tmp_path / "mine.txt").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_restore_help_has_an_example(cli):
    result = cli("restore report --help")
    assert result.code == 0 and "example: rlcourse restore report" in result.out


def test_the_config_refuses_what_the_task_cannot_do():
    with pytest.raises(ValueError, match="task must be one of inpaint, upres, got 'denoise'"):
        RestoreConfig(task="denoise")
    with pytest.raises(ValueError, match="upres needs a crop divisible by factor 2, got 37"):
        RestoreConfig(task="upres", crop=37)
    assert np.all(RestoreConfig().env_task().masks(1, 8, None)[0, 2:6, 2:6] == 0)


def test_bad_input_with_force_leaves_the_old_report_byte_identical(cli, tmp_path):
    from rlcourse_helpers import snapshot

    from rlcourse.outputs import write_stamp

    old = tmp_path / "old"
    old.mkdir()
    (old / "metrics.csv").write_text("method,psnr,ssim\n")
    write_stamp(old)
    before = snapshot(old)
    line = assert_usage_error(cli("restore report --task upres --factor 5 --force --out", old))
    assert line == "rlcourse restore: error: upres needs a crop divisible by factor 5, got 48"
    assert snapshot(old) == before
