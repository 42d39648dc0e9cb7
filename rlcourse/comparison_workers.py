"""Deep-agent runs of a comparison in parallel: one process per run, one torch thread each.

A run of an agent with a learner per run (DQN: :class:`agents.off_policy.LearnerPerRun`) depends
only on its own env seed (``seed + run``), its learner's seed (drawn for the whole batch) and its
evaluation seeds, so run ``r`` alone in a process gives the numbers of run ``r`` of the batch.
:func:`rlcourse.compare` sends such runs through the sweeps' local process pool
(:func:`rlcourse.sweep.backends.execute`, whose workers end with their parent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlcourse.environments import EnvSource


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


def splits(source: EnvSource, env: Any, agents: dict[str, Any], built: dict, runs: int) -> bool:
    """Whether every agent's runs can go one per process with the batch's numbers.

    They can for agents given as spec strings with a learner per run, on an env named by a string
    whose runs are single envs (a native rlcourse batch draws every run from one generator).
    """
    return (
        runs > 1
        and isinstance(env, str)
        and not source.native_vector
        and all(isinstance(spec, str) for spec in agents.values())
        and all(hasattr(agent, "reset_run") for agent in built.values())
    )


def run_unit(unit: RunUnit) -> tuple[dict[str, np.ndarray], float]:
    """Run one run in this process; return its ``(1, x)`` arrays and seconds."""
    import agents
    from common import devices
    from rlcourse.environments import resolve_env
    from rlcourse.evaluations import GreedyEvaluations
    from rlcourse.loop import run
    from supervised.train import threads

    start = time.perf_counter()
    with devices.using(unit.device), threads(unit.threads):
        source = resolve_env(unit.env, unit.env_kwargs, wrappers=unit.wrappers)
        probe = source.make_one()  # the spec was checked on these spaces before the units ran
        agent = agents.make(unit.agent, probe.observation_space, probe.action_space)
        probe.close()
        callbacks = []
        if unit.evaluations is not None:
            callbacks = [GreedyEvaluations(source, 1, **unit.evaluations,
                                           budget=unit.steps or unit.episodes, seed=unit.seed,
                                           by_episode=unit.steps is None,
                                           first_run=unit.run)]  # fmt: skip
        arrays = run(source, OneRunOf(agent, unit.run, unit.runs), runs=1, steps=unit.steps,
                     episodes=unit.episodes, seed=unit.seed + unit.run,
                     rng=np.random.default_rng([unit.seed, 1]), progress=False,
                     callbacks=callbacks)  # fmt: skip
    for callback in callbacks:
        arrays.update(callback.arrays())
    return arrays, time.perf_counter() - start


def run_in_processes(units: list[RunUnit], workers: int) -> dict[str, np.ndarray]:
    """The units (the runs of one agent, in order) on ``workers`` processes; arrays stacked."""
    from rlcourse.sweep.backends import execute

    finished = {unit.run: arrays for unit, (arrays, _) in execute(run_unit, units, "local",
                                                                  workers)}  # fmt: skip
    ordered = [finished[unit.run] for unit in units]
    return {name: np.concatenate([a[name] for a in ordered]) for name in ordered[0]}
