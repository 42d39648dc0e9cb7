"""The off-policy core that DQN and the per-pixel DQN share (Mnih et al., 2015).

Read top to bottom: a learner acts with the shared exploration strategy over its Q-values,
stores every transition in a replay buffer, and once ``learning_starts`` transitions are stored,
every ``train_freq`` transitions it takes ``gradient_steps`` steps of Adam on the Huber loss
between Q(s, a) and the TD target

    y = r + γ · (1 − terminated) · Q_target(s', argmax_a Q_online(s', a))   (Double DQN), or
    y = r + γ · (1 − terminated) · max_a Q_target(s', a)                      (DQN);

then it moves the target network to the online one every ``target_update`` gradient steps (a
hard copy, or Polyak averaging with ``tau`` < 1). A time limit (``truncated``) keeps the
bootstrap: only ``terminated`` ends the task.

Two variants of the core are flags of the config: ``n_step`` > 1 stores n-step returns
(:mod:`agents.n_step`: the target bootstraps with each transition's own ``γ^m``), and
``prioritized`` draws batches in proportion to their last TD errors (:mod:`agents.sum_tree`),
weighting each row's loss by its importance weight and updating its priority after the step.

A variant (:class:`agents.dqn.DQNLearner`, :class:`agents.pixel_dqn.PixelDQNLearner`) supplies its
network, its replay buffer's layout and its encoding of observations and rewards: the methods
:meth:`OffPolicyLearner.encode`, :meth:`~OffPolicyLearner.rewards`, :meth:`~OffPolicyLearner.q`
and :meth:`~OffPolicyLearner.action_values`. Q has the actions on axis 1 (``(n, A)`` for DQN,
``(n, A, H, W)`` per pixel); a target of Q's own shape regresses every action, a target without
the action axis only the action taken.

A learner counts what it stores and what it trains: :attr:`OffPolicyLearner.transitions` (every
env of a batch adds one per env step; the schedules of ``learning_starts``, ``train_freq``,
``lr_decay_steps`` and ``exploration_steps`` count these) and :attr:`~OffPolicyLearner.n_updates`
(gradient steps taken so far; ``target_update`` counts these, ``gradient_steps`` is how many one
training phase takes).

Two agents put learners behind the run loop's interface (:class:`agents.base.Agent`):
:class:`LearnerPerRun` (one learner per run: a comparison's statistical unit) and
:class:`SharedLearner` (one learner fed by every env of the batch: one training run). The loop's
greedy evaluations act through :class:`GreedyPolicy`. (``IndependentRuns`` and ``OneLearner``,
their old names, still import for one release, with a DeprecationWarning.)
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from agents.batches import as_arrays, as_tensors, batch_rows, on_host, run_info
from agents.n_step import NStepWindows
from agents.off_policy_config import OffPolicyConfig
from agents.replay import Batch, ReplayBuffer
from agents.sum_tree import Priorities
from common import devices
from common.deprecation import renamed
from common.parameters import FlatParameters, flush_denormals

LOSSES_KEPT = 10_000
"""TD losses of the latest gradient steps a learner keeps (for logs)."""
NETWORK_COPIES = 5
"""float32 copies of a Q-network's parameters a learner holds: the online and the target network,
the gradients, Adam's two moments (what a memory estimate counts)."""


