"""The stamp, ``.rlcourse.json``: what marks a directory as rlcourse's and lists what it wrote.

The stamp lists only what rlcourse wrote: a file, or a folder's name ending in ``/`` (``plots/``:
a folder rlcourse makes, listing none of what it holds, so that someone's ``plots/notes.md``
stays theirs). What is not listed is someone else's (:func:`foreign_files`), except the
temporaries that interrupted writes of listed files leave (:func:`leftovers`).
:mod:`rlcourse.outputs` decides from it what ``--force`` may replace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common.atomic import is_leftover, write_text
from rlcourse.errors import UsageError

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


@contextmanager
def listed_as_written(directory: Path, folder: str) -> Iterator[None]:
    """List in the stamp of ``directory`` the files the block makes in its ``folder``.

    For files named by someone else's code (TensorBoard's event files): the folder (as
    ``folder/``) and each new file join the stamp, never what was there before.
    """
    where = Path(directory) / folder
    before = set(written_files(where)) if where.is_dir() else set()
    yield
    made = set(written_files(where)) - before if where.is_dir() else set()
    add_to_stamp(Path(directory), f"{folder}/", *(f"{folder}/{name}" for name in made))


def drop_unwritten(directory: Path) -> None:
    """Keep in the stamp of ``directory`` only what is there (what a run listed, then wrote)."""
    stamp = read_stamp(directory)
    if stamp is not None:
        there = [name for name in stamp["files"] if _exists(directory / name)]
        if there != stamp["files"]:
            stamp["files"] = there
            write_text(directory / STAMP, json.dumps(stamp, indent=2) + "\n")


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def read_stamp(directory: Path) -> dict[str, Any] | None:
    """The stamp of ``directory``; None when it has none or one that is not rlcourse's."""
    from rlcourse.reading import read_json

    try:
        payload = read_json(directory / STAMP)
    except UsageError:  # missing, damaged or nested too deeply: not a stamp
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
    ours = [*stamp["files"], *leftovers(directory)]  # a listed folder covers what it holds
    return [
        name for name in written_files(directory) if not any(_within(name, entry) for entry in ours)
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
