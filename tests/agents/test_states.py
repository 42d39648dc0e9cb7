"""Tabular agents on every discrete observation space: one state index per combination."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import agents
from agents.states import MAX_STATES, IndexedStates, StateIndex

SPACES = {
    "discrete with a start": spaces.Discrete(3, start=-1),
    "multi-discrete": spaces.MultiDiscrete([2, 3, 4]),
    "multi-discrete 2-d": spaces.MultiDiscrete([[2, 3], [4, 5]]),
    "tuple (Blackjack)": spaces.Tuple(
        (spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2))
    ),
    "dict": spaces.Dict({"pos": spaces.Discrete(5), "key": spaces.MultiDiscrete([2, 2])}),
    "nested": spaces.Tuple((spaces.Dict({"a": spaces.Discrete(2)}), spaces.Discrete(3, start=1))),
}
SIZES = {"discrete with a start": 3, "multi-discrete": 24, "multi-discrete 2-d": 120,
         "tuple (Blackjack)": 704, "dict": 20, "nested": 6}  # fmt: skip


def _batch(space, n, seed=0):
    """``n`` samples stacked as a vector env stacks them."""
    space.seed(seed)
    samples = [space.sample() for _ in range(n)]
    return gym.vector.utils.concatenate(
        space, samples, gym.vector.utils.create_empty_array(space, n)
    )


@pytest.mark.parametrize("name", SPACES)
def test_every_combination_gets_its_own_index_in_range(name):
    space = SPACES[name]
    index = StateIndex.of(space)
    assert index.n == SIZES[name]
    codes = index.encode(_batch(space, 3000))
    assert codes.shape == (3000,) and codes.min() >= 0 and codes.max() < index.n
    if index.n <= 120:  # 3000 draws cover every combination: a bijection onto range(n)
        assert sorted(set(codes.tolist())) == list(range(index.n))


def test_blackjack_index_is_mixed_radix():
    index = StateIndex.of(SPACES["tuple (Blackjack)"])
    obs = (np.array([0, 31, 14]), np.array([0, 10, 3]), np.array([0, 1, 1]))
    np.testing.assert_array_equal(index.encode(obs), [0, 31 * 22 + 10 * 2 + 1, 14 * 22 + 3 * 2 + 1])


@pytest.mark.parametrize(
    "space",
    [
        spaces.Box(0, 1, (2,)),
        spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (1,)))),
        spaces.Dict({"text": spaces.Text(5)}),
        spaces.MultiDiscrete([1000] * 3),  # 10⁹ states: no table
        spaces.Tuple(()),
    ],
)
def test_what_no_table_fits_has_no_index(space):
    assert StateIndex.of(space) is None


def test_the_limit_is_inclusive():
    assert StateIndex.of(spaces.Discrete(MAX_STATES)).n == MAX_STATES
    assert StateIndex.of(spaces.Discrete(MAX_STATES + 1)) is None


def test_a_plain_discrete_space_needs_no_index_but_others_get_one():
    plain = agents.make("epsilon-greedy", spaces.Discrete(4), spaces.Discrete(2))
    assert not isinstance(plain, IndexedStates)
    for name in ("tuple (Blackjack)", "discrete with a start"):
        agent = agents.make("epsilon-greedy:alpha=0.1", SPACES[name], spaces.Discrete(2))
        assert isinstance(agent, IndexedStates) and agent.agent.n_states == SIZES[name]
        agent.reset(4, np.random.default_rng(0))
        assert agent.values().shape == (4, SIZES[name], 2)  # the table, through the wrapper
    gradient = agents.make("gradient-bandit", SPACES["dict"], spaces.Discrete(3))
    assert gradient.agent.n_states == 20


def test_a_space_no_table_fits_is_refused_naming_what_fits():
    with pytest.raises(agents.SpecError) as refused:
        agents.make("epsilon-greedy", spaces.Box(0, 1, (2,)), spaces.Discrete(2))
    message = str(refused.value)
    assert "discrete observations (Discrete, MultiDiscrete, or a Tuple/Dict of them)" in message
    assert "random" in message and "dqn" in message
