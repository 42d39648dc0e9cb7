"""A sweep declared in TOML: envs × agent parameter grids × runs, read with precise errors.

```toml
[sweep]
runs = 200
steps = 500        # or: episodes = 300
seed = 0           # optional (default 0)
chunk = 500        # optional: runs per work unit (default 500)
eval_every = 100   # optional: greedy evaluations every 100 steps (or episodes) of each run
eval_episodes = 10 # optional: episodes per evaluation (default 10)
[[env]]
id = "bandit"      # any env `rlcourse compare` accepts
kwargs = { value_mean = 4 }   # optional
[[agent]]
name = "greedy"
params = { alpha = 0.1 }                   # optional: fixed parameters
grid = { initial = [0.25, 1, 4] }          # optional: every combination is one configuration
```

Every error names the file, the line and the key (``sweep.toml, line 9: [[agent]] 1: unknown key
'grd' (expected name, params, grid)``).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.specs import format_spec
from rlcourse.errors import UsageError
from rlcourse.memory import check_count
from rlcourse.reading import parse_toml
from rlcourse.sweep.key_lines import KeyLines, failure

DEFAULT_CHUNK = 500
"""Runs per work unit unless ``[sweep] chunk`` says otherwise."""
MAX_UNITS = 100_000
"""Units a sweep may have (Figure 2.6 has 104): a plan beyond it is a mistake, not a sweep."""
SECTIONS = {
    "sweep": (
        "runs",
        "steps",
        "episodes",
        "seed",
        "chunk",
        "gym_packages",
        "eval_every",
        "eval_episodes",
    ),
    "env": ("id", "kwargs", "wrappers"),
    "agent": ("name", "params", "grid"),
}
Scalar = bool | int | float | str


@dataclass(frozen=True)
class EnvEntry:
    """One ``[[env]]`` table."""

    id: str
    """The env as ``rlcourse compare`` takes it (id, alias or ``module:Class``)."""
    kwargs: dict[str, Any]
    """Constructor arguments."""
    wrappers: tuple[str, ...] = ()
    """Gymnasium wrappers of each run, in order (``module:Class[:k=v,...]``)."""

    @property
    def label(self) -> str:
        """What tables and plots call it, on one line: ``gridworld:layout=cliff``.

        Line breaks and other unprintable characters of the kwargs are escaped as Python writes
        them (a layout's rows are joined by a backslash and an ``n``); wrappers follow in
        brackets.
        """
        base = format_spec(
            self.id, {_printable(k): _printable(_text(v)) for k, v in self.kwargs.items()}
        )
        return f"{base} [{', '.join(self.wrappers)}]" if self.wrappers else base


@dataclass(frozen=True)
class SweepConfig:
    """A whole sweep: what runs, and how it is split into units."""

    runs: int
    """Independent runs per (env, agent configuration)."""
    steps: int | None
    """Steps per run, or None for an episode budget."""
    episodes: int | None
    """Episodes per run, or None for a step budget."""
    seed: int
    """Seed of the whole sweep; run chunks starting at run ``k`` use ``seed + k``."""
    chunk: int
    """Runs per work unit (part of the configuration: it decides how runs are batched)."""
    envs: tuple[EnvEntry, ...]
    """The envs, in file order."""
    agents: tuple[str, ...]
    """Expanded agent specs (``epsilon-greedy:epsilon=0.1``), in file and grid order."""
    gym_packages: tuple[str, ...] = ()
    """Installed packages imported (by every worker) to register their env ids."""
    eval_every: int | None = None
    """Greedy evaluations of each run every this many steps (or episodes); None: none."""
    eval_episodes: int | None = None
    """Episodes per greedy evaluation (set when ``eval_every`` is)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what the hash covers).

        An env without wrappers has no ``wrappers`` key, a sweep without packages no
        ``gym_packages``, one without evaluations no ``eval_every``/``eval_episodes``: older
        sweep directories keep their hash.
        """
        data = asdict(self)
        if data["eval_every"] is None:
            del data["eval_every"], data["eval_episodes"]
        if data["gym_packages"]:
            data["gym_packages"] = list(data["gym_packages"])
        else:
            del data["gym_packages"]
        for env in data["envs"]:
            if env["wrappers"]:
                env["wrappers"] = list(env["wrappers"])
            else:
                del env["wrappers"]
        return data

    @property
    def digest(self) -> str:
        """Hash of everything that decides the sweep's numbers."""
        return digest(self.as_dict())


