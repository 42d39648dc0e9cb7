"""Output directories: refuse what is not rlcourse's, write into staging, swap in at the end.

Every command that writes a directory checks the target first (:func:`check_output_dir`), does
its work, and writes into a staging directory that replaces the target only when the writing
finished (:func:`prepare_output`): an interruption leaves the old directory or the new one.

Every directory rlcourse writes holds a stamp, ``.rlcourse.json``, listing the files it wrote.
``--force`` replaces a directory only when it holds that stamp and nothing the stamp does not
list: a folder someone made by hand, or one where a file was added since (``thesis.tex``), is
refused and left as it is.

A command that writes one file (a plot, a gallery) checks it with :func:`check_output_file`.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from rlcourse.errors import UsageError
from supervised.atomic import atomic_directory, is_leftover, replace_directory, write_text

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


def check_output_dir(target: Path, force: bool) -> None:
    """Refuse to write results over anything but an empty directory or, with ``force``, ours.

    Even ``force`` replaces only a directory that rlcourse wrote (its stamp) and that holds
    nothing else: anything more would delete what is not ours.

    Raises:
        UsageError: saying what is in the way.
    """
    target = Path(target)
    _check_parents(target, "--out")
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


def check_output_file(target: Path, force: bool, flag: str = "--out") -> None:
    """Refuse to write a file (a plot, a gallery) over anything but nothing or, with force, a file.

    The file is then written temp + rename (:func:`supervised.atomic.atomic_path`), creating
    missing parent folders.

    Raises:
        UsageError: a parent that is a file, a symbolic link, a directory, or an existing file
            without ``force``.
    """
    target = Path(target)
    _check_parents(target, flag)
    if target.is_symlink():
        raise UsageError(f"{target} is a symbolic link; choose another {flag}")
    if target.is_dir():
        raise UsageError(f"{target} is a directory; {flag} takes a file name")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; choose another {flag} or pass --force")


def _check_parents(target: Path, flag: str) -> None:
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(
                f"{parent} is a file, so {flag} {target} cannot be made; choose another"
            )


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
    check_not_in_use(Path(out))
    check_output_dir(Path(out), force)
    return _stamped(Path(out), command)


def check_not_in_use(target: Path, flag: str = "--out") -> None:
    """Refuse an output directory that is the working folder or holds it.

    Such a directory cannot be swapped for its new version (a rename of the folder in use fails
    or leaves the working folder behind), so it is refused before any work is done.

    Raises:
        UsageError: ``target`` is, or holds, the working folder.
    """
    here = Path.cwd().resolve()
    if target.resolve() in (here, *here.parents):
        raise UsageError(
            f"{flag} {target} is the folder you are working in, or holds it, and cannot be "
            f"replaced while in use; run from another folder or choose another {flag}"
        )


@contextmanager
def _stamped(out: Path, command: str | None):
    with atomic_directory(out) as staging:
        yield staging
        write_stamp(staging, command)


class ResumableOutput:
    """The output of a long run that checkpoints: ``OUT.partial/`` while it runs, ``OUT/`` after.

    A run killed at any moment leaves ``OUT.partial/`` (stamped, every file written atomically)
    to resume from; the finished run replaces ``OUT`` the way :func:`prepare_output` does.
    """

    def __init__(self, out: Path, flag: str = "--out"):
        check_not_in_use(Path(out), flag)
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")

    def check_new(self, force: bool) -> None:
        """Refuse to start a new run over anything but what ``force`` may replace.

        Raises:
            UsageError: ``OUT`` may not be written, or an interrupted run is in the way.
        """
        check_output_dir(self.out, force)
        if not (self.partial.exists() or self.partial.is_symlink()):
            return
        try:
            check_output_dir(self.partial, force=True)
        except UsageError as err:
            raise UsageError(
                f"{err} (it is in the way of this run's {self.partial.name})"
            ) from None
        if not force:
            raise UsageError(
                f"{self.partial} holds an interrupted run: continue it with --resume {self.out}, "
                "or pass --force to start over"
            )

    def start(self, command: str | None, planned: tuple[str, ...] = ()) -> Path:
        """An empty ``OUT.partial/``, stamped with the files the run will write (``planned``).

        Listing them first means a run killed mid-write leaves nothing unlisted. An
        interrupted run there goes (the caller checked that it may, :meth:`check_new`).
        """
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True)
        write_stamp(self.partial, command)
        add_to_stamp(self.partial, *planned)
        return self.partial

    def holder(self) -> Path:
        """The directory that holds the run to resume, checked to be rlcourse's.

        ``OUT.partial/`` (an interrupted run), else ``OUT/`` (a finished one, to train on).

        Raises:
            UsageError: neither holds a run, or the one that does is not rlcourse's alone.
        """
        if self.partial.exists() or self.partial.is_symlink():
            check_output_dir(self.partial, force=True)
            return self.partial
        if (self.out / "resume.pt").is_file():
            check_output_dir(self.out, force=True)
            return self.out
        raise UsageError(
            f"no run to resume at {self.out}: neither {self.partial.name}/ nor a finished "
            "training run there"
        )

    def resumable(self, held: Path) -> Path:
        """``OUT.partial/``, ready for the run to go on in.

        Cleared of half-done writes, or copied from the finished ``OUT/`` that :meth:`holder`
        returned (the caller checked that the run has steps left).
        """
        if held == self.partial:
            for name in leftovers(self.partial):  # what a killed write left half done
                path = self.partial / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            shutil.copytree(self.out, self.partial, symlinks=True)
        return self.partial

    @contextmanager
    def interruptible(self):
        """Ctrl-C inside: say where the last checkpoint is and how to continue."""
        try:
            yield
        except KeyboardInterrupt:
            raise KeyboardInterrupt(
                f"the last checkpoint is in {self.partial}/: continue with "
                f"rlcourse train dqn --resume {self.out}"
            ) from None

    def finish(self) -> None:
        """``OUT.partial/`` becomes ``OUT/`` (replacing a finished run of ours).

        Raises:
            UsageError: something not ours appeared at ``OUT`` meanwhile (the run stays in
                ``OUT.partial/``).
        """
        try:
            check_output_dir(self.out, force=True)
        except UsageError as err:
            raise UsageError(f"{err}; the finished run stays in {self.partial}/") from None
        replace_directory(self.partial, self.out)
