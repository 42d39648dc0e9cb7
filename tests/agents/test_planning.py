"""Dynamic programming on P[s][a] = [(prob, next_state, reward, terminated)] (agents.planning)."""

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers rlcourse/GridWorld-v0)
from agents.planning import (
    evaluate_policy,
    model_arrays,
    policy_iteration,
    proper_policy,
    q_from_values,
    value_iteration,
)
from envs.gridworld import make_model
from envs.layouts import BUILTIN

TAXI = "Taxi-v3" if "Taxi-v3" in gym.registry else "Taxi-v4"  # gymnasium >= 1.3: Taxi-v4 only
GYMNASIUM_IDS = ["FrozenLake-v1", "FrozenLake8x8-v1", "CliffWalking-v1", TAXI]


def grid_P(layout):
    return make_model(layout).P


def gym_P(env_id):
    return gym.make(env_id).unwrapped.P


MODELS = [pytest.param(name, id=name) for name in BUILTIN] + [
    pytest.param(env_id, id=env_id) for env_id in GYMNASIUM_IDS
]


def model_of(name):
    return grid_P(name) if name in BUILTIN else gym_P(name)


def iterative_evaluation(P, policy, gamma, tol=1e-12, max_sweeps=100_000):
    """Sutton & Barto §4.1, straight from P (no numpy model arrays): sweep until stable."""
    values = np.zeros(len(P))
    for _ in range(max_sweeps):
        new = np.array(
            [
                sum(
                    prob * (reward + (0.0 if terminated else gamma * values[nxt]))
                    for prob, nxt, reward, terminated in P[s][int(policy[s])]
                )
                for s in range(len(P))
            ]
        )
        if np.abs(new - values).max() < tol:
            return new
        values = new
    raise AssertionError("iterative evaluation did not converge")


def test_model_arrays_by_hand():
    P = {
        0: {0: [(0.25, 1, -1.0, False), (0.75, 0, 2.0, True)], 1: [(1.0, 1, 0.5, False)]},
        1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]},
    }
    rewards, transitions = model_arrays(P)
    np.testing.assert_allclose(rewards, [[0.25 * -1 + 0.75 * 2, 0.5], [0, 0]])
    np.testing.assert_allclose(transitions[0], [[0, 0.25], [0, 1]])
    np.testing.assert_array_equal(transitions[1], 0)  # terminal outcomes lead nowhere


# -- value iteration and policy iteration agree ----------------------------------------------------
@pytest.mark.parametrize("gamma", [1.0, 0.9])
@pytest.mark.parametrize("name", MODELS)
def test_value_and_policy_iteration_agree(name, gamma):
    P = model_of(name)
    vi = value_iteration(P, gamma)
    pi = policy_iteration(P, gamma)
    n_states, n_actions = len(P), len(P[0])
    assert vi.values.shape == pi.values.shape == (n_states,)
    assert vi.q.shape == pi.q.shape == (n_states, n_actions)
    np.testing.assert_allclose(pi.values, vi.values, atol=1e-7)
    np.testing.assert_allclose(pi.q, vi.q, atol=1e-7)
    states = np.arange(n_states)
    # Both policies are greedy with respect to Q*, and each is worth V* (ties may differ).
    for solution in (vi, pi):
        np.testing.assert_allclose(vi.q[states, solution.policy], vi.values, atol=1e-7)
        np.testing.assert_allclose(evaluate_policy(P, solution.policy, gamma), vi.values, atol=1e-6)
    np.testing.assert_allclose(q_from_values(P, vi.values, gamma), vi.q, atol=1e-9)
    np.testing.assert_allclose(vi.q.max(axis=1), vi.values, atol=1e-9)
    assert vi.iterations >= 1 and pi.iterations >= 1


def test_value_iteration_policy_is_the_first_maximizer():
    P = grid_P("4x4")
    solution = value_iteration(P, 1.0)
    np.testing.assert_array_equal(solution.policy, solution.q.argmax(axis=1))
    assert solution.policy[0] == 0  # terminal corner: all actions tie, the first wins


def bfs_distances(layout):
    """Steps from every cell to the nearest goal, by breadth-first search over the grid text."""
    grid = BUILTIN[layout].grid if layout in BUILTIN else layout.split("/")
    rows, cols = len(grid), len(grid[0])
    dist = np.full(rows * cols, -1)
    queue = deque()
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] == "G":
                dist[r * cols + c] = 0
                queue.append((r, c))
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] not in "#XC":
                if dist[nr * cols + nc] < 0:
                    dist[nr * cols + nc] = dist[r * cols + c] + 1
                    queue.append((nr, nc))
    return dist


def test_4x4_optimal_values_are_minus_the_distance_to_a_terminal_corner():
    dist = bfs_distances("4x4")
    assert dist.reshape(4, 4).tolist() == [[0, 1, 2, 3], [1, 2, 3, 2], [2, 3, 2, 1], [3, 2, 1, 0]]
    P = grid_P("4x4")
    for solve in (value_iteration, policy_iteration):
        np.testing.assert_allclose(solve(P, 1.0).values, -dist, atol=1e-9)
    # Discounted: -(1 + 0.9 + ... + 0.9^(d-1)).
    expected = -(1 - 0.9**dist) / (1 - 0.9)
    np.testing.assert_allclose(value_iteration(P, 0.9).values, expected, atol=1e-9)


def test_four_rooms_optimal_values_are_minus_the_bfs_distance():
    dist = bfs_distances("four-rooms")
    values = value_iteration(grid_P("four-rooms"), 1.0).values
    open_cells = dist >= 0
    np.testing.assert_allclose(values[open_cells], -dist[open_cells], atol=1e-9)
    assert values[1 * 13 + 1] == -dist[1 * 13 + 1]  # the start


