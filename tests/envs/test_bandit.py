"""The k-armed bandit (envs.bandit): Gymnasium contract, registration, statistics, autoreset."""

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.bandit import BanditEnv, BanditVectorEnv

BANDIT = "rlcourse/Bandit-v0"
N_SE = 5  # tolerance of the statistical checks, in standard errors

VARIANTS = {
    "default": {},
    "bernoulli": {"arms": "bernoulli"},
    "nonstationary": {"value_std": 0.0, "walk_std": 0.01},
}


def within(estimate, target, standard_error):
    """Whether ``estimate`` is within N_SE standard errors of ``target``."""
    return abs(estimate - target) <= N_SE * standard_error


def make_vec(num_envs, **kwargs):
    return gym.make_vec(BANDIT, num_envs=num_envs, **kwargs)


# -- Gymnasium / Stable-Baselines3 contract ----------------------------------------------------


def _checked(check, env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings only (e.g. no render_fps); errors still raise
        check(env)


@pytest.mark.parametrize("env_id", envs.registered_ids())
def test_registered_envs_pass_gymnasium_check_env(env_id):
    _checked(gym_check_env, gym.make(env_id).unwrapped)


@pytest.mark.parametrize("env_id", envs.registered_ids())
def test_registered_envs_pass_sb3_check_env(env_id):
    _checked(sb3_check_env, gym.make(env_id))


@pytest.mark.parametrize("kwargs", list(VARIANTS.values()), ids=list(VARIANTS))
def test_bandit_variants_pass_both_checkers(kwargs):
    _checked(gym_check_env, gym.make(BANDIT, **kwargs).unwrapped)
    _checked(sb3_check_env, gym.make(BANDIT, **kwargs))


def test_spaces_of_single_env():
    env = gym.make(BANDIT, k=7)
    assert env.action_space == spaces.Discrete(7)
    assert env.observation_space == spaces.Discrete(1)
    obs, info = env.reset(seed=0)
    assert obs == 0 and info == {}
    obs, *_ = env.step(3)
    assert obs == 0


# -- registration ---------------------------------------------------------------------------------


def test_registered_ids_are_sorted_and_namespaced():
    ids = envs.registered_ids()
    assert BANDIT in ids
    assert ids == sorted(ids)
    assert all(env_id.startswith("rlcourse/") for env_id in ids)
    assert set(envs.ALIASES.values()) <= set(ids)
    assert envs.ALIASES["bandit"] == BANDIT


def test_spec_has_time_limit_and_vector_entry_point():
    spec = gym.spec(BANDIT)
    assert spec.max_episode_steps == 1000
    assert spec.entry_point == "envs.bandit:BanditEnv"
    assert spec.vector_entry_point == "envs.bandit:BanditVectorEnv"
    assert isinstance(gym.make(BANDIT).unwrapped, BanditEnv)


@pytest.mark.parametrize(("num_envs", "k"), [(1, 10), (4, 10), (3, 5)])
def test_make_vec_gives_native_vector_env_with_batched_spaces(num_envs, k):
    vec = make_vec(num_envs, k=k)
    assert isinstance(vec, BanditVectorEnv)
    assert vec.num_envs == num_envs
    assert vec.single_observation_space == spaces.Discrete(1)
    assert vec.single_action_space == spaces.Discrete(k)
    assert vec.observation_space == spaces.MultiDiscrete(np.ones(num_envs, dtype=np.int64))
    assert vec.action_space == spaces.MultiDiscrete(np.full(num_envs, k, dtype=np.int64))
    assert vec.max_episode_steps == 1000  # taken from the spec
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (num_envs,) and vec.observation_space.contains(obs)
    assert vec.values.shape == (num_envs, k)
    obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
    assert obs.shape == reward.shape == terminated.shape == truncated.shape == (num_envs,)
    assert info["optimal_action"].shape == info["regret"].shape == (num_envs,)


# -- statistics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value_mean", "value_std"), [(0.0, 1.0), (4.0, 1.0), (-1.0, 2.5)])
def test_true_values_are_normal_with_configured_mean_and_std(value_mean, value_std):
    vec = make_vec(2000, value_mean=value_mean, value_std=value_std)
    vec.reset(seed=1)
    values = vec.values.ravel()
    n = values.size
    assert within(values.mean(), value_mean, value_std / np.sqrt(n))
    # standard error of a normal sample's standard deviation: sigma / sqrt(2 n)
    assert within(values.std(ddof=1), value_std, value_std / np.sqrt(2 * n))


def test_single_env_true_values_have_mean_4_and_std_1():
    env = gym.make(BANDIT, value_mean=4.0)
    draws = []
    for i in range(300):
        env.reset(seed=i)
        draws.append(env.unwrapped.values.copy())
    values = np.concatenate(draws)
    assert values.shape == (3000,)
    assert within(values.mean(), 4.0, 1.0 / np.sqrt(values.size))
    assert within(values.std(ddof=1), 1.0, 1.0 / np.sqrt(2 * values.size))


@pytest.mark.parametrize("reward_std", [1.0, 2.0])
def test_gaussian_rewards_are_normal_around_true_value(reward_std):
    n_runs, steps = 2000, 5
    vec = make_vec(n_runs, value_mean=4.0, reward_std=reward_std)
    vec.reset(seed=2)
    rng = np.random.default_rng(0)
    noise = []
    for _ in range(steps):
        actions = rng.integers(10, size=n_runs)
        q_star = vec.values[np.arange(n_runs), actions]
        _, reward, *_ = vec.step(actions)
        noise.append(reward - q_star)
    noise = np.concatenate(noise)
    n = noise.size
    assert within(noise.mean(), 0.0, reward_std / np.sqrt(n))
    assert within(noise.std(ddof=1), reward_std, reward_std / np.sqrt(2 * n))


def test_zero_reward_std_pays_exactly_the_true_value():
    vec = make_vec(50, reward_std=0.0)
    vec.reset(seed=3)
    actions = np.arange(50) % 10
    expected = vec.values[np.arange(50), actions]
    _, reward, *_ = vec.step(actions)
    np.testing.assert_array_equal(reward, expected)


def test_bernoulli_values_are_uniform_probabilities():
    vec = make_vec(2000, arms="bernoulli")
    vec.reset(seed=4)
    p = vec.values.ravel()
    assert ((p >= 0) & (p <= 1)).all()
    assert within(p.mean(), 0.5, np.sqrt(1 / 12) / np.sqrt(p.size))
    assert within(p.var(ddof=1), 1 / 12, 1 / np.sqrt(180 * p.size))  # Var of U(0,1)² = 1/180


def test_bernoulli_rewards_are_binary_with_frequency_p():
    n_runs, steps = 2000, 10
    vec = make_vec(n_runs, arms="bernoulli")
    vec.reset(seed=5)
    rng = np.random.default_rng(1)
    p_pulled, rewards = [], []
    for _ in range(steps):
        actions = rng.integers(10, size=n_runs)
        p_pulled.append(vec.values[np.arange(n_runs), actions])
        rewards.append(vec.step(actions)[1])
    p_pulled, rewards = np.concatenate(p_pulled), np.concatenate(rewards)
    assert set(np.unique(rewards)) <= {0.0, 1.0}
    # in every fifth of [0, 1], the frequency of 1 matches the mean probability of the arms pulled
    bins = np.minimum((p_pulled * 5).astype(int), 4)
    for b in range(5):
        p, r = p_pulled[bins == b], rewards[bins == b]
        assert r.size > 1000
        assert within(r.mean(), p.mean(), np.sqrt(np.mean(p * (1 - p)) / r.size))


@pytest.mark.parametrize("walk_std", [0.01, 0.05])
def test_random_walk_increments_have_walk_std(walk_std):
    n_runs, steps = 2000, 5
    vec = make_vec(n_runs, value_std=0.0, walk_std=walk_std)
    vec.reset(seed=6)
    start = vec.values.copy()
    np.testing.assert_array_equal(start, 0.0)  # value_std=0: every arm starts at value_mean
    increments = []
    for _ in range(steps):
        before = vec.values.copy()
        vec.step(np.zeros(n_runs, dtype=np.int64))
        increments.append(vec.values - before)
    increments = np.concatenate(increments).ravel()
    n = increments.size
    assert within(increments.mean(), 0.0, walk_std / np.sqrt(n))
    assert within(increments.std(ddof=1), walk_std, walk_std / np.sqrt(2 * n))
    # a random walk: the total displacement after `steps` steps has std walk_std * sqrt(steps)
    total = (vec.values - start).ravel()
    sigma = walk_std * np.sqrt(steps)
    assert within(total.std(ddof=1), sigma, sigma / np.sqrt(2 * total.size))


def test_zero_walk_std_leaves_values_fixed():
    vec = make_vec(100, walk_std=0.0)
    vec.reset(seed=7)
    start = vec.values.copy()
    for t in range(5):
        vec.step(np.full(100, t))
    np.testing.assert_array_equal(vec.values, start)

    env = gym.make(BANDIT)
    env.reset(seed=7)
    start = env.unwrapped.values.copy()
    for t in range(5):
        env.step(t)
    np.testing.assert_array_equal(env.unwrapped.values, start)


def test_single_env_values_drift_when_nonstationary():
    env = gym.make(BANDIT, value_std=0.0, walk_std=0.01)
    env.reset(seed=8)
    np.testing.assert_array_equal(env.unwrapped.values, np.zeros(10))
    env.step(0)
    values = env.unwrapped.values
    assert not np.array_equal(values, np.zeros(10))
    assert np.abs(values).max() < 10 * 0.01  # one step of size 0.01, not a redraw


def test_bernoulli_random_walk_stays_in_unit_interval():
    vec = make_vec(200, arms="bernoulli", walk_std=0.5)
    vec.reset(seed=9)
    for _ in range(5):
        vec.step(np.zeros(200, dtype=np.int64))
        assert ((vec.values >= 0) & (vec.values <= 1)).all()
    assert ((vec.values == 0) | (vec.values == 1)).any()  # such big steps do hit the bounds


# -- info -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", list(VARIANTS.values()), ids=list(VARIANTS))
def test_single_env_info_optimal_action_and_regret(kwargs):
    env = gym.make(BANDIT, **kwargs)
    env.reset(seed=10)
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(200):
        values = env.unwrapped.values.copy()  # before the step (and its random walk)
        action = int(np.argmax(values)) if rng.random() < 0.5 else int(rng.integers(10))
        _, _, terminated, truncated, info = env.step(action)
        assert not terminated and not truncated
        assert isinstance(info["optimal_action"], bool) and isinstance(info["regret"], float)
        optimal = values[action] == values.max()
        assert info["optimal_action"] == optimal
        assert info["regret"] == values.max() - values[action]
        assert info["regret"] >= 0
        assert (info["regret"] == 0) == info["optimal_action"]
        seen.add(info["optimal_action"])
    assert seen == {True, False}


@pytest.mark.parametrize("kwargs", list(VARIANTS.values()), ids=list(VARIANTS))
def test_vector_env_info_optimal_action_and_regret(kwargs):
    n_runs = 500
    vec = make_vec(n_runs, **kwargs)
    vec.reset(seed=11)
    rng = np.random.default_rng(3)
    rows = np.arange(n_runs)
    seen = set()
    for _ in range(3):
        values = vec.values.copy()
        actions = np.where(rng.random(n_runs) < 0.5, values.argmax(axis=1), rng.integers(10))
        _, _, _, _, info = vec.step(actions)
        best, chosen = values.max(axis=1), values[rows, actions]
        np.testing.assert_array_equal(info["optimal_action"], chosen == best)
        np.testing.assert_array_equal(info["regret"], best - chosen)
        assert (info["regret"] >= 0).all()
        np.testing.assert_array_equal(info["regret"] == 0, info["optimal_action"])
        seen |= set(info["optimal_action"].tolist())
    assert seen == {True, False}


def test_gaussian_optimal_action_is_the_argmax():
    env = gym.make(BANDIT)
    env.reset(seed=12)
    values = env.unwrapped.values
    best = int(np.argmax(values))
    for action in range(10):
        _, _, _, _, info = env.step(action)
        assert info["optimal_action"] == (action == best)


# -- episode end ----------------------------------------------------------------------------------


def test_single_env_truncates_at_registered_limit_and_never_terminates():
    env = gym.make(BANDIT)
    env.reset(seed=13)
    for step in range(1, 1001):
        _, _, terminated, truncated, _ = env.step(step % 10)
        assert not terminated
        assert truncated == (step == 1000)


def test_single_env_truncates_at_custom_limit():
    env = gym.make(BANDIT, max_episode_steps=7)
    env.reset(seed=14)
    flags = [env.step(0)[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_vector_env_truncates_by_itself_and_never_terminates():
    vec = make_vec(5, max_episode_steps=4, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=15)
    for step in range(1, 5):
        _, _, terminated, truncated, _ = vec.step(np.zeros(5, dtype=np.int64))
        assert not terminated.any()
        np.testing.assert_array_equal(truncated, np.full(5, step == 4))


# -- vector autoreset modes -----------------------------------------------------------------------


def _staggered(autoreset_mode, n_runs=6, max_steps=3, seed=16):
    """A vector env whose even rows restarted one step after the odd rows."""
    vec = make_vec(n_runs, max_episode_steps=max_steps, autoreset_mode=autoreset_mode)
    assert vec.metadata["autoreset_mode"] == autoreset_mode
    vec.reset(seed=seed)
    vec.step(np.zeros(n_runs, dtype=np.int64))
    even = np.arange(n_runs) % 2 == 0
    vec.reset(options={"reset_mask": even})
    return vec, even


def test_next_step_autoreset_returns_zero_reward_and_redraws_values():
    vec, even = _staggered(AutoresetMode.NEXT_STEP)
    actions = np.zeros(6, dtype=np.int64)
    # odd rows have 1 step of 3 behind them, even rows 0
    _, reward, terminated, truncated, _ = vec.step(actions)
    assert not truncated.any() and (reward != 0).all()
    _, reward, terminated, truncated, _ = vec.step(actions)
    np.testing.assert_array_equal(truncated, ~even)  # odd rows: 3rd step
    assert (reward != 0).all()  # the truncating step is a real transition
    before = vec.values.copy()
    _, reward, terminated, truncated, _ = vec.step(actions)
    # odd rows: this step is the reset (reward 0, new values); even rows truncate now
    np.testing.assert_array_equal(reward == 0, ~even)
    np.testing.assert_array_equal(truncated, even)
    assert not terminated.any()
    assert (vec.values[~even] != before[~even]).all()
    np.testing.assert_array_equal(vec.values[even], before[even])
    before = vec.values.copy()
    _, reward, terminated, truncated, _ = vec.step(actions)
    np.testing.assert_array_equal(reward == 0, even)  # now the even rows reset
    assert not truncated.any()
    assert (vec.values[even] != before[even]).all()
    np.testing.assert_array_equal(vec.values[~even], before[~even])
    # the odd rows' new episode: the reset step does not count, then 3 real steps
    flags = [vec.step(actions)[3] for _ in range(3)]
    np.testing.assert_array_equal(flags[0], np.zeros(6, dtype=bool))
    np.testing.assert_array_equal(flags[1], ~even)
    np.testing.assert_array_equal(flags[2], even)  # and the odd rows reset meanwhile


def test_same_step_autoreset_reports_final_obs_on_the_truncating_step():
    vec, even = _staggered(AutoresetMode.SAME_STEP)
    actions = np.zeros(6, dtype=np.int64)
    _, _, _, truncated, info = vec.step(actions)
    assert not truncated.any() and "final_obs" not in info and "_final_obs" not in info
    before = vec.values.copy()
    obs, reward, terminated, truncated, info = vec.step(actions)
    np.testing.assert_array_equal(truncated, ~even)
    assert not terminated.any()
    assert (reward != 0).all()  # a real reward on the truncating step
    np.testing.assert_array_equal(info["_final_obs"], ~even)
    np.testing.assert_array_equal(info["final_obs"], np.zeros(6))
    np.testing.assert_array_equal(obs, np.zeros(6))
    assert (vec.values[~even] != before[~even]).all()  # reset on the same step
    np.testing.assert_array_equal(vec.values[even], before[even])
    before = vec.values.copy()
    _, reward, _, truncated, info = vec.step(actions)
    np.testing.assert_array_equal(truncated, even)
    assert (reward != 0).all()  # no step is wasted on a reset in this mode
    np.testing.assert_array_equal(info["_final_obs"], even)
    np.testing.assert_array_equal(vec.values[~even], before[~even])


def test_disabled_autoreset_waits_for_reset_mask():
    vec = make_vec(4, max_episode_steps=2, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=17)
    start = vec.values.copy()
    actions = np.ones(4, dtype=np.int64)
    vec.step(actions)
    assert vec.step(actions)[3].all()
    for _ in range(3):  # nothing resets by itself: still truncated, same problems, real rewards
        _, reward, terminated, truncated, info = vec.step(actions)
        assert truncated.all() and not terminated.any()
        assert (reward != 0).all() and "final_obs" not in info
        np.testing.assert_array_equal(vec.values, start)
    mask = np.array([True, False, False, True])
    obs, _ = vec.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(obs, np.zeros(4))
    assert (vec.values[mask] != start[mask]).all()
    np.testing.assert_array_equal(vec.values[~mask], start[~mask])
    _, _, _, truncated, _ = vec.step(actions)
    np.testing.assert_array_equal(truncated, ~mask)
    _, _, _, truncated, _ = vec.step(actions)
    assert truncated.all()


@pytest.mark.parametrize("mask", [np.ones(3, dtype=bool), np.ones(4, dtype=np.int64)])
def test_reset_mask_must_be_bool_array_of_num_envs(mask):
    vec = make_vec(4, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=0)
    message = "options['reset_mask'] must be a bool array of shape (4,)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        vec.reset(options={"reset_mask": mask})


def test_reset_mask_may_be_a_list_of_bools():
    vec = make_vec(4, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=0)
    start = vec.values.copy()
    vec.reset(options={"reset_mask": [False, True, False, False]})
    changed = (vec.values != start).any(axis=1)
    np.testing.assert_array_equal(changed, [False, True, False, False])


# -- determinism and validation -------------------------------------------------------------------


def _single_trajectory(seed, kwargs, steps=20):
    env = gym.make(BANDIT, **kwargs)
    env.reset(seed=seed)
    values, rewards = [env.unwrapped.values.copy()], []
    for t in range(steps):
        rewards.append(env.step(t % 10)[1])
        values.append(env.unwrapped.values.copy())
    return np.array(values), np.array(rewards)


def _vector_trajectory(seed, kwargs, steps=20, n_runs=8):
    vec = make_vec(n_runs, **kwargs)
    vec.reset(seed=seed)
    values, rewards = [vec.values.copy()], []
    for t in range(steps):
        rewards.append(vec.step(np.full(n_runs, t % 10))[1])
        values.append(vec.values.copy())
    return np.array(values), np.array(rewards)


@pytest.mark.parametrize("trajectory", [_single_trajectory, _vector_trajectory])
@pytest.mark.parametrize("kwargs", list(VARIANTS.values()), ids=list(VARIANTS))
def test_same_seed_same_values_and_rewards(trajectory, kwargs):
    values_a, rewards_a = trajectory(123, kwargs)
    values_b, rewards_b = trajectory(123, kwargs)
    np.testing.assert_array_equal(values_a, values_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    values_c, rewards_c = trajectory(124, kwargs)
    assert not np.array_equal(values_c, values_a)
    assert not np.array_equal(rewards_c, rewards_a)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive integer, got 0"),
        ({"k": 2.5}, "k must be a positive integer, got 2.5"),
        ({"reward_std": -1}, "reward_std must be >= 0, got -1"),
        ({"value_std": -0.5}, "value_std must be >= 0, got -0.5"),
        ({"walk_std": -0.1}, "walk_std must be >= 0, got -0.1"),
        ({"arms": "cauchy"}, "arms must be one of gaussian, bernoulli, got 'cauchy'"),
    ],
)
@pytest.mark.parametrize("build", ["single", "vector"])
def test_bad_config_raises_value_error_naming_the_argument(kwargs, message, build):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        if build == "single":
            gym.make(BANDIT, **kwargs)
        else:
            make_vec(3, **kwargs)


@pytest.mark.parametrize("action", [-1, 10, 3.5, "0"])
def test_out_of_range_action_raises_value_error(action):
    env = gym.make(BANDIT)
    env.reset(seed=0)
    message = f"action must be an arm in 0..9, got {action!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        env.unwrapped.step(action)
    with pytest.raises(ValueError, match=re.escape(message)):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = gym.make(BANDIT)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.int64(9))
    assert info["regret"] == env.unwrapped.values.max() - env.unwrapped.values[9]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ansi_render_marks_the_best_arm():
    env = gym.make(BANDIT, k=4, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    best = int(np.argmax(env.unwrapped.values))
    assert text.count("*") == 1 and f"*{best}:" in text
    assert len(text.split()) == 4
    with pytest.raises(ValueError, match="render_mode"):
        gym.make(BANDIT, render_mode="human")
