"""``rlcourse figure``: reproduce a figure of Sutton & Barto (2nd ed.) with the book's settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcourse.cli.common import command_line, positive_int, seed_int
from rlcourse.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``figure``."""
    from rlcourse.figures import FIGURES

    p = sub.add_parser(
        "figure", help="reproduce a Sutton & Barto figure", description=cmd_figure.__doc__
    )
    p.add_argument("number", nargs="?", choices=list(FIGURES), help="figure number")
    p.add_argument("--list", action="store_true", help="list figures and their compare commands")
    p.add_argument("--runs", type=positive_int, help="independent runs (default: the book's)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, help="steps per run (default: the book's)")
    budget.add_argument("--episodes", type=positive_int, help="episodes per run (likewise)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed (default 0)")
    p.add_argument("--out", help="results directory (default results/figN)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_figure)


def cmd_figure(args) -> int:
    """Reproduce a figure of Sutton & Barto (2nd ed.): the chapter-2 testbed, Figure 6.4."""
    import rlcourse
    from rlcourse.cli.compare import print_results_summary, save_and_plot
    from rlcourse.figures import FIGURES, compare_command
    from rlcourse.outputs import prepare_output

    if args.list or args.number is None:
        for number, figure in FIGURES.items():
            print(f"Figure {number}: {figure.title}\n  {compare_command(number)}")
        return 0
    figure = FIGURES[args.number]
    if (args.steps and not figure.steps) or (args.episodes and not figure.episodes):
        unit = "--steps" if figure.steps else "--episodes"
        raise UsageError(f"figure {args.number} has a budget in {unit[2:]}: use {unit}")
    out = Path(args.out or f"results/fig{args.number}")
    staged = prepare_output(out, args.force)
    print(f"Figure {args.number}: {figure.title}", file=sys.stderr)
    results = rlcourse.compare(
        figure.env,
        list(figure.agents),
        runs=args.runs or figure.runs,
        steps=(args.steps or figure.steps) if figure.steps else None,
        episodes=(args.episodes or figure.episodes) if figure.episodes else None,
        seed=args.seed,
        env_kwargs=figure.env_kwargs,
        command=command_line(args),
    )
    if figure.ylim:
        results.manifest["plot"] = {"ylim": figure.ylim}
    save_and_plot(results, out, staged, figure.kind)
    if figure.kind == "study":
        _print_study(results)
    else:
        print_results_summary(results)
    return 0


def _print_study(results) -> None:
    """Each configuration's mean reward over all steps, with its 95% interval."""
    from rlcourse.stats import mean_ci

    print(
        f"mean reward over all {results.manifest['steps']} steps ({results.manifest['runs']} runs):"
    )
    for agent, means in results.run_means("reward").items():
        mean, low, high, _ = mean_ci(means)
        print(f"  {agent:40s} {mean:.3f}  [{low:.3f}, {high:.3f}]")
