"""Agent names, their hyperparameters, and :func:`make`, which builds one to fit an env's spaces."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gymnasium import spaces

from agents.bandit import GradientBanditAgent, Preferences
from agents.base import (
    Agent,
    SpecError,
    build_params,
    check_keys,
    describe_space,
    field_docs,
    parse_spec,
)
from agents.strategies import UCB, DecayingEpsilon, EpsilonGreedy, Greedy
from agents.tabular import ActionValueAgent, Estimate
from agents.uniform import RandomAgent


@dataclass(frozen=True)
class AgentEntry:
    """One name of the registry."""

    name: str
    """The name used in specs (``epsilon-greedy``)."""
    summary: str
    """One line for ``rlcourse agents``."""
    parts: tuple[type, ...]
    """Hyperparameter dataclasses; a spec's keys go to the part that has that field."""
    build: Callable[..., Agent]
    """``build(*parts, observation_space=..., action_space=...)`` -> agent."""
    tabular: bool = True
    """Needs Discrete observations and actions (tables indexed by state and action)."""

    def parameters(self) -> list[tuple[str, Any, str]]:
        """(name, default, one-line doc) of every hyperparameter."""
        rows = []
        for part in self.parts:
            docs = field_docs(part)
            rows += [(f.name, f.default, docs.get(f.name, "")) for f in dataclasses.fields(part)]
        return rows


def _value_agent(strategy, estimate, *, observation_space, action_space) -> Agent:
    return ActionValueAgent(strategy, estimate, int(observation_space.n), int(action_space.n))


AGENTS: dict[str, AgentEntry] = {
    entry.name: entry
    for entry in (
        AgentEntry(
            "random",
            "uniformly random actions (fits every env)",
            (),
            lambda *, observation_space, action_space: RandomAgent(action_space),
            tabular=False,
        ),
        AgentEntry(
            "greedy",
            "action values, always the best (random tie-break)",
            (Greedy, Estimate),
            _value_agent,
        ),
        AgentEntry(
            "epsilon-greedy",
            "action values, random action with probability epsilon",
            (EpsilonGreedy, Estimate),
            _value_agent,
        ),
        AgentEntry(
            "decaying-epsilon",
            "epsilon-greedy with epsilon decaying to a floor",
            (DecayingEpsilon, Estimate),
            _value_agent,
        ),
        AgentEntry(
            "ucb",
            "action values, upper-confidence-bound action choice",
            (UCB, Estimate),
            _value_agent,
        ),
        AgentEntry(
            "gradient-bandit",
            "softmax over preferences learned by gradient ascent",
            (Preferences,),
            lambda prefs, *, observation_space, action_space: GradientBanditAgent(
                prefs, int(observation_space.n), int(action_space.n)
            ),
        ),
    )
}


def fits(entry: AgentEntry, observation_space: spaces.Space, action_space: spaces.Space) -> bool:
    """Whether the agent can act in an env with these (single-run) spaces."""
    if not entry.tabular:
        return True
    return isinstance(observation_space, spaces.Discrete) and isinstance(
        action_space, spaces.Discrete
    )


def make(
    spec: str, observation_space: spaces.Space, action_space: spaces.Space, **params: Any
) -> Agent:
    """Build the agent ``spec`` names (``NAME[:KEY=VALUE,...]``) for an env's single-run spaces.

    Keyword ``params`` add to (and override) the spec's parameters, as Python values.

    Raises:
        SpecError: unknown name or parameter, a refused value, or spaces the agent does not fit.
    """
    name, raw = parse_spec(spec)
    entry = AGENTS.get(name)
    if entry is None:
        raise SpecError(f"unknown agent {name!r} (agents: {', '.join(AGENTS)})")
    raw = {**raw, **params}
    owners = {f.name: part for part in entry.parts for f in dataclasses.fields(part)}
    check_keys(raw, list(owners), name)
    parts = [
        build_params(part, {k: v for k, v in raw.items() if owners[k] is part}, name)
        for part in entry.parts
    ]
    if not fits(entry, observation_space, action_space):
        fitting = [
            other.name for other in AGENTS.values() if fits(other, observation_space, action_space)
        ]
        raise SpecError(
            f"agent {name!r} needs Discrete observations and actions, but the env has "
            f"observations {describe_space(observation_space)} and actions "
            f"{describe_space(action_space)}; "
            f"agents that fit: {', '.join(fitting)}"
        )
    return entry.build(*parts, observation_space=observation_space, action_space=action_space)
