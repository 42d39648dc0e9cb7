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
    int_at_least,
    positive_float,
    positive_int,
    seed_int,
)
from rlcourse.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``supervised``."""
    from supervised.experiments import EXPERIMENTS

    p = sub.add_parser(
        "supervised",
        help="train a supervised model (regression ... GAN, RNN, Transformer, U-Nets, style)",
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
    p.add_argument(
        "--corpus", help="rnn, transformer: a UTF-8 text file (default: stdlib docstrings)"
    )
    p.add_argument("--cell", choices=("gru", "lstm"), default="gru", help="rnn: recurrent cell")
    p.add_argument(
        "--seconds",
        type=positive_float,
        help="transformer: CPU seconds each network trains (default 30; --epochs caps it too)",
    )
    p.add_argument(
        "--no-label-smoothing",
        dest="label_smoothing",
        action="store_false",
        help="gan: train the discriminator toward 1 on real images (default: 0.9, one-sided)",
    )
    add_style_options(p)
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


STYLE_FLAGS = ("content", "style", "size", "steps", "network", "weights", "style_weight")
"""The style experiment's options (``args`` attributes); the other experiments refuse them."""


def add_style_options(p: argparse.ArgumentParser) -> None:
    """The style experiment's options."""
    g = p.add_argument_group("style (neural style transfer)")
    g.add_argument("--content", help="style: the image to restyle (default: skimage's astronaut)")
    g.add_argument(
        "--style",
        help="style: the image whose style to copy (default: skimage's immunohistochemistry)",
    )
    g.add_argument(
        "--size",
        type=int_at_least(32, "≥ 32"),
        help="style: pixels of the images' longer side (default 256)",
    )
    g.add_argument("--steps", type=positive_int, help="style: L-BFGS iterations (default 50)")
    g.add_argument(
        "--network",
        choices=("random", "mtcnn", "vgg19"),
        help="style: the feature network (default: vgg19 with --weights, else random "
        "convolutions; mtcnn: the face detector's pretrained O-Net)",
    )
    g.add_argument(
        "--weights",
        help="style: a VGG-19 state dict file in torchvision's layout (features.N.weight/bias)",
    )
    g.add_argument(
        "--style-weight",
        type=positive_float,
        help="style: weight of the style loss against the content loss's 1 (default 10)",
    )


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
    elif args.cell != "gru":
        raise UsageError("--cell is an option of the rnn experiment")
    if args.name == "transformer":
        options.update(corpus=args.corpus, seconds=args.seconds)
    elif args.seconds is not None:
        raise UsageError("--seconds is an option of the transformer experiment")
    if args.corpus and args.name not in ("rnn", "transformer"):
        raise UsageError("--corpus is an option of the rnn and transformer experiments")
    if args.name == "gan":
        options.update(label_smoothing=args.label_smoothing)
    elif not args.label_smoothing:
        raise UsageError("--no-label-smoothing is an option of the gan experiment")
    given = [flag for flag in STYLE_FLAGS if getattr(args, flag) is not None]
    if args.name == "style":
        if args.epochs is not None:
            raise UsageError("style has no --epochs; its budget is --steps (L-BFGS iterations)")
        options.update({flag: getattr(args, flag) for flag in given})
    elif given:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        raise UsageError(f"{flags}: options of the style experiment")
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
