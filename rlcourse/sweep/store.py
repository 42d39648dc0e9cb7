"""A sweep directory on disk: its stamp, its marker and its finished units.

A sweep writes into its directory as it goes (each unit the moment it finishes), so it is not
staged and swapped in like other commands' outputs. Every file is written through
:func:`common.atomic.atomic_path` (a temporary sibling, flushed and renamed into place), so a
sweep killed at any moment (even by SIGKILL) leaves each file either whole or absent; temporary
files left behind are removed on the next run. The directory carries rlcourse's stamp
(:mod:`rlcourse.outputs`), which lists every file the sweep writes before it is written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.atomic import atomic_path, write_text
from rlcourse.errors import UsageError
from rlcourse.outputs import (
    add_to_stamp,
    check_output_dir,
    leftovers,
    read_stamp,
    write_stamp,
    written_files,
)
from rlcourse.reading import UnreadableFile, parse_json, read_json
from rlcourse.results import array_problem
from rlcourse.sweep.config import SweepConfig, config_from_dict

if TYPE_CHECKING:
    from rlcourse.sweep.units import Unit

MARKER = "sweep.json"
"""Written first; marks a directory as a sweep's and holds its configuration and hash."""
OUTPUTS = ("summary.csv", "iqm.csv", "curves.csv", "manifest.json", "plots/")
"""What a finished sweep writes beside ``units/`` (replaced when the configuration changes).

``plots/`` is the folder alone: its PNGs join the stamp as they are drawn, and a file someone
else puts there is theirs (the sweep is refused rather than delete it)."""


class UnitStore:
    """The ``units/`` folder: one file per finished unit, written atomically."""

    def __init__(self, directory: Path):
        self.directory = Path(directory) / "units"

    def path(self, unit: Unit) -> Path:
        """Where the unit's results live."""
        return self.directory / f"{unit.digest}.npz"

    def write(self, unit: Unit, arrays: dict[str, np.ndarray], seconds: float) -> None:
        """Write the unit's arrays and description (``__about__``, JSON) atomically."""
        about = json.dumps({"unit": asdict(unit), "digest": unit.digest, "seconds": seconds})
        with atomic_path(self.path(unit)) as temporary:
            np.savez(temporary, **arrays, __about__=np.array(about))

    def read(self, unit: Unit) -> tuple[dict[str, np.ndarray], float]:
        """The unit's arrays and compute seconds.

        Raises:
            UsageError: the file is missing or damaged, or belongs to another unit.
        """
        path = self.path(unit)
        try:
            with np.load(path) as data:
                about = parse_json(str(data["__about__"]), "__about__")
                arrays = {k: data[k] for k in data.files if k != "__about__"}
        except Exception as err:  # a damaged zip can fail in many ways
            raise UsageError(f"cannot read unit {path}: {type(err).__name__}: {err}") from None
        if about.get("digest") != unit.digest:
            raise UsageError(f"unit {path} holds another unit ({about.get('digest')})")
        for key, values in arrays.items():
            problem = array_problem(values, unit.runs, "the unit")
            if problem:
                raise UsageError(f"unit {path}: {key} {problem}")
        return arrays, float(about.get("seconds", 0.0))

    def finished(self, units: list[Unit]) -> set[str]:
        """Digests of the units whose file is there and readable."""
        done = set()
        for unit in units:
            if self.path(unit).is_file():
                try:
                    self.read(unit)
                except UsageError:
                    continue  # run it again; the rename will replace the bad file
                done.add(unit.digest)
        return done


def check_directory(out: Path, config: SweepConfig, force: bool) -> str:
    """What running ``config`` into ``out`` would do: ``new``, ``resume`` or ``replace``.

    Nothing is written. An empty or missing directory becomes a new sweep; a sweep directory of
    the same configuration resumes; one of another configuration is replaced only with ``force``
    (units the new configuration shares are kept). Anything else is refused, ``force`` or not:
    a symbolic link, a path under a file, a directory rlcourse did not write (no stamp), or one
    holding files its stamp does not list (see :func:`rlcourse.outputs.check_output_dir`).

    Raises:
        UsageError: saying what is in the way.
    """
    check_output_dir(out, force=True)  # everything but "exists": a sweep resumes without --force
    if not out.is_dir() or not [name for name in written_files(out) if name not in leftovers(out)]:
        return "new"  # empty, or only the stamp of a sweep killed as it began
    marker = out / MARKER
    if not marker.is_file():
        raise UsageError(
            f"{out} holds other rlcourse results (no {MARKER}: not a sweep directory); "
            "choose another --out"
        )
    try:
        previous = read_json(marker)["digest"]
    except (UnreadableFile, KeyError, TypeError) as err:
        why = err.reason if isinstance(err, UnreadableFile) else err
        raise UsageError(f"{out}/{MARKER} is damaged ({why}); choose another --out") from None
    if previous == config.digest:
        return "resume"
    if not force:
        raise UsageError(
            f"{out} holds a sweep of another configuration (hash {previous}, this one "
            f"{config.digest}); choose another --out, or pass --force to replace it "
            "(units the new configuration shares are kept)"
        )
    return "replace"


def open_directory(
    out: Path, config: SweepConfig, force: bool, toml: str | None, command: str | None = None
) -> str:
    """Claim ``out`` for this sweep (see :func:`check_directory`); return what it does.

    The stamp lists, before anything is written, every file the sweep may write (``sweep.json``,
    every unit of the plan, the tables and the manifest), so that a sweep killed at any moment
    leaves a directory that holds nothing its stamp does not list; temporaries of interrupted
    writes are removed here. When replacing, the outputs of the old sweep and its units that the
    new plan lacks are removed.

    Raises:
        UsageError: saying what is in the way; nothing has been changed.
    """
    from rlcourse.sweep.units import plan

    status = check_directory(out, config, force)
    keep = {f"units/{unit.digest}.npz" for unit in plan(config)}
    ours = [MARKER, *sorted(keep), *OUTPUTS]  # "plots/" too: its staging folder is a leftover
    out.mkdir(parents=True, exist_ok=True)
    if read_stamp(out) is None:
        write_stamp(out, command)
    add_to_stamp(out, *ours)
    for name in leftovers(out):
        _remove(out / name)
    if status == "replace":
        for name in OUTPUTS:
            _remove(out / name)
        for name in written_files(out):
            if name.startswith("units/") and name not in keep:
                _remove(out / name)
    payload = {"digest": config.digest, "config": config.as_dict(), "toml": toml}
    write_text(out / MARKER, json.dumps(payload, indent=2) + "\n")
    if status == "replace":  # the stamp lists what is there and what the new sweep writes
        write_stamp(out, command)
        add_to_stamp(out, *ours)
    return status


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def read_config(directory: Path) -> SweepConfig:
    """The configuration stored in a sweep directory's ``sweep.json`` (data: nothing is run).

    Raises:
        UsageError: no sweep there, or a damaged marker (wrong types, values or hash).
    """
    marker = Path(directory) / MARKER
    if not marker.is_file():
        raise UsageError(f"{directory} is not a sweep directory (no {MARKER})")
    try:
        data = read_json(marker)
    except UnreadableFile as err:
        raise UsageError(f"{marker} is damaged: {err.reason}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{marker} is damaged: not a JSON object")
    config = config_from_dict(data.get("config"), str(marker))
    if config.digest != data.get("digest"):
        raise UsageError(
            f"{marker} is damaged: its configuration does not have its hash {data.get('digest')!r}"
        )
    return config
