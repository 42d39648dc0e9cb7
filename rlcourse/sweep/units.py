"""Sweeps: a TOML grid of envs × agent configurations × runs, split into units that resume.

A unit is one env × one agent configuration × one chunk of runs. The chunk of runs ``k ..
k + n - 1`` is run by :func:`rlcourse.loop.run` with seed ``seed + k``, so its numbers depend on
the configuration alone: not on the backend, the number of workers, the order units finish in,
or on a resume. Each unit is written to ``units/<hash>.npz`` (a temporary file, then a rename)
the moment it finishes; re-running the same sweep skips the units already there.

A sweep directory holds:

- ``sweep.json``: the configuration and its hash (written first: it marks the directory);
- ``units/``: one ``.npz`` per finished unit (per-run arrays, and the unit's description);
- ``summary.csv``: ``env,agent,metric,mean,ci_low,ci_high,n,iqm`` (see :mod:`rlcourse.analysis`);
- ``iqm.csv``: the interquartile mean with its stratified-bootstrap interval, per configuration
  and, over several envs, aggregated on normalized scores;
- ``curves.csv``: ``env,agent,metric,x,mean,ci_low,ci_high,n``;
- ``plots/``: curves, parameter studies and performance profiles per env (PNG);
- ``manifest.json``: command, backend, timing, versions (written last).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rlcourse.analysis import final_performance
from rlcourse.backends import default_workers, execute
from rlcourse.errors import UsageError
from rlcourse.results import CURVE_COLUMNS, Results, provenance
from rlcourse.stats import final_scores
from rlcourse.sweep_config import EnvEntry, SweepConfig, digest
from rlcourse.sweep_store import UnitStore, open_directory, read_config, write_atomic

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


class SweepResults:
    """A finished sweep: one :class:`~rlcourse.results.Results` per env, and its tables."""

    def __init__(self, config: SweepConfig, results: dict[str, Results], seconds: float):
        self.config = config
        self.results = results
        """``{env label: Results}`` with every agent configuration's runs in run order."""
        self.unit_seconds = seconds
        """Compute seconds of all units (as each unit measured itself)."""

    @cached_property
    def scores(self) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """Each run's final score, ``scores[env][agent][metric]``."""
        return {
            env: {
                agent: {metric: final_scores(v) for metric, v in per_agent.items()}
                for agent, per_agent in results.data.items()
            }
            for env, results in self.results.items()
        }

    @cached_property
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(summary, iqm)`` as written to ``summary.csv`` and ``iqm.csv``."""
        return final_performance(self.scores, seed=self.config.seed)

    @property
    def summary(self) -> pd.DataFrame:
        """``env,agent,metric,mean,ci_low,ci_high,n,iqm`` per env, configuration and metric."""
        return self.tables[0]

    @property
    def curves(self) -> pd.DataFrame:
        """``env,agent,metric,x,mean,ci_low,ci_high,n`` at every x."""
        frames = [r.curves.assign(env=env) for env, r in self.results.items()]
        return pd.concat(frames, ignore_index=True)[["env", *CURVE_COLUMNS]]


def collect(config: SweepConfig, store: UnitStore) -> SweepResults:
    """Assemble the finished units into one Results per env (runs in order).

    Raises:
        UsageError: a unit is missing or unreadable.
    """
    data: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    seconds = 0.0
    for unit in plan(config):
        arrays, unit_seconds = store.read(unit)
        seconds += unit_seconds
        per_agent = data.setdefault(unit.env_label, {}).setdefault(unit.agent, {})
        for metric, values in arrays.items():
            per_agent.setdefault(metric, []).append(values)
    results = {}
    for env in config.envs:
        manifest = {
            "env": env.label,
            "env_kwargs": env.kwargs,
            "agents": list(config.agents),
            "runs": config.runs,
            "steps": config.steps,
            "episodes": config.episodes,
            "seed": config.seed,
            "x": "step" if config.steps is not None else "episode",
        }
        joined = {
            agent: {metric: np.concatenate(parts) for metric, parts in per_agent.items()}
            for agent, per_agent in data[env.label].items()
        }
        results[env.label] = Results(joined, manifest)
    return SweepResults(config, results, seconds)


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    plots: bool = True,
    toml: str | None = None,
    command: str | None = None,
) -> SweepResults:
    """Run (or resume) a sweep into ``out``; write its tables, curves, plots and manifest.

    Args:
        config: the sweep (see :func:`rlcourse.sweep_config.load_config`).
        out: the sweep directory; a directory of the same sweep is resumed.
        backend: ``local`` or ``ray`` (see :func:`rlcourse.backends.execute`).
        workers: parallel workers (default: every core; 1 runs in this process).
        address: a Ray cluster's address (default ``RAY_ADDRESS``, else a local Ray).
        force: replace a directory that holds a sweep of another configuration.
        progress: a progress bar over units.
        plots: draw the PNGs (``plots/``).
        toml: the configuration's text, kept in ``sweep.json``.
        command: the command line, for the manifest.

    Raises:
        UsageError: bad configuration, directory in the way, unreachable Ray, a failing unit.
    """
    check_config(config)
    out = Path(out)
    status = open_directory(out, config, force, toml)
    units = plan(config)
    store = UnitStore(out)
    store.clean({unit.digest for unit in units})
    done = store.finished(units)
    todo = [unit for unit in units if unit.digest not in done]
    start = time.perf_counter()
    bar = tqdm(
        total=len(units),
        initial=len(done),
        desc="sweep",
        unit="unit",
        disable=not progress or None,
    )
    with bar:
        for unit, (arrays, seconds) in execute(run_unit, todo, backend, workers, address):
            store.write(unit, arrays, seconds)
            bar.update()
    wall = time.perf_counter() - start
    swept = collect(config, store)
    manifest = {
        "command": command,
        "config_digest": config.digest,
        "config": config.as_dict(),
        "directory": status,
        "backend": backend,
        "workers": workers or default_workers(),
        "address": address or os.environ.get("RAY_ADDRESS"),
        "units": len(units),
        "units_run": len(todo),
        "units_resumed": len(done),
        "seconds": round(wall, 3),
        "unit_seconds": round(swept.unit_seconds, 3),
        **provenance(),
    }
    write_outputs(swept, out, manifest, plots)
    return swept


def write_outputs(
    swept: SweepResults, out: Path, manifest: dict[str, Any], plots: bool = True
) -> list[Path]:
    """Tables, curves, plots, then the manifest; each file replaced whole."""
    from rlcourse.analysis import plot_profiles
    from rlcourse.plots import plot_curves, plot_study, study_families

    summary, intervals = swept.tables
    write_atomic(out / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    write_atomic(out / "iqm.csv", intervals.to_csv(index=False, float_format="%.6g"))
    write_atomic(out / "curves.csv", swept.curves.to_csv(index=False, float_format="%.6g"))
    staging = Path(tempfile.mkdtemp(prefix=".plots.", dir=out))
    written, skipped = [], {}
    try:
        for env, results in swept.results.items() if plots else ():
            slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", env)
            for metric in results.metrics:
                written.append(plot_curves(results, metric, staging / f"{slug}-{metric}.png"))
                written.append(
                    plot_profiles(
                        {a: s[metric] for a, s in swept.scores[env].items()},
                        metric,
                        f"{env}: performance profiles ({results.manifest['runs']} runs, 95% CI)",
                        staging / f"{slug}-profile-{metric}.png",
                    )
                )
            try:
                study_families(results.agents)
            except UsageError as err:
                skipped[env] = str(err)
            else:
                written.append(
                    plot_study(results, staging / f"{slug}-study.png", results.metrics[0])
                )
        if (out / "plots").exists():
            shutil.rmtree(out / "plots")
        staging.rename(out / "plots")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = {**manifest, "plots": [p.name for p in written], "study_skipped": skipped}
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=2, default=repr) + "\n")
    return [out / "plots" / p.name for p in written]


def load_sweep(directory: str | os.PathLike) -> SweepResults:
    """Read a finished sweep directory back (every unit must be there).

    Raises:
        UsageError: not a sweep directory, or a unit missing (run the sweep again to finish it).
    """
    config = read_config(Path(directory))
    store = UnitStore(Path(directory))
    missing = [u for u in plan(config) if not store.path(u).is_file()]
    if missing:
        raise UsageError(
            f"{directory}: {len(missing)} of {len(plan(config))} units not finished; run the "
            "sweep again to resume it"
        )
    return collect(config, store)


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
