"""Sweeps: a TOML grid of envs × agent configurations × runs, split into units that resume.

A unit is one env × one agent configuration × one chunk of runs (:mod:`rlcourse.sweep.units`).
Each unit is written to ``units/<hash>.npz`` (a temporary file, then a rename) the moment it
finishes; re-running the same sweep skips the units already there.

A sweep directory holds:

- ``sweep.json``: the configuration and its hash (written first: it marks the directory);
- ``units/``: one ``.npz`` per finished unit (per-run arrays, and the unit's description);
- ``summary.csv``: ``env,agent,metric,mean,ci_low,ci_high,n,iqm`` (see
  :mod:`rlcourse.sweep.analysis`);
- ``iqm.csv``: the interquartile mean with its stratified-bootstrap interval, per configuration
  and, over several envs, aggregated on normalized scores;
- ``curves.csv``: ``env,agent,metric,x,mean,ci_low,ci_high,n``;
- ``plots/``: curves, parameter studies and performance profiles per env (PNG);
- ``manifest.json``: command, backend, timing, versions (written last).

The modules: :mod:`~rlcourse.sweep.config` (the TOML file), :mod:`~rlcourse.sweep.units` (units,
the plan, running one, the cost estimate), :mod:`~rlcourse.sweep.store` (the directory and its
units), :mod:`~rlcourse.sweep.backends` (a local process pool, Ray),
:mod:`~rlcourse.sweep.analysis` (the finished sweep, IQM, profiles), :mod:`~rlcourse.sweep.run`
(:func:`run_sweep`). The names below are imported on first use, so that the CLI can read
:data:`~rlcourse.sweep.backends.BACKENDS` without numpy, pandas or matplotlib.
"""

from rlcourse.lazy import lazy_exports

_EXPORTS = {
    "load_config": "rlcourse.sweep.config",
    "parse_config": "rlcourse.sweep.config",
    "SweepConfig": "rlcourse.sweep.config",
    "EnvEntry": "rlcourse.sweep.config",
    "Unit": "rlcourse.sweep.units",
    "plan": "rlcourse.sweep.units",
    "run_unit": "rlcourse.sweep.units",
    "check_config": "rlcourse.sweep.units",
    "check_names": "rlcourse.sweep.units",
    "UnitStore": "rlcourse.sweep.store",
    "read_config": "rlcourse.sweep.store",
    "SweepResults": "rlcourse.sweep.analysis",
    "collect": "rlcourse.sweep.analysis",
    "load_sweep": "rlcourse.sweep.analysis",
    "run_sweep": "rlcourse.sweep.run",
    "write_outputs": "rlcourse.sweep.run",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
