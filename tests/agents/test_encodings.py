"""DQN's encodings of observation spaces: boxes kept, discrete parts one-hot, composites flat."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agents.dqn import DQNAgent
from agents.dqn_config import DQNConfig
from agents.encodings import encoding


def _batch(space, samples):
    return gym.vector.utils.concatenate(
        space, samples, gym.vector.utils.create_empty_array(space, len(samples))
    )


def test_a_box_is_stored_as_it_is_in_its_dtype():
    stored = encoding(spaces.Box(0, 255, (10, 10, 4), np.uint8))
    assert stored.shape == (10, 10, 4) and stored.dtype == np.uint8


def test_a_dict_becomes_one_flat_vector_in_the_spaces_order():
    space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (2, 2), np.uint8),
            "direction": spaces.Discrete(4, start=1),
            "keys": spaces.MultiDiscrete([2, 3]),
            "flags": spaces.MultiBinary(2),
        }
    )
    stored = encoding(space)
    assert stored.shape == (4 + 4 + 5 + 2,) and stored.dtype == np.float32
    obs = {
        "image": np.array([[[0, 255], [51, 102]]], dtype=np.uint8),
        "direction": np.array([3]),
        "keys": np.array([[1, 2]]),
        "flags": np.array([[1, 0]], dtype=np.int8),
    }
    # Gymnasium sorts a Dict's keys: direction, flags, image, keys
    expected = [0, 0, 1, 0, 1, 0, 0, 1, 0.2, 0.4, 0, 1, 0, 0, 1]
    np.testing.assert_allclose(stored.encode(obs)[0], expected, rtol=1e-6)


def test_a_tuple_of_a_vector_env_batch_encodes_row_by_row():
    space = spaces.Tuple((spaces.Discrete(3), spaces.Box(-1, 1, (2,))))
    samples = [(2, np.array([0.5, -0.5], np.float32)), (0, np.array([1, 1], np.float32))]
    np.testing.assert_array_equal(
        encoding(space).encode(_batch(space, samples)), [[0, 0, 1, 0.5, -0.5], [1, 0, 0, 1, 1]]
    )


def test_text_is_left_out_with_a_notice():
    space = spaces.Dict({"mission": spaces.Text(10), "direction": spaces.Discrete(4)})
    with pytest.warns(UserWarning, match="DQN leaves out the observation part"):
        stored = encoding(space)
    assert stored.shape == (4,) and stored.left_out == ("mission",)
    assert encoding(spaces.Text(5)) is None


class Contexts(gym.Env):
    """One-step episodes: reward 1 for the action that the context (a Dict part) names."""

    observation_space = spaces.Dict(
        {"context": spaces.Discrete(3), "noise": spaces.Box(-1, 1, (2,)), "note": spaces.Text(4)}
    )
    action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.context = int(self.np_random.integers(3))
        noise = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return {"context": self.context, "noise": noise, "note": "abc"}, {}

    def step(self, action):
        reward = float(action == self.context)
        obs, _ = self.reset()
        return obs, reward, True, False, {}


def test_dqn_learns_an_env_with_dict_observations():
    import rlcourse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notice about "note"
        results = rlcourse.compare(
            Contexts,
            ["dqn:learning_starts=100,train_freq=1,gradient_steps=1,hidden=32,buffer_size=2000,"
             "exploration_steps=500,lr=0.003,lr_end=none"],
            runs=2, episodes=800, progress=False,
        )  # fmt: skip
    returns = next(iter(results.data.values()))["return"]
    assert returns[:, :100].mean() < 0.5  # random at first: a third right
    assert returns[:, -200:].mean() > 0.9  # then the context's action (ε = 0.05 left)


def test_dqn_agent_fits_a_dict_and_refuses_what_it_cannot_read():
    agent = DQNAgent(DQNConfig(), Contexts.observation_space, spaces.Discrete(3))
    assert agent.memory_bytes(1) == 100_000 * (2 * 4 * 5 + 8 + 4 + 2)
    with pytest.raises(ValueError, match="DQN cannot read any part of the observations"):
        DQNAgent(DQNConfig(), spaces.Text(3), spaces.Discrete(2))
