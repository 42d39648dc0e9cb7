"""The units of a sweep: one env × one agent configuration × one chunk of runs.

The chunk of runs ``k .. k + n - 1`` is run by :func:`rlcourse.loop.run` with seed ``seed + k``,
so a unit's numbers depend on the configuration alone: not on the backend, the number of
workers, the order units finish in, or on a resume. :func:`plan` lists a sweep's units,
:func:`run_unit` runs one, :func:`check_config` fails fast on bad names, and :func:`estimate`
times a short probe for ``--dry-run``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from rlcourse.errors import UsageError
from rlcourse.sweep.config import EnvEntry, SweepConfig, digest

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

    @property
    def digest(self) -> str:
        """Hash of everything that decides the unit's numbers (names its file)."""
        return digest({"format": UNIT_FORMAT, **asdict(self)})

    @property
    def env_label(self) -> str:
        """The env as tables call it."""
        return EnvEntry(self.env, self.env_kwargs).label


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
        )
        for env in config.envs
        for agent in config.agents
        for start in range(0, config.runs, config.chunk)
    ]


def run_unit(unit: Unit) -> tuple[dict[str, np.ndarray], float]:
    """Run one unit (in whichever process or machine); return its per-run arrays and seconds."""
    from rlcourse.environments import resolve_env
    from rlcourse.loop import make_agents, run

    start = time.perf_counter()
    source = resolve_env(unit.env, unit.env_kwargs)
    agent = make_agents(source, [unit.agent])[unit.agent]
    arrays = run(
        source,
        agent,
        runs=unit.runs,
        steps=unit.steps,
        episodes=unit.episodes,
        seed=unit.seed,
        progress=False,
    )
    return arrays, time.perf_counter() - start


def check_config(config: SweepConfig) -> None:
    """Build every env and every agent for it once, so that bad names fail before any work.

    Raises:
        UsageError: naming the env or agent.
    """
    from rlcourse.environments import resolve_env
    from rlcourse.loop import make_agents

    for env in config.envs:
        try:
            make_agents(resolve_env(env.id, env.kwargs), list(config.agents))
        except UsageError as err:
            raise UsageError(f"[[env]] {env.label}: {err}") from None


PROBE_STEPS, PROBE_EPISODES = 50, 2
"""The short run per (env, agent name) that ``--dry-run`` times to estimate the cost."""


def estimate(config: SweepConfig, units: list[Unit]) -> dict[str, float]:
    """Rough compute seconds per agent configuration's unit, from one short probe per agent name.

    The probe runs a full chunk of runs for ``PROBE_STEPS`` steps (or ``PROBE_EPISODES``
    episodes) and is scaled linearly to the budget: episodes that lengthen or shorten as agents
    learn make it rougher.
    """
    budget = config.steps or config.episodes
    probe_budget = min(budget, PROBE_STEPS if config.steps else PROBE_EPISODES)
    per_name: dict[tuple[str, str], float] = {}
    seconds = {}
    for unit in units:
        key = (unit.env_label, unit.agent.partition(":")[0])
        if key not in per_name:
            probe = replace(
                unit,
                runs=min(config.chunk, config.runs),
                steps=probe_budget if config.steps else None,
                episodes=None if config.steps else probe_budget,
            )
            _, probe_seconds = run_unit(probe)
            per_name[key] = probe_seconds * budget / probe_budget / probe.runs
        seconds[unit.digest] = per_name[key] * unit.runs
    return seconds
