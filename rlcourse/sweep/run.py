"""Run or resume a sweep into its directory, then write its tables, curves, plots and manifest."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from common.atomic import atomic_directory, write_text
from rlcourse.errors import UsageError
from rlcourse.memory import check_fits
from rlcourse.outputs import add_to_stamp, drop_unwritten, foreign_files, output_lock
from rlcourse.results import provenance
from rlcourse.sweep.analysis import SweepResults, collect, plot_profiles
from rlcourse.sweep.backends import Runner, connect, default_workers
from rlcourse.sweep.config import SweepConfig
from rlcourse.sweep.store import UnitStore, check_directory, open_directory
from rlcourse.sweep.units import (
    SWEEP_HINT,
    Unit,
    check_config,
    check_names,
    plan,
    run_unit,
    sweep_memory,
)


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
        config: the sweep (see :func:`rlcourse.sweep.config.load_config`).
        out: the sweep directory; a directory of the same sweep is resumed.
        backend: ``local`` or ``ray`` (see :func:`rlcourse.sweep.backends.execute`).
        workers: parallel workers (default: every core; 1 runs in this process).
        address: a Ray cluster's address (default ``RAY_ADDRESS``, else a local Ray).
        force: replace a directory that holds a sweep of another configuration.
        progress: a progress bar over units.
        plots: draw the PNGs (``plots/``).
        toml: the configuration's text, kept in ``sweep.json``.
        command: the command line, for the manifest.

    Every input is checked before ``out`` is touched: the names, the directory, then every env
    and agent built once (this runs the code a ``module:Class`` env names), the memory it will
    hold (:func:`~rlcourse.sweep.units.sweep_memory`), then the backend. The sweep holds the lock
    of ``out`` (:func:`rlcourse.outputs.output_lock`) while it runs.

    Raises:
        UsageError: bad configuration, directory in the way, unreachable Ray, a failing unit.
    """
    out = Path(out)
    check_names(config)
    check_directory(out, config, force)
    largest_unit = check_config(config)
    memory = sweep_memory(config, largest_unit, workers or default_workers())
    check_fits(memory, SWEEP_HINT)
    with output_lock(out):  # one sweep at a time writes its directory
        check_directory(out, config, force)  # again: what it found may have changed meanwhile
        with connect(backend, workers, address) as runner:  # a Ray is started (and checked) here
            status = open_directory(out, config, force, toml, command)
            units = plan(config)
            store = UnitStore(out)
            ran, resumed, wall = _run_pending(store, units, runner, progress)
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
            "units_run": ran,
            "units_resumed": resumed,
            "seconds": round(wall, 3),
            "unit_seconds": round(swept.unit_seconds, 3),
            **provenance(),
        }
        write_outputs(swept, out, manifest, plots)
        drop_unwritten(out)  # the stamp listed what the sweep might write; now what it wrote
    return swept


def _run_pending(
    store: UnitStore, units: list[Unit], runner: Runner, progress: bool
) -> tuple[int, int, float]:
    """Run the units not finished in ``store``, writing each as it arrives.

    Returns:
        Units run, units found finished, and the seconds the running took.
    """
    done = store.finished(units)
    todo = [unit for unit in units if unit.digest not in done]
    start = time.perf_counter()
    with tqdm(
        total=len(units), initial=len(done), desc="sweep", unit="unit", disable=not progress or None
    ) as bar:
        for unit, (arrays, seconds) in runner(run_unit, todo):
            store.write(unit, arrays, seconds)
            bar.update()
    return len(todo), len(done), time.perf_counter() - start


def write_outputs(
    swept: SweepResults, out: Path, manifest: dict[str, Any], plots: bool = True
) -> list[Path]:
    """Tables, curves, plots, then the manifest; each file (and ``plots/``) replaced whole."""
    summary, intervals = swept.tables
    write_text(out / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    write_text(out / "iqm.csv", intervals.to_csv(index=False, float_format="%.6g"))
    write_text(out / "curves.csv", swept.curves.to_csv(index=False, float_format="%.6g"))
    with atomic_directory(out / "plots", before_swap=lambda _: _check_plots(out)) as staging:
        written, skipped = _draw(swept, staging) if plots else ([], {})
        add_to_stamp(out, *(f"plots/{path.name}" for path in written))  # before they are there
    manifest = {**manifest, "plots": [p.name for p in written], "study_skipped": skipped}
    write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=repr) + "\n")
    return [out / "plots" / p.name for p in written]


def _check_plots(out: Path) -> None:
    """Just before the new ``plots/`` replaces the old: refuse if someone put a file there.

    Raises:
        UsageError: naming the files (they are left where they are; the new plots go).
    """
    theirs = [name for name in foreign_files(out) or [] if name.startswith("plots/")]
    if theirs:
        raise UsageError(
            f"{out}/plots now holds files rlcourse did not write ({', '.join(theirs[:3])}), "
            "put there while the sweep ran; they were left as they are and the plots were not "
            "replaced (the units and tables are written: move the files and run the same "
            "command again to draw them)"
        )


def _draw(swept: SweepResults, directory: Path) -> tuple[list[Path], dict[str, str]]:
    """Curves and profiles per env and metric, and a parameter study per env that has one.

    Returns:
        The PNGs written, and ``{env: why}`` for the envs whose agents make no study.
    """
    from agents.specs import short_specs
    from rlcourse.plots import plot_curves, plot_study, study_families

    written, skipped = [], {}
    for env, results in swept.results.items():
        names = short_specs(list(swept.scores[env]))  # the agents by what sets them apart
        slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", env)
        for metric in results.metrics:
            written.append(plot_curves(results, metric, directory / f"{slug}-{metric}.png"))
            written.append(
                plot_profiles(
                    {names[a]: s[metric] for a, s in swept.scores[env].items()},
                    metric,
                    f"{env}: performance profiles ({results.manifest['runs']} runs, 95% CI)",
                    directory / f"{slug}-profile-{metric}.png",
                )
            )
        try:
            study_families(results.agents)
        except UsageError as err:
            skipped[env] = str(err)
        else:
            written.append(plot_study(results, directory / f"{slug}-study.png", results.metrics[0]))
    return written, skipped
