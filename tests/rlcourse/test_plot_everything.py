"""``rlcourse plot A B C --out FIG.png`` and ``rlcourse aggregate``: runs of every kind on disk.

The inputs are small files written here in the formats of their writers: Stable-Baselines3's
``EvalCallback`` (``evaluations.npz``) and ``Monitor`` (``monitor.csv``), ``train dqn``'s
``evaluations.csv`` and ``episodes.csv``, a results directory, a sweep directory.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rlcourse.aggregate import improvement, scores_of
from rlcourse.errors import UsageError
from rlcourse.overlay import gather, group, smooth
from rlcourse.results import Results
from rlcourse.run_readers import kind_of, read_runs

T_975_2 = 4.302652729911275
"""Student's t quantile 0.975 with 2 degrees of freedom (three runs)."""


def sb3_evaluations(folder: Path, offset: float) -> Path:
    """``evaluations.npz`` as EvalCallback writes it: timesteps, results, ep_lengths."""
    folder.mkdir(parents=True, exist_ok=True)
    results = np.array([[1.0, 3.0], [2.0, 4.0], [5.0, 5.0]]) + offset
    np.savez(
        folder / "evaluations.npz",
        timesteps=np.array([100, 200, 300]),
        results=results,
        ep_lengths=np.full((3, 2), 10),
    )
    return folder


def sb3_monitor(folder: Path, returns, lengths, env_id="CartPole-v1") -> Path:
    """``monitor.csv`` as Monitor writes it: a ``#{json}`` line, then ``r,l,t``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["#" + json.dumps({"t_start": 1700000000.0, "env_id": env_id}), "r,l,t"]
    rows = enumerate(zip(returns, lengths, strict=True))
    lines += [f"{r},{n},{0.1 * i:.6f}" for i, (r, n) in rows]
    (folder / "monitor.csv").write_text("\n".join(lines) + "\n")
    return folder / "monitor.csv"


def train_dir(folder: Path, steps, returns, env="CartPole-v1") -> Path:
    """What ``train dqn`` writes of its curves (``evaluations.csv``, ``episodes.csv``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{s},{r},5,1.0\n" for s, r in zip(steps, returns, strict=True))
    (folder / "evaluations.csv").write_text("step,mean_return,episodes,train_seconds\n" + rows)
    (folder / "episodes.csv").write_text("step,return,length\n20,9.0,20\n45,11.0,25\n")
    (folder / "metrics.json").write_text(json.dumps({"env": env, "seed": 0}))
    return folder


@pytest.fixture
def three_sb3_seeds(tmp_path) -> list[Path]:
    return [sb3_evaluations(tmp_path / f"sb3-s{seed}", seed) for seed in range(3)]


def test_three_seeds_are_one_mean_with_a_95_band(three_sb3_seeds):
    runs = gather(three_sb3_seeds)
    assert {run.label for run in runs} == {"sb3"}  # the seed suffix dropped: one setting
    (only,) = group(runs).values()
    # per step, each seed's mean over its episodes: [2, 3, 5] + seed
    np.testing.assert_allclose(only["x"], [100, 200, 300])
    np.testing.assert_allclose(only["mean"], [3.0, 4.0, 6.0])
    half = T_975_2 * 1.0 / math.sqrt(3)  # sd 1 across the seeds 2, 3, 4
    np.testing.assert_allclose(only["low"], [3 - half, 4 - half, 6 - half])
    np.testing.assert_allclose(only["high"], [3 + half, 4 + half, 6 + half])
    assert only["n"] == 3


def test_curves_of_different_x_are_interpolated_onto_the_x_they_share(tmp_path):
    a = train_dir(tmp_path / "a", [0, 100, 200], [0.0, 10.0, 20.0])
    b = train_dir(tmp_path / "b", [50, 150, 250], [15.0, 25.0, 35.0])
    (only,) = group(gather([a, b], labels=["dqn", "dqn"])).values()
    np.testing.assert_allclose(only["x"], [50, 100, 150, 200])
    # a at x: 5, 10, 15, 20; b at x: 15, 20, 25, 30
    np.testing.assert_allclose(only["mean"], [10.0, 15.0, 20.0, 25.0])
    assert only["n"] == 2


def test_labels_name_and_group_the_inputs(tmp_path, three_sb3_seeds):
    dqn = train_dir(tmp_path / "mine", [50, 150], [1.0, 2.0])
    runs = gather([*three_sb3_seeds, dqn], labels=["sb3", "sb3", "other", "rlcourse"])
    groups = group(runs)
    assert list(groups) == ["sb3", "other", "rlcourse"]
    assert [g["n"] for g in groups.values()] == [2, 1, 1]
    np.testing.assert_allclose(groups["other"]["mean"], [4.0, 5.0, 7.0])  # a run alone: no band
    np.testing.assert_allclose(groups["other"]["low"], groups["other"]["mean"])
    with pytest.raises(UsageError, match="--label given 1 times for 4 inputs"):
        gather([*three_sb3_seeds, dqn], labels=["one"])


def test_smoothing_is_a_trailing_moving_average(tmp_path):
    np.testing.assert_allclose(smooth(np.array([1.0, 2.0, 3.0, 5.0]), 2), [1, 1.5, 2.5, 4])
    folder = train_dir(tmp_path / "run", [1, 2, 3], [0.0, 3.0, 6.0])
    (run,) = gather([folder], window=3)
    np.testing.assert_allclose(run.y, [0.0, 1.5, 3.0])
    with pytest.raises(UsageError, match="at least 1"):
        gather([folder], window=0)


def test_each_kind_is_told_by_its_files_and_read(tmp_path):
    monitor = sb3_monitor(tmp_path / "ppo_1", [10.0, 20.0, 30.0], [10, 20, 30])
    (run,) = read_runs(monitor)
    assert (run.metric, run.env, run.label) == ("return", "CartPole-v1", "ppo")
    np.testing.assert_allclose(run.x, [10, 30, 60])  # env steps at each episode's end
    np.testing.assert_allclose(run.y, [10, 20, 30])
    sb3_evaluations(tmp_path / "ppo_1", 0.0)  # beside the monitor: its env too
    assert {(r.metric, r.env) for r in read_runs(tmp_path / "ppo_1")} == {
        ("eval_return", "CartPole-v1"),
        ("return", "CartPole-v1"),
    }
    trained = read_runs(train_dir(tmp_path / "dqn", [100], [7.0]))
    assert [(r.metric, r.env) for r in trained] == [
        ("eval_return", "CartPole-v1"),
        ("return", "CartPole-v1"),
    ]
    assert kind_of(tmp_path / "ppo_1") == "sb3" and kind_of(tmp_path / "dqn") == "train"


@pytest.fixture
def results_dir(tmp_path) -> Path:
    data = {
        "greedy": {"reward": np.array([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]])},
        "ucb": {"reward": np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])},
    }
    manifest = {"env": "bandit", "agents": ["greedy", "ucb"], "runs": 2, "steps": 3}
    manifest |= {"episodes": None, "seed": 0, "x": "step"}
    return Results(data, manifest).save(tmp_path / "compared")


