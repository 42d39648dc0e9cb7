"""DQN's encodings of observation spaces: boxes kept, discrete parts one-hot, composites flat
or, with images in them, several arrays."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.dqn import DQNAgent
from agents.dqn_config import DQNConfig
from agents.encodings import FLAT, encoding


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
    with pytest.warns(UserWarning, match="leaves out the observation part"):
        agent = DQNAgent(DQNConfig(), Contexts.observation_space, spaces.Discrete(3))
        assert agent.memory_bytes(1)["replay buffers"] == 100_000 * (2 * 4 * 5 + 8 + 4 + 2)
    with pytest.raises(ValueError, match="DQN cannot read any part of the observations"):
        DQNAgent(DQNConfig(), spaces.Text(3), spaces.Discrete(2))


def test_a_dict_with_an_image_keeps_the_image_apart_in_its_dtype():
    space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (7, 7, 3), np.uint8),
            "direction": spaces.Discrete(4),
            "mission": spaces.Text(5),
        }
    )
    with pytest.warns(UserWarning, match="mission"):
        stored = encoding(space)
    assert stored.shape == {"image": (7, 7, 3), FLAT: (4,)}
    assert stored.dtype == {"image": np.uint8, FLAT: np.float32}
    image = np.arange(2 * 7 * 7 * 3, dtype=np.uint8).reshape(2, 7, 7, 3)
    arrays = stored.encode({"image": image, "direction": np.array([1, 3]), "mission": ("a", "b")})
    assert arrays["image"].dtype == np.uint8 and np.array_equal(arrays["image"], image)
    np.testing.assert_array_equal(arrays[FLAT], [[0, 1, 0, 0], [0, 0, 0, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agent = DQNAgent(DQNConfig(buffer_size=1000), space, spaces.Discrete(3))
        replay = agent.memory_bytes(1)["replay buffers"]
        assert replay == 1000 * (2 * (7 * 7 * 3 + 4 * 4) + 8 + 4 + 2)


def test_images_in_a_tuple_are_named_by_their_place_and_need_nothing_else():
    space = spaces.Tuple((spaces.Box(0, 1, (2, 10, 10)), spaces.Box(0, 255, (20, 20, 3), np.uint8)))
    stored = encoding(space)
    assert stored.shape == {"0": (2, 10, 10), "1": (20, 20, 3)}


class Screens(gym.Env):
    """One-step episodes: the rewarded action is shown only as a bright square on a screen.

    The Dict's other part (a Discrete flag) says nothing about it: a network has to read the
    image to do better than a third right.
    """

    observation_space = spaces.Dict(
        {"screen": spaces.Box(0, 255, (12, 12, 1), np.uint8), "flag": spaces.Discrete(2)}
    )
    action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.context = int(self.np_random.integers(3))
        screen = np.zeros((12, 12, 1), np.uint8)
        screen[4:8, 4 * self.context : 4 * self.context + 4] = 255
        return {"screen": screen, "flag": int(self.np_random.integers(2))}, {}

    def step(self, action):
        reward = float(action == self.context)
        obs, _ = self.reset()
        return obs, reward, True, False, {}


SCREENS_DQN = (
    "dqn:learning_starts=100,train_freq=1,gradient_steps=1,hidden=32,buffer_size=2000,"
    "exploration_steps=400,lr=0.003,lr_end=none"
)


def test_dqn_reads_the_image_inside_a_dict_through_a_cnn():
    import rlcourse

    results = rlcourse.compare(Screens, [SCREENS_DQN], runs=2, episodes=700, progress=False)
    returns = next(iter(results.data.values()))["return"]
    assert returns[:, :100].mean() < 0.5  # random at first: a third right
    assert returns[:, -200:].mean() > 0.9  # then the screen's action (ε = 0.05 left)


def test_a_learner_with_images_in_a_dict_saves_and_resumes_its_training_exactly():
    from agents.dqn import DQNLearner
    from rlcourse.training.settings import dqn_config

    config = dqn_config(dict(pair.split("=") for pair in SCREENS_DQN[4:].split(",")))
    env = Screens()
    learners = [
        DQNLearner(config, env.observation_space, env.action_space, np.random.default_rng(5))
        for _ in range(2)
    ]
    assert list(learners[0].online.images["0"].shape) == [12, 12, 1]  # the screen's CNN
    obs, _ = env.reset(seed=0)
    batch = _batch(env.observation_space, [obs])
    for _ in range(150):
        action = learners[0].act(batch)
        next_obs, reward, terminated, truncated, _ = env.step(int(action[0]))
        next_batch = _batch(env.observation_space, [next_obs])
        learners[0].update(batch, action, np.array([reward]), next_batch,
                           np.array([terminated]), np.array([truncated]), {})  # fmt: skip
        batch = next_batch
    state = learners[0].training_state()
    assert state["buffer"]["obs"]["screen"].dtype == torch.uint8
    learners[1].load_training_state(state)
    assert [learner.train_step() for learner in learners] == [learners[0].losses[-1]] * 2
    for name in ("screen", FLAT):
        np.testing.assert_array_equal(learners[0].buffer.obs[name], learners[1].buffer.obs[name])


def test_a_checkpoint_of_images_in_a_dict_is_evaluated(tmp_path):
    from rlcourse.checkpoints import evaluate_checkpoint
    from rlcourse.training.settings import dqn_config
    from rlcourse.training.train import train_dqn

    config = dqn_config(dict(pair.split("=") for pair in SCREENS_DQN[4:].split(",")))
    train_dqn(Screens, tmp_path / "run", steps=700, seed=0, config=config, eval_every=350,
              eval_episodes=30, progress=False)  # fmt: skip
    saved = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert saved["observation_shape"] == {"screen": [12, 12, 1], FLAT: [2]}
    evaluation = evaluate_checkpoint(tmp_path / "run", episodes=30, env=f"{__name__}:Screens")
    assert evaluation["mean_return"] > 0.9
