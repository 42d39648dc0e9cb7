"""Deep-agent runs of a comparison in parallel: one process (or Ray task) per run, one torch thread.

A run of an agent with a learner per run (DQN: :class:`agents.off_policy.LearnerPerRun`) depends
only on its own env seed (``seed + run``), its learner's seed (drawn for the whole batch) and its
evaluation seeds, so run ``r`` alone in a process gives the numbers of run ``r`` of the batch.
:func:`rlcourse.compare` sends such runs through a sweep backend
(:func:`rlcourse.sweep.backends.connect`): the local process pool, whose workers end with their
parent, or Ray (a local Ray on 127.0.0.1, or a cluster's address), whose tasks import nothing
from the working folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlcourse.environments import EnvSource
from rlcourse.errors import UsageError
from rlcourse.sweep.backends import Runner


@dataclass(frozen=True)
class RunUnit:
    """Run ``run`` of ``runs`` of one agent spec on one env, and how to run it."""

    env: str
    env_kwargs: dict[str, Any]
    wrappers: tuple[str, ...]
    agent: str
    run: int
    runs: int
    steps: int | None
    episodes: int | None
    seed: int
    evaluations: dict[str, int] | None
    device: str | None
    threads: int
    gym_packages: tuple[str, ...] = ()
    """Installed packages that register the env's id, imported before the env is made (a Ray
    worker has not imported them)."""


class OneRunOf:
    """Run ``run`` of a batch of ``runs`` of a learner-per-run agent, alone (``n_runs == 1``)."""

    def __init__(self, agent, run: int, runs: int):
        self.agent, self.run, self.runs = agent, run, runs

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Its learner, seeded as the batch's reset seeds run ``run``'s."""
        self.agent.reset_run(self.run, self.runs, rng)

    def act(self, obs) -> np.ndarray:
        """The learner's action."""
        return self.agent.act(obs)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """The learner's update."""
        self.agent.update(obs, action, reward, next_obs, terminated, truncated, info)

    def greedy_actions(self, obs, runs: np.ndarray) -> np.ndarray:
        """The learner's greedy actions (see :class:`agents.base.HasGreedyPolicy`)."""
        return self.agent.greedy_actions(obs, runs)


def why_not_split(source: EnvSource, env: Any, agents: dict[str, Any], built: dict) -> str | None:
    """Why the runs cannot go one per process with the batch's numbers (None: they can).

    They can for agents given as spec strings with a learner per run, on an env named by a string
    whose runs are single envs (a native rlcourse batch draws every run from one generator).
    """
    for label, agent in built.items():
        if not hasattr(agent, "reset_run"):
            return f"{label} has no learner per run (only agents such as dqn have one)"
        if not isinstance(agents[label], str):
            return f"{label} is given as an object, not as a spec"
    if not isinstance(env, str):
        return "the env is given as an object, not by name"
    if source.native_vector:
        return f"{source.name} is a native batch (its runs share one generator)"
    return None


def check_backend(backend: str, address: str | None, reason: str | None) -> None:
    """Refuse Ray settings that cannot apply: an address without Ray, Ray with nothing to split.

    ``reason``: :func:`why_not_split`'s answer for the comparison.

    Raises:
        UsageError: ``address`` with the local backend, or the ray backend with runs that must
            stay in one batch.
    """
    from rlcourse.sweep.backends import BACKENDS

    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r} (backends: {', '.join(BACKENDS)})")
    if address is not None and backend != "ray":
        raise UsageError(f"address {address!r} names a Ray cluster: it needs the ray backend")
    if backend == "ray" and reason is not None:
        raise UsageError(
            f"the ray backend runs each run of an agent with a learner per run (dqn) as a task: "
            f"{reason}; use the local backend"
        )


def run_unit(unit: RunUnit) -> tuple[dict[str, np.ndarray], float]:
    """Run one run in this process; return its ``(1, x)`` arrays and seconds."""
    import agents
    from common import devices
    from rlcourse.environments import import_gym_packages, resolve_env
    from rlcourse.evaluations import run_evaluated
    from supervised.train import threads

    start = time.perf_counter()
    import_gym_packages(unit.gym_packages)
    with devices.using(unit.device), threads(unit.threads):
        source = resolve_env(unit.env, unit.env_kwargs, wrappers=unit.wrappers)
        probe = source.make_one()  # the spec was checked on these spaces before the units ran
        agent = agents.make(unit.agent, probe.observation_space, probe.action_space)
        probe.close()
        arrays = run_evaluated(source, OneRunOf(agent, unit.run, unit.runs), unit.evaluations,
                               eval_seed=unit.seed, first_run=unit.run, runs=1,
                               steps=unit.steps, episodes=unit.episodes,
                               seed=unit.seed + unit.run, rng=np.random.default_rng([unit.seed, 1]),
                               progress=False)  # fmt: skip
    return arrays, time.perf_counter() - start


def run_in_processes(units: list[RunUnit], runner: Runner) -> dict[str, np.ndarray]:
    """The units (the runs of one agent, in order) on a backend's ``runner``; arrays stacked."""
    finished = {unit.run: arrays for unit, (arrays, _) in runner(run_unit, units)}
    ordered = [finished[unit.run] for unit in units]
    return {name: np.concatenate([a[name] for a in ordered]) for name in ordered[0]}
