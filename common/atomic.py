"""The one way rlcourse writes a file or a directory: into a temporary sibling, then a rename.

A reader (or a run interrupted at any point) sees the old file or the new one, never a partial
one. This module sits in the base package, so that ``supervised`` (models, galleries,
experiment outputs) and ``rlcourse`` (results, checkpoints, sweeps, reports) share it.

>>> with atomic_path("model.pt") as temporary:   # doctest: +SKIP
...     torch.save(state, temporary)               # renamed to model.pt when the block ends
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = ".tmp-"
"""In the name of every temporary file :func:`atomic_path` makes (``.model.tmp-k3j_x0q1.pt``)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, directory: bool) -> None:
    """Give ``path`` the mode a plain ``open`` or ``mkdir`` would (``mkstemp`` makes it private)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make a rename inside ``directory`` durable (where the platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_RANDOM = "[a-z0-9_]{8}"
"""The random part of a name from :mod:`tempfile` (``mkstemp``, ``mkdtemp``)."""
_OWNER = r"(?:(?P<pid>[0-9]+)\.)?"
"""The id of the process that made a staging or aside directory (``.run.staging.4242.k3j_x0q1``)."""


def is_leftover(candidate: str, name: str) -> bool:
    """Whether ``candidate`` is a temporary that an interrupted write left beside ``name``.

    That is the file of :func:`atomic_path` or the directory of :func:`atomic_directory` when the
    process was killed before the rename (``candidate`` and ``name`` are plain names, not paths).
    """
    path = Path(name)
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    whole = re.escape(path.name)
    temporary = re.escape(TEMPORARY)
    pattern = rf"\.{stem}{temporary}{_RANDOM}{suffix}|\.{whole}\.(staging|old)\.{_OWNER}{_RANDOM}"
    return re.fullmatch(pattern, candidate) is not None


def leftover_owner(candidate: str, name: str) -> tuple[str, int] | None:
    """What a staging or aside directory ``candidate`` beside ``name`` is, and its maker's id.

    ``("staging", pid)`` or ``("old", pid)``; None when ``candidate`` is not such a directory's
    name or names no process.
    """
    whole = re.escape(Path(name).name)
    found = re.fullmatch(rf"\.{whole}\.(?P<kind>staging|old)\.{_OWNER}{_RANDOM}", candidate)
    return (found["kind"], int(found["pid"])) if found and found["pid"] else None


def _owned_by_me(kind: str, target: Path) -> str:
    """The prefix of a staging or aside directory beside ``target``, naming this process."""
    return f".{target.name}.{kind}.{os.getpid()}."


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it goes.

    The temporary name keeps the suffix of ``path`` (``.png``, ``.npz``), so writers that choose
    a format by the suffix (matplotlib) or add one (numpy) write what ``path`` asks for.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}{TEMPORARY}", suffix=path.suffix, dir=path.parent
    )
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        _usual_mode(temporary, directory=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write a binary file atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def replace_directory(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Make the directory ``new`` become ``target`` (a sibling), replacing an old ``target``.

    The old ``target`` is renamed aside, ``new`` renamed in, then the old one removed: an
    interruption at any point leaves the old directory or the new one (at worst the old one
    under its aside name, never neither and never a mixture).
    """
    new, target = Path(new), Path(target)
    aside = None
    if target.exists() or target.is_symlink():
        aside = Path(tempfile.mkdtemp(prefix=_owned_by_me("old", target), dir=target.parent))
        target.rename(aside / target.name)
    new.rename(target)
    fsync_directory(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def atomic_directory(
    target: str | os.PathLike, before_swap: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success it becomes ``target``.

    The swap is :func:`replace_directory`. On failure the staging directory goes and
    ``target`` is untouched. Callers decide beforehand whether ``target`` may be replaced, and
    ``before_swap(staging)``, called just before the swap, may still cancel it by raising (after
    moving the staging directory elsewhere, to keep it). The staging directory's name holds the
    id of this process (:func:`leftover_owner`), so that what a killed process left can be told
    from the work of one still running.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_owned_by_me("staging", target), dir=target.parent))
    _usual_mode(staging, directory=True)
    try:
        yield staging
        if before_swap is not None:
            before_swap(staging)
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
