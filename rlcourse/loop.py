"""The one run loop: a batch of independent runs of one agent on one env, ``act → step → update``.

Everything that steps an env goes through :func:`run`: :func:`rlcourse.comparison.compare` runs
it per agent; DQN training, greedy evaluation and the denoise report's trainings and rollouts are
the same loop with callbacks.

A callback is a function of a :class:`Step`, called after every step of the batch (after the
agent's update, before runs whose episode ended are reset); it returns ``True`` to stop the loop
after this step. Recording the metrics is itself a callback (:class:`StepMetrics`,
:class:`EpisodeMetrics`), which also ends the loop when the budget is spent.

A run of one env with a step budget can be *resumable*: the loop then keeps where its episode
began (the seed of the first reset, or the state of the env's generator before a later reset)
and the actions taken since, and a callback can take that :class:`Position` with the rest of a
checkpoint. ``run(..., resume=position)`` puts a fresh env back exactly there (reset, then the
same actions again) and goes on from the next step. That is exact for every env whose
randomness comes from its ``np_random`` (Gymnasium's and rlcourse's envs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Protocol

import numpy as np
from gymnasium.vector import VectorEnv
from tqdm.auto import tqdm

from agents import Agent
from rlcourse.errors import UsageError
from rlcourse.lazy import lazy_exports
from rlcourse.memory import check_count, check_fits, results_bytes

STEP_METRICS = ("reward", "optimal_action")
EPISODE_METRICS = ("return", "length")
MAX_EPISODE_LENGTH = 1_000_000
"""Episode mode stops with an error, not a hang, when an episode runs this long."""
HINT = "lower the runs, the budget, or the sizes in the agents' or the env's settings"
"""What a refusal for memory suggests."""


class RunsSource(Protocol):
    """What the loop needs of an env: a name for messages and a batch of runs without autoreset.

    :class:`rlcourse.environments.EnvSource` is one; a caller with a vector env of its own
    (the denoise report's evaluation crops) supplies another.
    """

    name: str

    def make_runs(self, n_runs: int) -> VectorEnv:
        """``n_runs`` runs whose episodes end without autoreset (the loop resets them)."""
        ...


@dataclass(frozen=True)
class VectorSource:
    """A :class:`RunsSource` from a name and a function ``n_runs -> vector env``."""

    name: str
    make_runs: Callable[[int], VectorEnv]


@dataclass
class Position:
    """Where a resumable run stands after step ``t``: enough to put its env back exactly."""

    t: int
    """Steps taken."""
    episode_return: float
    """Return of the current episode so far."""
    episode_start: int | dict
    """The seed of the episode's reset (the first one), or the env's ``np_random`` state just
    before its reset (``bit_generator.state``: plain data)."""
    actions: list
    """The actions of the current episode so far, in order."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for a checkpoint)."""
        return {
            "t": self.t,
            "episode_return": self.episode_return,
            "episode_start": self.episode_start,
            "actions": [np.asarray(a).tolist() for a in self.actions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Position:
        """The position :meth:`as_dict` gave (read from a file: checked).

        Raises:
            ValueError: an episode start that is neither a seed nor the state of one of
                numpy's bit generators (:data:`BIT_GENERATORS`).
        """
        start = data["episode_start"]
        if isinstance(start, dict):
            _check_generator_state(start)
        elif not (isinstance(start, Integral) and not isinstance(start, bool) and start >= 0):
            raise ValueError(f"episode_start must be a seed or a generator state, got {start!r}")
        return cls(int(data["t"]), float(data["episode_return"]), start,
                   list(data["actions"]))  # fmt: skip


BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
}
"""The bit generators numpy ships, by the name a saved state gives (the only names looked up)."""


def _check_generator_state(state: dict) -> None:
    """A saved ``bit_generator.state``: a known generator, and a state numpy accepts."""
    name = state.get("bit_generator")
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        raise ValueError(f"unknown bit generator {name!r} (numpy's: {', '.join(BIT_GENERATORS)})")
    try:
        BIT_GENERATORS[name]().state = state
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise ValueError(f"a bad {name} state: {err}") from None


class _Tracker:
    """Keeps a resumable run's :class:`Position` up to date."""

    def __init__(self, position: Position):
        self.position = position

    def step(self, t: int, action: np.ndarray, episode_return: float) -> None:
        self.position.t, self.position.episode_return = t, episode_return
        self.position.actions.append(np.asarray(action[0]).copy())

    def episode_ends(self, env: VectorEnv) -> None:
        """Before the reset: the generator state the new episode starts from."""
        generator = env.get_attr("np_random")[0]
        self.position.episode_start = generator.bit_generator.state
        self.position.episode_return, self.position.actions = 0.0, []

    def snapshot(self) -> Position:
        return Position.from_dict(self.position.as_dict())


@dataclass
class Step:
    """One step of every run of the batch, as callbacks see it."""

    t: int
    """Steps every run has taken, this one included (1 after the first)."""
    obs: Any
    action: np.ndarray
    reward: np.ndarray
    next_obs: Any
    """The observations the step gave (before runs whose episode ended are reset)."""
    terminated: np.ndarray
    truncated: np.ndarray
    info: Mapping[str, Any]
    episode_return: np.ndarray
    """Each run's return in its current episode, this step included."""
    episode_length: np.ndarray
    """Each run's steps in its current episode, this step included."""
    env: VectorEnv
    agent: Agent
    bar: Any
    """The progress bar (``set_postfix`` shows a callback's news)."""
    tracker: _Tracker | None = None

    def position(self) -> Position:
        """Where the run stands after this step (a resumable run only: ``run(resumable=True)``)."""
        if self.tracker is None:
            raise ValueError("position() needs run(..., resumable=True)")
        return self.tracker.snapshot()

    @property
    def done(self) -> np.ndarray:
        """The runs whose episode ended at this step."""
        return self.terminated | self.truncated


Callback = Callable[[Step], bool | None]


def check_budget(runs: int, steps: int | None, episodes: int | None, seed: int) -> None:
    """Refuse a budget that is not exactly one of steps or episodes, or a bad count or seed.

    Raises:
        UsageError: naming the bad value.
    """
    if (steps is None) == (episodes is None):
        raise UsageError("give exactly one of steps or episodes")
    for name, value in (("runs", runs), ("steps", steps), ("episodes", episodes)):
        if value is not None and (not isinstance(value, int | np.integer) or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
        if value is not None:
            check_count(name, value)
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")


def run(
    source: RunsSource,
    agent: Agent,
    *,
    runs: int,
    steps: int | None = None,
    episodes: int | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
    callbacks: Sequence[Callback] = (),
    rng: np.random.Generator | None = None,
    reset_options: dict[str, Any] | None = None,
    resumable: bool = False,
    resume: Position | None = None,
) -> dict[str, np.ndarray]:
    """Run ``agent`` on ``runs`` independent copies of the env; return per-run metric arrays.

    Step budgets record ``reward`` (and ``optimal_action`` where the env's info has it) with
    shape ``(runs, steps)``; episode budgets record ``return`` and ``length``, ``(runs, episodes)``
    (fewer steps when a callback stops the loop early).

    Args:
        source: the env (an :class:`~rlcourse.environments.EnvSource`, or see
            :class:`RunsSource`).
        agent: anything with the three methods of :class:`agents.Agent`.
        runs: independent runs (the batch).
        steps: steps per run (per-step metrics) — or
        episodes: episodes per run (per-episode metrics).
        seed: seeds the env (a vectorized batch seeds run *i* with ``seed + i``) and, unless
            ``rng`` is given, the agent's generator.
        progress: show a progress bar (on a terminal).
        desc: the progress bar's label.
        callbacks: functions of each :class:`Step`, in order; one returning ``True`` stops the
            loop after this step.
        rng: the generator handed to ``agent.reset`` (default: one derived from ``seed``).
        reset_options: options of the env's first reset.
        resumable: keep the run's :class:`Position` (one run, a step budget), which callbacks
            read with ``step.position()``.
        resume: a position a resumable run reached: the env is put back there and the loop
            goes on from step ``resume.t + 1`` to ``steps`` (the metrics returned are those of
            the steps taken now). The agent is the caller's to restore.
    """
    check_budget(runs, steps, episodes, seed)
    resumable = resumable or resume is not None
    if resumable and (runs != 1 or steps is None):
        raise UsageError("a resumable run is one run with a step budget")
    start = resume.t if resume is not None else 0
    if start >= (steps or 0) and resume is not None:
        raise UsageError(f"the run is already at step {start} of {steps}; nothing to resume")
    check_fits(results_bytes(runs, steps, episodes), HINT)  # the commands estimate it all first
    metrics = (
        StepMetrics(runs, steps, start=start)
        if steps is not None
        else EpisodeMetrics(runs, episodes)
    )
    env = source.make_runs(runs)
    try:
        if resume is None:
            obs = _reset(env, source.name, seed=seed, options=reset_options)
            tracker = _Tracker(Position(0, 0.0, seed, [])) if resumable else None
        else:
            obs = _restore(env, source.name, resume, reset_options)
            tracker = _Tracker(Position.from_dict(resume.as_dict()))
        agent.reset(runs, rng if rng is not None else np.random.default_rng([seed, 1]))
        total, unit = (steps, "step") if steps is not None else (runs * episodes, "ep")
        disable = not progress or None
        with tqdm(total=total, initial=start, desc=desc, disable=disable, unit=unit,
                  leave=False) as bar:  # fmt: skip
            _loop(env, agent, source.name, obs, bar, [metrics, *callbacks], tracker)
    finally:
        env.close()
    return metrics.arrays()


def _restore(env: VectorEnv, name: str, position: Position, options) -> Any:
    """Put a fresh env of one run back where ``position`` says: reset, then the same actions."""
    start = position.episode_start
    if isinstance(start, dict):  # a later episode: its generator, then a reset without a seed
        generator = np.random.Generator(BIT_GENERATORS[start["bit_generator"]]())
        generator.bit_generator.state = start
        env.set_attr("np_random", [generator])
        obs = _reset(env, name)
    else:
        obs = _reset(env, name, seed=int(start), options=options)
    for action in position.actions:
        try:
            obs, _, terminated, truncated, _ = env.step(np.asarray([action]))
        except Exception as err:  # the env's own code
            raise _env_failed(name, "step", err) from err
        if terminated[0] or truncated[0]:
            raise UsageError(
                f"env {name} does not replay its episode: it ended early when resumed "
                "(its randomness is not all in np_random)"
            )
    return obs


def _reset(env: VectorEnv, name: str, **kwargs) -> Any:
    try:
        obs, _ = env.reset(**kwargs)
    except Exception as err:  # the env's own code
        raise _env_failed(name, "reset", err) from err
    return obs


def _env_failed(name: str, stage: str, err: Exception) -> UsageError:
    return UsageError(f"env {name} failed in {stage}: {type(err).__name__}: {err}")


def _loop(env, agent, name: str, obs, bar, callbacks: list[Callback], tracker=None) -> None:
    """``act → step → update → callbacks``, resetting ended runs (no autoreset), until a stop."""
    n_runs = env.num_envs
    episode_return, episode_length = np.zeros(n_runs), np.zeros(n_runs, dtype=np.int64)
    t, stop = 0, False
    if tracker is not None:  # a resumed run goes on where it was
        t = tracker.position.t
        episode_return[0] = tracker.position.episode_return
        episode_length[0] = len(tracker.position.actions)
    while not stop:
        action = agent.act(obs)
        try:
            next_obs, reward, terminated, truncated, info = env.step(action)
        except Exception as err:  # the env's own code: name it, keep the cause for Python users
            raise _env_failed(name, "step", err) from err
        reward = np.asarray(reward, dtype=np.float64)
        if not np.isfinite(reward).all():
            bad = int(np.flatnonzero(~np.isfinite(reward))[0])
            raise UsageError(f"env {name} returned a non-finite reward {reward[bad]} (run {bad})")
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        t += 1
        episode_return += reward
        episode_length += 1
        if tracker is not None:
            tracker.step(t, action, float(episode_return[0]))
        step = Step(t, obs, action, reward, next_obs, terminated, truncated, info,
                    episode_return, episode_length, env, agent, bar, tracker)  # fmt: skip
        done = step.done
        if tracker is not None and done[0]:
            tracker.episode_ends(env)
        stop = any([bool(callback(step)) for callback in callbacks])  # every callback runs
        if done.any():
            episode_return[done], episode_length[done] = 0.0, 0
            next_obs = _reset(env, name, options={"reset_mask": done})
        obs = next_obs


class StepMetrics:
    """Records ``reward`` (and ``optimal_action``) each step after ``start``, until ``steps``."""

    def __init__(self, runs: int, steps: int, start: int = 0):
        self.steps, self.start, self.t = steps, start, start
        self.reward = np.empty((steps - start, runs), dtype=np.float32)
        self.optimal: np.ndarray | None = None

    def __call__(self, step: Step) -> bool:
        """Record one step."""
        self.t = step.t
        row = step.t - self.start - 1
        self.reward[row] = step.reward
        if "optimal_action" in step.info:
            if self.optimal is None:
                self.optimal = np.zeros(self.reward.shape, dtype=bool)
            self.optimal[row] = step.info["optimal_action"]
        step.bar.update(1)
        return step.t >= self.steps

    def arrays(self) -> dict[str, np.ndarray]:
        """``(runs, steps recorded)`` arrays."""
        recorded = self.t - self.start
        metrics = {"reward": self.reward[:recorded].T.copy()}
        if self.optimal is not None:
            metrics["optimal_action"] = self.optimal[:recorded].T.copy()
        return metrics


class EpisodeMetrics:
    """Records ``return`` and ``length`` of every episode; stops when each run has ``episodes``."""

    def __init__(self, runs: int, episodes: int):
        self.episodes = episodes
        self.returns = np.zeros((runs, episodes), dtype=np.float64)
        self.lengths = np.zeros((runs, episodes), dtype=np.int64)
        self.finished = np.zeros(runs, dtype=np.int64)

    def __call__(self, step: Step) -> bool:
        """Record the episodes that ended at this step."""
        done = step.done
        record = done & (self.finished < self.episodes)
        if record.any():
            rows = np.flatnonzero(record)
            self.returns[rows, self.finished[rows]] = step.episode_return[rows]
            self.lengths[rows, self.finished[rows]] = step.episode_length[rows]
            step.bar.update(len(rows))
        self.finished += done
        if step.episode_length.max() >= MAX_EPISODE_LENGTH:
            raise UsageError(
                f"an episode ran {MAX_EPISODE_LENGTH} steps without ending; give the env a "
                "time limit (--env-kwargs max_episode_steps=N) or use --steps"
            )
        return bool((self.finished >= self.episodes).all())

    def arrays(self) -> dict[str, np.ndarray]:
        """``(runs, episodes)`` arrays."""
        return {"return": self.returns, "length": self.lengths}


MOVED = ("compare", "plan_comparison", "make_agents")
"""Names that live in :mod:`rlcourse.comparison`, still found here for one release (deprecated)."""
_moved = lazy_exports(__name__, dict.fromkeys(MOVED, "rlcourse.comparison"))


def __getattr__(name: str) -> Any:
    """``rlcourse.loop.compare`` and the rest of :data:`MOVED`, with a DeprecationWarning."""
    if name in MOVED:
        warnings.warn(
            f"rlcourse.loop.{name} is deprecated; import it from rlcourse.comparison "
            "(compare: rlcourse.compare)",
            DeprecationWarning,
            stacklevel=2,
        )
    return _moved(name)
