"""Deep Q-learning with experience replay (Mnih et al., 2015), on the shared agent interface.

Read top to bottom: the hyperparameters; the Q-network built from the env's spaces (an MLP for
vectors, a CNN for images, both from :mod:`supervised.networks`); one learner per run — act with
a shared exploration strategy, store the transition, and every ``train_freq`` steps take
``gradient_steps`` steps on the Huber loss between Q(s, a) and the TD target

    y = r + γ · (1 − terminated) · Q_target(s', argmax_a Q_online(s', a))   (Double DQN), or
    y = r + γ · (1 − terminated) · max_a Q_target(s', a)                      (DQN);

then copy the online network to the target every ``target_update`` gradient steps (or move it by
Polyak averaging with ``tau`` < 1). A time limit (``truncated``) keeps the bootstrap.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from gymnasium import spaces

from agents.dqn_config import DQNConfig
from agents.replay import ReplayBuffer
from supervised.train import FlatParameters, flush_denormals

MAX_SPAN = 128
"""Most batches drawn, and TD targets computed, at once (bounds the memory of image batches)."""


def q_network(observation_space: spaces.Space, n_actions: int, hidden: tuple[int, ...]):
    """An MLP for vector observations, a CNN for images (3-D Box), from :mod:`supervised`."""
    from supervised.networks import cnn_for_shape, mlp_for_spaces

    shape = observation_space.shape
    if isinstance(observation_space, spaces.Box) and len(shape) == 3:
        return cnn_for_shape(shape, n_actions, hidden=hidden)
    return mlp_for_spaces(int(np.prod(shape)), n_actions, hidden=hidden)


def observation_shape(space: spaces.Space) -> tuple[int, ...]:
    """What the buffer stores per observation: a Discrete state becomes its one-hot vector."""
    if isinstance(space, spaces.Discrete):
        return (int(space.n),)
    return tuple(space.shape)


def check_spaces(observation_space: spaces.Space, action_space: spaces.Space) -> None:
    """DQN needs Discrete actions and a Box or Discrete observation."""
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"DQN needs Discrete actions, got {action_space}")
    if not isinstance(observation_space, (spaces.Box, spaces.Discrete)):
        raise ValueError(f"DQN needs Box or Discrete observations, got {observation_space}")


class DQNLearner:
    """One run's DQN: networks, buffer, optimizer, its own generator."""

    def __init__(
        self, config: DQNConfig, observation_space, action_space, rng: np.random.Generator
    ):
        self.config, self.rng = config, rng
        self.n_actions = int(action_space.n)
        self.one_hot = (
            int(observation_space.n) if isinstance(observation_space, spaces.Discrete) else 0
        )
        shape = observation_shape(observation_space)
        net_space = spaces.Box(-np.inf, np.inf, shape) if self.one_hot else observation_space
        with torch.random.fork_rng():  # seed the weights without touching torch's global state
            torch.manual_seed(int(rng.integers(2**31)))
            self.online = q_network(net_space, self.n_actions, config.hidden)
            self.target = q_network(net_space, self.n_actions, config.hidden)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.flat = FlatParameters(self.online)  # one tensor to zero, clip and step
        self.optimizer = torch.optim.Adam([self.flat.values], lr=config.lr, fused=True)
        dtype = observation_space.dtype if isinstance(observation_space, spaces.Box) else np.float32
        self.buffer = ReplayBuffer(config.buffer_size, shape, dtype)
        self.strategy = config.strategy()
        self.steps = 0
        self.gradient_steps = 0
        self.snapshot, self.snapshot_at = None, -1  # see q_values
        self.losses: list[float] = []

    def encode(self, obs) -> np.ndarray:
        """The network's input for one observation (a one-hot vector for a Discrete state)."""
        if self.one_hot:
            return np.eye(self.one_hot, dtype=np.float32)[int(obs)]
        return np.asarray(obs)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Q(s, ·) for a batch of encoded observations.

        An MLP acts through a numpy copy of its weights, taken again after each training phase
        (the weights change only there): for one observation that is several times faster than a
        torch forward pass, and it gives the same values.
        """
        if self.snapshot_at != self.gradient_steps:
            self.snapshot_at = self.gradient_steps
            numpy_forward = getattr(self.online, "numpy_forward", None)
            self.snapshot = numpy_forward() if numpy_forward else None
        if self.snapshot is not None:
            return self.snapshot(obs)
        with torch.inference_mode():
            return self.online(torch.as_tensor(obs)).numpy()

    def act(self, obs) -> int:
        """The shared strategy's choice over Q(obs, ·)."""
        q = self.q_values(self.encode(obs)[None])
        return int(self.strategy.select(q, self.rng, self.steps)[0])

    def greedy(self, obs) -> int:
        """The action of highest Q(obs, ·) (evaluation: no exploration)."""
        return int(self.q_values(self.encode(obs)[None])[0].argmax())

    def observe(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Store the transition; every ``train_freq`` steps after ``learning_starts``, train."""
        self.buffer.add(
            self.encode(obs), action, reward, self.encode(next_obs), terminated, truncated
        )
        self.steps += 1
        cfg = self.config
        if self.steps > cfg.learning_starts and self.steps % cfg.train_freq == 0:
            self.train(cfg.gradient_steps)

    def td_target(self, reward, next_obs, terminated) -> torch.Tensor:
        """The TD target: reward + γ (1 − terminated) · the target network's next-state value."""
        with torch.no_grad():
            next_q = self.target(next_obs)
            if self.config.double:
                best = self.online(next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q.gather(1, best).squeeze(1)
            else:
                next_value = next_q.max(dim=1).values
            return reward + self.config.gamma * (1.0 - terminated) * next_value

    def train(self, n_steps: int) -> None:
        """``n_steps`` gradient steps on uniform batches from the buffer.

        The target network stays fixed between two target updates, so the batches of such a
        span are drawn together and their TD targets come from one forward pass: the same
        numbers as batch by batch, in far fewer calls. (Double DQN also asks the online
        network, which changes every step: its spans are one step long.)
        """
        cfg, size = self.config, self.config.batch_size
        with flush_denormals():  # denormal Adam moments slow training ~1.4x
            done = 0
            while done < n_steps:
                until_update = cfg.target_update - self.gradient_steps % cfg.target_update
                span = 1 if cfg.double else min(n_steps - done, until_update, MAX_SPAN)
                batch = self.buffer.sample(size * span, self.rng)
                obs, action = torch.as_tensor(batch.obs), torch.as_tensor(batch.action)
                target = self.td_target(
                    torch.as_tensor(batch.reward),
                    torch.as_tensor(batch.next_obs),
                    torch.as_tensor(batch.terminated, dtype=torch.float32),
                )
                for start in range(0, size * span, size):
                    rows = slice(start, start + size)
                    self.gradient_step(obs[rows], action[rows], target[rows])
                done += span

    def train_step(self) -> float:
        """One gradient step on a fresh uniform batch; returns its TD loss."""
        self.train(1)
        return self.losses[-1]

    def gradient_step(self, obs, action, target) -> None:
        """Adam on the Huber loss between Q(obs, action) and the TD target, norm-clipped."""
        q = self.online(obs).gather(1, action[:, None]).squeeze(1)
        loss = torch.nn.functional.smooth_l1_loss(q, target)  # Huber
        self.flat.zero_grad()
        loss.backward()
        self.flat.clip_grad_norm_(self.config.max_grad_norm)
        self.optimizer.step()
        self.gradient_steps += 1
        if self.gradient_steps % self.config.target_update == 0:
            self.update_target()
        self.losses.append(float(loss.detach()))

    def update_target(self) -> None:
        """Hard copy (τ = 1) or Polyak average of the online weights into the target network."""
        tau = self.config.tau
        with torch.no_grad():
            for target, online in zip(
                self.target.parameters(), self.online.parameters(), strict=True
            ):
                target.mul_(1.0 - tau).add_(online, alpha=tau)

    def load_weights(self, model_state: dict) -> None:
        """Put saved online-network tensors into both networks (and drop the acting copy)."""
        self.online.load_state_dict(model_state)
        self.target.load_state_dict(model_state)
        self.snapshot_at = -1

    def state(self) -> dict:
        """What a checkpoint holds: the online network's tensors and the plain-data config."""
        return {"model": self.online.state_dict(), "config": asdict(self.config)}


class DQNAgent:
    """DQN over a batch of runs: one independent :class:`DQNLearner` per run."""

    def __init__(
        self, config: DQNConfig, observation_space: spaces.Space, action_space: spaces.Space
    ):
        check_spaces(observation_space, action_space)
        self.config = config
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Fresh networks and buffers, each run seeded from ``rng``."""
        seeds = rng.integers(2**63 - 1, size=n_runs)
        self.learners = [
            DQNLearner(
                self.config, self.observation_space, self.action_space, np.random.default_rng(s)
            )
            for s in seeds
        ]

    def act(self, obs) -> np.ndarray:
        """Each run's action."""
        return np.array([learner.act(o) for learner, o in zip(self.learners, obs, strict=True)])

    def update(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """Each run stores its transition and trains on its own schedule."""
        for i, learner in enumerate(self.learners):
            learner.observe(obs[i], action[i], reward[i], next_obs[i], terminated[i], truncated[i])
