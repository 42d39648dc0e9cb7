"""``rlcourse plot``: draw a saved results directory again, without running anything."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``plot``."""
    p = sub.add_parser("plot", help="re-plot a results directory", description=cmd_plot.__doc__)
    p.add_argument("dir", help="results directory written by compare")
    p.add_argument("--metric", help="one metric (default: all)")
    p.add_argument(
        "--kind",
        choices=("curves", "study", "values"),
        default="curves",
        help="curves over x, a parameter study, or value heatmaps (default curves)",
    )
    p.add_argument(
        "--env",
        help="values: the grid env (default: the manifest's, a registered id; "
        "name a module:Class here to trust it)",
    )
    p.add_argument(
        "--out",
        help="a PNG file (several metrics: a panel each) or a folder ending in / (a file per "
        "plot); default DIR/<metric>.png; folders are created",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    """Re-plot a saved results directory.

    The plots rlcourse wrote into DIR are replaced; any other existing file only with --force.
    """
    from rlcourse.errors import UsageError
    from rlcourse.plots import plot

    if args.env and args.kind != "values":
        raise UsageError("--env names the grid of --kind values; the other kinds need no env")
    written = plot(args.dir, metric=args.metric, out=args.out, kind=args.kind, env=args.env,
                   force=args.force)  # fmt: skip
    for path in written:
        print(path)
    return 0
