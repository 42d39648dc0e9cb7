"""Gridworlds (envs.gridworld): the model P, the Gymnasium contract, sampling, the vector env."""

import re
import warnings
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.vector import AutoresetMode
from scipy import stats
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.gridworld import GridWorldEnv, GridWorldVectorEnv
from envs.layouts import LayoutError

GRID = "rlcourse/GridWorld-v0"
LAYOUTS = ["4x4", "cliff", "four-rooms", "frozen-8x8"]
OBSERVATIONS = ["index", "onehot", "coords", "rgb"]
UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
P_MIN = 1e-3  # statistical checks fail below this p-value

# A small layout with every kind of cell; states are row * 4 + column:
#    0 S   1 .   2 #   3 .
#    4 .   5 .   6 X   7 G
#    8 C   9 .  10 .  11 .
SMALL = "S.#./..XG/C..."
REWARDS = {"step_reward": -1.0, "goal_reward": 10.0, "pit_reward": -50.0, "cliff_reward": -7.0}


def model(layout, **kwargs):
    """``P`` of an env made through the registry."""
    return gym.make(GRID, layout=layout, **kwargs).unwrapped.P


def dist(outcomes):
    """``{(next_state, reward, terminated): probability}`` of one ``P[s][a]``, duplicates summed."""
    out: dict[tuple[int, float, bool], float] = {}
    for prob, nxt, reward, terminated in outcomes:
        key = (int(nxt), float(reward), bool(terminated))
        out[key] = out.get(key, 0.0) + prob
    return out


def assert_dist(outcomes, expected):
    got = dist(outcomes)
    assert set(got) == set(expected)
    for key, prob in expected.items():
        assert got[key] == pytest.approx(prob, abs=1e-12), key


