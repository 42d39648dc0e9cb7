"""``rlcourse sweep``: its arguments, the ``--dry-run`` plan, the printed summary.

Light on purpose: the sweep's modules that need numpy, pandas or matplotlib are imported when
the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rlcourse.cli.common import (
    add_gym_package_option,
    command_line,
    positive_int,
    print_summary,
)
from rlcourse.sweep.backends import BACKENDS, default_workers


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep``."""
    p = sub.add_parser(
        "sweep",
        help="run a TOML grid of envs × agents × runs (resumable; local cores or Ray)",
        description=cmd_sweep.__doc__ + " See docs/sweeps.md for the file format.",
        epilog="example: rlcourse sweep docs/sweeps/fig2.6.toml --dry-run; "
        "rlcourse sweep docs/sweeps/fig2.6.toml --out results/fig2.6-sweep",
    )
    p.add_argument("config", help="the sweep's TOML file")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local: a process pool on this machine (default); ray: a Ray cluster",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        help="parallel workers (default: every core; 1 = in this process)",
    )
    p.add_argument(
        "--address",
        help="Ray cluster address HOST:PORT (default RAY_ADDRESS; else a local Ray on 127.0.0.1)",
    )
    add_gym_package_option(p)
    p.add_argument("--out", help="sweep directory (default results/CONFIG-NAME)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file and --out and print the plan and its cost; builds and runs nothing",
    )
    p.add_argument("--no-plots", action="store_true", help="write the tables only, no PNGs")
    p.add_argument("--force", action="store_true", help="replace a directory holding another sweep")
    p.set_defaults(func=cmd_sweep)


def print_plan(config, units, done: set[str], out: Path, status: str, workers: int) -> None:
    """What ``--dry-run`` shows: the units, what is finished, the cost in env steps or episodes."""
    budget = f"{config.steps} steps" if config.steps else f"{config.episodes} episodes"
    chunks = len(range(0, config.runs, config.chunk))
    todo = [u for u in units if u.digest not in done]
    print(
        f"sweep {config.digest}: {len(config.envs)} env(s) × {len(config.agents)} agent "
        f"configuration(s) × {config.runs} runs of {budget}, seed {config.seed}"
    )
    print(
        f"units: {len(units)} ({chunks} chunk(s) of up to {config.chunk} runs per env and "
        f"configuration); {len(done)} finished in {out}, {len(todo)} to run"
    )
    what = "env steps" if config.steps else "episodes"
    rows = {}
    for unit in todo:
        row = rows.setdefault((unit.env_label, unit.agent), [0, 0])
        row[0] += 1
        row[1] += unit.runs
    width = max((len(agent) for _, agent in rows), default=5)
    print(f"  {'env':20s} {'agent':{width}s} {'units':>5s} {'runs':>6s} {what:>12s}")
    unit_work = config.steps or config.episodes
    for (env, agent), (n, runs) in rows.items():
        print(f"  {env:20s} {agent:{width}s} {n:5d} {runs:6d} {runs * unit_work:12,d}")
    print(
        f"cost: {sum(u.runs for u in todo) * unit_work:,} {what} in {len(todo)} unit(s) on "
        f"{min(workers, max(1, len(todo)))} of {workers} worker(s); {_DIRECTORY[status]}"
    )
    for env in config.envs:
        if ":" in env.id:
            print(
                f"note: env {env.id} is code (module:Class): the dry run did not import it; "
                "running the sweep imports and runs it, like running a script"
            )


_DIRECTORY = {
    "new": "a new sweep directory",
    "resume": "resumes the sweep there",
    "replace": "replaces the sweep there (--force; units it shares are kept)",
}


def cmd_sweep(args) -> int:
    """Run a sweep declared in TOML; re-running the same command resumes it.

    ``--dry-run`` reads and checks the file and the directory and counts the work; it builds
    nothing (no env, no agent, no import of a module:Class).
    """
    from rlcourse.memory import check_fits, describe
    from rlcourse.sweep.config import parse_config, read_text
    from rlcourse.sweep.store import UnitStore, check_directory
    from rlcourse.sweep.units import SWEEP_HINT, check_names, plan, sweep_memory

    toml = read_text(args.config)
    config = parse_config(toml, Path(args.config).name)
    if args.gym_package:  # added to the file's [sweep] gym_packages (and recorded with them)
        packages = tuple(dict.fromkeys([*config.gym_packages, *args.gym_package]))
        config = dataclasses.replace(config, gym_packages=packages)
    out = Path(args.out or f"results/{Path(args.config).stem}")
    if args.dry_run:
        check_names(config, dry_run=True)
        workers = args.workers or default_workers()
        memory = sweep_memory(config, {}, workers)  # the results: no agent is built
        check_fits(memory, SWEEP_HINT)
        status = check_directory(out, config, args.force)
        units = plan(config)
        done = set() if status == "new" else UnitStore(out).finished(units)
        print_plan(config, units, done, out, status, workers)
        print(f"memory: {describe(memory)}, and the agents' and envs' own (not built)")
        return 0
    from rlcourse.sweep.run import run_sweep

    try:
        swept = run_sweep(
            config,
            out,
            backend=args.backend,
            workers=args.workers,
            address=args.address,
            force=args.force,
            plots=not args.no_plots,
            toml=toml,
            command=command_line(args),
        )
    except KeyboardInterrupt:
        print(
            f"rlcourse sweep: interrupted; finished units are kept in {out}/units: run the same "
            "command to resume",
            file=sys.stderr,
        )
        return 130
    x = "steps" if swept.config.steps else "episodes"
    print_summary(
        swept.summary,
        f"final performance (each run's mean over the final 10% of {x}; bootstrap 95% CI):",
    )
    written = "summary.csv, iqm.csv, curves.csv" + ("" if args.no_plots else ", plots/")
    print(f"wrote {out}/ ({written})", file=sys.stderr)
    return 0
