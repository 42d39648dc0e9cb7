"""What the commands share: the parser class, argument types, KEY=VALUE pairs, the summary table.

Light on purpose (no numpy, pandas or torch at import): ``rlcourse --help`` builds every
command's parser. The output directory a command writes is :func:`rlcourse.outputs.prepare_output`.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rlcourse.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (with a pointer to --help) and exit status 2."""

    def error(self, message):
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_at_least(minimum: int, what: str) -> Callable[[str], int]:
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


def finite_float(text: str) -> float:
    """An argparse type: a finite number (``nan``, ``inf`` and ``-inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


positive_int = int_at_least(1, "positive")
"""Counts: runs, steps, episodes, epochs, workers."""
seed_int = int_at_least(0, "non-negative")
"""Seeds."""


def literal(text: str) -> Any:
    """A value as typed: ``true``/``false``, ``none``, an integer, a float, else the string."""
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


def nonempty(text: str) -> str:
    """A value kept as the string it is; an empty one is refused (ValueError)."""
    if not text:
        raise ValueError("empty value")
    return text


def parse_pairs(
    items: list[str] | None, flag: str, convert: Callable[[str], Any] = literal
) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict, each value through ``convert``.

    Args:
        items: the strings as the user typed them (None: none given).
        flag: the option they came from, for the message (``--env-kwargs``).
        convert: turns a value's text into the value; a ValueError refuses the item.

    Raises:
        UsageError: ``FLAG takes KEY=VALUE, got 'ITEM'`` for an item without a key or an ``=``,
            or with a value ``convert`` refuses.
    """
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        try:
            if not (sep and key):
                raise ValueError(item)
            pairs[key] = convert(value)
        except ValueError:
            raise UsageError(f"{flag} takes KEY=VALUE, got {item!r}") from None
    return pairs


def add_wrapper_option(parser: argparse.ArgumentParser) -> None:
    """``--wrapper module:Class[:KEY=VALUE,...]``, repeatable, applied in order."""
    parser.add_argument(
        "--wrapper",
        action="append",
        default=[],
        metavar="MODULE:CLASS[:K=V,...]",
        help="a Gymnasium wrapper for the env (repeatable, applied in order), e.g. "
        "gymnasium.wrappers:FrameStackObservation:stack_size=4",
    )


def add_gym_package_option(parser: argparse.ArgumentParser) -> None:
    """``--gym-package NAME``, repeatable: installed packages imported to register their ids."""
    parser.add_argument(
        "--gym-package",
        action="append",
        default=[],
        metavar="NAME",
        help="an installed package to import first so that it registers its env ids "
        "(repeatable), e.g. highway_env; never one from the working folder",
    )


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device auto|cpu|cuda[:N]``: where the command's torch models run."""
    parser.add_argument(
        "--device",
        metavar="auto|cpu|cuda[:N]",
        help="where torch models run (default auto: CUDA when available, else the CPU)",
    )


def chosen_device(args: argparse.Namespace) -> str:
    """The device ``--device`` names on this machine (checked with the other inputs).

    Raises:
        DeviceError: a bad name, or CUDA asked for where there is none (one line, exit 2).
    """
    from common import devices

    return str(devices.resolve(args.device or "auto"))


def announce_device(device: str) -> None:
    """Say on stderr where the work is about to run (``device: cuda:0 (NVIDIA H200)``)."""
    from common import devices

    print(f"device: {devices.describe(devices.resolve(device))}", file=sys.stderr)


def print_summary(table: pd.DataFrame, heading: str) -> None:
    """Print ``heading``, then ``table`` with the mean (and IQM) to three decimals.

    ``ci_low`` and ``ci_high`` are shown as one ``95% CI`` column after the mean; the columns
    before ``mean`` (env, agent, metric) come first and ``n`` last.
    """
    table = table.copy()
    table["95% CI"] = [
        f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(table.ci_low, table.ci_high, strict=True)
    ]
    numbers = [column for column in ("mean", "iqm") if column in table]
    for column in numbers:
        table[column] = table[column].map("{:.3f}".format)
    labels = list(table.columns[: table.columns.get_loc("mean")])
    print(heading)
    print(table[[*labels, "mean", "95% CI", *numbers[1:], "n"]].to_string(index=False))


def command_line(args: argparse.Namespace) -> str:
    """The command as typed, for manifests: ``rlcourse compare bandit ...``."""
    return shlex.join(["rlcourse", *args.argv])
