"""``rlcourse plot``: draw saved results again, or overlay runs of any kind, without running."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``plot``."""
    p = sub.add_parser(
        "plot", help="re-plot results, or overlay runs of any kind", description=cmd_plot.__doc__
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="results, train or sweep directories, or Stable-Baselines3 logs (evaluations.npz, "
        "monitor.csv, or a folder holding them)",
    )
    p.add_argument(
        "--metric",
        help="one metric (default: all for one results directory; else eval_return where an "
        "input has it, otherwise return)",
    )
    p.add_argument(
        "--label",
        action="append",
        help="a legend label per input, in order (repeat it); inputs of one label are averaged "
        "(default: the agent, or the directory's name without a trailing seed such as -s0)",
    )
    p.add_argument(
        "--smooth",
        type=int,
        default=1,
        metavar="W",
        help="moving average of each run over W points before averaging (default 1: none)",
    )
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
        "plot); default DIR/<metric>.png; folders are created. An overlay of several inputs, or "
        "of runs other than a results directory, needs it: the one PNG",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    """Re-plot a saved results directory, or overlay several runs of any kind on one figure.

    One results directory alone is drawn as compare draws it; the plots rlcourse wrote into DIR
    are replaced; any other existing file only with --force. Several inputs, or one of another
    kind, are overlaid into --out: runs sharing a label are drawn as a mean with a 95% band.
    """
    from rlcourse.errors import UsageError
    from rlcourse.plots import plot
    from rlcourse.run_readers import kind_of

    kinds = [kind_of(Path(path)) for path in args.inputs]
    if kinds != ["results"] or args.label or args.smooth != 1:
        return _overlay(args)
    args.dir = args.inputs[0]
    if args.env and args.kind != "values":
        raise UsageError("--env names the grid of --kind values; the other kinds need no env")
    written = plot(args.dir, metric=args.metric, out=args.out, kind=args.kind, env=args.env,
                   force=args.force)  # fmt: skip
    for path in written:
        print(path)
    return 0


def _overlay(args) -> int:
    from common.figures import figure_path
    from rlcourse.errors import UsageError
    from rlcourse.outputs import add_to_stamp, check_output_file
    from rlcourse.overlay import gather, plot_overlay

    if args.kind != "curves" or args.env:
        raise UsageError("--kind and --env are for one results directory; overlays draw curves")
    if not args.out or str(args.out).endswith(("/", "\\")):
        raise UsageError("several inputs, or runs other than results, need --out FIG.png")
    try:
        out = figure_path(args.out)
    except ValueError as err:
        raise UsageError(str(err)) from None
    runs = gather(args.inputs, args.label, args.metric, args.smooth)
    check_output_file(out, args.force)
    print(plot_overlay(runs, out))
    add_to_stamp(out.parent, out.name)
    return 0
