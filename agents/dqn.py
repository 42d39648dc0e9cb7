"""Deep Q-learning with experience replay: the off-policy core with a Q-network from the spaces.

The algorithm (replay, TD target, gradient step, target update) is :mod:`agents.off_policy`'s;
DQN supplies the Q-network (an MLP for vectors, a CNN for images, both from
:mod:`supervised.networks`) and its encoding of observations (a Discrete state as a one-hot
vector). :class:`DQNAgent` runs one independent learner per run of a batch.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from agents.dqn_config import DQNConfig
from agents.encodings import Encoding, encoding
from agents.off_policy import (
    NETWORK_COPIES,
    LearnerPerRun,
    OffPolicyLearner,
    as_tensors,
    buffer_options,
)
from agents.replay import ReplayBuffer
from agents.sum_tree import SumTree


def q_network(stored: Encoding, n_actions: int, hidden: tuple[int, ...], dueling: bool = False):
    """The Q-network that reads observations stored as ``stored``, from :mod:`supervised`.

    An MLP for a vector, a CNN for an image (3-D), and for several arrays (a Dict or Tuple with
    images) a :class:`~supervised.networks.MultiInputQNet`; ``dueling``: their head has value
    and advantage streams (:class:`~supervised.networks.DuelingHead`).
    """
    from supervised.networks import MultiInputQNet, cnn_for_shape, q_head

    if isinstance(stored.shape, dict):
        return MultiInputQNet(stored.shape, n_actions, hidden=hidden, dueling=dueling)
    if len(stored.shape) == 3:
        return cnn_for_shape(stored.shape, n_actions, hidden=hidden, dueling=dueling)
    return q_head(int(np.prod(stored.shape)), n_actions, hidden, dueling)


def replay_bytes(config: DQNConfig, observation_space: spaces.Space) -> int:
    """The bytes one learner's full replay buffer holds (before it is allocated)."""
    stored = encoding(observation_space)
    return ReplayBuffer.bytes_needed(
        config.buffer_size, stored.shape, stored.dtype, discounts=config.n_step > 1
    )


def learner_memory(
    config: DQNConfig, observation_space: spaces.Space, action_space: spaces.Space
) -> dict[str, int]:
    """The bytes one learner holds, by part, counted without building anything.

    Its full replay buffer (with prioritized replay, its sum tree), and its networks: the
    parameters of the Q-network (by arithmetic,
    :func:`supervised.networks.q_network_parameters`) times :data:`NETWORK_COPIES`, plus the
    numpy copy an MLP acts through.
    """
    from supervised.networks import q_network_parameters

    stored = encoding(observation_space)
    n_actions = int(action_space.n)
    parameters = q_network_parameters(stored.shape, n_actions, config.hidden, config.dueling)
    image = isinstance(stored.shape, dict) or len(stored.shape) == 3
    copies = NETWORK_COPIES + (0 if image or config.dueling else 1)
    memory = {
        "replay buffer": replay_bytes(config, observation_space),
        "networks": 4 * parameters * copies,
    }
    if config.prioritized:
        memory["sum tree"] = SumTree.bytes_needed(config.buffer_size)
    return memory


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """DQN needs Discrete actions and observations it can encode (:mod:`agents.encodings`)."""
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"DQN needs Discrete actions, got {action_space}")
    if encoding(observation_space) is None:
        raise ValueError(f"DQN cannot read any part of the observations {observation_space}")


class DQNLearner(OffPolicyLearner):
    """DQN's network and encoding on the off-policy core."""

    def __init__(
        self, config: DQNConfig, observation_space, action_space, rng: np.random.Generator
    ):
        self.n_actions = int(action_space.n)
        self.stored = encoding(observation_space)
        super().__init__(
            config,
            rng,
            lambda: q_network(self.stored, self.n_actions, config.hidden, config.dueling),
            ReplayBuffer(
                config.buffer_size, self.stored.shape, self.stored.dtype, **buffer_options(config)
            ),  # fmt: skip
        )
        self.snapshot, self.snapshot_at = None, -1  # see action_values

    def encode(self, obs) -> np.ndarray:
        """The network's input for a batch of observations (:mod:`agents.encodings`)."""
        return self.stored.encode(obs)

    def action_values(self, obs) -> np.ndarray:
        """Q(s, ·) for a batch of observations, ``(n, A)``.

        An MLP acts through a numpy copy of its weights, taken again after each training phase
        (the weights change only there): for one observation that is several times faster than a
        torch forward pass, and it gives the same values.
        """
        x = self.encode(obs)
        if self.snapshot_at != self.n_updates and self.device.type == "cpu":
            self.snapshot_at = self.n_updates
            numpy_forward = getattr(self.online, "numpy_forward", None)  # MLPs have one
            self.snapshot = numpy_forward() if numpy_forward else None
        if self.snapshot is not None:
            return self.snapshot(x)
        with torch.inference_mode():
            return self.online(as_tensors(x, self.device)).cpu().numpy()

    def load_weights(self, model_state: dict) -> None:
        """Put saved online-network tensors into both networks (and drop the acting copy)."""
        super().load_weights(model_state)
        self.snapshot_at = -1

    def load_training_state(self, state: dict) -> None:
        """Continue from a saved training state (and drop the acting copy)."""
        super().load_training_state(state)
        self.snapshot_at = -1


class DQNAgent(LearnerPerRun):
    """DQN over a batch of runs: one independent :class:`DQNLearner` per run."""

    def __init__(
        self, config: DQNConfig, observation_space: spaces.Space, action_space: spaces.Space
    ):
        check_spaces(observation_space, action_space)
        self.config = config
        self.observation_space, self.action_space = observation_space, action_space
        super().__init__(lambda rng: DQNLearner(config, observation_space, action_space, rng))

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """A learner per run: its full replay buffer and its networks (:func:`learner_memory`)."""
        one = learner_memory(self.config, self.observation_space, self.action_space)
        memory = {
            "replay buffers": n_runs * one["replay buffer"],
            "networks": n_runs * one["networks"],
        }
        if "sum tree" in one:
            memory["sum trees"] = n_runs * one["sum tree"]
        return memory
