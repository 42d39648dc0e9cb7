"""``rlcourse restore report``: the per-pixel DQN beside classical restorers and a U-Net."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from rlcourse.cli.common import (
    Parser,
    add_device_option,
    announce_device,
    chosen_device,
    command_line,
    int_at_least,
    seed_int,
)

TASK_CHOICES = ("denoise", "inpaint", "upres")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``restore`` and its ``report`` action."""
    p = sub.add_parser(
        "restore",
        help="image restoration as RL: in-painting and up-resing (and denoising)",
        description="Image restoration tasks as per-pixel reinforcement learning.",
    )
    actions = p.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    r = actions.add_parser(
        "report",
        help="train and measure the per-pixel DQN, classical methods and a U-Net on a task",
        description=cmd_restore.__doc__,
        epilog="example: rlcourse restore report --task inpaint --out results/restore-inpaint",
    )
    r.add_argument(
        "--task",
        choices=TASK_CHOICES,
        required=True,
        help="inpaint (a centre or random hole), upres (×factor), or denoise (the denoise report)",
    )
    r.add_argument(
        "--mask",
        choices=("centre", "random"),
        default="centre",
        help="inpaint: the course's centre hole or one at a random place per crop (default centre)",
    )
    r.add_argument(
        "--factor",
        type=int_at_least(2, ">= 2"),
        default=2,
        help="upres: the up-sizing factor (default 2; the crop of 48 must divide by it)",
    )
    r.add_argument("--out", help="output directory (default results/restore-TASK)")
    r.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of seconds")
    r.add_argument("--seed", type=seed_int, default=0, help="seed of everything (default 0)")
    r.add_argument("--force", action="store_true", help="overwrite an existing --out")
    add_device_option(r)
    r.set_defaults(func=cmd_restore)


def cmd_restore(args) -> int:
    """Train what the report needs, measure every method on held-out crops, write the report.

    --task denoise is `rlcourse denoise report` (σ 25). The options are checked before --out is
    claimed; the report is written into a staging directory that replaces --out when complete.
    """
    if args.task == "denoise":
        from rlcourse.cli.denoise import cmd_denoise

        args.sigma = 25.0
        args.out = args.out or "results/restore-denoise"
        return cmd_denoise(args)
    from rlcourse.outputs import prepare_output
    from rlcourse.restore.config import QUICK, RestoreConfig
    from rlcourse.restore.report import restore_report

    config = RestoreConfig(args.task, args.mask, args.factor, seed=args.seed)  # options checked
    if args.quick:
        config = replace(config, **QUICK)
    out = Path(args.out or f"results/restore-{args.task}")
    device = chosen_device(args)
    with prepare_output(out, args.force) as staging:
        announce_device(device)
        metrics = restore_report(staging, config, command=command_line(args), device=device)
    for method, row in metrics["scores"].items():
        hole = f"  hole {row['psnr_hole']:6.2f} dB" if "psnr_hole" in row else ""
        print(f"{method:20s} {row['psnr']:7.2f} dB  SSIM {row['ssim']:.3f}{hole}")
    print(f"wrote {out}/ (metrics.csv, report.png, metrics.json)", file=sys.stderr)
    return 0
