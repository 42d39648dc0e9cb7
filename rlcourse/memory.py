"""Memory: estimate what a command will hold before it allocates, refuse what will not fit.

A huge ``--runs`` or an Atari-sized replay buffer is refused in one line, with the estimate and
the memory available, before any work starts (not a ``MemoryError`` an hour in).
"""

from __future__ import annotations

import os

from rlcourse.errors import UsageError


def available_bytes() -> int | None:
    """Memory the system can give now (Linux ``MemAvailable``; elsewhere the free pages).

    None where neither is known.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(n_bytes: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB`` (powers of 1000, as ``df -H`` prints)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} B"


def describe(parts: dict[str, int]) -> str:
    """``about 1.2 GB (replay buffer 1.2 GB, metrics 3.2 MB)``."""
    total = sum(parts.values())
    shown = ", ".join(f"{name} {human(size)}" for name, size in parts.items())
    return f"about {human(total)} ({shown})"


def check_fits(parts: dict[str, int], hint: str, available: int | None = None) -> None:
    """Refuse when the estimated ``parts`` exceed the memory available.

    Raises:
        UsageError: ``needs about X (parts) but Y is available; HINT``.
    """
    available = available_bytes() if available is None else available
    if available is not None and sum(parts.values()) > available:
        raise UsageError(f"needs {describe(parts)} but {human(available)} is available; {hint}")
