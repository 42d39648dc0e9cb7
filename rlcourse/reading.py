"""The one checked reader of the JSON and TOML files rlcourse reads from disk.

Such a file may come from anyone (a results directory, a sweep file, a stamp): whatever is wrong
with it, damaged bytes, invalid syntax or nesting deep enough to exhaust Python's recursion, is
an :class:`UnreadableFile` (a :class:`~rlcourse.errors.UsageError`: one line, exit status 2).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from rlcourse.errors import UsageError

MAX_DEPTH = 100
"""The deepest nesting of arrays and objects (tables) accepted; rlcourse writes at most a few."""


class UnreadableFile(UsageError):
    """A file that cannot be read or parsed: ``NAME: REASON`` (``reason`` alone for rewording)."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.reason = reason


def read_json(path: str | Path) -> Any:
    """The JSON value of a UTF-8 file, checked (see :func:`parse_json`).

    Raises:
        UnreadableFile: the file cannot be read, is not UTF-8, or not valid JSON.
    """
    return parse_json(_read(Path(path)), str(path))


def parse_json(text: str, name: str) -> Any:
    """The JSON value of ``text`` (``name`` is used in errors), nested at most :data:`MAX_DEPTH`.

    Raises:
        UnreadableFile: not valid JSON, or nested too deeply.
    """
    return _parse(text, name, json.loads, json.JSONDecodeError, "JSON")


def parse_toml(text: str, name: str) -> dict[str, Any]:
    """The tables of TOML ``text`` (``name`` is used in errors), nested at most :data:`MAX_DEPTH`.

    Raises:
        UnreadableFile: not valid TOML, or nested too deeply.
    """
    return _parse(text, name, tomllib.loads, tomllib.TOMLDecodeError, "TOML")


def _parse(text: str, name: str, loads, invalid: type[Exception], language: str) -> Any:
    try:
        value = loads(text)
    except RecursionError:
        raise UnreadableFile(name, _too_deep()) from None
    except invalid as err:
        raise UnreadableFile(name, f"not valid {language}: {err}") from None
    check_depth(value, name)
    return value


def check_depth(value: Any, name: str) -> None:
    """Refuse lists, tuples and dicts nested deeper than :data:`MAX_DEPTH`.

    The value is walked without recursion, so that code that later recurses over it (copies,
    comparisons, ``json.dumps``) cannot exhaust the stack either.

    Raises:
        UnreadableFile: nested too deeply.
    """
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list | tuple):
            if depth > MAX_DEPTH:
                raise UnreadableFile(name, _too_deep())
            todo.extend((child, depth + 1) for child in item)


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise UnreadableFile(str(path), f"cannot read it ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise UnreadableFile(str(path), "not UTF-8 text") from None
