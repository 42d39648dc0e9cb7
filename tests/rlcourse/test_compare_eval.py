"""``compare``: torch threads of agents that train networks, greedy evaluations of each run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rlcourse_helpers import assert_usage_error

import rlcourse
from agents.uniform import RandomAgent
from rlcourse.errors import UsageError


class ThreadProbe(RandomAgent):
    """A random agent that says it trains networks and records torch's threads as it acts."""

    trains_networks = True

    def __init__(self, action_space):
        super().__init__(action_space)
        self.seen: set[int] = set()

    def act(self, obs):
        self.seen.add(torch.get_num_threads())
        return super().act(obs)


@pytest.mark.parametrize("threads", [1, 2])
def test_compare_runs_network_agents_on_the_threads_asked_and_records_them(threads):
    import gymnasium as gym

    probe = ThreadProbe(gym.spaces.Discrete(10))
    before = torch.get_num_threads()
    torch.set_num_threads(3 - threads)  # the other count, so that a run left alone shows it
    try:
        results = rlcourse.compare("bandit", {"probe": probe}, steps=3, runs=2, progress=False,
                                   threads=threads)  # fmt: skip
        assert torch.get_num_threads() == 3 - threads  # given back after the comparison
    finally:
        torch.set_num_threads(before)
    assert probe.seen == {threads}
    assert results.manifest["threads"] == threads
    assert results.manifest["device"] == "cpu"


def test_compare_threads_default_to_one_and_tables_record_none(cli, tmp_path):
    results = rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False)
    assert "threads" not in results.manifest
    with pytest.raises(UsageError, match="threads must be a positive integer, not 0"):
        rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False, threads=0)
    line = assert_usage_error(cli("compare bandit --agents greedy --steps 3 --threads 0 --out",
                                  tmp_path / "out"))  # fmt: skip
    assert "--threads" in line
    assert not (tmp_path / "out").exists()


# -- greedy evaluations ----------------------------------------------------------------------------
Q_LEARNING = "epsilon-greedy:epsilon=0.1,alpha=0.5,learner=q-learning,gamma=1"
CUSTOM = "S..#../##.#../.....#/.###.#/...#.G"  # 5x6, one start, deterministic: optimum -9
DQN = "dqn:learning_starts=50,train_freq=10,gradient_steps=4,target_update=20,hidden=16"


def test_q_learning_eval_return_reaches_the_value_iteration_optimum():
    from agents.planning import value_iteration
    from rlcourse.environments import resolve_env

    model = resolve_env("gridworld", {"layout": CUSTOM}).make_one().unwrapped.model
    optimum = value_iteration(model.P, 1.0).values[model.starts[0]]
    results = rlcourse.compare("gridworld", {"q": Q_LEARNING}, env_kwargs={"layout": CUSTOM},
                               episodes=300, runs=3, eval_every=100, eval_episodes=2,
                               progress=False)  # fmt: skip
    evaluated = results.data["q"]["eval_return"]
    assert evaluated.shape == (3, 3)
    assert optimum == -9.0
    assert (evaluated[:, -1] == optimum).all()  # greedy, not the exploring return
    assert (results.data["q"]["return"][:, -50:].mean(axis=1) < optimum).all()
    assert (evaluated <= optimum).all()


def test_dqn_eval_return_is_evaluate_greedy_of_each_runs_learner():
    import agents
    from rlcourse.checkpoints import evaluate_greedy
    from rlcourse.environments import resolve_env

    source = resolve_env("CartPole-v1")
    probe = source.make_one()
    dqn = agents.make(DQN, probe.observation_space, probe.action_space)
    results = rlcourse.compare("CartPole-v1", {"dqn": dqn}, steps=120, runs=2, seed=1,
                               eval_every=60, eval_episodes=2, progress=False)  # fmt: skip
    evaluated = results.data["dqn"]["eval_return"]
    assert evaluated.shape == (2, 2)
    assert results.manifest["eval_seed"] == 10_001
    for run, learner in enumerate(dqn.learners):  # the learners as they are after step 120
        expected = evaluate_greedy(learner, source, 2, seed=10_001 + run * 2).mean()
        assert evaluated[run, -1] == expected
    assert np.isfinite(evaluated).all()


