"""``rlcourse aggregate``: IQM, performance profiles and probability of improvement of runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``aggregate``."""
    p = sub.add_parser(
        "aggregate",
        help="IQM, performance profiles and probability of improvement of final scores",
        description=cmd_aggregate.__doc__,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="results, train or sweep directories, or Stable-Baselines3 logs",
    )
    p.add_argument("--label", action="append", help="a label per input, in order (repeat it)")
    p.add_argument(
        "--metric", help="which curve (default: eval_return where an input has it, else return)"
    )
    p.add_argument(
        "--per-env",
        action="store_true",
        help="allow runs of several envs: each env apart, and all envs min-max normalized",
    )
    p.add_argument(
        "--out",
        help="a directory for summary.csv, iqm.csv, improvement.csv and profile-*.png "
        "(default: print only)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=cmd_aggregate)


def cmd_aggregate(args) -> int:
    """Each run's final score (mean over its final 10%), compared across labels.

    Prints and, with --out, saves the mean and IQM per env and label with stratified-bootstrap
    95% intervals, the probability of improvement of every label over every other, and draws
    performance profiles. The estimates are rliable's where rliable imports and works, else
    scipy's; the first line printed names the one used.
    """
    from common.atomic import write_text
    from rlcourse.aggregate import IMPROVEMENT_COLUMNS, aggregate, draw_profiles
    from rlcourse.outputs import prepare_output
    from rlcourse.overlay import gather

    runs = gather(args.inputs, args.label, args.metric)
    tables = aggregate(runs, args.per_env)
    staged = prepare_output(args.out, args.force, "aggregate") if args.out else None
    with_floats = {"float_format": lambda v: f"{v:.4g}", "index": False}
    print(f"intervals by {tables['implementation']}")
    print(tables["iqm"].to_string(**with_floats))
    if len(tables["improvement"]):
        print()
        print(tables["improvement"][IMPROVEMENT_COLUMNS].to_string(**with_floats))
    if staged is not None:
        with staged as folder:
            for name in ("summary", "iqm", "improvement"):
                write_text(folder / f"{name}.csv", tables[name].to_csv(index=False))
            draw_profiles(tables["scores"], folder)
        print(args.out)
    return 0