def make_vec(num_envs, **kwargs):
    return gym.make_vec(GRID, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def _checked(check, env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings only; errors still raise
        check(env)


# -- registration and the two env checkers ---------------------------------------------------------


def test_registration():
    assert GRID in envs.registered_ids()
    assert envs.ALIASES["gridworld"] == GRID
    spec = gym.spec(GRID)
    assert spec.max_episode_steps == 1000
    assert spec.vector_entry_point is not None
    assert isinstance(make_vec(2).unwrapped, GridWorldVectorEnv)
    assert isinstance(gym.make(GRID).unwrapped, GridWorldEnv)


@pytest.mark.parametrize("observation", OBSERVATIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_both_env_checkers_pass(layout, observation):
    _checked(gym_check_env, gym.make(GRID, layout=layout, observation=observation).unwrapped)
    _checked(sb3_check_env, gym.make(GRID, layout=layout, observation=observation))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_spaces(layout):
    env = gym.make(GRID, layout=layout)
    rows, cols = env.unwrapped.model.rows, env.unwrapped.model.cols
    assert env.action_space == spaces.Discrete(4)
    assert env.observation_space == spaces.Discrete(rows * cols)
    onehot = gym.make(GRID, layout=layout, observation="onehot").observation_space
    assert onehot == spaces.Box(0.0, 1.0, (rows * cols,), np.float32)
    coords = gym.make(GRID, layout=layout, observation="coords").observation_space
    assert coords == spaces.MultiDiscrete([rows, cols])


# -- the model P, by hand --------------------------------------------------------------------------


def test_walls_and_borders_keep_the_agent_in_place_with_step_reward():
    P = model(SMALL, **REWARDS)
    stay = lambda s: {(s, -1.0, False): 1.0}  # noqa: E731
    assert_dist(P[0][UP], stay(0))  # top border
    assert_dist(P[0][LEFT], stay(0))  # left border
    assert_dist(P[1][RIGHT], stay(1))  # wall at 2
    assert_dist(P[3][LEFT], stay(3))  # wall at 2
    assert_dist(P[3][UP], stay(3))
    assert_dist(P[3][RIGHT], stay(3))  # right border
    assert_dist(P[11][DOWN], stay(11))  # bottom border


def test_moves_onto_floor_cost_the_step_reward():
    P = model(SMALL, **REWARDS)
    assert_dist(P[0][RIGHT], {(1, -1.0, False): 1.0})
    assert_dist(P[0][DOWN], {(4, -1.0, False): 1.0})
    assert_dist(P[5][UP], {(1, -1.0, False): 1.0})
    assert_dist(P[9][RIGHT], {(10, -1.0, False): 1.0})
    assert_dist(P[4][UP], {(0, -1.0, False): 1.0})  # back onto the start is floor


def test_entering_the_goal_terminates_with_goal_reward():
    P = model(SMALL, **REWARDS)
    assert_dist(P[3][DOWN], {(7, 10.0, True): 1.0})
    assert_dist(P[11][UP], {(7, 10.0, True): 1.0})


def test_entering_a_pit_terminates_with_pit_reward():
    P = model(SMALL, **REWARDS)
    assert_dist(P[5][RIGHT], {(6, -50.0, True): 1.0})
    assert_dist(P[10][UP], {(6, -50.0, True): 1.0})


def test_cliff_gives_cliff_reward_and_sends_back_to_start_without_terminating():
    P = model(SMALL, **REWARDS)
    assert_dist(P[4][DOWN], {(0, -7.0, False): 1.0})
    assert_dist(P[9][LEFT], {(0, -7.0, False): 1.0})


def test_cliff_splits_evenly_among_several_starts():
    #  0 S  1 .  2 S  3 .
    #  4 C  5 .  6 .  7 .
    #  8 .  9 . 10 . 11 G
    P = model("S.S./C.../...G", cliff_reward=-5.0)
    assert_dist(P[0][DOWN], {(0, -5.0, False): 0.5, (2, -5.0, False): 0.5})
    assert_dist(P[8][UP], {(0, -5.0, False): 0.5, (2, -5.0, False): 0.5})
    assert_dist(P[5][LEFT], {(0, -5.0, False): 0.5, (2, -5.0, False): 0.5})


@pytest.mark.parametrize("state", [2, 6, 7], ids=["wall", "pit", "goal"])
def test_terminal_and_wall_states_are_absorbing(state):
    P = model(SMALL, **REWARDS)
    for a in range(4):
        assert_dist(P[state][a], {(state, 0.0, True): 1.0})


def test_default_rewards_of_a_custom_layout():
    P = model(SMALL)  # GridConfig defaults: -1 per step, -1 goal, -100 pit, -100 cliff
    assert_dist(P[0][RIGHT], {(1, -1.0, False): 1.0})
    assert_dist(P[3][DOWN], {(7, -1.0, True): 1.0})
    assert_dist(P[5][RIGHT], {(6, -100.0, True): 1.0})
    assert_dist(P[4][DOWN], {(0, -100.0, False): 1.0})


def test_slip_sends_perpendicular_with_half_the_slip_probability_each():
    #  0 S  1 .  2 .
    #  3 .  4 .  5 .
    #  6 .  7 .  8 G
    P = model("S../.../..G", slip=0.2)
    up, right, down, left = 1, 5, 7, 3  # the neighbours of the centre cell 4
    step = lambda s, p: ((s, -1.0, False), p)  # noqa: E731
    assert_dist(P[4][UP], dict([step(up, 0.8), step(right, 0.1), step(left, 0.1)]))
    assert_dist(P[4][RIGHT], dict([step(right, 0.8), step(down, 0.1), step(up, 0.1)]))
    assert_dist(P[4][DOWN], dict([step(down, 0.8), step(left, 0.1), step(right, 0.1)]))
    assert_dist(P[4][LEFT], dict([step(left, 0.8), step(up, 0.1), step(down, 0.1)]))
    # slipping into the goal
    assert_dist(P[7][DOWN], {(7, -1.0, False): 0.8, (8, -1.0, True): 0.1, (6, -1.0, False): 0.1})


def test_slip_outcomes_leading_to_the_same_cell_are_merged():
    P = model("S../.../..G", slip=0.2)
    # in the corner, up and left both stay put
    for action, other in ((UP, 1), (LEFT, 3)):
        assert len(P[0][action]) == 2
        assert_dist(P[0][action], {(0, -1.0, False): 0.9, (other, -1.0, False): 0.1})
    # on the top border, up stays put (0.8) and the slips go sideways
    assert len(P[1][UP]) == 3
    assert_dist(P[1][UP], {(1, -1.0, False): 0.8, (2, -1.0, False): 0.1, (0, -1.0, False): 0.1})


def test_slip_one_never_takes_the_intended_move():
    P = model("S../.../..G", slip=1.0)
    assert_dist(P[4][UP], {(5, -1.0, False): 0.5, (3, -1.0, False): 0.5})


@pytest.mark.parametrize("slip", [0.0, 0.2, 2 / 3])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_row_of_P_is_a_distribution_without_duplicates(layout, slip):
    P = model(layout, slip=slip)
    rows, cols = gym.make(GRID, layout=layout).unwrapped.model.layout.shape
    assert set(P) == set(range(rows * cols))
    for s in P:
        assert set(P[s]) == {0, 1, 2, 3}
        for a in range(4):
            outcomes = P[s][a]
            keys = [(nxt, r, term) for _, nxt, r, term in outcomes]
            assert len(keys) == len(set(keys)), (s, a)
            assert all(p > 0 for p, *_ in outcomes)
            assert sum(p for p, *_ in outcomes) == pytest.approx(1.0, abs=1e-12)
            assert all(0 <= nxt < rows * cols for _, nxt, _, _ in outcomes)


def test_example_4_1_random_policy_values():
    """Iterative policy evaluation of the equiprobable random policy, gamma = 1 (Figure 4.1)."""
    P = gym.make(GRID, layout="4x4").unwrapped.P
    v = np.zeros(16)
    for _ in range(10_000):
        delta = 0.0
        for s in range(16):
            new = sum(
                0.25 * p * (r + (0.0 if term else v[nxt]))
                for a in range(4)
                for p, nxt, r, term in P[s][a]
            )
            delta = max(delta, abs(new - v[s]))
            v[s] = new
        if delta < 1e-9:
            break
    book = [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]]
    np.testing.assert_allclose(v.reshape(4, 4), book, atol=1e-3)


def test_example_6_6_optimal_return_is_minus_13():
    """Value iteration on the cliff: the best path (up, 11 right, down) costs 13."""
    P = gym.make(GRID, layout="cliff").unwrapped.P
    v = np.zeros(48)
    for _ in range(1000):
        new = np.array(
            [
                max(
                    sum(p * (r + (0.0 if term else v[nxt])) for p, nxt, r, term in P[s][a])
                    for a in range(4)
                )
                for s in range(48)
            ]
        )
        if np.abs(new - v).max() < 1e-12:
            break
        v = new
    start = 3 * 12
    assert v[start] == pytest.approx(-13.0)
    assert_dist(P[start][RIGHT], {(start, -100.0, False): 1.0})  # stepping on the cliff


def test_frozen_8x8_P_matches_frozen_lake():
    ours = gym.make(GRID, layout="frozen-8x8").unwrapped.P
    lake = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True).unwrapped
    desc = lake.desc.astype(str).ravel()
    to_lake = {UP: 3, RIGHT: 2, DOWN: 1, LEFT: 0}  # FrozenLake: 0 left, 1 down, 2 right, 3 up
    compared = 0
    for s in range(64):
        if desc[s] in "GH":
            continue
        for a in range(4):
            theirs = dist(lake.P[s][to_lake[a]])
            assert_dist(ours[s][a], theirs)
            compared += 1
    assert compared == 4 * (64 - 10 - 1)  # 10 holes, 1 goal


# -- sampling: empirical frequencies against P -----------------------------------------------------


def _pooled_chisquare(transitions, P):
    """p-value of transitions ``(s, a, next, reward, terminated)`` against P, pooled over (s, a).

    Sums the Pearson statistics of every (s, a) seen at least 30 times with more than one outcome.
    """
    by_pair: dict[tuple[int, int], Counter] = {}
    for s, a, *outcome in transitions:
        key = (int(outcome[0]), float(outcome[1]), bool(outcome[2]))
        by_pair.setdefault((int(s), int(a)), Counter())[key] += 1
    statistic, dof = 0.0, 0
    for (s, a), counts in by_pair.items():
        expected = dist(P[s][a])
        assert set(counts) <= set(expected), (s, a, counts)  # nothing outside the model
        n = sum(counts.values())
        if n < 30 or len(expected) < 2:
            continue
        for key, prob in expected.items():
            statistic += (counts[key] - n * prob) ** 2 / (n * prob)
        dof += len(expected) - 1
    assert dof >= 20
    return stats.chi2.sf(statistic, dof)


def test_single_env_frequencies_match_P_on_frozen_8x8():
    env = gym.make(GRID, layout="frozen-8x8")
    P = env.unwrapped.P
    rng = np.random.default_rng(1)
    s, _ = env.reset(seed=1)
    transitions = []
    for a in rng.integers(4, size=30_000):
        nxt, reward, terminated, truncated, info = env.step(int(a))
        assert info["prob"] == pytest.approx(dist(P[s][a])[nxt, reward, terminated])
        transitions.append((s, a, nxt, reward, terminated))
        s = nxt
        if terminated or truncated:
            s, _ = env.reset()
    assert _pooled_chisquare(transitions, P) > P_MIN


def test_vector_env_frequencies_match_P_on_frozen_8x8():
    n = 500
    vec = make_vec(n, layout="frozen-8x8", autoreset_mode=AutoresetMode.DISABLED)
    P = gym.make(GRID, layout="frozen-8x8").unwrapped.P
    rng = np.random.default_rng(2)
    s, _ = vec.reset(seed=2)
    transitions = []
    for _ in range(60):
        a = rng.integers(4, size=n)
        nxt, reward, terminated, truncated, _ = vec.step(a)
        transitions += zip(s, a, nxt, reward, terminated, strict=True)
        done = terminated | truncated
        s = nxt
        if done.any():
            s, _ = vec.reset(options={"reset_mask": done})
            np.testing.assert_array_equal(s[done], 0)
            np.testing.assert_array_equal(s[~done], nxt[~done])
    assert _pooled_chisquare(transitions, P) > P_MIN


def _final_cells_single(episodes, action, seed):
    env = gym.make(GRID, layout="frozen-8x8")
    env.reset(seed=seed)
    finals = []
    for _ in range(episodes):
        env.reset()
        while True:
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                finals.append(int(obs))
                break
    return finals


def _final_cells_vector(episodes, action, seed):
    vec = make_vec(episodes, layout="frozen-8x8", autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=seed)
    finals = np.full(episodes, -1)
    while (finals < 0).any():
        obs, _, terminated, truncated, _ = vec.step(np.full(episodes, action))
        ended = (terminated | truncated) & (finals < 0)
        finals[ended] = obs[ended]
    return finals.tolist()


def _final_cells_frozen_lake(episodes, action, seed):
    env = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True)
    env.reset(seed=seed)
    finals = []
    for _ in range(episodes):
        env.reset()
        while True:
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                finals.append(int(obs))
                break
    return finals


