"""``rlcourse evaluate``: run a trained agent's greedy policy and report its mean return."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcourse.cli.common import (
    add_device_option,
    add_gym_package_option,
    add_wrapper_option,
    chosen_device,
    positive_int,
    seed_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``."""
    p = sub.add_parser(
        "evaluate", help="run a trained agent greedily", description=cmd_evaluate.__doc__
    )
    p.add_argument("dir", help="directory written by rlcourse train")
    p.add_argument("--episodes", type=positive_int, default=20, help="episodes (default 20)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the first episode (default 0)")
    p.add_argument(
        "--env",
        help="evaluate on another env with the same spaces (or name the saved module:Class "
        "env to trust it)",
    )
    add_wrapper_option(p)
    add_gym_package_option(p)
    add_device_option(p)
    p.add_argument(
        "--final", action="store_true", help="the final policy (checkpoint.pt), not the best"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="accepted, changes nothing: each evaluation has its own file",
    )
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    """Run a trained agent's greedy policy (best.pt by default); print it, write it to a file.

    The file is DIR/evaluation-seedS-episodesN.json (``-final`` after ``evaluation`` for
    --final, ``-env-NAME`` for another env): each evaluation has its own, none replaces another.
    """
    from common import devices
    from rlcourse.checkpoints import evaluate_checkpoint
    from rlcourse.environments import import_gym_packages

    import_gym_packages(args.gym_package)
    with devices.using(chosen_device(args)):
        result = evaluate_checkpoint(
            Path(args.dir),
            args.episodes,
            args.seed,
            args.env,
            final=args.final,
            force=args.force,
            wrappers=args.wrapper,
        )
    print(
        f"{result['env']} ({result['checkpoint']}): mean return {result['mean_return']:.2f} "
        f"[{result['ci_low']:.2f}, {result['ci_high']:.2f}] over {result['episodes']} episodes"
    )
    print(f"wrote {Path(args.dir) / result['file']}", file=sys.stderr)
    return 0
