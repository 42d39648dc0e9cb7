"""Fixtures of the rlcourse tests."""

from __future__ import annotations

import os
import shlex

import pytest
from rlcourse_helpers import CliResult

from rlcourse.cli import main


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``rlcourse.cli.main(argv)`` in-process; argparse's SystemExit becomes the exit code."""
    monkeypatch.delenv("RLCOURSE_DEBUG", raising=False)

    def run(*parts: str | os.PathLike) -> CliResult:
        """Strings are split like a shell would; paths are single arguments."""
        argv = [a for p in parts for a in (shlex.split(p) if isinstance(p, str) else [str(p)])]
        capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
