"""The ``rlcourse`` command line: one entry point, subcommands, ``--help`` on each.

Each command is a module of this package with one ``register(sub)`` that adds its parser (and
sets ``func``, the function that runs it); :mod:`rlcourse.cli.common` holds what they share.
Bad input gives one line on stderr and exit status 2; set ``RLCOURSE_DEBUG=1`` for a traceback.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

from agents import SpecError
from common.devices import DeviceError
from rlcourse.cli import (
    aggregate,
    compare,
    denoise,
    evaluate,
    faces,
    figure,
    listing,
    plot,
    restore,
    supervised,
    sweep,
    train,
)
from rlcourse.cli.common import Parser
from rlcourse.errors import UsageError
from supervised.data import DataError

COMMANDS = (
    listing,
    compare,
    plot,
    aggregate,
    figure,
    train,
    evaluate,
    sweep,
    supervised,
    faces,
    denoise,
    restore,
)
"""The command modules, in the order ``rlcourse --help`` lists them."""


def build_parser() -> Parser:
    """All subcommands and their options."""
    parser = Parser(prog="rlcourse", description="Compare reinforcement-learning agents.")
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    for command in COMMANDS:
        command.register(sub)
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
    # the warnings before say less than the error
    except (UsageError, SpecError, DataError, DeviceError) as err:
        if os.environ.get("RLCOURSE_DEBUG"):
            raise
        print(f"rlcourse {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        said = str(err) or "nothing was saved"
        print(f"rlcourse {args.command}: interrupted; {said}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rlcourse agents | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
