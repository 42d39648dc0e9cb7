"""The course's supervised experiments, one per ``rlcourse supervised NAME`` command.

Each is a function ``(out, *, epochs=None, seed=0, progress=True, **options) -> metrics`` in its
model's module: it trains on offline data, writes its plots (and other files) into ``out``, and
returns the metrics; :func:`run` writes them to ``out/metrics.json``, once, after the experiment
returned. ``epochs=None`` is the default budget (under a minute here). A module with
one experiment names it ``experiment``; :mod:`supervised.classifiers` holds two,
``mlp_experiment`` and ``cnn_experiment``. Modules are imported on demand, so listing
experiments does not import torch.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from common.atomic import write_text

EXPERIMENTS: dict[str, tuple[str, str]] = {
    "regression": (
        "supervised.regression:experiment",
        "least squares to logistic regression (numpy)",
    ),
    "mlp": ("supervised.classifiers:mlp_experiment", "a multilayer perceptron: XOR, then digits"),
    "cnn": (
        "supervised.classifiers:cnn_experiment",
        "a convolutional classifier of digits (or your MNIST files)",
    ),
    "autoencoder": (
        "supervised.autoencoder:experiment",
        "dense 784-...-32 and convolutional autoencoders",
    ),
    "vae": ("supervised.vae:experiment", "a variational autoencoder with a 2-D latent space"),
    "gan": ("supervised.gan:experiment", "a small DCGAN on digits"),
    "rnn": (
        "supervised.rnn:experiment",
        "a character GRU/LSTM on stdlib docstrings (or --corpus FILE)",
    ),
    "style": (
        "supervised.style:experiment",
        "neural style transfer: --content IMG restyled after --style IMG",
    ),
    "transformer": (
        "supervised.transformer:experiment",
        "a character Transformer against the GRU, same parameters and seconds (--corpus FILE)",
    ),
    "upres": (
        "supervised.image_to_image:upres_experiment",
        "a U-Net up-sizes x2 or x4 (--factor), against nearest/bilinear/bicubic",
    ),
    "inpaint": (
        "supervised.image_to_image:inpaint_experiment",
        "a U-Net fills a centre or random hole (--mask), against mean fill and biharmonic",
    ),
    "colorize": (
        "supervised.image_to_image:colorize_experiment",
        "a U-Net colours a lightness image, against gray and the mean chroma",
    ),
    "interpolate": (
        "supervised.image_to_image:interpolate_experiment",
        "a U-Net makes frame 2 from frames 1 and 3, against averaging and repeating",
    ),
}
"""``name: ("module:function", description)`` of every experiment."""
IMAGE_TASKS = ("upres", "inpaint", "colorize", "interpolate")
"""The U-Net's image-to-image experiments (:mod:`supervised.image_to_image`); ``--images DIR``."""


def check_inputs(name: str, **options: Any) -> None:
    """Read and check the files experiment ``name`` is given, as it will read them.

    A command calls this before it claims its output directory, so that a bad MNIST file or
    corpus, or an image folder, is refused before anything is written (or replaced).

    Raises:
        DataError: naming the file and what is wrong with it.
    """
    if name == "cnn" and (options.get("mnist_images") or options.get("mnist_labels")):
        from supervised.classifiers import cnn_data

        cnn_data(options.get("seed", 0), options.get("mnist_images"), options.get("mnist_labels"))
    if name in ("rnn", "transformer") and options.get("corpus") is not None:
        from supervised.rnn import corpus_splits

        corpus_splits(options["corpus"])
    if name == "style":
        from supervised.style import style_inputs

        keys = ("content", "style", "size", "network", "weights", "seed")
        style_inputs(**{key: options[key] for key in keys if options.get(key) is not None})
    if name in IMAGE_TASKS and options.get("images") is not None:
        from supervised.image_to_image import split_images

        split_images(name, options["images"])


def run(
    name: str, out: str | os.PathLike, device: str | None = None, **options: Any
) -> dict[str, float]:
    """Run experiment ``name`` into ``out``, write its metrics to ``out/metrics.json``; return them.

    ``device``: where its torch models train (``auto``, ``cpu``, ``cuda[:N]``; None:
    :func:`common.devices.current`), recorded in ``metrics.json``; the regression
    experiment is numpy alone and records none.

    Raises:
        DeviceError: the device is not available.
    """
    from common import devices

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r} (experiments: {', '.join(EXPERIMENTS)})")
    module, function = EXPERIMENTS[name][0].split(":")
    function = getattr(importlib.import_module(module), function)
    if name == "regression":
        metrics = function(Path(out), **options)
    else:
        with devices.using(device) as chosen:
            metrics = function(Path(out), **options)
        metrics = {**metrics, "device": devices.describe(chosen)}
    save_metrics(out, metrics)
    return metrics


def save_metrics(directory: str | os.PathLike, metrics: dict[str, Any]) -> Path:
    """Write ``metrics.json`` into ``directory``: sorted keys, plain ints and floats."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "metrics.json"
    plain = {
        key: value.item() if isinstance(value, np.generic) else value
        for key, value in metrics.items()
    }
    return write_text(path, json.dumps(plain, indent=2, sort_keys=True) + "\n")
