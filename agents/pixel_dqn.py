"""A per-pixel DQN (PixelRL, Furuta et al. 2019, with Q-learning instead of A3C).

Every pixel is an agent that shares one fully convolutional Q-network
(:class:`supervised.dncnn.QMapNet`): an image ``(1, H, W)`` in, a Q-map ``(A, H, W)`` out. Each
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
at the first observation after ``update`` saw an episode end.

The algorithm (replay, TD target, gradient step, target update) is :mod:`agents.off_policy`'s;
this variant supplies the Q-map network and its encoding of observations (the trunk's image, the
current image, the lookahead channels, or a frozen trunk's features) and of rewards (the env's
``info["reward_map"]``: with no map, each pixel gets an equal share of the crop's reward).
:class:`PixelDQNLearner` is one learner fed by a batch of crops at a time (a vector env);
:class:`PixelDQNAgent` runs one independent learner per run (``rlcourse compare``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from agents.off_policy import LearnerPerRun, OffPolicyLearner, buffer_options
from agents.pixel_dqn_config import PixelDQNConfig, check_spaces
from agents.replay import ReplayBuffer
from agents.sum_tree import SumTree
from supervised.dncnn import QMapNet, TrunkConfig


def buffer_layout(
    config: PixelDQNConfig, shape: tuple[int, int], n_actions: int, extra: int
) -> dict[str, Any]:
    """The replay buffer's layout (the constructor's arguments after its capacity).

    Stored images of the trunk's features (frozen), the image and ``extra`` channels; an action
    and a reward (or every action's) per pixel.
    """
    channels = (config.channels if config.freeze_trunk else 0) + 1 + extra
    return {
        "obs_shape": (channels, *shape),
        "obs_dtype": np.float16 if channels > 1 else np.uint8,
        "action_shape": tuple(shape),
        "action_dtype": np.uint8,
        "reward_shape": (n_actions, *shape) if config.all_actions else tuple(shape),
    }


class PixelDQNLearner(OffPolicyLearner):
    """The Q-map network and its encodings on the off-policy core."""

    def __init__(
        self,
        config: PixelDQNConfig,
        shape: tuple[int, int],
        n_actions: int,
        rng: np.random.Generator,
        lookahead: Callable[[np.ndarray], np.ndarray] | None = None,
        channels: int = 1,
    ):
        """One learner; ``lookahead`` gives the Q-network extra input channels.

        ``lookahead(images (n, H, W) in [0, 1]) -> (n, E, H, W)``, e.g. what each action would
        make of the image (the filters are known and deterministic). ``channels``: of the
        observations; the image is the first, the others (e.g. in-painting's pixel states) go
        to the lookahead, which then gets the whole observation ``(n, channels, H, W)``, or
        without one to the network as input channels.
        """
        self.n_actions, self.lookahead = int(n_actions), lookahead
        self.channels = int(channels)
        if config.estimate and lookahead is None:
            raise ValueError("estimate needs a lookahead: what each action makes of the image")
        # the network's input: the trunk's image, the current one (with memory or an estimate
        # head, where the trunk's image may be the episode's first), the lookahead channels
        blank = np.zeros((1, *shape) if channels == 1 else (1, channels, *shape), np.float32)
        looked = channels - 1 if lookahead is None else len(lookahead(blank)[0])
        extra = int(config.memory or config.estimate) + looked
        trunk = TrunkConfig(config.channels, config.depth)
        # Q in reward units: squared errors of images in [0, 1] times 255² and reward_scale
        estimate = 255.0**2 * config.reward_scale if config.estimate else None
        layout = buffer_layout(config, shape, n_actions, extra)
        buffer = ReplayBuffer(config.buffer_size, **layout, **buffer_options(config))
        super().__init__(
            config,
            rng,
            lambda: QMapNet(self.n_actions, trunk, extra, estimate_scale=estimate),
            buffer,
            trained=lambda online: online.head if config.freeze_trunk else online,
        )
        self._cached: tuple[np.ndarray, np.ndarray | None, np.ndarray] | None = None
        self._first_trunk: tuple[np.ndarray, torch.Tensor] | None = None  # frozen trunk, memory
        self.first: np.ndarray | None = None  # with memory: the episodes' first observations
        self.ended = np.zeros(0, bool)  # episodes whose next observation starts a new one
        self.shape = tuple(shape)
        self.pixels = int(np.prod(shape))

    def load_trunk(self, model: torch.nn.Module) -> None:
        """Start both Q-map networks from a trained network's trunk (a DnCNN)."""
        self.online.load_trunk(model)
        self.target.load_state_dict(self.online.state_dict())
        self._cached = self._first_trunk = None

    def begin_episodes(self, obs: np.ndarray) -> None:
        """Images ``(n, 1, H, W)`` start the batch's episodes: what ``memory`` keeps."""
        self.first = np.array(obs, copy=True)
        self.ended = np.zeros(len(obs), bool)

    def new_episodes(self) -> None:
        """Forget the episodes' first observations: the next batch begins new ones."""
        self.first, self.ended = None, np.zeros(0, bool)

    def episode_state(self) -> dict:
        """The episodes' first observations and which of them ended (with ``memory``)."""
        if self.first is None:
            return {}
        return {"first": torch.as_tensor(self.first.copy()), "ended": torch.as_tensor(self.ended)}

    def load_episode_state(self, state: dict) -> None:
        """Continue the episodes :meth:`episode_state` described (none: new ones begin).

        Raises:
            ValueError: the saved episodes do not fit this learner.
        """
        if not state:
            self.new_episodes()
            return
        first, ended = np.asarray(state["first"]), np.asarray(state["ended"])
        if first.shape[1:] != (self.channels, *self.shape) or ended.shape != first.shape[:1]:
            height, width = self.shape
            raise ValueError(f"the saved episodes have shape {first.shape}, not (n, "
                             f"{self.channels}, {height}, {width})")  # fmt: skip
        self.first, self.ended = first.copy(), ended.astype(bool)
        self._cached = self._first_trunk = None

    def training_state(self) -> dict:
        """:meth:`OffPolicyLearner.training_state` and the episodes in progress."""
        return {**super().training_state(), "episodes": self.episode_state()}

    def load_training_state(self, state: dict) -> None:
        """Continue from :meth:`training_state` (episodes begin anew where none were saved)."""
        super().load_training_state(state)
        self.load_episode_state(state.get("episodes", {}))

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
        plain = not (cfg.freeze_trunk or cfg.memory or cfg.estimate or self.channels > 1)
        if self.lookahead is None and plain:
            return obs
        first = self._memory(obs) if cfg.memory else None
        if (
            self._cached is None
            or not np.array_equal(self._cached[0], obs)
            or (first is not None and not np.array_equal(self._cached[1], first))
        ):
            unit = obs.astype(np.float32) / 255.0
            parts = [unit[:, :1] if first is None else first[:, :1].astype(np.float32) / 255.0]
            if cfg.memory or cfg.estimate:
                parts.append(unit[:, :1])
            if self.lookahead is not None:
                parts.append(self.lookahead(unit[:, 0] if self.channels == 1 else unit))
            elif self.channels > 1:
                parts.append(unit[:, 1:])
            x = np.concatenate(parts, axis=1)
            if cfg.freeze_trunk:
                with torch.inference_mode():
                    trunk = None if first is None else self._trunk_of_first(first)
                    x = self.online.features(torch.as_tensor(x).to(self.device), trunk)
                    x = x.cpu().numpy()
            kept = None if first is None else first.copy()
            self._cached = (obs.copy(), kept, x.astype(np.float16))
        return self._cached[2]

    def _trunk_of_first(self, first: np.ndarray) -> torch.Tensor:
        """The frozen trunk's features of the episodes' first images, computed once per episode."""
        if self._first_trunk is None or not np.array_equal(self._first_trunk[0], first):
            unit = torch.as_tensor(first[:, :1].astype(np.float32) / 255.0).to(self.device)
            self._first_trunk = (first.copy(), self.online.trunk(unit))
        return self._first_trunk[1]

    def rewards(self, reward: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        """Per-pixel drops of squared error (grey levels²) times ``reward_scale``.

        The env's ``info["reward_map"]`` ``(n, H, W)`` sums over a crop to its reward (with
        ``all_actions``, ``info["action_reward_maps"]``, ``(n, A, H, W)``); without a map each
        pixel gets an equal share of the crop's reward.
        """
        key = "action_reward_maps" if self.config.all_actions else "reward_map"
        maps = info.get(key)
        if maps is None and self.config.all_actions:
            raise ValueError("all_actions needs info['action_reward_maps'] (PixelDenoise's)")
        if maps is None:
            shape = self.buffer.action.shape[1:]
            share = np.asarray(reward, np.float32)[:, None, None] / self.pixels
            maps = np.broadcast_to(share, (len(share), *shape))
        return np.asarray(maps, np.float32) * self.pixels * self.config.reward_scale

    def q(self, network, stored: torch.Tensor) -> torch.Tensor:
        """Q-maps of what the buffer stores (images, or features with a frozen trunk)."""
        if self.config.freeze_trunk:
            return network.q_of_features(stored.float())
        return network(stored if stored.dtype == torch.uint8 else stored.float())

    def action_values(self, obs: np.ndarray) -> np.ndarray:
        """Q-values of a batch of images ``(n, 1, H, W)``, pixel-major: ``(n, H, W, A)``."""
        with torch.inference_mode():
            q = self.q(self.online, torch.as_tensor(self.encode(obs)).to(self.device))
            return q.permute(0, 2, 3, 1).cpu().numpy()

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Store a batch of crop transitions and train (the core), then note ended episodes."""
        super().update(obs, action, reward, next_obs, terminated, truncated, info)
        if self.first is not None and len(self.first) == len(obs):
            self.ended |= np.asarray(terminated, bool) | np.asarray(truncated, bool)


class PixelDQNAgent(LearnerPerRun):
    """The per-pixel DQN over a batch of runs: one independent learner per run."""

    def __init__(
        self, config: PixelDQNConfig, observation_space: spaces.Space, action_space: spaces.Space
    ):
        check_spaces(observation_space, action_space)
        self.config = config
        self.shape = tuple(action_space.shape)
        self.n_actions = int(action_space.nvec.flat[0])
        self.channels = int(observation_space.shape[0])
        super().__init__(
            lambda rng: PixelDQNLearner(
                config, self.shape, self.n_actions, rng, channels=self.channels
            )
        )

    def memory_bytes(self, n_runs: int) -> dict[str, int]:
        """A full replay buffer per run (see :class:`~agents.base.EstimatesMemory`).

        With n-step returns, the buffer's discounts; with prioritized replay, its sum tree.
        """
        cfg = self.config
        extra = int(cfg.memory or cfg.estimate) + self.channels - 1
        layout = buffer_layout(cfg, self.shape, self.n_actions, extra)
        one = ReplayBuffer.bytes_needed(cfg.buffer_size, **layout, discounts=cfg.n_step > 1)
        memory = {"replay buffers": n_runs * one}
        if cfg.prioritized:
            memory["sum trees"] = n_runs * SumTree.bytes_needed(cfg.buffer_size)
        return memory