def test_eval_return_is_the_same_under_a_seed_and_changes_with_it():
    def evaluated(seed):
        # 4x4 starts anywhere: the evaluation envs' seeds choose the starts
        results = rlcourse.compare("gridworld", [Q_LEARNING], env_kwargs={"layout": "4x4"},
                                   episodes=40, runs=3, seed=seed, eval_every=10,
                                   eval_episodes=5, progress=False)  # fmt: skip
        return results.data[Q_LEARNING]["eval_return"]

    first = evaluated(4)
    assert first.shape == (3, 4)
    assert np.array_equal(first, evaluated(4))
    assert not np.array_equal(first, evaluated(5))


def test_compare_eval_every_writes_arrays_curves_summary_and_plot(cli, tmp_path):
    out = tmp_path / "out"
    result = cli(f"compare gridworld --env-kwargs layout={CUSTOM} --agents {Q_LEARNING} "
                 "--steps 300 --runs 2 --eval-every 100 --eval-episodes 3 --out", out)  # fmt: skip
    assert result.code == 0, result.err
    with np.load(out / "runs.npz") as arrays:
        assert arrays["agent0.eval_return"].shape == (2, 3)
        assert arrays["agent0.reward"].shape == (2, 300)
    import pandas as pd

    curves = pd.read_csv(out / "curves.csv")
    assert curves[curves.metric == "eval_return"].x.tolist() == [100, 200, 300]
    assert curves[curves.metric == "reward"].x.tolist() == list(range(1, 301))
    summary = pd.read_csv(out / "summary.csv")
    assert summary.metric.tolist() == ["reward", "eval_return"]
    assert (out / "eval_return.png").is_file()
    manifest = rlcourse.load_results(out).manifest
    assert (manifest["eval_every"], manifest["eval_episodes"]) == (100, 3)
    assert "eval_return" in result.out


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("--agents random --episodes 5 --eval-every 2",
         "random has no greedy policy to evaluate; leave it out or drop eval_every"),
        ("--agents gradient-bandit --episodes 5 --eval-every 2",
         "gradient-bandit has no greedy policy to evaluate; leave it out or drop eval_every"),
        ("--agents greedy --episodes 5 --eval-every 6",
         "eval_every 6 is more than the budget (5): no evaluation"),
        ("--agents greedy --episodes 5 --eval-every 0", "--eval-every"),
        ("--agents greedy --episodes 5 --eval-every 2 --eval-episodes 0", "--eval-episodes"),
    ],
    ids=["random", "gradient-bandit", "past-budget", "zero", "zero-episodes"],
)  # fmt: skip
def test_compare_bad_evaluations_are_one_line_and_write_nothing(cli, tmp_path, arguments,
                                                                 expected):  # fmt: skip
    out = tmp_path / "out"
    line = assert_usage_error(cli(f"compare FrozenLake-v1 {arguments} --runs 2 --out", out))
    assert line.endswith(expected) or expected in line
    assert not out.exists()


# -- runs in processes -----------------------------------------------------------------------------
def test_dqn_runs_in_processes_give_the_numbers_of_one_process(cli, tmp_path):
    command = (f"compare CartPole-v1 --agents {DQN} --steps 120 --runs 3 --seed 2 "
               "--eval-every 60 --eval-episodes 2 --out")  # fmt: skip
    arrays = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        result = cli(f"{command} {out} --workers {workers}")
        assert result.code == 0, result.err
        with np.load(out / "runs.npz") as saved:
            arrays[workers] = dict(saved)
        manifest = rlcourse.load_results(out).manifest
        assert manifest.get("workers") == (2 if workers == 2 else None)
    assert set(arrays[1]) == {"agent0.reward", "agent0.eval_return"}
    assert arrays[1]["agent0.eval_return"].shape == (3, 2)
    for key, values in arrays[1].items():
        assert np.array_equal(values, arrays[2][key]), key


def test_compare_workers_zero_is_one_line_and_writes_nothing(cli, tmp_path):
    out = tmp_path / "out"
    line = assert_usage_error(cli("compare CartPole-v1 --agents dqn --steps 5 --workers 0 --out",
                                  out))  # fmt: skip
    assert "--workers" in line
    assert not out.exists()
    with pytest.raises(UsageError, match="workers must be a positive integer, not 0"):
        rlcourse.compare("bandit", ["greedy"], steps=3, runs=2, progress=False, workers=0)
