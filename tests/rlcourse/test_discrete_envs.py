"""Gymnasium's discrete envs with rlcourse's tabular agents: Blackjack (a Tuple), Taxi (optimum)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import rlcourse


def test_q_learning_on_blackjacks_tuple_observations_beats_random():
    results = rlcourse.compare("Blackjack-v1", ["random", "epsilon-greedy:epsilon=0.1,alpha=0.05"],
                               runs=8, episodes=3000, seed=1, progress=False)  # fmt: skip
    late = {agent: data["return"][:, -1000:].mean() for agent, data in results.data.items()}
    assert late["random"] < -0.3  # random play loses about 0.4 a hand
    assert late["epsilon-greedy:epsilon=0.1,alpha=0.05"] > late["random"] + 0.15
    values = results.action_values["epsilon-greedy:epsilon=0.1,alpha=0.05"]
    assert values.shape == (8, 32 * 11 * 2, 2)  # a row per (sum, dealer card, usable ace)


def _taxi_model():
    env = gym.make("Taxi-v4").unwrapped
    n_states, n_actions = env.observation_space.n, env.action_space.n
    nxt = np.zeros((n_states, n_actions), dtype=np.int64)
    reward, done = np.zeros((n_states, n_actions)), np.zeros((n_states, n_actions), dtype=bool)
    for s in range(n_states):
        for a in range(n_actions):
            ((p, s2, r, d),) = env.P[s][a]  # Taxi is deterministic
            nxt[s, a], reward[s, a], done[s, a] = s2, r, d
    return nxt, reward, done, env.initial_state_distrib


def _mean_return(policy, model, horizon=200):
    """Exact expected return of a deterministic policy over Taxi's start states and time limit."""
    nxt, reward, done, start = model
    states = np.arange(len(policy))
    value = np.zeros(len(policy))
    for _ in range(horizon):  # value with k steps left, k = 1 .. horizon
        a = policy
        value = reward[states, a] + np.where(done[states, a], 0.0, value[nxt[states, a]])
    return float(start @ value)


def test_q_learning_on_taxi_reaches_the_optimal_return():
    model = _taxi_model()
    nxt, reward, done, _ = model
    q = np.zeros(reward.shape)
    for _ in range(1000):  # value iteration: the optimum to compare with
        q = reward + np.where(done, 0.0, 0.99 * q.max(axis=1)[nxt])
    optimum = _mean_return(q.argmax(axis=1), model)
    assert abs(optimum - 7.93) < 0.01  # Taxi's known optimum over its start states

    agent = "decaying-epsilon:alpha=0.5,gamma=0.99"
    results = rlcourse.compare("Taxi-v4", [agent], runs=3, episodes=4000, seed=0, progress=False)
    greedy = results.action_values[agent].argmax(axis=2)  # each run's greedy policy
    achieved = [_mean_return(policy, model) for policy in greedy]
    assert min(achieved) > optimum - 0.3, achieved
