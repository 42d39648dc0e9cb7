"""The comparison driver (``rlcourse.compare``): every agent on the same independent runs of an env.

:func:`compare` checks everything first (:func:`plan_comparison`: the budget, the env, the
agents built for its spaces, the memory it will need), then runs :func:`rlcourse.loop.run` per
agent with the same env seed for every agent, so all agents face the same problems: common
random numbers that keep an agent's results independent of its neighbours.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import agents as agent_registry
from agents import Agent, KeepsActionValues, SpecError
from agents.base import trains_networks
from rlcourse.comparison_workers import RunUnit, check_backend, run_in_processes, why_not_split
from rlcourse.environments import EnvLike, EnvSource, import_gym_packages, resolve_env
from rlcourse.errors import UsageError
from rlcourse.evaluations import (
    EVAL_EPISODES,
    EVAL_SEED_OFFSET,
    check_evaluations,
    run_evaluated,
)
from rlcourse.loop import HINT, check_budget
from rlcourse.memory import check_fits, compare_memory
from rlcourse.results import Results, provenance
from rlcourse.sweep.backends import connect, default_workers


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


def plan_comparison(
    env: EnvLike,
    agents: Sequence[str | Agent] | Mapping[str, str | Agent],
    *,
    runs: int,
    steps: int | None,
    episodes: int | None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    wrappers: Sequence[str] = (),
    eval_every: int | None = None,
    eval_episodes: int = EVAL_EPISODES,
) -> tuple[EnvSource, dict[str, Agent], dict[str, int]]:
    """Check a comparison before it runs: the env, the agents, the memory it will need.

    Returns the env, the agents built for it, and the memory estimate by part.

    Raises:
        UsageError: bad budget, env or agent, or more memory than is available; evaluations
            (``eval_every``) of an agent without a greedy policy, or a bad count.
    """
    check_budget(runs, steps, episodes, seed)
    source = resolve_env(env, env_kwargs, wrappers=wrappers)
    built = make_agents(source, agents)
    check_evaluations(built, eval_every, eval_episodes, steps or episodes)
    memory = compare_memory(source, built, runs, steps, episodes, eval_every=eval_every,
                            eval_episodes=eval_episodes)  # fmt: skip
    check_fits(memory, HINT)
    return source, built, memory


def check_parallel(
    source: EnvSource,
    env: EnvLike,
    agents: Sequence[str | Agent] | Mapping[str, str | Agent],
    built: dict[str, Agent],
    backend: str = "local",
    address: str | None = None,
) -> str | None:
    """Refuse a backend that cannot run the comparison; say why its runs stay in one batch.

    Returns:
        None when every agent's runs can go one per process or task, else the reason.

    Raises:
        UsageError: see :func:`rlcourse.comparison_workers.check_backend`.
    """
    reason = why_not_split(source, env, _labelled(agents), built)
    check_backend(backend, address, reason)
    return reason


def compare(
    env: EnvLike,
    agents: Sequence[str | Agent] | Mapping[str, str | Agent],
    *,
    runs: int = 100,
    steps: int | None = None,
    episodes: int | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    wrappers: Sequence[str] = (),
    progress: bool = True,
    command: str | None = None,
    device: str | None = None,
    threads: int = 1,
    eval_every: int | None = None,
    eval_episodes: int = EVAL_EPISODES,
    workers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    gym_packages: Sequence[str] = (),
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
        wrappers: Gymnasium wrappers for each run, in order (``module:Class[:k=v,...]``).
        progress: show a progress bar per agent (on a terminal).
        command: the command line to record in the manifest.
        device: where the torch agents' networks run (``auto``, ``cpu``, ``cuda[:N]``; None:
            :func:`common.devices.current`); recorded in the manifest when an agent uses
            torch (or a device is named).
        threads: torch (and BLAS) threads while agents that train networks run; 1, the
            default, is the fastest for the course's small networks (as for ``train``);
            recorded in the manifest beside the device.
        eval_every: evaluate each run's greedy policy every this many steps (a step budget) or
            episodes of the run (an episode budget), recorded as the metric ``eval_return``,
            ``(runs, budget // eval_every)`` (:mod:`rlcourse.evaluations`); None: none. Every
            agent must have a greedy policy (:class:`agents.base.HasGreedyPolicy`).
        eval_episodes: greedy episodes per run and evaluation, on envs of their own.
        workers: processes for the runs of agents with a learner per run (DQN), one run and one
            torch thread each, with the numbers of one batch (:mod:`rlcourse.comparison_workers`;
            agents given as spec strings, an env given by name whose runs are single envs);
            None: every core this process may use; 1: all in this process. Recorded. With
            ``backend="ray"``: the CPUs of the local Ray it starts.
        backend: where those runs go: ``local`` (the processes above) or ``ray``, one Ray task
            per run (:func:`rlcourse.sweep.backends.connect`: a local Ray on 127.0.0.1 alone,
            started and stopped here, or the cluster at ``address``), with the same numbers.
            Every agent must then have a learner per run. Recorded.
        address: a Ray cluster (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``; default
            ``RAY_ADDRESS``, else a local Ray); only with ``backend="ray"``.
        gym_packages: installed packages to import first, here and in every worker, so that
            they register the env's id (:func:`rlcourse.environments.import_gym_packages`).

    Raises:
        UsageError: bad env, agent spec, budget, or an agent that does not fit the env; the ray
            backend with an agent without a learner per run, or Ray missing or unreachable;
            an address without the ray backend.
        DeviceError: the device is not available.
    """
    for name, value in (("threads", threads), ("workers", 1 if workers is None else workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name} must be a positive integer, not {value!r}")
    gym_packages = tuple(gym_packages)
    import_gym_packages(gym_packages)
    source, built, _ = plan_comparison(env, agents, runs=runs, steps=steps, episodes=episodes,
                                       seed=seed, env_kwargs=env_kwargs,
                                       wrappers=wrappers, eval_every=eval_every,
                                       eval_episodes=eval_episodes)  # fmt: skip
    reason = check_parallel(source, env, agents, built, backend, address)
    recorded = {}
    stack = contextlib.ExitStack()
    if device is not None or trains_networks(built.values()):
        from common import devices
        from supervised.train import threads as using_threads

        chosen = stack.enter_context(devices.using(device))
        stack.enter_context(using_threads(threads))
        recorded = {"device": devices.describe(chosen), "threads": threads}
    with stack:
        evaluations = (
            {"every": eval_every, "episodes": eval_episodes} if eval_every is not None else None
        )
        parallel = None
        if backend == "ray" or (workers != 1 and runs > 1 and reason is None):
            parallel = {"env": env, "env_kwargs": source.kwargs, "wrappers": tuple(wrappers),
                        "device": device, "threads": threads, "gym_packages": gym_packages,
                        "specs": _labelled(agents)}  # fmt: skip
            # one backend for every agent: a Ray is started (and checked) once
            parallel["runner"] = stack.enter_context(connect(backend, workers, address))
            if backend == "ray":
                recorded["backend"] = "ray"
                recorded["address"] = address or os.environ.get("RAY_ADDRESS")
            else:
                recorded["workers"] = workers or default_workers()
        data, seconds, action_values = _run_all(source, built, runs, steps, episodes, seed,
                                                progress, evaluations, parallel)  # fmt: skip
    manifest = {
        "command": command,
        "env": source.name,
        "env_kwargs": source.kwargs,
        **({"wrappers": list(source.wrappers)} if source.wrappers else {}),
        "agents": list(built),
        "runs": runs,
        "steps": steps,
        "episodes": episodes,
        "seed": seed,
        "x": "step" if steps is not None else "episode",
        **(
            {
                "eval_every": eval_every,
                "eval_episodes": eval_episodes,
                "eval_seed": EVAL_SEED_OFFSET + seed,
            }
            if eval_every is not None
            else {}
        ),
        "seconds": seconds,
        **recorded,
        **provenance(),
    }
    return Results(data, manifest, action_values)


def _run_all(
    source, built, runs, steps, episodes, seed, progress, evaluations=None, parallel=None
) -> tuple[dict, dict, dict]:
    """Each agent's metrics (with ``eval_return`` where evaluated), seconds and action values."""
    data, seconds, action_values = {}, {}, {}
    for label, agent in built.items():
        start = time.perf_counter()
        if parallel is not None:
            data[label] = _in_processes(label, runs, steps, episodes, seed, evaluations, parallel)
            seconds[label] = round(time.perf_counter() - start, 4)
            continue
        data[label] = run_evaluated(source, agent, evaluations, eval_seed=seed, runs=runs,
                                    steps=steps, episodes=episodes, seed=seed,
                                    progress=progress, desc=label)  # fmt: skip
        seconds[label] = round(time.perf_counter() - start, 4)
        if isinstance(agent, KeepsActionValues):
            action_values[label] = np.asarray(agent.values(), dtype=np.float32)
    return data, seconds, action_values


def _in_processes(label, runs, steps, episodes, seed, evaluations, parallel) -> dict:
    """One agent's runs, one per process (see :mod:`rlcourse.comparison_workers`)."""
    units = [
        RunUnit(
            parallel["env"],
            parallel["env_kwargs"],
            parallel["wrappers"],
            parallel["specs"][label],
            run,
            runs,
            steps,
            episodes,
            seed,
            evaluations,
            parallel["device"],
            parallel["threads"],
            parallel["gym_packages"],
        )  # fmt: skip
        for run in range(runs)
    ]
    return run_in_processes(units, parallel["runner"])