def test_a_results_directory_gives_a_run_per_agent_and_run(results_dir):
    groups = group(gather([results_dir], metric="reward"))
    assert list(groups) == ["greedy", "ucb"]
    np.testing.assert_allclose(groups["greedy"]["mean"], [1.0, 2.0, 3.0])
    assert groups["greedy"]["n"] == 2


def test_plot_overlays_every_kind_into_one_png(cli, tmp_path, three_sb3_seeds, results_dir):
    dqn = train_dir(tmp_path / "dqn-s0", [50, 150, 250], [1.0, 2.0, 3.0])
    out = tmp_path / "figs" / "all.png"
    result = cli("plot", *three_sb3_seeds, dqn, "--out", out, "--smooth 2")
    assert result.code == 0, result.err
    assert out.read_bytes().startswith(b"\x89PNG")
    assert result.out.strip() == str(out)
    again = cli("plot", *three_sb3_seeds, "--out", out)
    assert again.code == 2 and "--force" in again.err
    mixed = cli("plot", results_dir, dqn, "--metric reward", "--out", tmp_path / "m.png")
    assert mixed.code == 2
    assert mixed.err.strip().endswith("no metric 'reward' (metrics: eval_return, return)")


def test_plot_refuses_an_input_of_no_known_kind(cli, tmp_path, three_sb3_seeds):
    stray = tmp_path / "notes"
    stray.mkdir()
    (stray / "readme.txt").write_text("hello")
    out = tmp_path / "fig.png"
    result = cli("plot", three_sb3_seeds[0], stray, "--out", out)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert f"{stray} is none of: a results directory" in result.err
    assert not out.exists()
    no_out = cli("plot", *three_sb3_seeds)
    assert no_out.code == 2 and "need --out FIG.png" in no_out.err


def test_plot_of_one_results_directory_still_draws_as_compare(cli, results_dir):
    result = cli("plot", results_dir)
    assert result.code == 0, result.err
    assert (results_dir / "reward.png").is_file()


def test_probability_of_improvement_by_hand():
    # pairs (x > y): 1>0; 2>0, 2=2 (half); 3>0, 3>2 → 4.5 of 9
    assert improvement(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 5.0])) == 0.5


