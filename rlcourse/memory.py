"""Memory: estimate what a command will hold before it allocates, refuse what will not fit.

A huge ``--runs`` or an Atari-sized replay buffer is refused in one line, with the estimate and
the memory available, before any work starts (not a ``MemoryError`` an hour in). An estimate is a
dict of bytes by part; its parts come from here (the run loop's arrays, the results and their
analysis), from the env (:meth:`rlcourse.environments.EnvSource.bytes_per_run`) and from the
agents (:class:`agents.base.EstimatesMemory`: replay buffers, networks, tables).
A count no run could reach (:data:`MAX_COUNT`) is refused before anything is estimated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agents.base import EstimatesMemory
from rlcourse.errors import UsageError

if TYPE_CHECKING:
    from agents.dqn_config import DQNConfig
    from rlcourse.environments import EnvSource


def available_bytes() -> int | None:
    """Memory the system can give now (Linux ``MemAvailable``; elsewhere the free pages).

    None where neither is known.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


MAX_COUNT = 10**12
"""The most runs, steps or episodes a command takes: a million steps a second would take twelve
days to reach it, and the per-step arrays of one run would hold 4 TB."""

STEP_CELL = 4 + 1
"""Bytes the run loop records per run and step: ``reward`` (float32), ``optimal_action`` (bool)."""
EPISODE_CELL = 8 + 8
"""Bytes the run loop records per run and episode: ``return`` (float64), ``length`` (int64)."""
ANALYSIS_CELL = 3 * 8
"""Bytes per run and x while one metric's curve is computed (a float64 copy, two temporaries)."""
CURVE_ROW = 7 * 8
"""Bytes of one row ``agent,metric,x,mean,ci_low,ci_high,n`` of a curves table."""
RUN_COUNTERS = 6 * 8
"""Bytes the loop keeps per run besides the observations: return, length, episode counters."""


def check_count(name: str, value: int, limit: int = MAX_COUNT) -> None:
    """Refuse a count (runs, steps, episodes) beyond what any run could reach.

    Raises:
        UsageError: ``steps 10,000,000,000,000 is more than any run could reach (at most ...)``.
    """
    if value > limit:
        raise UsageError(f"{name} {value:,} is more than any run could reach (at most {limit:,})")


def results_bytes(
    runs: int, steps: int | None, episodes: int | None, agents: int = 1
) -> dict[str, int]:
    """The run loop's metric arrays of ``agents`` batches of ``runs``, kept to the end.

    Each agent's ``(runs, steps)`` or ``(runs, episodes)`` arrays (:data:`STEP_CELL`,
    :data:`EPISODE_CELL`) plus the copy the loop returns of the last.
    """
    x = steps if steps is not None else episodes
    cell = STEP_CELL if steps is not None else EPISODE_CELL
    return {"results": runs * x * cell * (agents + 1)}


def analysis_bytes(runs: int, x: int, agents: int = 1, metrics: int = 2) -> dict[str, int]:
    """The curves of ``agents`` × ``metrics`` arrays ``(runs, x)``.

    One metric's curve computed at a time (:data:`ANALYSIS_CELL`), and the curves table
    (:data:`CURVE_ROW`).
    """
    return {"analysis": runs * x * ANALYSIS_CELL + agents * metrics * x * CURVE_ROW}


def envs_bytes(runs: int, per_run: int) -> dict[str, int]:
    """``runs`` runs of an env of ``per_run`` bytes each, with the loop's counters per run."""
    return {"envs": runs * (per_run + RUN_COUNTERS)}


def total(*estimates: dict[str, int]) -> dict[str, int]:
    """Estimates by part added together (a part in several adds up)."""
    parts: dict[str, int] = {}
    for estimate in estimates:
        for part, size in estimate.items():
            parts[part] = parts.get(part, 0) + size
    return parts


# -- what each command holds ----------------------------------------------------------------------


def compare_memory(
    source: EnvSource, agents: Mapping[str, Any], runs: int, steps: int | None,
    episodes: int | None, analysis: bool = True, eval_every: int | None = None,
    eval_episodes: int = 0,
) -> dict[str, int]:  # fmt: skip
    """Bytes ``agents``, run one after the other on ``runs`` runs of ``source``, hold at most.

    Every agent's metric arrays (kept to the end) and, with ``analysis``, their curves; the env's
    runs; what every agent holds (replay buffers, networks, tables: its runs' learners stay until
    the end). With greedy evaluations (``eval_every``), their batch of ``runs × eval_episodes``
    single envs side by side with their observations and returns, and each agent's
    ``eval_return`` array (and its curve).
    """
    held = [a.memory_bytes(runs) for a in agents.values() if isinstance(a, EstimatesMemory)]
    x = steps if steps is not None else episodes
    evaluations: list[dict[str, int]] = []
    if eval_every is not None:
        evaluations = [
            evaluation_memory(source, runs * eval_episodes),
            {"results": len(agents) * runs * (x // eval_every) * 8},  # eval_return, float64
        ]
    return total(
        results_bytes(runs, steps, episodes, len(agents)),
        analysis_bytes(runs, x, len(agents), metrics=3 if evaluations else 2) if analysis else {},
        envs_bytes(runs, source.bytes_per_run()),
        *evaluations,
        *held,
    )


def evaluation_memory(source: EnvSource, episodes: int) -> dict[str, int]:
    """Bytes a greedy evaluation holds: ``episodes`` single envs side by side, their returns."""
    per_run = source.bytes_per_run(native=False)
    return total(results_bytes(episodes, None, 1), envs_bytes(episodes, per_run))


def training_memory(
    config: DQNConfig, source: EnvSource, steps: int, eval_episodes: int, learner_memory=None
) -> dict[str, int]:
    """Bytes a training run holds at most (of DQN unless told).

    The learner (its full replay buffer, its networks: ``learner_memory(config,
    observation_space, action_space)``, default :func:`agents.dqn.learner_memory`), the loop's
    per-step arrays of the run, and the env's runs: the training one and those of a greedy
    evaluation side by side.
    """
    if learner_memory is None:
        from agents.dqn import learner_memory

    probe = source.make_one()
    try:
        learner = learner_memory(config, probe.observation_space, probe.action_space)
    finally:
        probe.close()
    return total(
        learner,
        results_bytes(1, steps, None),
        envs_bytes(1, source.bytes_per_run(native=False)),
        evaluation_memory(source, eval_episodes),
    )


# -- saying it -------------------------------------------------------------------------------------


def human(n_bytes: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB`` (powers of 1000, as ``df -H`` prints)."""
    units = (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3))
    if n_bytes >= 1e21:
        return f"{n_bytes:.1e} B"
    for unit, size in units:
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} B"


def describe(parts: dict[str, int]) -> str:
    """``about 1.2 GB (replay buffer 1.2 GB, metrics 3.2 MB)``."""
    shown = ", ".join(f"{name} {human(size)}" for name, size in parts.items() if size)
    return f"about {human(sum(parts.values()))} ({shown})"


def check_fits(parts: dict[str, int], hint: str, available: int | None = None) -> None:
    """Refuse when the estimated ``parts`` exceed the memory available.

    Raises:
        UsageError: ``needs about X (parts) but Y is available; HINT``.
    """
    available = available_bytes() if available is None else available
    if available is not None and sum(parts.values()) > available:
        raise UsageError(f"needs {describe(parts)} but {human(available)} is available; {hint}")
