"""``rlcourse compare``: several agents on one env over many runs; results, plots, summary."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

from rlcourse.cli.common import (
    add_device_option,
    add_gym_package_option,
    add_wrapper_option,
    announce_device,
    chosen_device,
    command_line,
    parse_pairs,
    positive_int,
    print_summary,
    seed_int,
)
from rlcourse.sweep.backends import BACKENDS


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compare``."""
    p = sub.add_parser(
        "compare",
        help="compare agents on an environment",
        description="Run each agent on the same independent runs; save results, plots, summary.",
        epilog="example: rlcourse compare bandit --agents greedy epsilon-greedy:epsilon=0.1 "
        "--steps 1000 --runs 2000",
    )
    p.add_argument("env", help="registered id, alias (bandit) or module:Class")
    p.add_argument(
        "--agents",
        nargs="+",
        required=True,
        metavar="SPEC",
        help="agent specs NAME[:KEY=VALUE,...] (see `rlcourse agents`)",
    )
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=positive_int, help="steps per run (per-step metrics)")
    budget.add_argument(
        "--episodes", type=positive_int, help="episodes per run (per-episode metrics)"
    )
    p.add_argument("--runs", type=positive_int, default=100, help="independent runs (default 100)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of everything (default 0)")
    p.add_argument("--env-kwargs", nargs="+", metavar="K=V", help="env constructor arguments")
    add_wrapper_option(p)
    add_gym_package_option(p)
    add_device_option(p)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads for agents that train networks (default 1: fastest for small "
        "networks on CPU)",
    )
    p.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help="evaluate each run's greedy policy every N steps (or episodes of the run, with "
        "--episodes) on evaluation envs of its own; recorded as eval_return",
    )
    p.add_argument(
        "--eval-episodes",
        type=positive_int,
        metavar="K",
        help="greedy episodes per run and evaluation (default 10)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        help="processes for the runs of agents with a learner per run (dqn), one run and one "
        "torch thread each, same numbers as in one process (default: every core; 1: in this "
        "process); with --backend ray: the CPUs of the local Ray",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where those runs go: local processes (default) or ray, one Ray task per run "
        "(every agent must have a learner per run, such as dqn)",
    )
    p.add_argument(
        "--address",
        help="Ray cluster address HOST:PORT for --backend ray (default RAY_ADDRESS; else a local "
        "Ray on 127.0.0.1)",
    )
    p.add_argument("--out", help="results directory (default results/ENV-TIMESTAMP)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument(
        "--dry-run", action="store_true", help="check everything, print the plan, run nothing"
    )
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    """Run the comparison, save the results directory, plot, print the summary."""
    import rlcourse
    from rlcourse.environments import import_gym_packages
    from rlcourse.outputs import prepare_output

    import_gym_packages(args.gym_package)  # before anything is written: they register the env's id
    out = Path(
        args.out
        or f"results/{Path(args.env.replace(':', '-')).name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    staged = prepare_output(out, args.force)
    device = chosen_device(args) if args.device else None
    if args.dry_run:
        return print_plan(args, out)

    from agents.base import trains_networks
    from rlcourse.comparison import check_parallel, plan_comparison

    # refused before it says anything; the agents built say whether they train networks
    source, built, _ = plan_comparison(args.env, args.agents, **_settings(args))
    check_parallel(source, args.env, args.agents, built, args.backend, args.address)
    if device is None and trains_networks(built.values()):
        device = chosen_device(args)
    if device:
        announce_device(device)
    results = rlcourse.compare(args.env, args.agents, **_settings(args), command=command_line(args),
                               device=device, threads=args.threads,
                               workers=args.workers, backend=args.backend,
                               address=args.address,
                               gym_packages=args.gym_package or ())  # fmt: skip
    save_and_plot(results, out, staged)
    print_results_summary(results)
    return 0


def _settings(args) -> dict:
    return {
        "runs": args.runs,
        "steps": args.steps,
        "episodes": args.episodes,
        "seed": args.seed,
        "env_kwargs": parse_pairs(args.env_kwargs, "--env-kwargs"),
        "wrappers": args.wrapper,
        "eval_every": args.eval_every,
        **({"eval_episodes": args.eval_episodes} if args.eval_episodes else {}),
    }


def print_plan(args, out: Path) -> int:
    """What ``compare`` would run and the memory it would need (``--dry-run``)."""
    from rlcourse.comparison import check_parallel, plan_comparison
    from rlcourse.memory import describe

    source, built, memory = plan_comparison(args.env, args.agents, **_settings(args))
    check_parallel(source, args.env, args.agents, built, args.backend, args.address)
    budget = f"{args.steps} steps" if args.steps else f"{args.episodes} episodes"
    print(f"would compare {', '.join(built)} on {source.name}: {args.runs} runs of {budget} "
          f"each, into {out}/")  # fmt: skip
    print(f"memory: {describe(memory)}")
    return 0


def save_and_plot(
    results, out: Path, staged: AbstractContextManager[Path], kind: str = "curves"
) -> None:
    """Write the results and their curves (and a parameter study) through ``staged``."""
    from rlcourse.plots import plot

    with staged as staging:
        results.write(staging)
        written = plot(staging, kind="curves")
        if kind == "study":
            written += plot(staging, kind="study")
    print(f"wrote {out}/ ({', '.join(p.name for p in written)})", file=sys.stderr)


def print_results_summary(results) -> None:
    """The summary table of a comparison, under the window and the number of runs."""
    window = "final 10% of " + results.manifest.get("x", "x") + "s"
    print_summary(results.summary, f"summary ({window}, {results.manifest.get('runs')} runs):")
