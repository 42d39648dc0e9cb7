"""Fixtures of the rlcourse tests."""

from __future__ import annotations

import pytest
from rlcourse_helpers import CliResult

from rlcourse.cli import main


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``rlcourse.cli.main(argv)`` in-process; argparse's SystemExit becomes the exit code."""
    monkeypatch.delenv("RLCOURSE_DEBUG", raising=False)

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
