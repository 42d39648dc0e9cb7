"""``rlcourse denoise report``: train and measure every denoiser; write the PSNR table, a figure."""

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
    seed_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``denoise`` and its ``report`` action."""
    p = sub.add_parser(
        "denoise",
        help="image denoising: filters, DnCNN and DQN agents",
        description="Image denoising as reinforcement learning (PixelRL-style).",
    )
    actions = p.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    r = actions.add_parser(
        "report",
        help="train and measure every denoiser; write psnr.csv and report.png",
        description=cmd_denoise.__doc__,
        epilog="example: rlcourse denoise report --sigma 25 --out results/denoise-25",
    )
    r.add_argument(
        "--sigma", type=float, default=25.0, help="noise std in grey levels (default 25)"
    )
    r.add_argument("--out", help="output directory (default results/denoise-sigmaS)")
    r.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of a minute")
    r.add_argument("--seed", type=seed_int, default=0, help="seed of everything (default 0)")
    r.add_argument("--force", action="store_true", help="overwrite an existing --out")
    add_device_option(r)
    r.set_defaults(func=cmd_denoise)


def cmd_denoise(args) -> int:
    """Train what the report needs, measure every method on held-out crops, write the report.

    The options are checked before --out is claimed; the report is written into a staging
    directory that replaces --out when it is complete.
    """
    from rlcourse.denoise.config import QUICK, ReportConfig
    from rlcourse.denoise.report import denoise_report
    from rlcourse.outputs import prepare_output

    config = ReportConfig(sigma=args.sigma, seed=args.seed)  # every option checked here
    if args.quick:
        config = replace(config, **QUICK)
    out = Path(args.out or f"results/denoise-sigma{args.sigma:g}")
    device = chosen_device(args)
    with prepare_output(out, args.force) as staging:
        announce_device(device)
        metrics = denoise_report(staging, config, command=command_line(args), device=device)
    for method, value in metrics["psnr"].items():
        print(f"{method:24s} {value:7.2f} dB")
    print(f"wrote {out}/ (psnr.csv, report.png, metrics.json)", file=sys.stderr)
    return 0
