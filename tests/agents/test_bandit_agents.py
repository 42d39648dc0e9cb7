"""Bandit learners (agents.bandit) and the random agent (agents.uniform), per S&B ch. 2."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from scipy.special import softmax
from scipy.stats import chisquare

import agents
import envs  # noqa: F401  (registers rlcourse/Bandit-v0)
from agents.bandit import GradientBanditAgent, Preferences
from agents.strategies import UCB, EpsilonGreedy, Greedy
from agents.tabular import ActionValueAgent, ValueLearning
from agents.uniform import RandomAgent

P_MIN = 1e-3


def no_flags(n_runs):
    return np.zeros(n_runs, dtype=bool)


def feed(agent, obs, actions, rewards):
    """Give the agent the transitions (obs[t], actions[t], rewards[t]) chosen by the test."""
    for o, a, r in zip(obs, actions, rewards, strict=True):
        agent.update(o, a, r, o, no_flags(len(a)), no_flags(len(a)), {})


# -- action-value estimates ------------------------------------------------------------------------


def test_sample_average_estimates_are_per_run_action_means():
    n_runs, n_actions, steps = 40, 5, 60
    rng = np.random.default_rng(0)
    actions = rng.integers(n_actions, size=(steps, n_runs))
    actions[:, ::2] %= n_actions - 1  # even runs never pull the last arm: its estimate stays Q1
    rewards = rng.normal(1.0, 2.0, size=(steps, n_runs))
    agent = ActionValueAgent(Greedy(), ValueLearning(alpha=None, initial=0.0), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(1))
    feed(agent, np.zeros((steps, n_runs), dtype=np.int64), actions, rewards)

    sums, counts = np.zeros((n_runs, n_actions)), np.zeros((n_runs, n_actions))
    for t in range(steps):
        for run in range(n_runs):
            sums[run, actions[t, run]] += rewards[t, run]
            counts[run, actions[t, run]] += 1
    assert (counts == 0).any() and (counts > 1).any()
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    assert agent.q.shape == (n_runs, 1, n_actions)
    np.testing.assert_allclose(agent.q[:, 0], means, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(agent.counts[:, 0], counts)
    assert agent.t == steps


def test_bandit_learner_averages_rewards_per_state():
    n_runs, n_states, n_actions, steps = 10, 3, 4, 80
    rng = np.random.default_rng(2)
    obs = rng.integers(n_states, size=(steps, n_runs))
    actions = rng.integers(n_actions, size=(steps, n_runs))
    rewards = rng.normal(size=(steps, n_runs))
    agent = ActionValueAgent(
        Greedy(), ValueLearning(initial=3.0, learner="bandit"), n_states, n_actions
    )
    agent.reset(n_runs, np.random.default_rng(3))
    feed(agent, obs, actions, rewards)

    expected = np.full((n_runs, n_states, n_actions), 3.0)
    for run in range(n_runs):
        for s in range(n_states):
            for a in range(n_actions):
                mask = (obs[:, run] == s) & (actions[:, run] == a)
                if mask.any():
                    expected[run, s, a] = rewards[mask, run].mean()
    np.testing.assert_allclose(agent.q, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("alpha", "initial"), [(0.1, 0.0), (0.3, 2.0), (1.0, -1.0)])
def test_constant_step_size_is_exponential_recency_weighted_average(alpha, initial):
    n_runs, n_actions, steps = 20, 4, 50
    rng = np.random.default_rng(4)
    actions = rng.integers(n_actions, size=(steps, n_runs))
    rewards = rng.normal(size=(steps, n_runs))
    agent = ActionValueAgent(Greedy(), ValueLearning(alpha=alpha, initial=initial), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(5))
    feed(agent, np.zeros((steps, n_runs), dtype=np.int64), actions, rewards)

    # S&B eq. 2.6: Q_{n+1} = (1-α)^n Q_1 + Σ_i α (1-α)^{n-i} R_i, over that action's rewards
    expected = np.empty((n_runs, n_actions))
    for run in range(n_runs):
        for a in range(n_actions):
            r = rewards[actions[:, run] == a, run]
            n = len(r)
            weights = alpha * (1 - alpha) ** (n - np.arange(1, n + 1))
            expected[run, a] = (1 - alpha) ** n * initial + np.sum(weights * r)
    np.testing.assert_allclose(agent.q[:, 0], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("alpha", [None, 0.1])
def test_optimistic_initial_values(alpha):
    n_runs, n_actions = 30, 6
    agent = ActionValueAgent(Greedy(), ValueLearning(alpha=alpha, initial=5.0), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(6))
    np.testing.assert_array_equal(agent.q, np.full((n_runs, 1, n_actions), 5.0))
    np.testing.assert_array_equal(agent.counts, 0)
    # rewards below the optimistic 5 make a greedy learner try every arm once first
    obs = np.zeros(n_runs, dtype=np.int64)
    chosen = []
    for _ in range(n_actions):
        action = agent.act(obs)
        chosen.append(action)
        agent.update(obs, action, np.zeros(n_runs), obs, no_flags(n_runs), no_flags(n_runs), {})
    chosen = np.sort(np.array(chosen), axis=0)
    np.testing.assert_array_equal(chosen, np.tile(np.arange(n_actions)[:, None], (1, n_runs)))


def test_ucb_agent_tries_every_arm_then_follows_the_bound():
    n_runs, n_actions = 25, 5
    agent = ActionValueAgent(UCB(c=2.0), ValueLearning(), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(7))
    obs = np.zeros(n_runs, dtype=np.int64)
    rng = np.random.default_rng(8)
    chosen = []
    for _ in range(n_actions):
        action = agent.act(obs)
        chosen.append(action)
        reward = rng.normal(size=n_runs)
        agent.update(obs, action, reward, obs, no_flags(n_runs), no_flags(n_runs), {})
    np.testing.assert_array_equal(
        np.sort(chosen, axis=0), np.tile(np.arange(n_actions), (n_runs, 1)).T
    )
    # step n_actions + 1 (t = n_actions steps taken): every count is 1, bonus 2 sqrt(ln(6))
    expected = np.argmax(agent.q[:, 0] + 2.0 * np.sqrt(np.log(n_actions + 1) / 1.0), axis=1)
    np.testing.assert_array_equal(agent.act(obs), expected)


# -- gradient bandit -------------------------------------------------------------------------------


def reference_gradient_bandit(alpha, baseline, n_actions, actions, rewards):
    """S&B eq. 2.12 in plain numpy: H after every step, one row per run."""
    n_runs = len(actions[0])
    h = np.zeros((n_runs, n_actions))
    total = np.zeros(n_runs)
    history = []
    for t, (a, r) in enumerate(zip(actions, rewards, strict=True)):
        pi = softmax(h, axis=1)
        if baseline:
            r_bar = r if t == 0 else total / t  # mean of the previous rewards; R_1 on step 1
        else:
            r_bar = 0.0
        onehot = np.eye(n_actions)[a]
        h = h + alpha * (r - r_bar)[:, None] * (onehot - pi)
        total = total + r
        history.append(h)
    return history


@pytest.mark.parametrize("baseline", [True, False])
def test_gradient_bandit_matches_eq_2_12(baseline):
    n_runs, n_actions, steps, alpha = 6, 4, 12, 0.2
    agent = GradientBanditAgent(Preferences(alpha=alpha, baseline=baseline), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(9))
    obs = np.zeros(n_runs, dtype=np.int64)
    rng = np.random.default_rng(10)
    actions, rewards, history = [], [], []
    for _ in range(steps):
        action = agent.act(obs)
        assert action.shape == (n_runs,)
        reward = rng.normal(1.0, 1.0, size=n_runs)
        agent.update(obs, action, reward, obs, no_flags(n_runs), no_flags(n_runs), {})
        actions.append(action)
        rewards.append(reward)
        history.append(agent.h[:, 0].copy())
    expected = reference_gradient_bandit(alpha, baseline, n_actions, actions, rewards)
    for step, (got, want) in enumerate(zip(history, expected, strict=True)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"step {step + 1}")


def test_gradient_bandit_first_step_by_hand():
    n_actions, alpha = 4, 0.1
    reward = np.array([2.0, -1.0])
    obs = np.zeros(2, dtype=np.int64)

    with_baseline = GradientBanditAgent(Preferences(alpha=alpha, baseline=True), 1, n_actions)
    with_baseline.reset(2, np.random.default_rng(0))
    action = with_baseline.act(obs)
    with_baseline.update(obs, action, reward, obs, no_flags(2), no_flags(2), {})
    np.testing.assert_array_equal(with_baseline.h, 0.0)  # R - R̄ = 0 on the first step

    without = GradientBanditAgent(Preferences(alpha=alpha, baseline=False), 1, n_actions)
    without.reset(2, np.random.default_rng(0))
    action = without.act(obs)
    without.update(obs, action, reward, obs, no_flags(2), no_flags(2), {})
    # H = 0 + α R (1[a] - 1/4): the pulled arm gets +3αR/4, the others -αR/4
    expected = np.empty((2, n_actions))
    for run in range(2):
        expected[run] = -alpha * reward[run] / 4
        expected[run, action[run]] = 3 * alpha * reward[run] / 4
    np.testing.assert_allclose(without.h[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(without.h.sum(axis=-1), 0.0, atol=1e-12)  # Σ(1[a] - π) = 0


def test_gradient_bandit_per_state_baselines():
    n_runs, n_states, n_actions, alpha = 5, 2, 3, 0.5
    agent = GradientBanditAgent(Preferences(alpha=alpha), n_states, n_actions)
    agent.reset(n_runs, np.random.default_rng(11))
    rng = np.random.default_rng(12)
    h = np.zeros((n_runs, n_states, n_actions))
    total, seen = np.zeros((n_runs, n_states)), np.zeros((n_runs, n_states))
    rows = np.arange(n_runs)
    for _ in range(15):
        obs = rng.integers(n_states, size=n_runs)
        action = agent.act(obs)
        reward = rng.normal(size=n_runs)
        agent.update(obs, action, reward, obs, no_flags(n_runs), no_flags(n_runs), {})
        n = seen[rows, obs]
        r_bar = np.where(n == 0, reward, total[rows, obs] / np.maximum(n, 1))
        pi = softmax(h[rows, obs], axis=1)
        h[rows, obs] += alpha * (reward - r_bar)[:, None] * (np.eye(n_actions)[action] - pi)
        total[rows, obs] += reward
        seen[rows, obs] += 1
    np.testing.assert_allclose(agent.h, h, rtol=1e-10, atol=1e-12)


def test_gradient_bandit_acts_from_softmax_of_preferences():
    n_runs, n_actions = 8000, 4
    agent = GradientBanditAgent(Preferences(alpha=0.5, baseline=False), 1, n_actions)
    agent.reset(n_runs, np.random.default_rng(13))
    obs = np.zeros(n_runs, dtype=np.int64)
    # the same transitions in every run give every run the same preferences
    for action, reward in [(0, 1.0), (2, 2.0), (3, -1.0)]:
        agent.act(obs)
        agent.update(
            obs, np.full(n_runs, action), np.full(n_runs, reward), obs, *[no_flags(n_runs)] * 2, {}
        )
    h = agent.h[0, 0]
    np.testing.assert_allclose(agent.h[:, 0], np.tile(h, (n_runs, 1)))
    probs = softmax(h)
    counts = np.bincount(agent.act(obs), minlength=n_actions)
    assert chisquare(counts, probs * n_runs).pvalue > P_MIN


# -- random agent ----------------------------------------------------------------------------------


def test_random_agent_on_discrete_space():
    space = spaces.Discrete(5, start=2)
    agent = RandomAgent(space)
    agent.reset(10000, np.random.default_rng(14))
    actions = agent.act(np.zeros(10000))
    assert actions.shape == (10000,)
    assert all(space.contains(int(a)) for a in np.unique(actions))
    counts = np.bincount(actions - 2, minlength=5)
    assert counts.size == 5 and chisquare(counts).pvalue > P_MIN


def test_random_agent_on_box_space():
    space = spaces.Box(low=-1.0, high=2.0, shape=(2, 3), dtype=np.float32)
    agent = RandomAgent(space)
    agent.reset(50, np.random.default_rng(15))
    actions = agent.act(None)
    assert actions.shape == (50, 2, 3)
    assert all(space.contains(a) for a in actions)
    assert len({a.tobytes() for a in actions}) == 50  # independent draws per run


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(6), spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)],
    ids=["discrete", "box"],
)
def test_random_agent_is_deterministic_under_a_seed(space):
    def actions(seed, agent=None):
        agent = agent or RandomAgent(space)
        agent.reset(20, np.random.default_rng(seed))
        return np.stack([agent.act(None) for _ in range(5)])

    a = actions(3)
    np.testing.assert_array_equal(a, actions(3))
    agent = RandomAgent(space)
    actions(99, agent)
    np.testing.assert_array_equal(a, actions(3, agent))  # reset restarts the stream
    assert not np.array_equal(a, actions(4))


# -- reset and determinism of every registered agent ----------------------------------------------


def test_reset_gives_fresh_action_value_state():
    agent = ActionValueAgent(EpsilonGreedy(0.5), ValueLearning(initial=1.5), 1, 4)
    agent.reset(6, np.random.default_rng(16))
    obs = np.zeros(6, dtype=np.int64)
    for _ in range(5):
        agent.update(obs, agent.act(obs), np.full(6, 9.0), obs, no_flags(6), no_flags(6), {})
    assert (agent.q != 1.5).any() and agent.t == 5
    agent.reset(3, np.random.default_rng(17))
    np.testing.assert_array_equal(agent.q, np.full((3, 1, 4), 1.5))
    np.testing.assert_array_equal(agent.counts, np.zeros((3, 1, 4)))
    assert agent.t == 0
    assert agent.act(np.zeros(3, dtype=np.int64)).shape == (3,)
    # the sample average restarts: one reward after the reset is the whole estimate
    action = np.array([0, 1, 2])
    agent.update(obs[:3], action, np.array([1.0, 2.0, 3.0]), obs[:3], no_flags(3), no_flags(3), {})
    np.testing.assert_allclose(agent.q[[0, 1, 2], 0, action], [1.0, 2.0, 3.0])


def test_reset_gives_fresh_gradient_bandit_state():
    agent = GradientBanditAgent(Preferences(alpha=0.3), 1, 3)
    agent.reset(4, np.random.default_rng(18))
    obs = np.zeros(4, dtype=np.int64)
    for reward in (1.0, 5.0, -2.0):
        agent.update(obs, agent.act(obs), np.full(4, reward), obs, no_flags(4), no_flags(4), {})
    assert (agent.h != 0).any()
    agent.reset(2, np.random.default_rng(19))
    np.testing.assert_array_equal(agent.h, np.zeros((2, 1, 3)))
    # no baseline carried over: the first update after reset again leaves H at 0
    obs = obs[:2]
    agent.update(obs, agent.act(obs), np.array([7.0, -7.0]), obs, no_flags(2), no_flags(2), {})
    np.testing.assert_array_equal(agent.h, 0.0)


def run_agent(name, seed, n_runs=50, steps=30):
    """The actions an agent takes on the bandit, everything seeded from ``seed``."""
    vec = gym.make_vec("rlcourse/Bandit-v0", num_envs=n_runs)
    agent = agents.make(name, vec.single_observation_space, vec.single_action_space)
    agent.reset(n_runs, np.random.default_rng(seed))
    obs, _ = vec.reset(seed=seed)
    taken = []
    for _ in range(steps):
        action = agent.act(obs)
        assert action.shape == (n_runs,)
        assert vec.action_space.contains(action.astype(np.int64))
        next_obs, reward, terminated, truncated, _ = vec.step(action)
        agent.update(obs, action, reward, next_obs, terminated, truncated, {})
        obs = next_obs
        taken.append(action)
    return np.array(taken)


BANDIT = gym.make("rlcourse/Bandit-v0")
FITS_BANDIT = [
    name
    for name, entry in agents.AGENTS.items()
    if entry.fits(BANDIT.observation_space, BANDIT.action_space)
]


@pytest.mark.parametrize("name", FITS_BANDIT)
def test_same_seed_same_actions(name):
    first = run_agent(name, seed=21)
    np.testing.assert_array_equal(first, run_agent(name, seed=21))
    assert not np.array_equal(first, run_agent(name, seed=22))


def test_gradient_bandit_update_uses_current_preferences_without_act():
    """Eq. 2.12 holds for consecutive updates with no act() between them (no stale policy)."""
    agent = GradientBanditAgent(Preferences(alpha=0.1, baseline=False), 1, 3)
    agent.reset(2, np.random.default_rng(0))
    obs, flags = np.zeros(2, dtype=int), np.zeros(2, dtype=bool)
    h = np.zeros((2, 3))
    for action in (np.array([0, 1]), np.array([2, 1])):
        agent.update(obs, action, np.ones(2), obs, flags, flags, {})
        onehot = np.eye(3)[action]
        h = h + 0.1 * 1.0 * (onehot - softmax(h, axis=1))
        np.testing.assert_allclose(agent.h[:, 0], h)
