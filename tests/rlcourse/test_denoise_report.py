"""`rlcourse denoise report` (rlcourse.denoise): tiny pipeline run, its search, errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from rlcourse_helpers import assert_usage_error

from envs import denoise as denoise_env
from envs import filters
from envs import images as img
from rlcourse.denoise.baselines import best_sequence, run_sequence
from rlcourse.denoise.config import ReportConfig
from rlcourse.denoise.report import denoise_report

TINY = ReportConfig(
    crop=36,
    steps=2,
    eval_per_image=1,
    tune_crops=2,
    beam=1,
    dncnn_patches=16,
    dncnn_epochs=1,
    dqn_steps=40,
    pixel_envs=2,
    pixel_episodes=2,
    channels=4,
    depth=2,
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("denoise")
    metrics = denoise_report(out, TINY, progress=False, command="test")
    return out, metrics


def test_psnr_csv_has_every_method_once(report):
    out, metrics = report
    table = pd.read_csv(out / "psnr.csv")
    assert list(table.columns) == ["method", "sigma", "psnr"]
    expected = ["noisy", *(f"filter:{a}" for a in filters.ACTIONS), "sequence:best"]
    expected += [f"skimage:{n}" for n in ("tv-chambolle", "wavelet", "nl-means", "bilateral")]
    expected += ["dncnn", "random", "dqn", "pixel-dqn"]
    assert list(table.method) == expected
    assert (table.sigma == 25.0).all()
    assert table.psnr.notna().all()
    psnr = dict(zip(table.method, table.psnr, strict=True))
    assert psnr["filter:nothing"] == psnr["noisy"]  # "nothing" T times leaves the input
    assert psnr["skimage:nl-means"] > psnr["noisy"] + 3  # a real denoiser, even on tiny crops
    assert metrics["psnr"]["pixel-dqn"] == pytest.approx(psnr["pixel-dqn"], abs=1e-3)


def test_report_writes_the_figure_and_metrics(report):
    out, metrics = report
    assert (out / "report.png").read_bytes()[:8] == PNG_MAGIC
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_crops"] == len(img.TEST_IMAGES)
    assert saved["test_images"] == list(img.TEST_IMAGES)
    assert len(saved["settings"]["sequence:best"]["actions"]) == TINY.steps
    assert sum(saved["pixel_dqn_action_share"]) == pytest.approx(1.0, abs=1e-3)
    assert (out / "dqn" / "checkpoint.pt").is_file()


def test_beam_search_with_a_wide_beam_is_exhaustive():
    rng = np.random.default_rng(0)
    clean = img.fixed_crops({"camera": img.bundled_image("camera")}, 36, 2)[0]
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    actions = range(len(filters.ACTIONS))
    scores = {
        s: img.psnr(run_sequence(noisy, s), clean).mean()
        for s in itertools.product(actions, repeat=2)
    }
    sequence, value = best_sequence(noisy, clean, steps=2, beam=len(filters.ACTIONS))
    assert sequence == max(scores, key=scores.get)
    assert value == pytest.approx(max(scores.values()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--sigma 0", "sigma must be > 0"),
        ("--sigma -10", "sigma must be > 0"),
        ("--sigma inf", "sigma must be > 0 grey levels (of 255) and finite, got inf"),
        ("--sigma nan", "sigma must be > 0 grey levels (of 255) and finite, got nan"),
        ("--seed -1", "argument --seed: must be a non-negative integer, got -1"),
    ],
)
def test_bad_report_options_are_one_line_errors(cli, tmp_path, args, message):
    line = assert_usage_error(cli(f"denoise report {args} --quick", "--out", tmp_path / "r"))
    assert message in line
    assert not (tmp_path / "r").exists()


def test_report_refuses_to_overwrite_other_files(cli, tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    line = assert_usage_error(cli("denoise report --quick --out", tmp_path))
    assert "non-empty directory" in line
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_denoise_help_has_an_example(cli):
    result = cli("denoise report --help")
    assert result.code == 0 and "example: rlcourse denoise report" in result.out


def test_the_estimate_head_with_the_clean_image_gives_the_envs_reward_maps():
    """The per-pixel DQN's Q-map, were its estimate exact, is the env's every-action rewards."""
    import torch

    from supervised.dncnn import QMapNet, TrunkConfig

    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (2, 36, 36)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    env = denoise_env.PixelDenoiseVectorEnv(2, images=list(clean), crop=36, sigma=1.0)
    env.reset(seed=0, options={"clean": clean, "noisy": noisy})
    env.step(rng.integers(len(filters.ACTIONS), size=(2, 36, 36)))  # a half-filtered current image
    current = env.state.current.copy()
    _, _, _, _, info = env.step(np.zeros((2, 36, 36), np.int64))

    reward_scale = 1 / 25**2
    net = QMapNet(len(filters.ACTIONS), TrunkConfig(4, 2), 10, estimate_scale=255**2 * reward_scale)
    noise = torch.as_tensor(noisy - clean)[:, None]

    class Exact(torch.nn.Module):  # a head whose estimate of the clean image is exact
        def forward(self, features):
            return noise

    net.head = Exact()
    x = np.concatenate([noisy[:, None], current[:, None], filters.filter_bank_channels(current)], 1)
    with torch.no_grad():
        q = net(torch.as_tensor(x)).numpy()
    rewards = info["action_reward_maps"] * 36 * 36 * reward_scale  # per-pixel drops, scaled
    np.testing.assert_allclose(q, rewards, atol=1e-3)


def test_the_per_pixel_dqn_is_deterministic_under_a_seed():
    """Same seed, same agent (memory and estimate head on); another seed, another agent."""
    from dataclasses import replace

    import torch

    from agents.off_policy import GreedyPolicy
    from rlcourse.denoise.training import rollout, train_pixel_dqn
    from supervised.dncnn import DnCNN, TrunkConfig

    torch.manual_seed(0)
    dncnn = DnCNN(TrunkConfig(TINY.channels, TINY.depth))
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (2, 36, 36)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    runs = []
    for seed in (0, 0, 1):
        learner, gains = train_pixel_dqn(replace(TINY, seed=seed), dncnn, progress=False)
        images, actions = rollout(GreedyPolicy(learner), clean, noisy, 2, per_pixel=True)
        runs.append((gains, images, actions))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert runs[0][0] != runs[2][0]


@pytest.mark.parametrize(
    ("kwarg", "message"),
    [
        ("images={empty}", "holds no images"),
        ("images={missing}", "does not exist"),
        ("crop=600", "image brick is 512x512, smaller than the crop 600x600"),
        ("sigma=0", "sigma must be > 0"),
    ],
)
def test_bad_denoise_env_settings_are_one_line_errors_in_the_cli(cli, tmp_path, kwarg, message):
    (tmp_path / "empty").mkdir()
    kwarg = kwarg.format(empty=tmp_path / "empty", missing=tmp_path / "missing")
    line = assert_usage_error(
        cli(
            "compare pixel-denoise --agents random --episodes 1 --runs 1",
            "--env-kwargs",
            kwarg,
            "--out",
            tmp_path / "r",
        )  # fmt: skip
    )
    assert message in line
    assert not (tmp_path / "r").exists()


def test_the_per_pixel_dqn_evaluates_and_keeps_its_policies_with_the_same_learning(tmp_path):
    import pandas as pd
    import torch

    from rlcourse.denoise.training import train_pixel_dqn
    from supervised.dncnn import DnCNN, TrunkConfig

    torch.manual_seed(0)
    dncnn = DnCNN(TrunkConfig(TINY.channels, TINY.depth))
    plain, plain_gains = train_pixel_dqn(TINY, dncnn, progress=False)
    logged, gains = train_pixel_dqn(TINY, dncnn, progress=False, out=tmp_path, eval_episodes=2)
    assert gains == plain_gains and logged.n_updates == plain.n_updates > 0
    for key, value in plain.online.state_dict().items():
        assert torch.equal(value, logged.online.state_dict()[key]), key
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.pt", "checkpoint.pt", "episodes.csv", "evaluations.csv", "training.png"]  # fmt: skip
    evaluations = pd.read_csv(tmp_path / "evaluations.csv")
    assert list(evaluations.step) == [2, 4] and list(evaluations.episodes) == [2, 2]
    assert list(pd.read_csv(tmp_path / "episodes.csv").step) == [2, 4]
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    for key, value in logged.online.state_dict().items():
        assert torch.equal(value, saved["model"][key]), key
