"""A sweep directory on disk: its marker and its finished units.

Every file is written through :func:`supervised.atomic.atomic_path` (a temporary sibling, flushed
and renamed into place), so a sweep killed at any moment (even by SIGKILL) leaves each file
either whole or absent; temporary files left behind are removed on the next run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rlcourse.errors import UsageError
from rlcourse.sweep.config import EnvEntry, SweepConfig
from supervised.atomic import atomic_path, write_text

if TYPE_CHECKING:
    from rlcourse.sweep.units import Unit

MARKER = "sweep.json"
"""Written first; marks a directory as a sweep's and holds its configuration and hash."""
OUTPUTS = ("summary.csv", "iqm.csv", "curves.csv", "manifest.json", "plots")
"""What a finished sweep writes beside ``units/`` (replaced when the configuration changes)."""


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
                about = json.loads(str(data["__about__"]))
                arrays = {k: data[k] for k in data.files if k != "__about__"}
        except Exception as err:  # a damaged zip can fail in many ways
            raise UsageError(f"cannot read unit {path}: {type(err).__name__}: {err}") from None
        if about.get("digest") != unit.digest:
            raise UsageError(f"unit {path} holds another unit ({about.get('digest')})")
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

    def clean(self, keep: set[str]) -> int:
        """Remove temporary files left by a crash and units not in ``keep``; return how many."""
        if not self.directory.is_dir():
            return 0
        removed = 0
        for path in self.directory.iterdir():
            stale = path.name.startswith(".") or (path.suffix == ".npz" and path.stem not in keep)
            if stale and path.is_file():
                path.unlink()
                removed += 1
        return removed


def open_directory(out: Path, config: SweepConfig, force: bool, toml: str | None) -> str:
    """Claim ``out`` for this sweep; return ``new``, ``resume`` or ``replace``.

    An empty or missing directory becomes a new sweep; a directory of the same sweep resumes; a
    directory of another sweep is refused unless ``force`` (then units that the new configuration
    still has are kept and the rest removed); anything else is refused, ``force`` or not.

    Raises:
        UsageError: saying what is in the way; nothing has been changed.
    """
    marker = out / MARKER
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; choose another --out")
    status = "new"
    if out.is_dir() and any(out.iterdir()):
        if not marker.is_file():
            raise UsageError(
                f"{out} holds other data (no {MARKER}: not a sweep directory); choose another --out"
            )
        try:
            previous = json.loads(marker.read_text())["digest"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{out}/{MARKER} is damaged ({err}); choose another --out") from None
        if previous == config.digest:
            return "resume"
        if not force:
            raise UsageError(
                f"{out} holds a sweep of another configuration (hash {previous}, this one "
                f"{config.digest}); choose another --out, or pass --force to replace it "
                "(units the new configuration shares are kept)"
            )
        status = "replace"
    out.mkdir(parents=True, exist_ok=True)
    if status == "replace":
        for name in OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    payload = {"digest": config.digest, "config": config.as_dict(), "toml": toml}
    write_text(marker, json.dumps(payload, indent=2) + "\n")
    return status


def read_config(directory: Path) -> SweepConfig:
    """The configuration stored in a sweep directory's ``sweep.json``.

    Raises:
        UsageError: no sweep there, or a damaged marker.
    """
    marker = Path(directory) / MARKER
    try:
        data = json.loads(marker.read_text())["config"]
        data["envs"] = tuple(EnvEntry(**env) for env in data["envs"])
        data["agents"] = tuple(data["agents"])
        return SweepConfig(**data)
    except FileNotFoundError:
        raise UsageError(f"{directory} is not a sweep directory (no {MARKER})") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{marker} is damaged: {type(err).__name__}: {err}") from None