def digest(data: Any) -> str:
    """A short SHA-256 of canonical JSON."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_config(path: str | Path) -> SweepConfig:
    """Read a sweep TOML file.

    Raises:
        UsageError: the file is missing, not TOML, or has an unknown key or a bad value.
    """
    path = Path(path)
    return parse_config(read_text(path), path.name)


def read_text(path: str | Path) -> str:
    """The text of a sweep file (TOML is UTF-8).

    Raises:
        UsageError: the file is missing or unreadable, or not UTF-8.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise UsageError(
            f"{path.name}, line {line}: not UTF-8 (byte {data[err.start]:#04x}); TOML files are "
            "UTF-8: save it as UTF-8"
        ) from None


def parse_config(text: str, name: str = "sweep.toml") -> SweepConfig:
    """Parse and check the TOML text of a sweep (``name`` is used in error messages)."""
    data = parse_toml(text, name)
    fail = failure(KeyLines(text), name)
    for key in data:
        if key not in SECTIONS:
            raise fail((key,), f"unknown table {key!r} (expected [sweep], [[env]], [[agent]])")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict):
        raise UsageError(f"{name}: missing the [sweep] table (runs, steps or episodes, seed)")
    for section in ("env", "agent"):
        entries = data.get(section)
        if not isinstance(entries, list) or not entries:
            raise UsageError(
                f"{name}: give at least one [[{section}]] table (an array of tables, "
                f"written [[{section}]])"
            )
    return _config(sweep, data["env"], _agents(data["agent"], fail), fail)


def config_from_dict(data: Any, name: str) -> SweepConfig:
    """A configuration as :meth:`SweepConfig.as_dict` wrote it, checked as a TOML file is.

    This reads a sweep directory's ``sweep.json``, which may come from anyone: it is data (an
    env named there is never imported here), and any damage is one clear error.

    Raises:
        UsageError: a missing key or one of the wrong type or value, naming ``name``.
    """
    fail = failure(KeyLines(""), name)
    fields = (*SECTIONS["sweep"], "envs", "agents")
    optional = {"gym_packages", "eval_every", "eval_episodes"}
    if not isinstance(data, dict) or set(data) | optional != set(fields) | optional:
        raise UsageError(f"{name}: the configuration must have exactly the keys {fields}")
    agents = data["agents"]
    if (
        not isinstance(agents, list)
        or not agents
        or not all(isinstance(spec, str) and spec.isprintable() for spec in agents)
    ):
        raise UsageError(f"{name}: 'agents' must be a non-empty list of agent specs")
    if len(set(agents)) != len(agents):
        raise UsageError(f"{name}: 'agents' lists an agent twice")
    envs = data["envs"]
    if not isinstance(envs, list) or not envs:
        raise UsageError(f"{name}: 'envs' must be a non-empty list of envs")
    sweep = {key: data[key] for key in SECTIONS["sweep"] if data.get(key) is not None}
    return _config(sweep, envs, tuple(agents), fail)


