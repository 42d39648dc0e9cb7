"""The off-policy learner's counters and agent wrappers by their names, and their old names."""

import io

import gymnasium as gym
import numpy as np
import pytest
import torch

import agents.off_policy as off_policy
from agents.dqn import DQNLearner
from agents.dqn_config import DQNConfig

CARTPOLE = gym.make("CartPole-v1")

CONFIG = DQNConfig(hidden=(8,), buffer_size=100, batch_size=2, learning_starts=10, train_freq=4,
                   gradient_steps=3, target_update=5, lr_decay_steps=60,
                   exploration_steps=40)  # fmt: skip


def learner(seed: int = 0) -> DQNLearner:
    spaces = CARTPOLE.observation_space, CARTPOLE.action_space
    return DQNLearner(CONFIG, *spaces, np.random.default_rng(seed))


def feed(dqn: DQNLearner, n: int, seed: int) -> list[int]:
    """``n`` transitions of random observations, acting with the learner; its actions."""
    rng, actions = np.random.default_rng(seed), []
    for _ in range(n):
        obs, next_obs = rng.normal(size=(2, 1, 4)).astype(np.float32)
        action = dqn.act(obs)
        dqn.update(obs, action, [1.0], next_obs, [False], [False], {})
        actions.append(int(action[0]))
    return actions


def saved_and_read(state: dict) -> dict:
    """The state as ``resume.pt`` gives it back: its own tensors, none shared with the learner."""
    file = io.BytesIO()
    torch.save(state, file)
    file.seek(0)
    return torch.load(file, weights_only=True)


def test_the_learner_counts_transitions_and_updates_and_saves_them_by_those_names():
    dqn = learner()
    feed(dqn, 20, seed=1)
    assert (dqn.transitions, dqn.n_updates) == (20, 9)  # phases at 12, 16, 20: 3 steps each
    state = dqn.training_state()
    assert (state["transitions"], state["n_updates"]) == (20, 9)
    assert "steps" not in state and "gradient_steps" not in state


def test_a_state_saved_with_the_old_counter_names_goes_on_bit_identically():
    dqn = learner()
    feed(dqn, 30, seed=1)
    old = saved_and_read(dqn.training_state())
    old["steps"], old["gradient_steps"] = old.pop("transitions"), old.pop("n_updates")
    resumed = learner(seed=5)  # everything it goes on from comes from the state
    resumed.load_training_state(old)
    assert (resumed.transitions, resumed.n_updates) == (30, 15)  # phases at 12, 16, ..., 28
    assert feed(resumed, 30, seed=2) == feed(dqn, 30, seed=2)
    assert (resumed.transitions, resumed.n_updates) == (dqn.transitions, dqn.n_updates) == (60, 39)
    assert list(resumed.losses) == list(dqn.losses)
    for name in ("online", "target"):
        for a, b in zip(getattr(resumed, name).parameters(), getattr(dqn, name).parameters(),
                        strict=True):  # fmt: skip
            assert torch.equal(a, b)


def test_the_old_counter_names_read_the_new_counters_with_a_deprecation_warning():
    dqn = learner()
    feed(dqn, 20, seed=1)
    with pytest.warns(DeprecationWarning, match="steps is deprecated: it is .transitions"):
        assert dqn.steps == 20
    with pytest.warns(DeprecationWarning, match="gradient_steps is deprecated: it is .n_updates"):
        assert dqn.gradient_steps == 9
    with pytest.raises(AttributeError):
        dqn.steps = 0  # read-only: the learner counts


@pytest.mark.parametrize(("old", "new"), [("OneLearner", "SharedLearner"),
                                          ("IndependentRuns", "LearnerPerRun")])  # fmt: skip
def test_the_agent_wrappers_old_names_are_the_new_classes_with_a_deprecation_warning(old, new):
    with pytest.warns(DeprecationWarning, match=f"agents.off_policy.{old} is deprecated.*{new}"):
        assert getattr(off_policy, old) is getattr(off_policy, new)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchLearner'"):
        off_policy.NoSuchLearner  # noqa: B018
