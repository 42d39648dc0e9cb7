"""DQN learns: image observations to the value-iteration optimum; CartPole to 475 (slow)."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from agents.dqn import DQNLearner
from agents.dqn_config import DQNConfig
from agents.planning import value_iteration
from rlcourse.training import evaluate_greedy
from supervised.networks import single_thread


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


def train(learner: DQNLearner, env: gym.Env, steps: int, seed: int) -> None:
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = learner.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        learner.observe(obs, action, reward, next_obs, terminated, truncated)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()


@pytest.mark.slow
def test_image_observations_reach_the_value_iteration_optimum_on_4x4():
    env = gym.make("rlcourse/GridWorld-v0", layout="4x4", observation="rgb", max_episode_steps=50)
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
    train(learner, env, 4000, seed=0)
    optimum = value_iteration(env.unwrapped.P).values
    evaluation = gym.make(
        "rlcourse/GridWorld-v0", layout="4x4", observation="rgb", max_episode_steps=50
    )
    for seed in range(20):  # each greedy episode from its start is optimal
        evaluation.reset(seed=seed)
        start = evaluation.unwrapped.s
        (ret,) = evaluate_greedy(learner, evaluation, 1, seed)
        assert ret == optimum[start], (seed, start, ret, optimum[start])


@pytest.mark.slow
def test_cartpole_is_solved_with_the_default_settings(tmp_path):
    from rlcourse.training import train_dqn

    metrics = train_dqn(
        "CartPole-v1",
        tmp_path,
        steps=50_000,
        seed=1,
        eval_every=2500,
        stop_when_solved=True,
        progress=False,
    )
    assert metrics["solved_at_step"] is not None, metrics
    assert metrics["best_eval_return"] >= 475
