"""``rlcourse supervised NAME``: train one of the course's supervised models into a directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rlcourse.cli.common import (
    add_device_option,
    announce_device,
    chosen_device,
    positive_int,
    seed_int,
)
from rlcourse.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``supervised``."""
    from supervised.experiments import EXPERIMENTS

    p = sub.add_parser(
        "supervised",
        help="train a supervised model (regression ... GAN, RNN, image-to-image U-Nets)",
        description=cmd_supervised.__doc__,
        epilog="experiments: " + "; ".join(f"{k}: {v[1]}" for k, v in EXPERIMENTS.items()),
    )
    p.add_argument("name", choices=list(EXPERIMENTS), help="which model")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the model's)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed (default 0)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    add_device_option(p)
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
    p.add_argument(
        "--images",
        help="upres, inpaint, colorize, interpolate: a folder of images, its last quarter by "
        "file name held out (default: scikit-image's pictures, split as the denoise env's)",
    )
    p.add_argument("--factor", type=int, choices=(2, 4), help="upres: up-sizing factor (default 2)")
    p.add_argument(
        "--mask",
        choices=("centre", "random"),
        help="inpaint: the course's centre square (default) or random rectangles",
    )
    p.set_defaults(func=cmd_supervised)


def cmd_supervised(args) -> int:
    """Train one of the course's supervised models; write metrics.json and plots into --out.

    The options and the files they name are checked before --out is claimed.
    """
    from rlcourse.outputs import prepare_output
    from supervised.experiments import check_inputs, run

    out = Path(args.out)
    options = experiment_options(args)
    check_inputs(args.name, **options)
    device = chosen_device(args) if args.name != "regression" else None
    staged = prepare_output(out, args.force)
    with staged as staging:
        if device:
            announce_device(device)
        metrics = run(args.name, staging, device=device, **options)
    width = max(map(len, metrics), default=0)
    for key, value in metrics.items():
        print(
            f"{key:{width}s}  {value:.4g}"
            if isinstance(value, float)
            else f"{key:{width}s}  {value}"
        )
    print(f"wrote {out}/", file=sys.stderr)
    return 0


def experiment_options(args) -> dict[str, Any]:
    """The experiment's keyword arguments; an option of another experiment is refused.

    Raises:
        UsageError: naming the option and the experiment it belongs to.
    """
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
    return options | image_options(args)


def image_options(args) -> dict[str, Any]:
    """``--images``, ``--factor``, ``--mask``: options of the image-to-image experiments.

    Raises:
        UsageError: one of them given to an experiment that does not take it.
    """
    from supervised.experiments import IMAGE_TASKS

    options: dict[str, Any] = {}
    if args.images is not None:
        if args.name not in IMAGE_TASKS:
            raise UsageError(f"--images is an option of the {', '.join(IMAGE_TASKS)} experiments")
        options["images"] = args.images
    if args.factor is not None:
        if args.name != "upres":
            raise UsageError("--factor is an option of the upres experiment")
        options["factor"] = args.factor
    if args.mask is not None:
        if args.name != "inpaint":
            raise UsageError("--mask is an option of the inpaint experiment")
        options["mask"] = args.mask
    return options
