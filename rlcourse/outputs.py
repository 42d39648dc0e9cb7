"""Output directories: refuse what is not rlcourse's, write into staging, swap in at the end.

Every command that writes a directory checks the target first (:func:`check_output_dir`), does
its work, and writes into a staging directory that replaces the target only when the writing
finished (:func:`prepare_output`): an interruption leaves the old directory or the new one.

Every directory rlcourse writes holds a stamp, ``.rlcourse.json``, listing the files it wrote
(:mod:`rlcourse.stamps`; its functions are found here too).
``--force`` replaces a directory only when it holds that stamp and nothing the stamp does not
list: a folder someone made by hand, or one where a file was added since (``thesis.tex``), is
refused and left as it is. The stamp lists only what rlcourse wrote: a file, or a folder's name
ending in ``/`` (``plots/``: a folder rlcourse makes, listing none of what it holds, so that
someone's ``plots/notes.md`` stays theirs). The target is checked again just before the swap.

A command that writes one file (a plot, a gallery) checks it with :func:`check_output_file`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from common.atomic import atomic_directory, leftover_owner, replace_directory
from rlcourse.errors import UsageError
from rlcourse.reading import parse_json

# The stamp's functions are found here too, as part of claiming an output.
from rlcourse.stamps import (  # noqa: F401
    STAMP,
    _exists,
    add_to_stamp,
    drop_unwritten,
    foreign_files,
    leftovers,
    listed_as_written,
    read_stamp,
    write_stamp,
    written_files,
)


def check_output_dir(target: Path, force: bool) -> None:
    """Refuse to write results over anything but an empty directory or, with ``force``, ours.

    Even ``force`` replaces only a directory that rlcourse wrote (its stamp) and that holds
    nothing else: anything more would delete what is not ours.

    Raises:
        UsageError: saying what is in the way.
    """
    target = Path(target)
    _check_parents(target, "--out")
    obstacle = _obstacle(target, force)
    if obstacle is not None:
        what, advice = obstacle
        raise UsageError(f"{target} {what}; {advice}")


def _obstacle(target: Path, force: bool) -> tuple[str, str] | None:
    """Why ``target`` may not be replaced (what is there, what to do), or None."""
    if target.is_symlink():
        return "is a symbolic link", "give the directory itself (or a new one) as --out"
    if not target.exists():
        return None
    if not target.is_dir():
        return "exists and is not a directory", "choose another --out"
    if not any(target.iterdir()):
        return None
    foreign = foreign_files(target)
    if foreign is None:
        return f"is a non-empty directory not written by rlcourse (no {STAMP})", (
            "choose another --out"
        )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        return f"holds files rlcourse did not write ({shown})", "choose another --out"
    if not force:
        return "already exists", "choose another --out or pass --force"
    return None


def check_unchanged(target: Path, force: bool, staging: Path) -> None:
    """Just before ``staging`` replaces ``target``: refuse if ``target`` changed meanwhile.

    A file someone added to ``target`` while the command worked (or a directory made there) is
    never deleted by the swap: the new results are moved to ``TARGET.new/`` (or ``.new-2``, …)
    and kept, and ``target`` is left as it is.

    Raises:
        UsageError: what appeared, and where both now are.
    """
    obstacle = _obstacle(Path(target), force)
    if obstacle is None:
        return
    kept = _kept_name(Path(target))
    staging.rename(kept)
    raise UsageError(
        f"{target} {obstacle[0]}, which changed while this command ran; it was left as it is "
        f"and the new results are in {kept}/"
    )


def _kept_name(target: Path) -> Path:
    for n in range(1, 1000):
        kept = target.with_name(f"{target.name}.new" + (f"-{n}" if n > 1 else ""))
        if not _exists(kept):
            return kept
    raise UsageError(f"too many {target.name}.new-N beside {target}; remove some")


def clean_leftovers(target: Path) -> list[Path]:
    """Remove what killed rlcourse processes left beside ``target``; return what went.

    That is a staging directory (``.TARGET.staging.PID.XXXXXXXX``) of a process that is gone,
    and the old ``TARGET`` a killed swap had set aside (``.TARGET.old.PID.XXXXXXXX``) once
    ``TARGET`` is there again. Directories of a living process, or without a process id in
    their name, are left alone.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return []
    removed = []
    for path in sorted(target.parent.iterdir()):
        owner = leftover_owner(path.name, target.name)
        if owner is None or path.is_symlink() or not path.is_dir() or process_alive(owner[1]):
            continue
        if owner[0] == "old" and not _exists(target):
            continue  # the swap was killed half way: the old one is all there is
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


@contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold the lock of ``target`` (``.TARGET.lock`` beside it) for a block.

    One rlcourse command at a time writes a long-lived output (a training run, a sweep). The
    lock is :func:`fcntl.flock` on that file, which holds the process id and host of its holder
    (plain bytes in the locked file itself, not an atomic write: the lock is the file). A lock
    whose holder is dead is taken over: the system drops a dead process's ``flock``, and a lock
    still held in the name of a process of this host that is gone (its children inherited it)
    is replaced. Where :mod:`fcntl` is missing (Windows) nothing is locked.

    Raises:
        UsageError: another process holds it (naming its pid and host).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    target = Path(target)
    path = target.with_name(f".{target.name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            if holder and holder[1] == socket.gethostname() and not process_alive(holder[0]):
                path.unlink(missing_ok=True)  # held by what a dead process left running
                continue
            who = f"pid {holder[0]} on {holder[1]}" if holder else "pid unknown"
            raise UsageError(
                f"{target} is being written by another rlcourse process ({who}); wait for it to end"
            ) from None
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)  # its holder removed it as it ended: lock the file there now
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _lock_holder(fd: int) -> tuple[int, str] | None:
    try:
        payload = parse_json(os.pread(fd, 4096, 0).decode() or "null", "lock")
        return int(payload["pid"]), str(payload["host"])
    except (OSError, UsageError, ValueError, TypeError, KeyError):  # not a holder rlcourse wrote
        return None


def check_output_file(target: Path, force: bool, flag: str = "--out") -> None:
    """Refuse to write a file (a plot, a gallery) over anything but nothing or, with force, a file.

    The file is then written temp + rename (:func:`common.atomic.atomic_path`), creating
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
    without error (see :func:`common.atomic.atomic_directory`); on error ``out`` is left as
    it was.

    >>> with prepare_output("results/run", force=False) as staging:  # doctest: +SKIP
    ...     (staging / "metrics.json").write_text("{}")

    Raises:
        UsageError: ``out`` may not be written (see :func:`check_output_dir`).
    """
    check_not_in_use(Path(out))
    check_output_dir(Path(out), force)
    return _stamped(Path(out), force, command)


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
def _stamped(out: Path, force: bool, command: str | None):
    clean_leftovers(out)

    def before_swap(staging: Path) -> None:
        write_stamp(staging, command)
        check_unchanged(out, force, staging)

    with atomic_directory(out, before_swap) as staging:
        yield staging


