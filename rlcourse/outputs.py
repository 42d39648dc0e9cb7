"""Output directories: refuse what is not rlcourse's, write into staging, swap in at the end.

Every command that writes a directory checks the target first (:func:`check_output_dir`), does
its work, and writes into a staging directory that replaces the target only when the writing
finished (:func:`prepare_output`): an interruption leaves the old directory or the new one.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

from rlcourse.errors import UsageError
from supervised.atomic import atomic_directory


def check_output_dir(target: Path, force: bool, marker: str = "manifest.json") -> None:
    """Refuse to write results over anything but an empty directory or, with ``force``, results.

    Even ``force`` never replaces a file or a non-empty directory without the ``marker`` file
    of a results directory: that would delete what is not ours.

    Raises:
        UsageError: saying what is in the way.
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory; choose another --out")
    if not any(target.iterdir()):
        return
    if not (target / marker).is_file():
        raise UsageError(f"{target} is a non-empty directory without results; choose another --out")
    if not force:
        raise UsageError(f"{target} already exists; choose another --out or pass --force")


def prepare_output(
    out: str | os.PathLike, force: bool, marker: str = "manifest.json"
) -> AbstractContextManager[Path]:
    """Check ``out`` now; return the context that stages the writing and then replaces ``out``.

    The check runs when this is called, so a command calls it before its long work and enters
    the context when it writes: the block gets an empty staging directory beside ``out``, which
    becomes ``out`` when the block ends without error (see
    :func:`supervised.atomic.atomic_directory`); on error ``out`` is left as it was.

    >>> with prepare_output("results/run", force=False) as staging:  # doctest: +SKIP
    ...     (staging / "metrics.json").write_text("{}")

    Raises:
        UsageError: ``out`` may not be written (see :func:`check_output_dir`).
    """
    check_output_dir(Path(out), force, marker)
    return atomic_directory(out)
