"""The ``rlcourse`` command line: one entry point, subcommands, ``--help`` on each.

Bad input gives one line on stderr and exit status 2; set ``RLCOURSE_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
import warnings
from pathlib import Path

from agents import AGENTS, SpecError
from rlcourse.errors import UsageError
from supervised.data import DataError


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (with a pointer to --help) and exit status 2."""

    def error(self, message):
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``, refused as "must be a WHAT integer"."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {what} integer, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "positive")
_seed = _int_at_least(0, "non-negative")


def _env_kwargs(items: list[str]) -> dict:
    """``K=V`` strings to a dict; values are numbers, booleans or strings."""
    kwargs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env-kwargs takes KEY=VALUE, got {item!r}")
        kwargs[key] = _literal(value)
    return kwargs


def _literal(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _print_summary(results) -> None:
    table = results.summary.copy()
    table["95% CI"] = [
        f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(table.ci_low, table.ci_high, strict=True)
    ]
    table["mean"] = table["mean"].map("{:.3f}".format)
    window = "final 10% of " + results.manifest.get("x", "x") + "s"
    print(f"summary ({window}, {results.manifest.get('runs')} runs):")
    print(table[["agent", "metric", "mean", "95% CI", "n"]].to_string(index=False))


def _save_and_plot(results, out: Path, force: bool, kind: str = "curves") -> None:
    from rlcourse.plots import plot

    results.save(out, force=force)
    written = plot(out, kind="curves")
    if kind == "study":
        written += plot(out, kind="study")
    print(f"wrote {out}/ ({', '.join(p.name for p in written)})", file=sys.stderr)


def cmd_envs(args) -> int:
    """List the registered rlcourse environments."""
    from rlcourse.environments import describe_envs

    rows = list(describe_envs())
    id_width = max(len(env_id) for env_id, _, _ in rows)
    alias_width = max(len(alias) for _, alias, _ in rows)
    for env_id, alias, doc in rows:
        print(f"{env_id:{id_width}s}  {alias:{alias_width}s}  {doc}")
    print("\nAlso accepted: any registered Gymnasium id (e.g. FrozenLake-v1), or module:Class.")
    return 0


def cmd_agents(args) -> int:
    """List agent names and their parameters."""
    for entry in AGENTS.values():
        print(f"{entry.name}: {entry.summary}")
        for name, default, doc in entry.parameters():
            default = "none" if default is None else default
            print(f"    {name}={default}  {doc}")
    print("\nSpec: NAME[:KEY=VALUE[,KEY=VALUE...]], e.g. epsilon-greedy:epsilon=0.1,alpha=0.1")
    return 0


def cmd_compare(args) -> int:
    """Run the comparison, save the results directory, plot, print the summary."""
    import rlcourse
    from rlcourse.results import check_output_dir

    out = Path(
        args.out
        or f"results/{Path(args.env.replace(':', '-')).name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    check_output_dir(out, args.force)
    results = rlcourse.compare(
        args.env,
        args.agents,
        runs=args.runs,
        steps=args.steps,
        episodes=args.episodes,
        seed=args.seed,
        env_kwargs=_env_kwargs(args.env_kwargs),
        command=shlex.join(["rlcourse", *args.argv]),
    )
    _save_and_plot(results, out, args.force)
    _print_summary(results)
    return 0


def cmd_plot(args) -> int:
    """Re-plot a saved results directory."""
    from rlcourse.plots import plot

    if args.out and Path(args.out).exists() and not args.force:
        raise UsageError(f"{args.out} already exists; pass --force to overwrite it")
    for path in plot(args.dir, metric=args.metric, out=args.out, kind=args.kind):
        print(path)
    return 0


def cmd_figure(args) -> int:
    """Reproduce a figure of Sutton & Barto (2nd ed.): the chapter-2 testbed, Figure 6.4."""
    import rlcourse
    from rlcourse.figures import FIGURES, compare_command
    from rlcourse.results import check_output_dir

    if args.list or args.number is None:
        for number, figure in FIGURES.items():
            print(f"Figure {number}: {figure.title}\n  {compare_command(number)}")
        return 0
    figure = FIGURES[args.number]
    if (args.steps and not figure.steps) or (args.episodes and not figure.episodes):
        unit = "--steps" if figure.steps else "--episodes"
        raise UsageError(f"figure {args.number} has a budget in {unit[2:]}: use {unit}")
    out = Path(args.out or f"results/fig{args.number}")
    check_output_dir(out, args.force)
    print(f"Figure {args.number}: {figure.title}", file=sys.stderr)
    results = rlcourse.compare(
        figure.env,
        list(figure.agents),
        runs=args.runs or figure.runs,
        steps=(args.steps or figure.steps) if figure.steps else None,
        episodes=(args.episodes or figure.episodes) if figure.episodes else None,
        seed=args.seed,
        env_kwargs=figure.env_kwargs,
        command=shlex.join(["rlcourse", *args.argv]),
    )
    if figure.ylim:
        results.manifest["plot"] = {"ylim": figure.ylim}
    _save_and_plot(results, out, args.force, figure.kind)
    if figure.kind == "study":
        _print_study(results)
    else:
        _print_summary(results)
    return 0


def _print_study(results) -> None:
    from rlcourse.stats import mean_ci

    print(
        f"mean reward over all {results.manifest['steps']} steps ({results.manifest['runs']} runs):"
    )
    for agent, means in results.run_means("reward").items():
        mean, low, high, _ = mean_ci(means)
        print(f"  {agent:40s} {mean:.3f}  [{low:.3f}, {high:.3f}]")


def cmd_supervised(args) -> int:
    """Train one of the course's supervised models; write metrics.json and plots into --out."""
    import shutil

    from rlcourse.results import check_output_dir
    from supervised.experiments import run

    out = Path(args.out)
    check_output_dir(out, args.force, marker="metrics.json")
    if out.exists() and args.force:
        shutil.rmtree(out)
    options = {"epochs": args.epochs, "seed": args.seed}
    if args.name == "cnn" and (args.mnist_images or args.mnist_labels):
        if not (args.mnist_images and args.mnist_labels):
            raise UsageError("give both --mnist-images and --mnist-labels")
        options.update(mnist_images=args.mnist_images, mnist_labels=args.mnist_labels)
    if args.name == "rnn":
        options.update(corpus=args.corpus, cell=args.cell)
    elif args.corpus or args.cell != "gru":
        raise UsageError("--corpus and --cell are options of the rnn experiment")
    if args.name == "gan":
        options.update(label_smoothing=args.label_smoothing)
    elif not args.label_smoothing:
        raise UsageError("--no-label-smoothing is an option of the gan experiment")
    metrics = run(args.name, out, **options)
    width = max(map(len, metrics), default=0)
    for key, value in metrics.items():
        print(
            f"{key:{width}s}  {value:.4g}"
            if isinstance(value, float)
            else f"{key:{width}s}  {value}"
        )
    print(f"wrote {out}/", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    """Train one DQN; save checkpoint.pt, curves and metrics.json into --out."""
    import shutil

    import torch

    from rlcourse.results import check_output_dir
    from rlcourse.training import dqn_config, train_dqn

    torch.set_num_threads(args.threads)

    out = Path(args.out)
    check_output_dir(out, args.force, marker="checkpoint.pt")
    config = dqn_config(_env_kwargs_strings(args.set, "--set"))
    if out.exists() and args.force:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = train_dqn(
        args.env,
        out,
        steps=args.steps,
        seed=args.seed,
        config=config,
        env_kwargs=_env_kwargs(args.env_kwargs),
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        tensorboard=args.tensorboard,
    )
    for key, value in metrics.items():
        print(f"{key:18s} {value}")
    print(f"wrote {out}/", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    """Run a trained agent's greedy policy; print and write evaluation.json."""
    from rlcourse.training import evaluate_checkpoint

    result = evaluate_checkpoint(Path(args.dir), args.episodes, args.seed, args.env)
    print(
        f"{result['env']}: mean return {result['mean_return']:.2f} "
        f"[{result['ci_low']:.2f}, {result['ci_high']:.2f}] over {result['episodes']} episodes"
    )
    return 0


def _env_kwargs_strings(items: list[str] | None, flag: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{flag} takes KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def build_parser() -> Parser:
    """All subcommands and their options."""
    from rlcourse.figures import FIGURES

    parser = Parser(prog="rlcourse", description="Compare reinforcement-learning agents.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )

    sub.add_parser("envs", help="list environments", description=cmd_envs.__doc__).set_defaults(
        func=cmd_envs
    )
    sub.add_parser(
        "agents", help="list agents and their parameters", description=cmd_agents.__doc__
    ).set_defaults(func=cmd_agents)

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
    budget.add_argument("--steps", type=_positive_int, help="steps per run (per-step metrics)")
    budget.add_argument(
        "--episodes", type=_positive_int, help="episodes per run (per-episode metrics)"
    )
    p.add_argument("--runs", type=_positive_int, default=100, help="independent runs (default 100)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of everything (default 0)")
    p.add_argument("--env-kwargs", nargs="+", metavar="K=V", help="env constructor arguments")
    p.add_argument("--out", help="results directory (default results/ENV-TIMESTAMP)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_compare)

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

    p = sub.add_parser(
        "figure", help="reproduce a Sutton & Barto figure", description=cmd_figure.__doc__
    )
    p.add_argument("number", nargs="?", choices=list(FIGURES), help="figure number")
    p.add_argument("--list", action="store_true", help="list figures and their compare commands")
    p.add_argument("--runs", type=_positive_int, help="independent runs (default: the book's)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int, help="steps per run (default: the book's)")
    budget.add_argument("--episodes", type=_positive_int, help="episodes per run (likewise)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    p.add_argument("--out", help="results directory (default results/figN)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_figure)
    p = sub.add_parser(
        "train", help="train one DQN agent and save it", description=cmd_train.__doc__
    )
    p.add_argument("algorithm", choices=["dqn"], help="what to train")
    p.add_argument("env", help="registered id, alias or module:Class")
    p.add_argument("--steps", type=_positive_int, default=50_000, help="env steps (default 50000)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    p.add_argument(
        "--set", nargs="+", metavar="KEY=VALUE", help="DQN hyperparameters (rlcourse agents)"
    )
    p.add_argument("--env-kwargs", nargs="+", metavar="K=V", help="env constructor arguments")
    p.add_argument(
        "--eval-every", type=_positive_int, default=5000, help="steps between evaluations"
    )
    p.add_argument(
        "--eval-episodes", type=_positive_int, default=20, help="episodes per evaluation"
    )
    p.add_argument("--tensorboard", action="store_true", help="log to OUT/tensorboard")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="torch threads (default 1: fastest for small networks on CPU)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate", help="run a trained agent greedily", description=cmd_evaluate.__doc__
    )
    p.add_argument("dir", help="directory written by rlcourse train")
    p.add_argument("--episodes", type=_positive_int, default=20, help="episodes (default 20)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the first episode (default 0)")
    p.add_argument("--env", help="evaluate on another env with the same spaces")
    p.set_defaults(func=cmd_evaluate)

    from rlcourse.sweep_cli import add_parser as add_sweep_parser

    add_sweep_parser(sub, _positive_int)

    from supervised.experiments import EXPERIMENTS

    p = sub.add_parser(
        "supervised",
        help="train a supervised model (regression ... GAN, RNN)",
        description=cmd_supervised.__doc__,
        epilog="experiments: " + "; ".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()),
    )
    p.add_argument("name", choices=list(EXPERIMENTS), help="which model")
    p.add_argument("--epochs", type=_positive_int, help="training epochs (default: the model's)")
    p.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument("--mnist-images", help="cnn: an MNIST IDX image file (plain or .gz)")
    p.add_argument("--mnist-labels", help="cnn: the matching IDX label file")
    p.add_argument("--corpus", help="rnn: a UTF-8 text file (default: stdlib docstrings)")
    p.add_argument("--cell", choices=("gru", "lstm"), default="gru", help="rnn: recurrent cell")
    p.add_argument(
        "--no-label-smoothing",
        dest="label_smoothing",
        action="store_false",
        help="gan: train the discriminator toward 1 on real images (default: 0.9, one-sided)",
    )
    p.set_defaults(func=cmd_supervised)

    from rlcourse.faces import add_parser as add_faces_parser

    add_faces_parser(sub, _positive_int, _seed)

    from rlcourse.denoising import add_parser as add_denoise_parser

    add_denoise_parser(sub, Parser)
    return parser


def _one_line(message) -> str:
    """A warning's text without gymnasium's colour codes, on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(message))
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rlcourse`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            code = args.func(args)
        shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
        for message in dict.fromkeys(_one_line(w.message) for w in shown):
            print(f"rlcourse {args.command}: warning: {message}", file=sys.stderr)
        return code
    except (UsageError, SpecError, DataError) as err:  # the warnings before say less than this
        if os.environ.get("RLCOURSE_DEBUG"):
            raise
        print(f"rlcourse {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rlcourse {args.command}: interrupted; nothing was saved", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rlcourse agents | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
