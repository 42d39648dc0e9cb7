"""DQN presets: settings by env id or family, from the data file ``presets.toml``.

``rlcourse train dqn ENV`` takes the preset that matches ENV (``rlcourse presets`` lists them);
``--set`` overrides its settings, ``--preset none`` uses rlcourse's defaults.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from rlcourse.errors import UsageError


@dataclass(frozen=True)
class Preset:
    """One preset: what it matches, where its numbers come from, and what it sets."""

    name: str
    match: str
    """An env id, or a prefix ending in ``*`` (``MinAtar/*``)."""
    source: str
    steps: int
    set: dict[str, Any] = field(default_factory=dict)
    """DQN settings, as ``--set`` takes them."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: list[str] = field(default_factory=list)

    def matches(self, env_id: str) -> bool:
        """Whether this preset is for ``env_id``."""
        if self.match.endswith("*"):
            return env_id.startswith(self.match[:-1])
        return env_id == self.match

    def overrides(self) -> dict[str, str]:
        """The settings as ``--set`` strings (``KEY=VALUE`` values)."""
        return {key: str(value) for key, value in self.set.items()}


@cache
def presets() -> tuple[Preset, ...]:
    """Every preset of the data file, in its order."""
    text = resources.files("rlcourse").joinpath("presets.toml").read_text(encoding="utf-8")
    return tuple(Preset(**entry) for entry in tomllib.loads(text)["preset"])


def preset_for(env_id: str) -> Preset | None:
    """The first preset that matches ``env_id``, if any."""
    return next((preset for preset in presets() if preset.matches(env_id)), None)


def find_preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises:
        UsageError: no such preset (the line lists the known ones).
    """
    for preset in presets():
        if preset.name == name:
            return preset
    known = ", ".join(preset.name for preset in presets())
    raise UsageError(f"unknown preset {name!r} (presets: {known}; or none)")


def trusted_wrappers() -> list[list[str]]:
    """The wrapper lists of rlcourse's own presets (its data, not a received file's)."""
    return [preset.wrappers for preset in presets() if preset.wrappers]
