"""Errors that name the file, the line and the table of a sweep's TOML text."""

from __future__ import annotations

import re
from collections.abc import Callable

from rlcourse.errors import UsageError


class KeyLines:
    """Where each key of a TOML text is written: ``(table, index, key, ...) -> line``.

    tomllib returns values without positions, so errors find their line by scanning the text:
    table headers (``[sweep]``, ``[[agent]]``, ``[agent.grid]``), ``key = value`` lines and the
    keys of inline tables (``grid = { epsilon = [...] }``).
    """

    HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*=")
    INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*=")

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        counts: dict[str, int] = {}
        prefix: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self.HEADER.match(line)
            if header:
                parts = [p.strip().strip("\"'") for p in header.group(2).split(".")]
                if header.group(1) == "[[":
                    counts[parts[0]] = counts.get(parts[0], 0) + 1
                    prefix = (parts[0], counts[parts[0]] - 1, *parts[1:])
                elif parts[0] in counts and len(parts) > 1:  # [agent.grid] of the last [[agent]]
                    prefix = (parts[0], counts[parts[0]] - 1, *parts[1:])
                else:
                    prefix = tuple(parts)
                self.lines.setdefault(prefix, number)
                self.lines.setdefault((parts[0],), number)
                continue
            key = self.KEY.match(line)
            if not key:
                continue
            path = prefix + (key.group(1).strip("\"'"),)
            self.lines.setdefault(path, number)
            for inner in self.INLINE_KEY.finditer(line, key.end()):
                self.lines.setdefault(path + (inner.group(1).strip("\"'"),), number)

    def find(self, path: tuple) -> int | None:
        """The line of ``path``, or of its closest written ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def failure(lines: KeyLines, name: str) -> Callable[[tuple, str], UsageError]:
    """``fail(path, message)``: the error that names the file, the line and the table."""

    def fail(path: tuple, message: str) -> UsageError:
        line = lines.find(path)
        where = f"{name}, line {line}" if line else name
        table = path[0]
        if table in ("env", "agent") and len(path) > 1 and isinstance(path[1], int):
            context = f"[[{table}]] {path[1] + 1}"
        else:
            context = f"[{table}]"
        return UsageError(f"{where}: {context}: {message}")

    return fail