@pytest.mark.parametrize("P", [grid_P("cliff"), gym_P("CliffWalking-v1")], ids=["grid", "gym"])
def test_cliff_optimal_start_value_is_minus_13(P):
    start = 3 * 12 + 0
    assert value_iteration(P, 1.0).values[start] == pytest.approx(-13.0, abs=1e-9)
    assert policy_iteration(P, 1.0).values[start] == pytest.approx(-13.0, abs=1e-9)


# -- policy evaluation -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["4x4", "cliff", "four-rooms", "frozen-8x8", "FrozenLake-v1"])
def test_evaluate_policy_matches_iterative_evaluation(name):
    P = model_of(name)
    n_actions = len(P[0])
    rng = np.random.default_rng(0)
    # Any deterministic policy with gamma < 1; proper ones (and the optimum) with gamma = 1.
    for _ in range(3):
        policy = rng.integers(n_actions, size=len(P))
        np.testing.assert_allclose(
            evaluate_policy(P, policy, 0.9), iterative_evaluation(P, policy, 0.9), atol=1e-8
        )
    for policy in (proper_policy(P), value_iteration(P, 1.0).policy):
        np.testing.assert_allclose(
            evaluate_policy(P, policy, 1.0), iterative_evaluation(P, policy, 1.0), atol=1e-7
        )


def test_evaluate_policy_by_hand():
    # s0 --a0 (r=-1)--> s1 --a0 (r=+5, p=.5 end; p=.5 back to s0 with r=0)
    P = {
        0: {0: [(1.0, 1, -1.0, False)]},
        1: {0: [(0.5, 2, 5.0, True), (0.5, 0, 0.0, False)]},
        2: {0: [(1.0, 2, 0.0, True)]},
    }
    # V1 = 2.5 + 0.5 V0, V0 = -1 + V1  =>  V0 = 3, V1 = 4
    np.testing.assert_allclose(evaluate_policy(P, np.zeros(3, dtype=int), 1.0), [3.0, 4.0, 0.0])


# -- proper policies -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_proper_policy_ends_every_episode(name):
    P = model_of(name)
    policy = proper_policy(P)
    assert policy.shape == (len(P),) and policy.min() >= 0 and policy.max() < len(P[0])
    _, transitions = model_arrays(P)
    t_pi = transitions[np.arange(len(P)), policy]
    # From every state, the episode has ended with positive probability within |S| steps ...
    assert np.linalg.matrix_power(t_pi, len(P)).sum(axis=1).max() < 1.0
    # ... so the gamma = 1 Bellman equations have a unique, finite solution.
    values = evaluate_policy(P, policy, 1.0)
    assert np.isfinite(values).all()


STUCK = {  # states 1 and 2 only lead to each other: nothing ends an episode from there
    0: {0: [(1.0, 0, 0.0, True)], 1: [(1.0, 1, -1.0, False)]},
    1: {0: [(1.0, 2, -1.0, False)], 1: [(1.0, 1, -1.0, False)]},
    2: {0: [(1.0, 1, -1.0, False)], 1: [(1.0, 2, -1.0, False)]},
}


def test_proper_policy_refuses_a_state_that_cannot_end():
    with pytest.raises(ValueError) as excinfo:
        proper_policy(STUCK)
    assert str(excinfo.value) == "no policy ends an episode from states [1, 2]"
    with pytest.raises(ValueError, match="no policy ends an episode"):
        policy_iteration(STUCK, 1.0)


def test_proper_policy_follows_chains_of_positive_probability():
    P = {
        0: {0: [(1.0, 0, 0.0, False)], 1: [(0.1, 1, 0.0, False), (0.9, 0, 0.0, False)]},
        1: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 1, 0.0, False)]},
        2: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 2, 1.0, True)]},
    }
    np.testing.assert_array_equal(proper_policy(P), [1, 0, 1])


# -- non-convergence -------------------------------------------------------------------------------
LOOP = {  # action 0 loops forever earning +1; action 1 ends the episode
    0: {0: [(1.0, 0, 1.0, False)], 1: [(1.0, 0, 0.0, True)]},
}


def test_value_iteration_raises_without_convergence():
    with pytest.raises(ValueError) as excinfo:
        value_iteration(LOOP, 1.0, max_sweeps=500)
    assert str(excinfo.value) == "value iteration did not converge in 500 sweeps (gamma=1.0)"
    with pytest.raises(ValueError) as excinfo:
        value_iteration(STUCK, 1.0, max_sweeps=200)
    assert str(excinfo.value) == "value iteration did not converge in 200 sweeps (gamma=1.0)"
    with pytest.raises(ValueError) as excinfo:
        value_iteration(grid_P("4x4"), 1.0, max_sweeps=1)
    assert str(excinfo.value) == "value iteration did not converge in 1 sweeps (gamma=1.0)"


def test_a_reward_positive_loop_converges_with_discounting():
    solution = value_iteration(LOOP, 0.9)
    assert solution.values[0] == pytest.approx(10.0, abs=1e-8)
    assert solution.policy.tolist() == [0]
    pi = policy_iteration(LOOP, 0.9)
    assert pi.values[0] == pytest.approx(10.0) and pi.policy.tolist() == [0]


def test_policy_iteration_refuses_an_improvement_that_never_ends():
    # From the proper policy [1] (V = 0), looping is better (+1 > 0) and never ends.
    with pytest.raises(ValueError) as excinfo:
        policy_iteration(LOOP, 1.0)
    assert str(excinfo.value) == "policy [0] never ends an episode (gamma=1)"
