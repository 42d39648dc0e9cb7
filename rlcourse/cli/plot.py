"""``rlcourse plot``: draw a saved results directory again, without running anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlcourse.errors import UsageError


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
    p.add_argument("--out", help="PNG file (default: DIR/<metric>.png)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    """Re-plot a saved results directory."""
    from rlcourse.plots import plot

    if args.out and Path(args.out).exists() and not args.force:
        raise UsageError(f"{args.out} already exists; pass --force to overwrite it")
    for path in plot(args.dir, metric=args.metric, out=args.out, kind=args.kind):
        print(path)
    return 0
