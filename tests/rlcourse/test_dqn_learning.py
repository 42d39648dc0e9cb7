"""DQN learns: image observations to the value-iteration optimum; CartPole to 475 (slow)."""

import numpy as np
import pytest

import envs  # noqa: F401
from agents.dqn import DQNLearner
from agents.dqn_config import DQNConfig
from agents.off_policy import SharedLearner
from agents.planning import value_iteration
from rlcourse import run
from rlcourse.checkpoints import evaluate_greedy, single_envs
from rlcourse.environments import resolve_env
from supervised.train import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.mark.slow
def test_image_observations_reach_the_value_iteration_optimum_on_4x4():
    source = resolve_env(
        "rlcourse/GridWorld-v0", {"layout": "4x4", "observation": "rgb", "max_episode_steps": 50}
    )
    env = source.make_one()
    config = DQNConfig(
        learning_starts=300,
        train_freq=8,
        gradient_steps=4,
        target_update=50,
        hidden=(64,),
        exploration_steps=2000,
        buffer_size=5000,
        batch_size=32,
        lr=1e-3,
    )
    learner = DQNLearner(config, env.observation_space, env.action_space, np.random.default_rng(0))
    run(single_envs(source), SharedLearner(learner), runs=1, steps=4000, seed=0, progress=False)
    optimum = value_iteration(env.unwrapped.P).values
    returns = evaluate_greedy(learner, source, 20, seed=0)  # episode i seeded i
    for seed, ret in enumerate(returns):  # each greedy episode from its start is optimal
        env.reset(seed=seed)
        start = env.unwrapped.s
        assert ret == optimum[start], (seed, start, ret, optimum[start])


@pytest.mark.slow
def test_cartpole_is_solved_with_the_default_settings(tmp_path):
    from rlcourse.training.train import train_dqn

    metrics = train_dqn(
        "CartPole-v1",
        tmp_path,
        steps=50_000,
        seed=1,
        eval_every=2500,
        stop_at=475,
        progress=False,
    )
    assert metrics["solved_at_step"] is not None, metrics
    assert metrics["best_eval_return"] >= 475
