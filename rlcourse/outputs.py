"""Output directories: refuse what is not rlcourse's, write into staging, swap in at the end.

Every command that writes a directory checks the target first (:func:`check_output_dir`), does
its work, and writes into a staging directory that replaces the target only when the writing
finished (:func:`prepare_output`): an interruption leaves the old directory or the new one.

Every directory rlcourse writes holds a stamp, ``.rlcourse.json``, listing the files it wrote.
``--force`` replaces a directory only when it holds that stamp and nothing the stamp does not
list: a folder someone made by hand, or one where a file was added since (``thesis.tex``), is
refused and left as it is.
"""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from rlcourse.errors import UsageError
from supervised.atomic import atomic_directory, is_leftover, write_text

STAMP = ".rlcourse.json"
"""The file that marks a directory as written by rlcourse, with the list of what it wrote."""


def written_files(directory: Path) -> list[str]:
    """Every file under ``directory`` (relative POSIX paths, sorted), the stamp left out."""
    return sorted(
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.name != STAMP and (path.is_file() or path.is_symlink())
    )


def write_stamp(directory: Path, command: str | None = None, **fields: Any) -> None:
    """Mark ``directory`` as rlcourse's, listing every file now in it (atomically)."""
    payload = {"written_by": "rlcourse", "command": command, **fields}
    payload["files"] = written_files(directory)
    write_text(directory / STAMP, json.dumps(payload, indent=2) + "\n")


def add_to_stamp(directory: Path, *names: str) -> None:
    """List files rlcourse just wrote into a stamped ``directory`` (a later ``evaluate``, …).

    Only the named files join the list, never what someone else put there meanwhile.
    """
    stamp = read_stamp(directory)
    if stamp is not None:
        stamp["files"] = sorted(set(stamp["files"]) | set(names))
        write_text(directory / STAMP, json.dumps(stamp, indent=2) + "\n")


def read_stamp(directory: Path) -> dict[str, Any] | None:
    """The stamp of ``directory``; None when it has none or one that is not rlcourse's."""
    try:
        payload = json.loads((directory / STAMP).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(payload, dict) or payload.get("written_by") != "rlcourse":
        return None
    files = payload.get("files")
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return payload


def foreign_files(directory: Path) -> list[str] | None:
    """Files in ``directory`` that its stamp does not list (None: no valid stamp at all).

    Temporaries of interrupted writes (:func:`leftovers`) are rlcourse's, not foreign.
    """
    stamp = read_stamp(directory)
    if stamp is None:
        return None
    listed = set(stamp["files"])
    temporary = leftovers(directory)
    return [
        name
        for name in written_files(directory)
        if name not in listed and not any(_within(name, entry) for entry in temporary)
    ]


def _within(name: str, entry: str) -> bool:
    """Whether the relative path ``name`` is ``entry`` or lies under it."""
    return name == entry or name.startswith(f"{entry}/")


def leftovers(directory: Path) -> list[str]:
    """What interrupted writes left in a stamped ``directory`` (relative POSIX paths, sorted).

    A command that writes into its stamped directory as it goes (a sweep's units, ``evaluate``)
    writes each file as a temporary beside it, then renames it: a kill before the rename leaves
    the temporary (a file, or a staging directory), named after a file or folder the stamp lists.
    """
    stamp = read_stamp(directory)
    if stamp is None:
        return []
    known: dict[str, set[str]] = {}  # what each folder holds by the stamp: {"": {"units"}, ...}
    for listed in [*stamp["files"], STAMP]:
        parts = listed.split("/")
        for depth, part in enumerate(parts):
            known.setdefault("/".join(parts[:depth]), set()).add(part)
    found: list[str] = []
    for path in sorted(directory.rglob(".*")):
        name = path.relative_to(directory).as_posix()
        if any(_within(name, entry) for entry in found):
            continue
        parent, _, base = name.rpartition("/")
        if any(is_leftover(base, listed) for listed in known.get(parent, ())):
            found.append(name)
    return found


def check_output_dir(target: Path, force: bool) -> None:
    """Refuse to write results over anything but an empty directory or, with ``force``, ours.

    Even ``force`` replaces only a directory that rlcourse wrote (its stamp) and that holds
    nothing else: anything more would delete what is not ours.

    Raises:
        UsageError: saying what is in the way.
    """
    target = Path(target)
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(
                f"{parent} is a file, so --out {target} cannot be made; choose another"
            )
    if target.is_symlink():
        raise UsageError(
            f"{target} is a symbolic link; give the directory itself (or a new one) as --out"
        )
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory; choose another --out")
    if not any(target.iterdir()):
        return
    foreign = foreign_files(target)
    if foreign is None:
        raise UsageError(
            f"{target} is a non-empty directory not written by rlcourse (no {STAMP}); "
            "choose another --out"
        )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise UsageError(
            f"{target} holds files rlcourse did not write ({shown}); choose another --out"
        )
    if not force:
        raise UsageError(f"{target} already exists; choose another --out or pass --force")


def prepare_output(
    out: str | os.PathLike, force: bool, command: str | None = None
) -> AbstractContextManager[Path]:
    """Check ``out`` now; return the context that stages the writing and then replaces ``out``.

    The check runs when this is called, so a command calls it after validating its inputs and
    before its long work, and enters the context when it writes: the block gets an empty
    staging directory beside ``out``, which is stamped and becomes ``out`` when the block ends
    without error (see :func:`supervised.atomic.atomic_directory`); on error ``out`` is left as
    it was.

    >>> with prepare_output("results/run", force=False) as staging:  # doctest: +SKIP
    ...     (staging / "metrics.json").write_text("{}")

    Raises:
        UsageError: ``out`` may not be written (see :func:`check_output_dir`).
    """
    check_output_dir(Path(out), force)
    return _stamped(Path(out), command)


@contextmanager
def _stamped(out: Path, command: str | None):
    with atomic_directory(out) as staging:
        yield staging
        write_stamp(staging, command)