def test_aggregate_prints_and_saves_iqm_profiles_and_improvement(cli, tmp_path):
    inputs = []
    for seed, final in enumerate([1.0, 2.0, 3.0, 10.0]):
        inputs.append(train_dir(tmp_path / f"a-s{seed}", [100], [final]))
        inputs.append(train_dir(tmp_path / f"b-s{seed}", [100], [final - 1]))
    out = tmp_path / "agg"
    result = cli("aggregate", *inputs, "--out", out)
    assert result.code == 0, result.err
    iqm = (out / "iqm.csv").read_text().splitlines()
    assert iqm[0] == "env,agent,metric,iqm,ci_low,ci_high,n"
    a_row = next(line for line in iqm if ",a,eval_return," in line).split(",")
    assert float(a_row[3]) == 2.5  # IQM of 1, 2, 3, 10: the mean of 2 and 3
    assert sorted(p.name for p in out.glob("*.png")) == ["profile-CartPole-v1-eval_return.png"]
    improvement_rows = (out / "improvement.csv").read_text().splitlines()
    a_over_b = next(line for line in improvement_rows if ",a,b," in line).split(",")
    # a: 1, 2, 3, 10 over b: 0, 1, 2, 9 → 1.5 + 2.5 + 3 + 4 of 16 pairs (ties half)
    assert float(a_over_b[3]) == pytest.approx(11 / 16)
    assert "eval_return" in result.out and result.out.strip().endswith(str(out))


def test_aggregate_refuses_envs_that_are_not_comparable(cli, tmp_path):
    cart = train_dir(tmp_path / "cart", [100], [1.0])
    lunar = train_dir(tmp_path / "lunar", [100], [2.0], env="LunarLander-v3")
    out = tmp_path / "agg"
    result = cli("aggregate", cart, lunar, "--out", out)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "rlcourse aggregate: error: runs of different envs (CartPole-v1, LunarLander-v3): their "
        "scores are not comparable; pass --per-env to report each env and the normalized aggregate"
    ]
    assert not out.exists()
    assert set(scores_of(read_runs(cart) + read_runs(lunar), per_env=True)) == {
        "CartPole-v1",
        "LunarLander-v3",
    }


def test_aggregate_per_env_reports_each_env_and_all_of_them(cli, tmp_path):
    inputs = [
        train_dir(tmp_path / f"{agent}-{env}-s{seed}", [100], [seed + bonus], env=env)
        for env in ("CartPole-v1", "LunarLander-v3")
        for agent, bonus in (("a", 1.0), ("b", 0.0))
        for seed in range(2)
    ]
    labels = [f"--label={p.name.split('-')[0]}" for p in inputs]
    out = tmp_path / "agg"
    result = cli("aggregate", *inputs, *labels, "--per-env", "--out", out)
    assert result.code == 0, result.err
    envs = {line.split(",")[0] for line in (out / "iqm.csv").read_text().splitlines()[1:]}
    assert envs == {"CartPole-v1", "LunarLander-v3", "all envs (normalized)"}
    assert (out / "profile-all-eval_return.png").is_file()


SWEEP = """\
[sweep]
runs = 2
steps = 5
seed = 0
[[env]]
id = "bandit"
[[agent]]
name = "greedy"
"""


def test_a_sweep_directory_is_read_like_its_results(cli, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(SWEEP)
    swept = tmp_path / "sweep"
    assert cli("sweep", config, "--out", swept, "--workers 1").code == 0
    assert kind_of(swept) == "sweep"
    runs = gather([swept], metric="reward")
    assert [(r.label, r.env, len(r.y)) for r in runs] == [("greedy", "bandit", 5)] * 2
    out = tmp_path / "sweep.png"
    assert cli("plot", swept, "--metric reward", "--out", out).code == 0
    assert out.is_file()


def test_a_label_of_a_results_directory_of_several_agents_prefixes_each(results_dir, tmp_path):
    assert {r.label for r in read_runs(results_dir, "mine")} == {"mine greedy", "mine ucb"}
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "evaluations.csv").write_text("step,mean_return,episodes,train_seconds\n")
    with pytest.raises(UsageError, match="no eval_return recorded yet"):
        gather([empty], metric="eval_return")


def test_a_results_directory_missing_a_file_says_which(cli, results_dir, tmp_path):
    (results_dir / "runs.npz").unlink()
    out = tmp_path / "fig.png"
    dqn = train_dir(tmp_path / "dqn", [100], [1.0])
    result = cli("plot", results_dir, dqn, "--out", out)
    assert result.code == 2
    assert result.err.strip().endswith(
        f"{results_dir} is not a results directory (missing runs.npz)"
    )
    assert not out.exists()