class OffPolicyLearner:
    """One learner: online and target networks, a replay buffer, Adam, its own generator."""

    def __init__(
        self,
        config: OffPolicyConfig,
        rng: np.random.Generator,
        network: Callable[[], torch.nn.Module],
        buffer: ReplayBuffer,
        trained: Callable[[torch.nn.Module], torch.nn.Module] = lambda online: online,
    ):
        """``network()`` builds one Q-network; ``trained(online)`` is the part Adam trains.

        The networks live on :func:`common.devices.current` (their first weights are drawn
        on the CPU, so a seed starts the same networks on any device); the buffer stays in host
        memory and each batch moves to the device.
        """
        self.config, self.rng, self.buffer = config, rng, buffer
        if config.prioritized and buffer.priorities is None:
            raise ValueError("prioritized replay needs a buffer with priorities (buffer_options)")
        self.windows = NStepWindows(config.n_step, config.gamma) if config.n_step > 1 else None
        self.device = devices.current()
        with torch.random.fork_rng():  # seed the weights without touching torch's global state
            torch.manual_seed(int(rng.integers(2**31)))
            self.online, self.target = network().to(self.device), network().to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.flat = FlatParameters(trained(self.online))  # one tensor to zero, clip and step
        # not fused: the fused CPU kernel made the per-pixel DQN collapse in 2 of 5 reports
        # (docs/benchmarks.md) for ~5-10% of a DQN gradient step
        self.optimizer = torch.optim.Adam([self.flat.values], lr=config.lr, fused=False)
        self.strategy = config.strategy()
        self.transitions = 0
        """Transitions stored so far (every env of a batch adds one per env step)."""
        self.n_updates = 0
        """Gradient steps taken so far."""
        self.losses: deque[float] = deque(maxlen=LOSSES_KEPT)

    # -- what a variant supplies -----------------------------------------------------------------

    def encode(self, obs: Any) -> np.ndarray:
        """What the buffer stores of a batch of observations (and the networks read)."""
        return np.asarray(obs)

    def rewards(self, reward: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        """What the buffer stores as the rewards of a batch of transitions."""
        return np.asarray(reward)

    def q(self, network: torch.nn.Module, stored: torch.Tensor) -> torch.Tensor:
        """Q-values of stored inputs, actions on axis 1."""
        return network(stored)

    def action_values(self, obs: Any) -> np.ndarray:
        """Q-values of a batch of observations for acting, actions on the last axis."""
        raise NotImplementedError

    def new_episodes(self) -> None:
        """Every env of the next batch starts an episode (a variant with a memory forgets it)."""

    def episode_state(self) -> dict:
        """What a variant with a memory keeps of the episodes in progress (none here).

        Plain data and tensors: it is saved in ``resume.pt`` and put back around an evaluation,
        so that neither changes what training goes on from.
        """
        return {}

    def load_episode_state(self, state: dict) -> None:
        """Continue the episodes :meth:`episode_state` described (nothing to do here)."""

    # -- acting ----------------------------------------------------------------------------------

    def act(self, obs: Any) -> np.ndarray:
        """The shared strategy's choice over the Q-values of each observation of the batch."""
        return self.strategy.select(self.action_values(obs), self.rng, self.transitions)

    def greedy(self, obs: Any) -> np.ndarray:
        """The action of highest Q for each observation (evaluation: no exploration)."""
        return self.action_values(obs).argmax(axis=-1)

    # -- learning --------------------------------------------------------------------------------

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Store a batch of transitions; train when the schedule says so."""
        rewards = self.rewards(reward, info)
        stored, stored_next = self.encode(obs), self.encode(next_obs)
        for i in range(len(action)):
            step = (batch_rows(stored, i), action[i], rewards[i], batch_rows(stored_next, i),
                    terminated[i], truncated[i])  # fmt: skip
            if self.windows is None:
                self.buffer.add(*step)
            else:  # the n-step transitions this step completes
                self.windows.add(i, *step, store=self.buffer.add)
        before, self.transitions = self.transitions, self.transitions + len(action)
        cfg = self.config
        due = self.transitions // cfg.train_freq > before // cfg.train_freq  # crossed a multiple
        if due and self.transitions > cfg.learning_starts and len(self.buffer) >= cfg.batch_size:
            self.train(cfg.gradient_steps)

    def td_target(self, reward, next_obs, terminated, discount=None) -> torch.Tensor:
        """The TD target: reward + γ (1 − terminated) · the target network's next-state value.

        ``discount``: each row's own ``γ^m`` (n-step returns) instead of γ.
        """
        if self.config.gamma == 0:  # nothing to bootstrap: skip the next states' forward passes
            return reward
        with torch.no_grad():
            next_q = self.q(self.target, next_obs)
            if self.config.double:
                best = self.q(self.online, next_obs).argmax(dim=1, keepdim=True)
                next_value = next_q.gather(1, best).squeeze(1)
            else:
                next_value = next_q.max(dim=1).values
            keep = (1.0 - terminated).reshape(-1, *[1] * (next_value.ndim - 1))
            if discount is not None:
                keep = keep * discount.reshape(keep.shape)
                bootstrap = keep * next_value
            else:
                bootstrap = self.config.gamma * keep * next_value
            if reward.ndim > bootstrap.ndim:  # every action's reward: the same next value
                bootstrap = bootstrap.unsqueeze(1)
            return reward + bootstrap

    def train(self, n_steps: int) -> None:
        """``n_steps`` gradient steps on batches from the buffer: sample, target, step.

        The target network stays fixed until its next update, so the buffer draws the batches
        of such a span together (:meth:`~agents.replay.ReplayBuffer.sample_spans`) and their TD
        targets come from one forward pass: the same numbers as batch by batch, in far fewer
        calls. (Double DQN also asks the online network, which changes every step, and
        prioritized replay's priorities change every step: their spans are one step long.)
        """
        cfg = self.config
        self.optimizer.param_groups[0]["lr"] = cfg.learning_rate(self.transitions)
        beta = cfg.per_beta_at(self.transitions) if cfg.prioritized else None
        with flush_denormals():  # denormal Adam moments slow training ~1.4x
            for span in self.buffer.sample_spans(cfg.batch_size, n_steps, self.rng,
                                                 self.target_fixed_for, beta):  # fmt: skip
                obs, action, reward, next_obs, terminated = self.on_device(span)
                discount = None if span.discount is None else self.tensor(span.discount)
                target = self.td_target(reward, next_obs, terminated, discount)
                if span.weights is not None:  # prioritized: one batch, weighted; new priorities
                    td = self.gradient_step(obs, action, target, self.tensor(span.weights))
                    self.buffer.priorities.update(span.slots, td)
                    continue
                for rows in span.batch_rows():
                    self.gradient_step(batch_rows(obs, rows), action[rows], target[rows])

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        """A float32 array as a tensor on the learner's device."""
        return torch.as_tensor(array, dtype=torch.float32).to(self.device)

    def on_device(self, batch: Batch) -> tuple:
        """``obs, action, reward, next_obs, terminated`` of a sampled batch as tensors there."""
        return (
            as_tensors(batch.obs, self.device),
            torch.as_tensor(batch.action, dtype=torch.int64).to(self.device),
            torch.as_tensor(batch.reward).to(self.device),
            as_tensors(batch.next_obs, self.device),
            torch.as_tensor(batch.terminated, dtype=torch.float32).to(self.device),
        )

    def target_fixed_for(self) -> int:
        """Gradient steps from now whose TD targets the same networks give (1 for Double DQN)."""
        if self.config.double:
            return 1
        return self.config.target_update - self.n_updates % self.config.target_update

    def train_step(self) -> float:
        """One gradient step on a fresh uniform batch; returns its TD loss."""
        self.train(1)
        return self.losses[-1]

    def gradient_step(self, obs, action, target, weights=None) -> np.ndarray | None:
        """Adam on the Huber loss between Q(obs, action) and the TD target, norm-clipped.

        ``weights``: each row's importance weight (prioritized replay); then it returns each
        row's |TD error| (averaged over the rest of a row: pixels) for its new priority.
        """
        q = self.q(self.online, obs)
        if target.ndim < q.ndim:  # the action taken only
            q = q.gather(1, action.unsqueeze(1)).squeeze(1)
        td = None
        if weights is None:
            loss = torch.nn.functional.smooth_l1_loss(q, target)  # Huber
        else:
            rows = torch.nn.functional.smooth_l1_loss(q, target, reduction="none")
            loss = (weights * rows.reshape(len(rows), -1).mean(dim=1)).mean()
            td = (target - q).detach().abs().reshape(len(q), -1).mean(dim=1).cpu().numpy()
        self.flat.zero_grad()
        loss.backward()
        self.flat.clip_grad_norm_(self.config.max_grad_norm)
        self.optimizer.step()
        self.n_updates += 1
        if self.n_updates % self.config.target_update == 0:
            self.update_target()
        self.losses.append(float(loss.detach()))
        return td

    def update_target(self) -> None:
        """Hard copy (τ = 1) or Polyak average of the online weights into the target network."""
        tau = self.config.tau
        with torch.no_grad():
            for target, online in zip(
                self.target.parameters(), self.online.parameters(), strict=True
            ):
                target.mul_(1.0 - tau).add_(online, alpha=tau)

    # -- old names (deprecated, for one release) ---------------------------------------------------

    @property
    def steps(self) -> int:
        """Deprecated: :attr:`transitions`."""
        warnings.warn("OffPolicyLearner.steps is deprecated: it is .transitions",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.transitions

    @property
    def gradient_steps(self) -> int:
        """Deprecated: :attr:`n_updates` (the config's ``gradient_steps`` is per training phase)."""
        warnings.warn("OffPolicyLearner.gradient_steps is deprecated: it is .n_updates",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.n_updates

    # -- saving ----------------------------------------------------------------------------------

    def state(self) -> dict:
        """What a checkpoint holds of the learner: the online network's tensors, the config.

        The tensors are on the CPU, whatever the device: a checkpoint loads anywhere.
        """
        return {"model": on_host(self.online.state_dict()), "config": asdict(self.config)}

    def load_weights(self, model_state: dict) -> None:
        """Put saved online-network tensors into both networks."""
        self.online.load_state_dict(model_state)
        self.target.load_state_dict(model_state)

    def training_state(self) -> dict:
        """Everything training goes on from, as tensors and plain data (``weights_only``).

        Both networks, Adam's state, the replay buffer, the generator and the counters.
        """
        return {
            "online": on_host(self.online.state_dict()),
            "target": on_host(self.target.state_dict()),
            "optimizer": on_host(self.optimizer.state_dict()),
            "buffer": {
                key: value if isinstance(value, int) else as_tensors(value)
                for key, value in self.buffer.state().items()
            },
            "rng": self.rng.bit_generator.state,
            "transitions": self.transitions,
            "n_updates": self.n_updates,
            "losses": list(self.losses),
            **({} if self.windows is None else {"n_step": self.windows.state(as_tensors)}),
        }

    def load_training_state(self, state: dict) -> None:
        """Continue from what :meth:`training_state` saved (a learner built with the same config).

        The counters are read under their old keys too (``steps``, ``gradient_steps``: what
        older runs' ``resume.pt`` holds), so those resume exactly.

        Raises:
            ValueError: the state does not fit this learner.
        """
        try:
            self.online.load_state_dict(state["online"])
            self.target.load_state_dict(state["target"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as err:
            raise ValueError(f"the saved networks do not fit: {str(err).splitlines()[0]}") from None
        self.buffer.load_state(state["buffer"])  # tensors read as arrays
        self.rng.bit_generator.state = state["rng"]
        self.transitions = int(state["transitions"] if "transitions" in state else state["steps"])
        self.n_updates = int(
            state["n_updates"] if "n_updates" in state else state["gradient_steps"]
        )
        self.losses.clear()
        self.losses.extend(float(loss) for loss in state["losses"])
        if self.windows is not None:
            self.windows.load_state(state.get("n_step", []), as_arrays)


def buffer_options(config: OffPolicyConfig) -> dict:
    """The replay buffer's options for a config's variants (``ReplayBuffer(…, **these)``)."""
    priorities = (
        Priorities(config.buffer_size, config.per_alpha, config.per_eps)
        if config.prioritized
        else None
    )
    return {"discounts": config.n_step > 1, "priorities": priorities}


class LearnerPerRun:
    """An agent over a batch of independent runs: one learner per run, seeded from the batch."""

    trains_networks = True
    """Its learners' networks run on :func:`common.devices.current` (see TrainsNetworks)."""

    def __init__(self, make_learner: Callable[[np.random.Generator], OffPolicyLearner]):
        self.make_learner = make_learner
        self.learners: list[OffPolicyLearner] = []

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Fresh networks and buffers, each run seeded from ``rng``."""
        seeds = rng.integers(2**63 - 1, size=n_runs)
        self.learners = [self.make_learner(np.random.default_rng(s)) for s in seeds]

    def reset_run(self, run: int, n_runs: int, rng: np.random.Generator) -> None:
        """Run ``run`` of a batch of ``n_runs`` alone: its learner seeded as :meth:`reset` would.

        A batch split into processes, one run each, then gives the numbers of the whole batch.
        """
        seeds = rng.integers(2**63 - 1, size=n_runs)
        self.learners = [self.make_learner(np.random.default_rng(seeds[run]))]

    def act(self, obs) -> np.ndarray:
        """Each run's action (its own learner's choice)."""
        return np.concatenate(
            [
                learner.act(batch_rows(obs, slice(i, i + 1)))
                for i, learner in enumerate(self.learners)
            ]
        )

    def greedy_actions(self, obs, runs: np.ndarray) -> np.ndarray:
        """Each row's action of highest Q under its run's learner (see ``HasGreedyPolicy``)."""
        run_ids, starts = np.unique(runs, return_index=True)
        ends = [*starts[1:], len(runs)]
        return np.concatenate(
            [
                self.learners[i].greedy(batch_rows(obs, slice(start, end)))
                for i, start, end in zip(run_ids, starts, ends, strict=True)
            ]
        )

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Each run stores its transition and trains on its own schedule."""
        n = len(self.learners)
        for i, learner in enumerate(self.learners):
            rows = slice(i, i + 1)
            learner.update(
                batch_rows(obs, rows),
                action[rows],
                reward[rows],
                batch_rows(next_obs, rows),
                terminated[rows],
                truncated[rows],
                run_info(info, i, n),
            )


class SharedLearner:
    """An already built learner as an agent: every env of the batch feeds it (one training run).

    ``reset`` keeps the learner: its caller built and seeded it (and may have loaded weights).
    A resumed run passes the ``episodes`` in progress (:meth:`OffPolicyLearner.episode_state`).
    """

    def __init__(self, learner: OffPolicyLearner, episodes: dict | None = None):
        self.learner, self.episodes = learner, episodes or {}

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """The episodes go on (resumed) or new ones begin; the learner keeps what it learnt."""
        self.learner.load_episode_state(self.episodes)

    def act(self, obs) -> np.ndarray:
        """The learner's exploring choice for every env."""
        return self.learner.act(obs)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """The learner stores the batch's transitions and trains on its schedule."""
        self.learner.update(obs, action, reward, next_obs, terminated, truncated, info)


class GreedyPolicy:
    """A learner's greedy policy as an agent (evaluation): no exploration, no learning."""

    def __init__(self, learner: OffPolicyLearner):
        self.learner = learner

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """New episodes begin; evaluation changes nothing else."""
        self.learner.new_episodes()

    def act(self, obs) -> np.ndarray:
        """The action of highest Q for every env."""
        return self.learner.greedy(obs)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Nothing to learn."""


__getattr__ = renamed(__name__, {"IndependentRuns": "LearnerPerRun", "OneLearner": "SharedLearner"})