def _contingency_p(*samples):
    """p-value that the samples come from one distribution (cells seen < 25 times pooled)."""
    totals = Counter(x for sample in samples for x in sample)
    common = sorted(x for x, n in totals.items() if n >= 25)
    table = [[Counter(sample)[x] for x in common] for sample in samples]
    for row, sample in zip(table, samples, strict=True):
        row.append(len(sample) - sum(row))
    table = np.array(table)
    table = table[:, table.sum(axis=0) > 0]
    assert table.shape[1] >= 4
    return stats.chi2_contingency(table).pvalue


def test_vector_and_single_env_agree_in_distribution_with_frozen_lake():
    """Where 'always down' ends on frozen-8x8: single env, vector env and FrozenLake-v1 agree."""
    n = 1500
    single = _final_cells_single(n, DOWN, seed=3)
    vector = _final_cells_vector(n, DOWN, seed=4)
    lake = _final_cells_frozen_lake(n, 1, seed=5)  # FrozenLake's 1 is down
    assert _contingency_p(single, vector) > P_MIN
    assert _contingency_p(single, vector, lake) > P_MIN


# -- observations and rendering --------------------------------------------------------------------


def _red_mask(image):
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return (r > 150) & (g < 100) & (b < 100)


def assert_agent_drawn_at(image, cell_rows, cell_cols, row, col):
    """The red pixels of ``image`` exist and lie in cell (row, col) of a cell_rows x cell_cols
    grid."""
    height, width, _ = image.shape
    assert height % cell_rows == 0 and width % cell_cols == 0
    k_h, k_w = height // cell_rows, width // cell_cols
    ys, xs = np.nonzero(_red_mask(image))
    assert len(ys) > 0
    assert (ys // k_h == row).all() and (xs // k_w == col).all()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_observations_are_consistent_with_the_index(layout):
    made = {kind: gym.make(GRID, layout=layout, observation=kind) for kind in OBSERVATIONS}
    cols = made["index"].unwrapped.model.cols
    rows = made["index"].unwrapped.model.rows
    n_states = rows * cols
    obs = {kind: env.reset(seed=7)[0] for kind, env in made.items()}
    actions = np.random.default_rng(7).integers(4, size=40)
    for t in range(len(actions) + 1):
        s = obs["index"]
        assert isinstance(s, int | np.integer) and 0 <= s < n_states
        onehot = obs["onehot"]
        assert onehot.shape == (n_states,) and onehot.dtype == np.float32
        assert onehot[s] == 1.0 and onehot.sum() == 1.0
        coords = obs["coords"]
        assert coords.shape == (2,) and np.issubdtype(coords.dtype, np.integer)
        assert tuple(coords) == (s // cols, s % cols)
        rgb = obs["rgb"]
        assert rgb.dtype == np.uint8 and rgb.shape == made["rgb"].observation_space.shape
        assert_agent_drawn_at(rgb, rows, cols, s // cols, s % cols)
        for kind in OBSERVATIONS:
            assert made[kind].observation_space.contains(obs[kind])
        if t == len(actions):
            break
        results = {kind: env.step(int(actions[t])) for kind, env in made.items()}
        if results["index"][2] or results["index"][3]:
            obs = {kind: env.reset()[0] for kind, env in made.items()}
        else:
            obs = {kind: result[0] for kind, result in results.items()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rgb_is_at_least_36_pixels_a_side(layout):
    env = gym.make(GRID, layout=layout, observation="rgb")
    height, width, channels = env.observation_space.shape
    assert min(height, width) >= 36 and channels == 3
    rows, cols = env.unwrapped.model.layout.shape
    assert height * cols == width * rows  # square cells


def test_rgb_cell_size():
    env = gym.make(GRID, layout="cliff", observation="rgb", cell_size=3)
    assert env.observation_space.shape == (12, 36, 3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (12, 36, 3)
    assert_agent_drawn_at(obs, 4, 12, 3, 0)  # the cliff's start, bottom left
    obs, *_ = env.step(UP)
    assert_agent_drawn_at(obs, 4, 12, 2, 0)


def test_rgb_walls_and_floor_differ_and_agent_is_the_only_red():
    env = gym.make(GRID, layout="four-rooms", observation="rgb", cell_size=4)
    obs, _ = env.reset(seed=0)
    wall, floor = obs[0:4, 0:4], obs[4 * 2 : 4 * 3, 4 * 2 : 4 * 3]  # cells (0, 0) and (2, 2)
    assert (wall == wall[0, 0]).all() and (floor == floor[0, 0]).all()
    assert not np.array_equal(wall[0, 0], floor[0, 0])
    assert _red_mask(obs).sum() == _red_mask(obs[4:8, 4:8]).sum() > 0  # the start (1, 1)


def test_ansi_render_shows_the_agent_as_A():
    env = gym.make(GRID, layout="cliff", render_mode="ansi")
    env.reset(seed=0)
    grid = env.unwrapped.model.layout.grid
    for action, (row, col) in [(UP, (2, 0)), (RIGHT, (2, 1)), (RIGHT, (2, 2)), (DOWN, (3, 0))]:
        env.step(action)
        lines = env.render().splitlines()
        assert len(lines) == 4
        assert [line.count("A") for line in lines] == [int(r == row) for r in range(4)]
        assert lines[row][col] == "A"
        for r in range(4):
            for c in range(12):
                if (r, c) != (row, col):
                    assert lines[r][c] == grid[r][c]


def test_rgb_array_render_draws_the_agent():
    env = gym.make(GRID, layout="frozen-8x8", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] == frame.shape[1] >= 8 * 16  # at least 16 pixels a cell
    assert_agent_drawn_at(frame, 8, 8, 0, 0)
    env.unwrapped.s = 8 * 4 + 6  # put the agent at (4, 6)
    assert_agent_drawn_at(env.render(), 8, 8, 4, 6)


def test_no_render_mode_renders_nothing():
    env = gym.make(GRID)
    env.reset(seed=0)
    assert env.unwrapped.render() is None


@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_vector_env_observations_match_single_env_encoding(observation):
    n = 6
    vec = make_vec(n, layout="4x4", observation=observation, autoreset_mode=AutoresetMode.DISABLED)
    index = make_vec(n, layout="4x4", autoreset_mode=AutoresetMode.DISABLED)
    single = gym.make(GRID, layout="4x4", observation=observation)
    assert vec.single_observation_space == single.observation_space
    assert vec.observation_space.shape == (n, *(single.observation_space.shape or ()))
    obs, _ = vec.reset(seed=11)
    states, _ = index.reset(seed=11)
    actions = np.random.default_rng(11).integers(4, size=(5, n))
    for t in range(6):
        assert vec.observation_space.contains(obs)
        for i in range(n):
            row, col = divmod(int(states[i]), 4)
            if observation == "index":
                assert obs[i] == states[i]
            elif observation == "onehot":
                np.testing.assert_array_equal(obs[i], np.eye(16, dtype=np.float32)[states[i]])
            elif observation == "coords":
                np.testing.assert_array_equal(obs[i], [row, col])
            else:
                assert_agent_drawn_at(obs[i], 4, 4, row, col)
        if t < 5:
            obs = vec.step(actions[t])[0]
            states = index.step(actions[t])[0]


# -- starts ----------------------------------------------------------------------------------------


def test_single_env_start_is_uniform_over_the_14_starts_of_4x4():
    env = gym.make(GRID, layout="4x4")
    env.reset(seed=21)
    starts = [env.reset()[0] for _ in range(2800)]
    counts = Counter(starts)
    assert set(counts) == set(range(1, 15))  # never a terminal corner
    assert stats.chisquare([counts[s] for s in range(1, 15)]).pvalue > P_MIN


def test_vector_env_start_is_uniform_over_the_14_starts_of_4x4():
    obs, _ = make_vec(2800, layout="4x4").reset(seed=22)
    counts = Counter(obs.tolist())
    assert set(counts) == set(range(1, 15))
    assert stats.chisquare([counts[s] for s in range(1, 15)]).pvalue > P_MIN


def test_single_start_is_always_the_start():
    env = gym.make(GRID, layout="cliff")
    assert {env.reset(seed=seed)[0] for seed in range(20)} == {36}
    obs, info = env.reset(seed=0)
    assert info == {"prob": 1.0}


# -- truncation and the vector env's autoreset modes -----------------------------------------------


def test_single_env_truncates_at_registered_1000_steps():
    env = gym.make(GRID, layout="four-rooms")
    env.reset(seed=0)
    for t in range(1, 1001):
        obs, reward, terminated, truncated, _ = env.step(UP)  # the start is under a wall
        assert obs == 14 and reward == -1.0 and not terminated
        assert truncated == (t == 1000)


def test_single_env_truncates_at_custom_limit():
    env = gym.make(GRID, layout="four-rooms", max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(LEFT)[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]
    env.reset()
    assert not env.step(LEFT)[3]  # a reset starts the count again


def test_vector_env_truncates_at_registered_and_custom_limits():
    assert make_vec(2).unwrapped.max_episode_steps == 1000
    vec = make_vec(3, layout="four-rooms", max_episode_steps=4)
    vec.reset(seed=0)
    up = np.full(3, UP)
    for t in range(1, 5):
        _, reward, terminated, truncated, _ = vec.step(up)
        assert not terminated.any() and (reward == -1.0).all()
        assert truncated.all() == (t == 4) and truncated.any() == (t == 4)


def _corridor(autoreset_mode):
    """Runs on ``S..G`` that end at different times: run 0 terminates on step 3, run 1 on step 4,
    run 2 (always left) never: it truncates on step 5."""
    vec = make_vec(
        3,
        layout="S..G",
        max_episode_steps=5,
        autoreset_mode=autoreset_mode,
        step_reward=-1.0,
        goal_reward=10.0,
    )
    assert vec.metadata["autoreset_mode"] == autoreset_mode
    obs, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(obs, [0, 0, 0])
    plan = [[RIGHT, LEFT, LEFT]] + [[RIGHT, RIGHT, LEFT]] * 9
    return vec, [np.array(a) for a in plan]


def test_next_step_autoreset_spends_one_step_on_the_reset():
    vec, plan = _corridor(AutoresetMode.NEXT_STEP)
    steps = [vec.step(a) for a in plan[:7]]
    obs = np.array([s[0] for s in steps])
    reward = np.array([s[1] for s in steps])
    terminated = np.array([s[2] for s in steps])
    truncated = np.array([s[3] for s in steps])
    np.testing.assert_array_equal(obs[:, 0], [1, 2, 3, 0, 1, 2, 3])  # reset on step 4
    np.testing.assert_array_equal(obs[:, 1], [0, 1, 2, 3, 0, 1, 2])  # reset on step 5
    np.testing.assert_array_equal(obs[:, 2], [0, 0, 0, 0, 0, 0, 0])  # reset on step 6
    np.testing.assert_array_equal(reward[:, 0], [-1, -1, 10, 0, -1, -1, 10])
    np.testing.assert_array_equal(reward[:, 1], [-1, -1, -1, 10, 0, -1, -1])
    np.testing.assert_array_equal(reward[:, 2], [-1, -1, -1, -1, -1, 0, -1])
    np.testing.assert_array_equal(terminated[:, 0], [0, 0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(terminated[:, 1], [0, 0, 0, 1, 0, 0, 0])
    assert not terminated[:, 2].any()
    np.testing.assert_array_equal(truncated[:, 2], [0, 0, 0, 0, 1, 0, 0])
    assert not truncated[:, :2].any()


def test_same_step_autoreset_returns_the_final_obs_in_info():
    vec, plan = _corridor(AutoresetMode.SAME_STEP)
    obs, reward, terminated, truncated, info = vec.step(plan[0])
    obs, reward, terminated, truncated, info = vec.step(plan[1])
    np.testing.assert_array_equal(obs, [2, 1, 0])
    assert "final_obs" not in info and "_final_obs" not in info
    obs, reward, terminated, truncated, info = vec.step(plan[2])  # run 0 reaches the goal
    np.testing.assert_array_equal(obs, [0, 2, 0])  # and is back at the start already
    np.testing.assert_array_equal(reward, [10, -1, -1])
    np.testing.assert_array_equal(terminated, [True, False, False])
    np.testing.assert_array_equal(info["_final_obs"], [True, False, False])
    assert info["final_obs"][0] == 3
    obs, reward, terminated, truncated, info = vec.step(plan[3])  # run 1 reaches the goal
    np.testing.assert_array_equal(obs, [1, 0, 0])  # run 0's new episode moved: no step wasted
    np.testing.assert_array_equal(reward, [-1, 10, -1])
    np.testing.assert_array_equal(terminated, [False, True, False])
    np.testing.assert_array_equal(info["_final_obs"], [False, True, False])
    assert info["final_obs"][1] == 3
    obs, reward, terminated, truncated, info = vec.step(plan[4])  # run 2 truncates
    np.testing.assert_array_equal(obs, [2, 1, 0])
    np.testing.assert_array_equal(terminated, [False, False, False])
    np.testing.assert_array_equal(truncated, [False, False, True])
    np.testing.assert_array_equal(info["_final_obs"], [False, False, True])
    assert info["final_obs"][2] == 0
    obs, reward, terminated, truncated, info = vec.step(plan[5])
    np.testing.assert_array_equal(obs, [0, 2, 0])  # run 0 ends again, 3 steps after its reset
    np.testing.assert_array_equal(terminated, [True, False, False])
    np.testing.assert_array_equal(reward, [10, -1, -1])
    assert info["final_obs"][0] == 3


def test_disabled_autoreset_waits_for_reset_mask():
    vec, plan = _corridor(AutoresetMode.DISABLED)
    for a in plan[:4]:
        obs, reward, terminated, truncated, info = vec.step(a)
    np.testing.assert_array_equal(obs, [3, 3, 0])
    np.testing.assert_array_equal(terminated, [True, True, False])
    np.testing.assert_array_equal(reward, [0, 10, -1])  # run 0 sits in the absorbing goal
    obs, reward, terminated, truncated, info = vec.step(plan[4])
    np.testing.assert_array_equal(truncated, [False, False, True])
    for a in plan[5:7]:  # nothing resets by itself
        obs, reward, terminated, truncated, info = vec.step(a)
        np.testing.assert_array_equal(obs, [3, 3, 0])
        np.testing.assert_array_equal(terminated, [True, True, False])
        np.testing.assert_array_equal(truncated, [False, False, True])
        np.testing.assert_array_equal(reward, [0, 0, -1])
        assert "final_obs" not in info
    mask = np.array([True, False, True])
    obs, _ = vec.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(obs, [0, 3, 0])
    right = np.array([RIGHT, RIGHT, RIGHT])
    flags = [vec.step(right) for _ in range(3)]
    np.testing.assert_array_equal(flags[-1][0], [3, 3, 3])
    np.testing.assert_array_equal([f[2][0] for f in flags], [False, False, True])
    np.testing.assert_array_equal([f[2][2] for f in flags], [False, False, True])
    assert all(f[2][1] for f in flags)  # run 1 was not reset


def test_reset_mask_must_be_a_bool_array_of_the_batch_shape():
    vec = make_vec(3, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=0)
    message = "options['reset_mask'] must be a bool array of shape (3,)"
    for bad in (np.array([1, 0, 1]), np.array([True, False])):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            vec.reset(options={"reset_mask": bad})


# -- determinism -----------------------------------------------------------------------------------


def _single_trajectory(seed, actions):
    env = gym.make(GRID, layout="frozen-8x8")
    out = [env.reset(seed=seed)[0]]
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(int(a))
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            out.append(env.reset()[0])
    return out


def _vector_trajectory(seed, actions):
    vec = make_vec(8, layout="frozen-8x8")
    out = [vec.reset(seed=seed)[0]]
    for a in actions:
        out.append(np.stack(vec.step(a)[:4]))
    return np.concatenate([np.ravel(x) for x in out])


def test_single_env_same_seed_same_trajectory_different_seed_differs():
    actions = np.random.default_rng(0).integers(4, size=300)
    first = _single_trajectory(5, actions)
    assert first == _single_trajectory(5, actions)
    assert first != _single_trajectory(6, actions)


def test_single_env_same_seed_same_starts():
    starts = [gym.make(GRID).reset(seed=seed)[0] for seed in range(30)]
    assert starts == [gym.make(GRID).reset(seed=seed)[0] for seed in range(30)]
    assert len(set(starts)) > 1


def test_vector_env_same_seed_same_trajectory_different_seed_differs():
    actions = np.random.default_rng(0).integers(4, size=(100, 8))
    first = _vector_trajectory(5, actions)
    np.testing.assert_array_equal(first, _vector_trajectory(5, actions))
    assert not np.array_equal(first, _vector_trajectory(6, actions))


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slip": 1.5}, "slip must be in [0, 1], got 1.5"),
        ({"slip": -0.1}, "slip must be in [0, 1], got -0.1"),
        (
            {"observation": "pixels"},
            "observation must be one of index, onehot, coords, rgb, got 'pixels'",
        ),
        ({"observation": "rgb", "cell_size": 0}, "cell_size must be >= 1 pixel, got 0"),
        ({"cell_size": 0}, "cell_size must be >= 1 pixel, got 0"),
    ],
)
def test_bad_kwargs(kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        gym.make(GRID, **kwargs)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_vec(2, **kwargs)


def test_bad_render_mode():
    with pytest.raises(
        ValueError, match=re.escape("render_mode must be one of ['ansi', 'rgb_array']")
    ):
        GridWorldEnv(render_mode="human")


def test_bad_layout_through_the_env():
    with pytest.raises(LayoutError, match="^layout has no goal 'G'$"):
        gym.make(GRID, layout="S../...")
    with pytest.raises(LayoutError, match="^unknown layout 'five-rooms'"):
        gym.make(GRID, layout="five-rooms")


@pytest.mark.parametrize("action", [4, -1, "a", 1.5, None])
def test_bad_action(action):
    env = gym.make(GRID)
    env.reset(seed=0)
    message = f"action must be in 0..3 (up, right, down, left), got {action!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        env.unwrapped.step(action)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = gym.make(GRID, layout="cliff")
    env.reset(seed=0)
    assert env.step(np.int64(UP))[0] == 24
    assert env.step(np.array(RIGHT))[0] == 25


@pytest.mark.parametrize(
    "actions",
    [[0, 1, 4], [0, -1, 2], [0, 1], [[0, 1, 2]], ["a", "b", "c"]],
    ids=["4", "-1", "short", "2d", "str"],
)
def test_vector_env_bad_action_batch(actions):
    vec = make_vec(3)
    vec.reset(seed=0)
    message = f"actions must be 3 values in 0..3, got {np.asarray(actions)!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        vec.step(actions)


def test_vector_env_float_actions_are_refused_with_value_error():
    vec = make_vec(3)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="^actions must be 3 values in 0..3"):
        vec.step(np.array([1.0, 2.0, 0.0]))
