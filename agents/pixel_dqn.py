"""A per-pixel DQN (PixelRL, Furuta et al. 2019, with Q-learning instead of A3C).

Every pixel is an agent that shares one fully convolutional Q-network
(:class:`supervised.denoise.QMapNet`): an image ``(1, H, W)`` in, a Q-map ``(A, H, W)`` out. Each
pixel picks its action with the shared exploration strategy (ε-greedy, ε decaying linearly) over
its own Q-vector. Transitions are stored as whole crops with their per-pixel reward maps, and a
gradient step regresses, at every pixel p of a batch of crops, Q(s, a_p)(p) on the per-pixel
one-step target

    y(p) = c · r(p) + γ · max_a Q_target(s', a)(p)

(c = ``reward_scale``; r(p) the pixel's drop in squared error, grey levels²) with the Huber loss.
As in :mod:`agents.dqn`, an episode's time limit (``truncated``) keeps the bootstrap; only
``terminated`` drops it. The trunk can start from a trained DnCNN's (``load_trunk``).

With ``memory`` the learner keeps each episode's first observation and its trunk reads that
instead of the current image: the episodes start at :meth:`PixelDQNLearner.begin_episodes`, or
at the first observation after ``observe`` saw an episode end.

:class:`PixelDQNLearner` is one learner fed by a batch of crops at a time (a vector env);
:class:`PixelDQNAgent` is the agent interface over independent runs (``rlcourse compare``), which
learns from the per-pixel reward map in the env's ``info``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from gymnasium import spaces

from agents.pixel_dqn_config import PixelDQNConfig, check_spaces
from agents.replay import ReplayBuffer
from supervised.denoise import QMapNet, TrunkConfig


class PixelDQNLearner:
    """Q-map networks, a replay buffer of crops, an optimizer and a generator."""

    def __init__(
        self,
        config: PixelDQNConfig,
        shape: tuple[int, int],
        n_actions: int,
        rng: np.random.Generator,
        lookahead: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        """One learner; ``lookahead`` gives the Q-network extra input channels.

        ``lookahead(images (n, H, W) in [0, 1]) -> (n, E, H, W)``, e.g. what each action would
        make of the image (the filters are known and deterministic).
        """
        self.config, self.rng, self.n_actions = config, rng, int(n_actions)
        self.lookahead = lookahead
        if config.estimate and lookahead is None:
            raise ValueError("estimate needs a lookahead: what each action makes of the image")
        # the network's input: the trunk's image, the current one (with memory or an estimate
        # head, where the trunk's image may be the episode's first), the lookahead channels
        looked = 0 if lookahead is None else len(lookahead(np.zeros((1, *shape), np.float32))[0])
        extra = int(config.memory or config.estimate) + looked
        trunk = TrunkConfig(config.channels, config.depth)
        # Q in reward units: squared errors of images in [0, 1] times 255² and reward_scale
        estimate = 255.0**2 * config.reward_scale if config.estimate else None
        with torch.random.fork_rng():  # seed the weights without touching torch's global state
            torch.manual_seed(int(rng.integers(2**31)))
            self.online = QMapNet(self.n_actions, trunk, extra, estimate_scale=estimate)
            self.target = QMapNet(self.n_actions, trunk, extra, estimate_scale=estimate)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        trained = self.online.head if config.freeze_trunk else self.online
        self.optimizer = torch.optim.Adam(trained.parameters(), lr=config.lr)
        channels = (config.channels if config.freeze_trunk else 0) + 1 + extra
        self.buffer = ReplayBuffer(
            config.buffer_size,
            (channels, *shape),
            np.float16 if channels > 1 else np.uint8,
            action_shape=tuple(shape),
            action_dtype=np.uint8,
            reward_shape=(self.n_actions, *shape) if config.all_actions else tuple(shape),
        )
        self._cached: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
        self._first_trunk: tuple[np.ndarray, torch.Tensor] | None = None  # frozen trunk, memory
        self.first: np.ndarray | None = None  # with memory: the episodes' first observations
        self.ended = np.zeros(0, bool)  # episodes whose next observation starts a new one
        self.strategy = config.strategy()
        self.pixels = int(np.prod(shape))
        self.steps = 0
        self.gradient_steps = 0
        self.losses: list[float] = []

    def load_trunk(self, model: torch.nn.Module) -> None:
        """Start both Q-map networks from a trained network's trunk (a DnCNN)."""
        self.online.load_trunk(model)
        self.target.load_state_dict(self.online.state_dict())
        self._cached = self._first_trunk = None

    def begin_episodes(self, obs: np.ndarray) -> None:
        """Images ``(n, 1, H, W)`` start the batch's episodes: what ``memory`` keeps."""
        self.first = np.array(obs, copy=True)
        self.ended = np.zeros(len(obs), bool)

    def _memory(self, obs: np.ndarray) -> np.ndarray:
        """The first observations of the episodes ``obs`` belong to (``obs`` where one begins)."""
        if self.first is None or len(self.first) != len(obs):
            if self.first is not None and not self.ended.all():
                raise ValueError(
                    f"the learner remembers {len(self.first)} episodes in progress, got a batch "
                    f"of {len(obs)}: call begin_episodes(obs) when the episodes start"
                )
            self.begin_episodes(obs)
        elif self.ended.any():
            self.first[self.ended] = obs[self.ended]
            self.ended[:] = False
        return self.first

    def encode(self, obs: np.ndarray) -> np.ndarray:
        """What the buffer stores of images ``(n, 1, H, W)``.

        That is the network's input (the trunk's image: the episode's first with ``memory``;
        the current image; the lookahead channels), or with a frozen trunk the head's input
        (its features). The last encoding is kept: a step's next observation is the next
        step's observation.
        """
        obs = np.asarray(obs)
        cfg = self.config
        if self.lookahead is None and not (cfg.freeze_trunk or cfg.memory or cfg.estimate):
            return obs
        first = self._memory(obs) if cfg.memory else None
        if (
            self._cached is None
            or not np.array_equal(self._cached[0], obs)
            or (first is not None and not np.array_equal(self._cached[1], first))
        ):
            unit = obs.astype(np.float32) / 255.0
            parts = [unit if first is None else first.astype(np.float32) / 255.0]
            if cfg.memory or cfg.estimate:
                parts.append(unit)
            if self.lookahead is not None:
                parts.append(self.lookahead(unit[:, 0]))
            x = np.concatenate(parts, axis=1)
            if cfg.freeze_trunk:
                with torch.inference_mode():
                    trunk = None if first is None else self._trunk_of_first(first)
                    x = self.online.features(torch.as_tensor(x), trunk).numpy()
            kept = None if first is None else first.copy()
            self._cached = (obs.copy(), kept, x.astype(np.float16))
        return self._cached[2]

    def _trunk_of_first(self, first: np.ndarray) -> torch.Tensor:
        """The frozen trunk's features of the episodes' first images, computed once per episode."""
        if self._first_trunk is None or not np.array_equal(self._first_trunk[0], first):
            unit = torch.as_tensor(first.astype(np.float32) / 255.0)
            self._first_trunk = (first.copy(), self.online.trunk(unit))
        return self._first_trunk[1]

    def _q(self, network, stored: torch.Tensor) -> torch.Tensor:
        """Q-maps of what the buffer stores (images, or features with a frozen trunk)."""
        if self.config.freeze_trunk:
            return network.q_of_features(stored.float())
        return network(stored if stored.dtype == torch.uint8 else stored.float())

    def q_maps(self, obs: np.ndarray) -> np.ndarray:
        """Q-values of a batch of images ``(n, 1, H, W)``, pixel-major: ``(n, H, W, A)``."""
        with torch.inference_mode():
            q = self._q(self.online, torch.as_tensor(self.encode(obs)))
            return q.permute(0, 2, 3, 1).numpy()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Each pixel's choice by the exploration strategy: ``(n, H, W)``."""
        return self.strategy.select(self.q_maps(obs), self.rng, self.steps)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """Each pixel's action of highest Q (no exploration): ``(n, H, W)``."""
        return self.q_maps(obs).argmax(axis=-1)

    def observe(self, obs, actions, reward_maps, next_obs, terminated, truncated) -> None:
        """Store a batch of crop transitions; after ``learning_starts``, train.

        ``reward_maps`` ``(n, H, W)`` are the env's ``info["reward_map"]``, whose sum over a crop
        is its reward; the learner turns them back into per-pixel squared-error drops. With
        ``all_actions`` they are ``info["action_reward_maps"]``, ``(n, A, H, W)``.
        """
        reward_maps = np.asarray(reward_maps, np.float32) * self.pixels
        obs, next_obs = self.encode(obs).copy(), self.encode(next_obs)
        for i in range(len(obs)):
            self.buffer.add(
                obs[i], actions[i], reward_maps[i], next_obs[i], terminated[i], truncated[i]
            )
        self.steps += len(obs)
        if self.first is not None and len(self.first) == len(obs):
            self.ended |= np.asarray(terminated, bool) | np.asarray(truncated, bool)
        if self.steps >= self.config.learning_starts and len(self.buffer) >= self.config.batch_size:
            for _ in range(self.config.gradient_steps):
                self.train_step()

    def td_target(self, reward, next_obs, terminated) -> torch.Tensor:
        """Per-pixel target: c·r + γ (1 − terminated) · the target Q-map's next-state value."""
        cfg = self.config
        with torch.no_grad():
            next_q = self._q(self.target, next_obs)
            if cfg.double:
                best = self._q(self.online, next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q.gather(1, best).squeeze(1)
            else:
                next_value = next_q.max(dim=1).values
            keep = (1.0 - terminated)[:, None, None]
            bootstrap = cfg.gamma * keep * next_value
            if reward.ndim == 4:  # every action's reward map: the same next value for each
                bootstrap = bootstrap[:, None]
            return cfg.reward_scale * reward + bootstrap

    def train_step(self) -> float:
        """One gradient step on a uniform batch of crops; returns the per-pixel TD loss.

        With ``all_actions`` the loss covers every action at every pixel, not only the taken one.
        """
        batch = self.buffer.sample(self.config.batch_size, self.rng)
        target = self.td_target(
            torch.as_tensor(batch.reward),
            torch.as_tensor(batch.next_obs),
            torch.as_tensor(batch.terminated, dtype=torch.float32),
        )
        q = self._q(self.online, torch.as_tensor(batch.obs))
        if not self.config.all_actions:
            actions = torch.as_tensor(batch.action, dtype=torch.int64)[:, None]
            q = q.gather(1, actions).squeeze(1)
        loss = torch.nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        trained = self.optimizer.param_groups[0]["params"]
        torch.nn.utils.clip_grad_norm_(trained, self.config.max_grad_norm)
        self.optimizer.step()
        self.gradient_steps += 1
        if self.gradient_steps % self.config.target_update == 0:
            self.target.load_state_dict(self.online.state_dict())
        self.losses.append(float(loss.detach()))
        return self.losses[-1]

    def state(self) -> dict:
        """What a checkpoint holds: the online network's tensors and the plain-data config."""
        return {"model": self.online.state_dict(), "config": asdict(self.config)}


class PixelDQNAgent:
    """The per-pixel DQN over a batch of runs: one independent learner per run.

    It reads the per-pixel reward map from the env's ``info`` (``uses_info``); without one, each
    pixel gets an equal share of the crop's reward.
    """

    uses_info = True

    def __init__(
        self, config: PixelDQNConfig, observation_space: spaces.Space, action_space: spaces.Space
    ):
        check_spaces(observation_space, action_space)
        self.config = config
        self.shape = tuple(action_space.shape)
        self.n_actions = int(action_space.nvec.flat[0])

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Fresh networks and buffers, each run seeded from ``rng``."""
        seeds = rng.integers(2**63 - 1, size=n_runs)
        self.learners = [
            PixelDQNLearner(self.config, self.shape, self.n_actions, np.random.default_rng(s))
            for s in seeds
        ]

    def act(self, obs) -> np.ndarray:
        """Each run's action map ``(n_runs, H, W)``."""
        return np.concatenate(
            [learner.act(o[None]) for learner, o in zip(self.learners, obs, strict=True)]
        )

    def update(self, obs, action, reward, next_obs, terminated, truncated, info=None) -> None:
        """Each run stores its crop transition (with its reward map) and trains."""
        key = "action_reward_maps" if self.config.all_actions else "reward_map"
        maps = (info or {}).get(key)
        if maps is None and self.config.all_actions:
            raise ValueError("all_actions needs info['action_reward_maps'] (PixelDenoise's)")
        if maps is None:
            maps = np.broadcast_to(
                np.asarray(reward, np.float32)[:, None, None] / np.prod(self.shape),
                (len(obs), *self.shape),
            )
        for i, learner in enumerate(self.learners):
            learner.observe(
                obs[i : i + 1],
                action[i : i + 1],
                maps[i : i + 1],
                next_obs[i : i + 1],
                terminated[i : i + 1],
                truncated[i : i + 1],
            )