class ResumableOutput:
    """The output of a long run that checkpoints: ``OUT.partial/`` while it runs, ``OUT/`` after.

    A run killed at any moment leaves ``OUT.partial/`` (stamped, every file written atomically)
    to resume from once it holds a checkpoint (``resume.pt``); the finished run replaces ``OUT``
    the way :func:`prepare_output` does. The caller holds :func:`output_lock` of ``OUT`` while
    it writes.
    """

    CHECKPOINT = "resume.pt"

    def __init__(self, out: Path, flag: str = "--out"):
        check_not_in_use(Path(out), flag)
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")

    def checkpointed(self) -> bool:
        """Whether ``OUT.partial/`` holds a checkpoint to resume from."""
        return (self.partial / self.CHECKPOINT).is_file()

    def check_new(self, force: bool) -> None:
        """Refuse to start a new run over anything but what ``force`` may replace.

        Raises:
            UsageError: ``OUT`` may not be written, or an interrupted run is in the way.
        """
        check_output_dir(self.out, force)
        if not _exists(self.partial):
            return
        try:
            check_output_dir(self.partial, force=True)
        except UsageError as err:
            raise UsageError(
                f"{err} (it is in the way of this run's {self.partial.name})"
            ) from None
        if force:
            return
        if not self.checkpointed():
            raise UsageError(
                f"{self.partial} holds a run interrupted before its first checkpoint (nothing "
                "to resume); pass --force to start over"
            )
        raise UsageError(
            f"{self.partial} holds an interrupted run: continue it with --resume {self.out}, "
            "or pass --force to start over"
        )

    def start(self, command: str | None, planned: tuple[str, ...] = ()) -> Path:
        """An empty ``OUT.partial/``, stamped with the files the run will write (``planned``).

        Listing them first means a run killed mid-write leaves nothing unlisted; :meth:`finish`
        drops from the list what was never written. An interrupted run there goes (the caller
        checked that it may, :meth:`check_new`), and what killed runs left beside ``OUT``.
        """
        self._clean()
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True)
        write_stamp(self.partial, command)
        add_to_stamp(self.partial, *planned)
        return self.partial

    def _clean(self) -> None:
        for name in (self.out, self.partial):
            clean_leftovers(name)

    def holder(self) -> Path:
        """The directory that holds the run to resume, checked to be rlcourse's.

        ``OUT.partial/`` (an interrupted run), else ``OUT/`` (a finished one, to train on).

        Raises:
            UsageError: neither holds a run, or the one that does is not rlcourse's alone.
        """
        if _exists(self.partial):
            check_output_dir(self.partial, force=True)
            if not self.checkpointed():
                raise UsageError(
                    f"{self.partial} holds a run interrupted before its first checkpoint: "
                    "nothing to resume; run the training command again with --force to start over"
                )
            return self.partial
        if (self.out / self.CHECKPOINT).is_file():
            check_output_dir(self.out, force=True)
            return self.out
        raise UsageError(
            f"no run to resume at {self.out}: neither {self.partial.name}/ nor a finished "
            "training run there"
        )

    def resumable(self, held: Path) -> Path:
        """``OUT.partial/``, ready for the run to go on in.

        Cleared of half-done writes, or copied from the finished ``OUT/`` that :meth:`holder`
        returned (the caller checked that the run has steps left); the copy appears whole or
        not at all.
        """
        self._clean()
        if held == self.partial:
            for name in leftovers(self.partial):  # what a killed write left half done
                path = self.partial / name
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            with atomic_directory(self.partial) as staging:
                shutil.copytree(self.out, staging, symlinks=True, dirs_exist_ok=True)
        return self.partial

    @contextmanager
    def interruptible(self):
        """Ctrl-C inside: say where the last checkpoint is and how to continue (if it can)."""
        try:
            yield
        except KeyboardInterrupt:
            if self.checkpointed():
                said = (
                    f"the last checkpoint is in {self.partial}/: continue with "
                    f"rlcourse train dqn --resume {self.out}"
                )
            else:
                said = (
                    f"no checkpoint was reached, so there is nothing to resume; run the same "
                    f"command with --force to start over (it replaces {self.partial}/)"
                )
            raise KeyboardInterrupt(said) from None

    def finish(self, force: bool = True) -> None:
        """``OUT.partial/`` becomes ``OUT/`` (replacing a finished run of ours).

        Its stamp keeps only what the run wrote. ``OUT`` is checked just before the swap, as
        :func:`check_output_dir` does with ``force`` (a new run: the user's ``--force``; a
        resumed one replaces the run it went on from).

        Raises:
            UsageError: something not ours (or, without ``force``, anything) appeared at
                ``OUT`` meanwhile (the run stays in ``OUT.partial/``).
        """
        drop_unwritten(self.partial)
        try:
            check_output_dir(self.out, force)
        except UsageError as err:
            raise UsageError(f"{err}; the finished run stays in {self.partial}/") from None
        replace_directory(self.partial, self.out)