def _config(sweep: dict, envs: list, agents: tuple[str, ...], fail) -> SweepConfig:
    """The configuration of a ``[sweep]`` table, env tables and agent specs, all checked."""
    runs, steps, episodes, seed, chunk = _budget(sweep, fail)
    checked = _envs(envs, fail)
    chunks = -(-runs // chunk)
    units = len(checked) * len(agents) * chunks
    if units > MAX_UNITS:
        raise fail(
            ("sweep", "chunk" if "chunk" in sweep else "runs"),
            f"{len(checked)} env(s) × {len(agents)} agent configuration(s) × {chunks:,} chunk(s) "
            f"of up to {chunk:,} runs make {units:,} units, more than a sweep may have "
            f"({MAX_UNITS:,}); raise 'chunk' or split the sweep",
        )
    packages = _gym_packages(sweep, fail)
    every, episodes_per_evaluation = _evaluations(sweep, steps or episodes, fail)
    return SweepConfig(runs, steps, episodes, seed, chunk, checked, agents, packages,
                       every, episodes_per_evaluation)  # fmt: skip


def _evaluations(sweep: dict, budget: int, fail) -> tuple[int | None, int | None]:
    """``eval_every, eval_episodes`` of the ``[sweep]`` table (both None without evaluations)."""
    from rlcourse.evaluations import EVAL_EPISODES

    if "eval_every" not in sweep:
        if "eval_episodes" in sweep:
            raise fail(("sweep", "eval_episodes"), "'eval_episodes' needs 'eval_every'")
        return None, None
    every = _int(sweep, "eval_every", 1, ("sweep",), fail)
    if every > budget:
        raise fail(
            ("sweep", "eval_every"),
            f"eval_every {every} is more than the budget ({budget}): no evaluation",
        )
    return every, _int(sweep, "eval_episodes", 1, ("sweep",), fail, default=EVAL_EPISODES)


def _budget(sweep: dict, fail) -> tuple[int, int | None, int | None, int, int]:
    """``runs, steps, episodes, seed, chunk`` of the ``[sweep]`` table."""
    _known_keys(sweep, ("sweep",), fail)
    for key in ("runs",):
        if key not in sweep:
            raise fail(("sweep",), f"missing key {key!r}")
    if ("steps" in sweep) == ("episodes" in sweep):
        raise fail(("sweep",), "give exactly one of 'steps' or 'episodes'")
    counts = {key: _int(sweep, key, 1, ("sweep",), fail) for key in ("runs", "steps", "episodes")}
    for key, value in counts.items():
        try:
            check_count(key, value or 0)
        except UsageError as err:
            raise fail(("sweep", key), str(err)) from None
    return (
        counts["runs"],
        counts["steps"],
        counts["episodes"],
        _int(sweep, "seed", 0, ("sweep",), fail, default=0),
        _int(sweep, "chunk", 1, ("sweep",), fail, default=DEFAULT_CHUNK),
    )


def _envs(entries: list, fail) -> tuple[EnvEntry, ...]:
    """The ``[[env]]`` tables, each label once."""
    envs = []
    for i, entry in enumerate(entries):
        where = ("env", i)
        _known_keys(_entry(entry, where, fail), where, fail)
        env_id = _string(entry, "id", where, fail)
        if not env_id.isprintable():
            raise fail(where + ("id",), f"id {env_id!r} holds a line break or a control character")
        kwargs = _table(entry, "kwargs", where, fail, allow_any=True)
        for key, value in kwargs.items():
            date = _date_in(value)
            if date is not None:
                raise fail(
                    where + ("kwargs", key),
                    f"kwargs.{_printable(key)} holds the TOML date or time {date.isoformat()}, "
                    "which rlcourse does not pass to envs; write it as a string "
                    f'("{date.isoformat()}")',
                )
        envs.append(EnvEntry(env_id, kwargs, _wrappers(entry, where, fail)))
    labels = [env.label for env in envs]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise fail(("env", i, "id"), f"env {label!r} is listed twice")
    return tuple(envs)


def _agents(entries: list, fail) -> tuple[str, ...]:
    """The ``[[agent]]`` tables expanded into specs, one per combination of the grid."""
    agents: list[str] = []
    for i, entry in enumerate(entries):
        where = ("agent", i)
        _known_keys(_entry(entry, where, fail), where, fail)
        agent_name = _string(entry, "name", where, fail)
        if re.search(r"[:,=\s]", agent_name) or not agent_name.isprintable():
            raise fail(where + ("name",), f"name {agent_name!r} holds ':', ',', '=' or a space")
        params = _table(entry, "params", where, fail)
        grid = _table(entry, "grid", where, fail, arrays=True)
        for key in grid:
            if key in params:
                raise fail(where + ("grid", key), f"{key!r} is both in params and in grid")
        keys = list(grid)
        combinations = math.prod(len(values) for values in grid.values())
        if combinations > MAX_UNITS:
            raise fail(
                where + ("grid",),
                f"the grid makes {combinations:,} configurations, more than a sweep may have "
                f"({MAX_UNITS:,} units)",
            )
        for values in itertools.product(*grid.values()):
            spec = format_spec(
                agent_name,
                {k: _text(v) for k, v in params.items()}
                | {k: _text(v) for k, v in zip(keys, values, strict=True)},
            )
            if spec in agents:
                raise fail(where + ("name",), f"agent {spec!r} appears twice in the sweep")
            agents.append(spec)
    return tuple(agents)


def _date_in(value: Any) -> datetime.date | datetime.time | None:
    """The first TOML date, time or date-time in a value (arrays and tables searched)."""
    if isinstance(value, datetime.date | datetime.time):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((date for item in items if (date := _date_in(item)) is not None), None)


def _printable(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped as Python writes them."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _text(value: Scalar) -> str:
    """A TOML scalar as it is written in an agent spec."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _entry(entry: Any, where: tuple, fail) -> dict:
    """An entry of ``env = [...]`` or ``agent = [...]``, which must be a table."""
    if not isinstance(entry, dict):
        section = where[0]
        raise fail(
            where,
            f"each {section} must be a table (written [[{section}]]), "
            f"got {type(entry).__name__} {entry!r}",
        )
    return entry


def _wrappers(entry: dict, where: tuple, fail) -> tuple[str, ...]:
    """An env table's ``wrappers``: a list of ``module:Class[:k=v,...]`` (checked, not imported)."""
    from rlcourse.environments import wrapper_form

    wrappers = entry.get("wrappers", [])
    if not isinstance(wrappers, list) or not all(
        isinstance(w, str) and w.isprintable() for w in wrappers
    ):
        raise fail(where + ("wrappers",), "'wrappers' must be a list of module:Class strings")
    for wrapper in wrappers:
        try:
            wrapper_form(wrapper)
        except UsageError as err:
            raise fail(where + ("wrappers",), str(err)) from None
    return tuple(wrappers)


def _gym_packages(sweep: dict, fail) -> tuple[str, ...]:
    """``[sweep] gym_packages``: package names (checked for their form, not imported here)."""
    packages = sweep.get("gym_packages", [])
    if not isinstance(packages, list) or not all(
        isinstance(name, str) and name and all(p.isidentifier() for p in name.split("."))
        for name in packages
    ):
        raise fail(
            ("sweep", "gym_packages"),
            "'gym_packages' must be a list of package names, such as [\"highway_env\"]",
        )
    return tuple(dict.fromkeys(packages))


def _known_keys(table: dict, where: tuple, fail) -> None:
    expected = SECTIONS[where[0]]
    for key in table:
        if key not in expected:
            raise fail(where + (key,), f"unknown key {key!r} (expected {', '.join(expected)})")


def _int(table, key, minimum, where, fail, default=None) -> int | None:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(
            where + (key,), f"{key!r} must be an integer, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        what = "positive" if minimum == 1 else "non-negative"
        raise fail(where + (key,), f"{key!r} must be a {what} integer, got {value}")
    return value


def _string(table, key, where, fail) -> str:
    if key not in table:
        raise fail(where, f"missing key {key!r}")
    value = table[key]
    if not isinstance(value, str) or not value:
        raise fail(where + (key,), f"{key!r} must be a non-empty string, got {value!r}")
    return value


def _table(table, key, where, fail, arrays=False, allow_any=False) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise fail(
            where + (key,), f"{key!r} must be a table ({{ k = v }}), got {type(value).__name__}"
        )
    for name, item in value.items():
        at = where + (key, name)
        if not allow_any and (re.search(r"[:,=\s]", name) or not name.isprintable()):
            raise fail(at, f"parameter name {name!r} holds ':', ',', '=' or a space")
        items = item if arrays else [item]
        if arrays and (not isinstance(item, list) or not item):
            raise fail(at, f"{key}.{name} must be a non-empty array of values, got {item!r}")
        for element in items:
            if allow_any:
                continue
            if not isinstance(element, Scalar) or (
                isinstance(element, str)
                and (re.search(r"[:,=]", element) or not element.isprintable())
            ):
                raise fail(
                    at,
                    f"{key}.{name} takes numbers, booleans or plain strings, got {element!r}",
                )
    return value
