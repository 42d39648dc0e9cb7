"""The one run loop: a batch of independent runs of one agent on one env, ``act → step → update``.

:func:`compare` runs it per agent, with the same env seed for every agent, so all agents face the
same problems (common random numbers) and an agent's results do not depend on its neighbours.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import agents as agent_registry
from agents import Agent, SpecError
from rlcourse.environments import EnvLike, EnvSource, resolve_env
from rlcourse.errors import UsageError
from rlcourse.results import Results, provenance

STEP_METRICS = ("reward", "optimal_action")
EPISODE_METRICS = ("return", "length")
MAX_EPISODE_LENGTH = 1_000_000
"""Episode mode stops with an error, not a hang, when an episode runs this long."""


def _check_budget(runs: int, steps: int | None, episodes: int | None, seed: int) -> None:
    if (steps is None) == (episodes is None):
        raise UsageError("give exactly one of steps or episodes")
    for name, value in (("runs", runs), ("steps", steps), ("episodes", episodes)):
        if value is not None and (not isinstance(value, int | np.integer) or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")


def run(
    source: EnvSource,
    agent: Agent,
    *,
    runs: int,
    steps: int | None = None,
    episodes: int | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
) -> dict[str, np.ndarray]:
    """Run ``agent`` on ``runs`` independent copies of the env; return per-run metric arrays.

    Step budgets record ``reward`` (and ``optimal_action`` where the env's info has it) with
    shape ``(runs, steps)``; episode budgets record ``return`` and ``length``, ``(runs, episodes)``.
    The env is seeded with ``seed`` (a vectorized batch seeds run *i* with ``seed + i``), the agent
    with a generator of its own derived from ``seed``.
    """
    _check_budget(runs, steps, episodes, seed)
    env = source.make_runs(runs)
    try:
        try:
            obs, _ = env.reset(seed=seed)
        except Exception as err:  # the env's own code
            raise _env_failed(source.name, "reset", err) from err
        agent.reset(runs, np.random.default_rng([seed, 1]))
        step = functools.partial(_transition, env, agent, source.name)
        if steps is not None:
            return _run_steps(step, obs, runs, steps, progress, desc)
        return _run_episodes(step, obs, runs, episodes, progress, desc)
    finally:
        env.close()


def _env_failed(name: str, stage: str, err: Exception) -> UsageError:
    return UsageError(f"env {name} failed in {stage}: {type(err).__name__}: {err}")


def _transition(env, agent, name: str, obs):
    """One real transition for every run; runs whose episode ended are reset (no autoreset)."""
    action = agent.act(obs)
    try:
        next_obs, reward, terminated, truncated, info = env.step(action)
    except Exception as err:  # the env's own code: name it, keep the cause for Python users
        raise _env_failed(name, "step", err) from err
    reward = np.asarray(reward, dtype=np.float64)
    if not np.isfinite(reward).all():
        bad = int(np.flatnonzero(~np.isfinite(reward))[0])
        raise UsageError(f"env {name} returned a non-finite reward {reward[bad]} (run {bad})")
    if getattr(agent, "uses_info", False):  # e.g. per-pixel reward maps
        agent.update(obs, action, reward, next_obs, terminated, truncated, info=info)
    else:
        agent.update(obs, action, reward, next_obs, terminated, truncated)
    done = terminated | truncated
    if done.any():
        try:
            next_obs, _ = env.reset(options={"reset_mask": done})
        except Exception as err:  # the env's own code
            raise _env_failed(name, "reset", err) from err
    return next_obs, reward, done, info


def _run_steps(step, obs, runs, steps, progress, desc):
    rewards = np.empty((steps, runs), dtype=np.float32)
    optimal = None
    for t in tqdm(range(steps), desc=desc, disable=not progress or None, unit="step", leave=False):
        obs, reward, _, info = step(obs)
        rewards[t] = reward
        if "optimal_action" in info:
            if optimal is None:
                optimal = np.zeros((steps, runs), dtype=bool)
            optimal[t] = info["optimal_action"]
    metrics = {"reward": rewards.T.copy()}
    if optimal is not None:
        metrics["optimal_action"] = optimal.T.copy()
    return metrics


def _run_episodes(step, obs, runs, episodes, progress, desc):
    returns = np.zeros((runs, episodes), dtype=np.float64)
    lengths = np.zeros((runs, episodes), dtype=np.int64)
    running_return = np.zeros(runs)
    running_length = np.zeros(runs, dtype=np.int64)
    finished = np.zeros(runs, dtype=np.int64)
    bar = tqdm(
        total=runs * episodes, desc=desc, disable=not progress or None, unit="ep", leave=False
    )
    with bar:
        while (finished < episodes).any():
            obs, reward, done, _ = step(obs)
            running_return += reward
            running_length += 1
            record = done & (finished < episodes)
            if record.any():
                rows = np.flatnonzero(record)
                returns[rows, finished[rows]] = running_return[rows]
                lengths[rows, finished[rows]] = running_length[rows]
                bar.update(len(rows))
            finished += done
            running_return[done] = 0.0
            running_length[done] = 0
            if running_length.max() >= MAX_EPISODE_LENGTH:
                raise UsageError(
                    f"an episode ran {MAX_EPISODE_LENGTH} steps without ending; give the env a "
                    "time limit (--env-kwargs max_episode_steps=N) or use --steps"
                )
    return {"return": returns, "length": lengths}


def _labelled(agents: Sequence[str | Agent] | Mapping[str, str | Agent]) -> dict[str, str | Agent]:
    if isinstance(agents, str):
        agents = [agents]
    if isinstance(agents, Mapping):
        items = dict(agents)
    else:
        items = {}
        for agent in agents:
            label = agent if isinstance(agent, str) else type(agent).__name__
            base, k = label, 2
            while label in items:
                label, k = f"{base} ({k})", k + 1
            items[label] = agent
    if not items:
        raise UsageError("give at least one agent")
    return items


def make_agents(
    source: EnvSource, agents: Sequence[str | Agent] | Mapping[str, str | Agent]
) -> dict[str, Agent]:
    """Build the agents (spec strings or objects) for the env's spaces, keyed by label.

    Raises:
        UsageError: a bad spec, or an agent that does not fit the env.
    """
    probe = source.make_one()
    observation_space, action_space = probe.observation_space, probe.action_space
    probe.close()
    built: dict[str, Agent] = {}
    for label, agent in _labelled(agents).items():
        if isinstance(agent, str):
            try:
                agent = agent_registry.make(agent, observation_space, action_space)
            except SpecError as err:
                raise UsageError(str(err)) from None
        built[label] = agent
    return built


def compare(
    env: EnvLike,
    agents: Sequence[str | Agent] | Mapping[str, str | Agent],
    *,
    runs: int = 100,
    steps: int | None = None,
    episodes: int | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
    command: str | None = None,
) -> Results:
    """Run every agent on the same ``runs`` independent problems and collect the results.

    Args:
        env: a registered id, an alias (``bandit``), ``module:Class``, or a factory of envs.
        agents: spec strings (``"epsilon-greedy:epsilon=0.1"``) or agent objects, or a mapping
            from label to either.
        runs: independent runs per agent (the statistical unit of the confidence bands).
        steps: steps per run (per-step metrics) — or
        episodes: episodes per run (per-episode metrics).
        seed: drives everything; the same seed gives identical results.
        env_kwargs: constructor arguments of the env.
        progress: show a progress bar per agent (on a terminal).
        command: the command line to record in the manifest.

    Raises:
        UsageError: bad env, agent spec, budget, or an agent that does not fit the env.
    """
    _check_budget(runs, steps, episodes, seed)
    source = resolve_env(env, env_kwargs)
    built = make_agents(source, agents)

    data, seconds, tables = {}, {}, {}
    for label, agent in built.items():
        start = time.perf_counter()
        data[label] = run(
            source,
            agent,
            runs=runs,
            steps=steps,
            episodes=episodes,
            seed=seed,
            progress=progress,
            desc=label,
        )
        seconds[label] = round(time.perf_counter() - start, 4)
        learned = getattr(agent, "values", None)
        if callable(learned):
            tables[label] = np.asarray(learned(), dtype=np.float32)
    manifest = {
        "command": command,
        "env": source.name,
        "env_kwargs": source.kwargs,
        "agents": list(built),
        "runs": runs,
        "steps": steps,
        "episodes": episodes,
        "seed": seed,
        "x": "step" if steps is not None else "episode",
        "seconds": seconds,
        **provenance(),
    }
    return Results(data, manifest, tables)
