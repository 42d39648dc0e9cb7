"""``rlcourse train dqn``: train one DQN agent; save its checkpoint, curves and metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlcourse.cli.common import nonempty, parse_pairs, positive_int, seed_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train``."""
    p = sub.add_parser(
        "train", help="train one DQN agent and save it", description=cmd_train_dqn.__doc__
    )
    p.add_argument("algorithm", choices=["dqn"], help="what to train")
    p.add_argument("env", help="registered id, alias or module:Class")
    p.add_argument("--steps", type=positive_int, default=50_000, help="env steps (default 50000)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed (default 0)")
    p.add_argument(
        "--set", nargs="+", metavar="KEY=VALUE", help="DQN hyperparameters (rlcourse agents)"
    )
    p.add_argument("--env-kwargs", nargs="+", metavar="K=V", help="env constructor arguments")
    p.add_argument(
        "--eval-every", type=positive_int, default=5000, help="steps between evaluations"
    )
    p.add_argument("--eval-episodes", type=positive_int, default=20, help="episodes per evaluation")
    p.add_argument("--tensorboard", action="store_true", help="log to OUT/tensorboard")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads (default 1: fastest for small networks on CPU)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=cmd_train_dqn)


def cmd_train_dqn(args) -> int:
    """Train one DQN; save checkpoint.pt, curves and metrics.json into --out."""
    import torch

    from rlcourse.dqn_training import dqn_config, train_dqn
    from rlcourse.outputs import prepare_output

    torch.set_num_threads(args.threads)

    out = Path(args.out)
    staged = prepare_output(out, args.force)
    config = dqn_config(parse_pairs(args.set, "--set", convert=nonempty))
    env_kwargs = parse_pairs(args.env_kwargs, "--env-kwargs")
    with staged as staging:
        metrics = train_dqn(
            args.env,
            staging,
            steps=args.steps,
            seed=args.seed,
            config=config,
            env_kwargs=env_kwargs,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            tensorboard=args.tensorboard,
        )
    for key, value in metrics.items():
        print(f"{key:18s} {value}")
    print(f"wrote {out}/", file=sys.stderr)
    return 0
