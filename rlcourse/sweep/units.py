"""The units of a sweep: one env × one agent configuration × one chunk of runs.

The chunk of runs ``k .. k + n - 1`` is run by :func:`rlcourse.loop.run` with seed ``seed + k``,
so a unit's numbers depend on the configuration alone: not on the backend, the number of
workers, the order units finish in, or on a resume. :func:`plan` lists a sweep's units,
:func:`run_unit` runs one; :func:`check_names` checks names without building anything (what
``--dry-run`` does) and :func:`check_config` builds every env and agent once, so that a sweep
fails before any work.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agents.base import trains_networks
from rlcourse.errors import UsageError
from rlcourse.sweep.config import EnvEntry, SweepConfig, digest

SWEEP_HINT = "lower runs, steps or episodes, or chunk in [sweep], or --workers"
"""What a refusal for memory suggests."""
UNIT_FORMAT = 1
"""Bumped when a unit's numbers would change for the same description (invalidates old units)."""


@dataclass(frozen=True)
class Unit:
    """One env × one agent configuration × one chunk of runs."""

    env: str
    """The env as the config names it (id, alias or ``module:Class``)."""
    env_kwargs: dict[str, Any]
    """Its constructor arguments."""
    agent: str
    """The agent spec."""
    start: int
    """Index of the chunk's first run in the sweep."""
    runs: int
    """Runs in the chunk."""
    seed: int
    """Seed of the chunk (the sweep's seed + ``start``)."""
    steps: int | None
    """Steps per run, or None."""
    episodes: int | None
    """Episodes per run, or None."""
    wrappers: tuple[str, ...] = ()
    """The env's wrappers, in order."""
    gym_packages: tuple[str, ...] = ()
    """Installed packages to import before the env is made (they register its id)."""
    eval_every: int | None = None
    """Greedy evaluations every this many steps (or episodes) of each run; None: none."""
    eval_episodes: int | None = None
    """Episodes per greedy evaluation."""

    @property
    def digest(self) -> str:
        """Hash of everything that decides the unit's numbers (names its file).

        A unit without wrappers or evaluations hashes as it did before they existed, so older
        sweep directories resume.
        """
        about = asdict(self)
        del about["gym_packages"]  # they register ids: a unit's numbers do not depend on them
        if about["eval_every"] is None:
            del about["eval_every"], about["eval_episodes"]
        if not about["wrappers"]:
            del about["wrappers"]
        return digest({"format": UNIT_FORMAT, **about})

    @property
    def env_label(self) -> str:
        """The env as tables call it."""
        return EnvEntry(self.env, self.env_kwargs, self.wrappers).label


def plan(config: SweepConfig) -> list[Unit]:
    """Every unit of the sweep, env by env, agent by agent, chunk by chunk."""
    return [
        Unit(
            env.id,
            env.kwargs,
            agent,
            start,
            min(config.chunk, config.runs - start),
            config.seed + start,
            config.steps,
            config.episodes,
            env.wrappers,
            config.gym_packages,
            config.eval_every,
            config.eval_episodes,
        )
        for env in config.envs
        for agent in config.agents
        for start in range(0, config.runs, config.chunk)
    ]


def run_unit(unit: Unit) -> tuple[dict[str, np.ndarray], float]:
    """Run one unit (in whichever process or machine); return its per-run arrays and seconds."""
    from rlcourse.comparison import make_agents
    from rlcourse.environments import import_gym_packages, resolve_env
    from rlcourse.evaluations import run_evaluated

    start = time.perf_counter()
    import_gym_packages(unit.gym_packages)
    source = resolve_env(unit.env, unit.env_kwargs, wrappers=unit.wrappers)
    agent = make_agents(source, [unit.agent])[unit.agent]
    block: contextlib.AbstractContextManager = contextlib.nullcontext()
    if trains_networks([agent]):  # one torch thread per unit, as compare and train run
        from supervised.train import single_thread

        block = single_thread()
    evaluations = (  # numbered as compare numbers run `start` of the whole sweep
        {"every": unit.eval_every, "episodes": unit.eval_episodes}
        if unit.eval_every is not None
        else None
    )
    with block:
        arrays = run_evaluated(source, agent, evaluations, eval_seed=unit.seed - unit.start,
                               first_run=unit.start, runs=unit.runs, steps=unit.steps,
                               episodes=unit.episodes, seed=unit.seed, progress=False)  # fmt: skip
    return arrays, time.perf_counter() - start


def check_names(config: SweepConfig, *, dry_run: bool = False) -> None:
    """Check every env name and agent spec without building anything (what ``--dry-run`` does).

    A registered id or alias must exist; a ``module:Class`` is checked for its form only, never
    imported; every agent spec must name an agent and parameters it has, with values it takes.
    ``gym_packages`` are imported (they register ids); a dry run only checks that they are
    installed, and leaves the ids they would register to the run.

    Raises:
        UsageError: naming the env or agent.
    """
    from agents.registry import check
    from agents.specs import SpecError
    from rlcourse.environments import import_gym_packages, registered_id

    import_gym_packages(config.gym_packages, dry_run=dry_run)
    for env in config.envs:
        try:
            registered_id(env.id)
        except UsageError as err:
            if dry_run and config.gym_packages:
                continue  # an id the packages register when imported
            raise UsageError(f"[[env]] {env.label}: {err}") from None
    for spec in config.agents:
        try:
            check(spec)
        except SpecError as err:
            raise UsageError(f"[[agent]] {spec}: {err}") from None


def check_config(config: SweepConfig) -> dict[str, int]:
    """Build every env and every agent for it once, so that bad names fail before any work.

    This runs the code a ``module:Class`` env names, as running the sweep will.

    Returns:
        The memory of the largest unit, by part (:func:`rlcourse.memory.compare_memory`).

    Raises:
        UsageError: naming the env or agent.
    """
    from rlcourse.comparison import make_agents
    from rlcourse.environments import resolve_env
    from rlcourse.evaluations import check_evaluations
    from rlcourse.memory import compare_memory

    check_names(config)
    largest: dict[str, int] = {}
    runs = min(config.chunk, config.runs)
    for env in config.envs:
        try:
            source = resolve_env(env.id, env.kwargs, wrappers=env.wrappers)
            built = make_agents(source, list(config.agents))
        except UsageError as err:
            raise UsageError(f"[[env]] {env.label}: {err}") from None
        check_evaluations(built, config.eval_every, config.eval_episodes or 1,
                          config.steps or config.episodes)  # fmt: skip
        for label, agent in built.items():
            unit = compare_memory(source, {label: agent}, runs, config.steps, config.episodes,
                                  analysis=False, eval_every=config.eval_every,
                                  eval_episodes=config.eval_episodes or 0)  # fmt: skip
            if sum(unit.values()) > sum(largest.values()):
                largest = unit
    return largest


def sweep_memory(config: SweepConfig, unit: dict[str, int], workers: int) -> dict[str, int]:
    """Bytes a sweep holds at most.

    ``workers`` units at once (``unit``: the largest, a :func:`compare_memory` of one agent
    without analysis; ``{}`` where nothing was built), then every unit's arrays collected (read,
    then joined per env and agent) and their analysis.
    """
    from rlcourse.memory import analysis_bytes, results_bytes, total

    configurations = len(config.envs) * len(config.agents)
    collected = results_bytes(config.runs, config.steps, config.episodes, configurations)
    at_once = min(workers, configurations * -(-config.runs // config.chunk))
    return total(
        {part: size * at_once for part, size in unit.items()},
        {"results": 2 * sum(collected.values())},
        analysis_bytes(config.runs, config.steps or config.episodes, configurations),
    )
