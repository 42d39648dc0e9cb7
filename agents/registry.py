"""Agent names, their hyperparameters, and :func:`make`, which builds one to fit an env's spaces."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from gymnasium import spaces

from agents.bandit import GradientBanditAgent, Preferences
from agents.base import Agent
from agents.dqn_config import DQNConfig
from agents.encodings import encoding
from agents.pixel_dqn_config import PixelDQNConfig
from agents.pixel_dqn_config import fits as _pixel_dqn_fits
from agents.specs import (
    SpecError,
    build_params,
    check_keys,
    describe_space,
    field_docs,
    parse_spec,
)
from agents.states import IndexedStates, StateIndex
from agents.strategies import UCB, DecayingEpsilon, EpsilonGreedy, Greedy
from agents.tabular import ActionValueAgent, ValueLearning
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
    fits: Callable[[spaces.Space, spaces.Space], bool] = lambda obs, act: True
    """Whether it can act with these (single-run) observation and action spaces."""
    needs: str = ""
    """What it needs of the spaces, for the message when it does not fit."""

    def parameters(self) -> list[tuple[str, Any, str]]:
        """(name, default, one-line doc) of every hyperparameter."""
        rows = []
        for part in self.parts:
            docs = field_docs(part)
            rows += [(f.name, f.default, docs.get(f.name, "")) for f in dataclasses.fields(part)]
        return rows


def _on_states(make, observation_space: spaces.Space, action_space: spaces.Space) -> Agent:
    """``make(n_states, n_actions)``, fed state indices when the space is not a plain Discrete."""
    index = StateIndex.of(observation_space)
    agent = make(index.n, int(action_space.n))
    plain = isinstance(observation_space, spaces.Discrete) and observation_space.start == 0
    return agent if plain else IndexedStates(agent, index)


def _value_agent(strategy, learning, *, observation_space, action_space) -> Agent:
    return _on_states(
        lambda n_states, n_actions: ActionValueAgent(strategy, learning, n_states, n_actions),
        observation_space,
        action_space,
    )


def _dqn(config, *, observation_space, action_space) -> Agent:
    from agents.dqn import DQNAgent  # torch is imported only when a DQN is built

    return DQNAgent(config, observation_space, action_space)


def _pixel_dqn(config, *, observation_space, action_space) -> Agent:
    from agents.pixel_dqn import PixelDQNAgent  # torch is imported only when one is built

    if config.estimate:
        raise SpecError(
            "pixel-dqn: estimate=true needs the filtered images as input (a lookahead), which "
            "`rlcourse denoise report` gives it; here use the default head"
        )
    return PixelDQNAgent(config, observation_space, action_space)


def _tabular(obs: spaces.Space, act: spaces.Space) -> bool:
    return StateIndex.of(obs) is not None and isinstance(act, spaces.Discrete)


def _dqn_fits(obs: spaces.Space, act: spaces.Space) -> bool:
    with warnings.catch_warnings():  # the notice of parts left out comes when DQN is built
        warnings.simplefilter("ignore")
        return isinstance(act, spaces.Discrete) and encoding(obs) is not None


TABULAR = {
    "fits": _tabular,
    "needs": "discrete observations (Discrete, MultiDiscrete, or a Tuple/Dict of them) and "
    "Discrete actions",
}


AGENTS: dict[str, AgentEntry] = {
    entry.name: entry
    for entry in (
        AgentEntry(
            "random",
            "uniformly random actions (fits every env)",
            (),
            lambda *, observation_space, action_space: RandomAgent(action_space),
        ),
        AgentEntry(
            "greedy",
            "action values, always the best (random tie-break)",
            (Greedy, ValueLearning),
            _value_agent,
            **TABULAR,
        ),
        AgentEntry(
            "epsilon-greedy",
            "action values, random action with probability epsilon",
            (EpsilonGreedy, ValueLearning),
            _value_agent,
            **TABULAR,
        ),
        AgentEntry(
            "decaying-epsilon",
            "epsilon-greedy with epsilon decaying to a floor",
            (DecayingEpsilon, ValueLearning),
            _value_agent,
            **TABULAR,
        ),
        AgentEntry(
            "ucb",
            "action values, upper-confidence-bound action choice",
            (UCB, ValueLearning),
            _value_agent,
            **TABULAR,
        ),
        AgentEntry(
            "gradient-bandit",
            "softmax over preferences learned by gradient ascent",
            (Preferences,),
            lambda prefs, *, observation_space, action_space: _on_states(
                partial(GradientBanditAgent, prefs), observation_space, action_space
            ),
            **TABULAR,
        ),
        AgentEntry(
            "dqn",
            "deep Q-network with experience replay (torch)",
            (DQNConfig,),
            _dqn,
            fits=_dqn_fits,
            needs="Discrete actions and observations it can read (Box, Discrete, "
            "MultiDiscrete, MultiBinary, or a Tuple/Dict of them)",
        ),
        AgentEntry(
            "pixel-dqn",
            "per-pixel DQN with a fully convolutional Q-map (PixelDenoise; torch)",
            (PixelDQNConfig,),
            _pixel_dqn,
            fits=_pixel_dqn_fits,
            needs="image observations (1, H, W) and a Discrete action per pixel (PixelDenoise)",
        ),
    )
}


def check(spec: str, **params: Any) -> tuple[AgentEntry, list[Any]]:
    """The entry ``spec`` names and its hyperparameters, built without any env (nothing runs).

    This is all of :func:`make` but the fit to an env's spaces: a dry run checks specs with it.

    Raises:
        SpecError: unknown name or parameter, or a refused value.
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
    return entry, parts


def make(
    spec: str, observation_space: spaces.Space, action_space: spaces.Space, **params: Any
) -> Agent:
    """Build the agent ``spec`` names (``NAME[:KEY=VALUE,...]``) for an env's single-run spaces.

    Keyword ``params`` add to (and override) the spec's parameters, as Python values.

    Raises:
        SpecError: unknown name or parameter, a refused value, or spaces the agent does not fit.
    """
    entry, parts = check(spec, **params)
    name = entry.name
    if not entry.fits(observation_space, action_space):
        fitting = [o.name for o in AGENTS.values() if o.fits(observation_space, action_space)]
        raise SpecError(
            f"agent {name!r} needs {entry.needs}, but the env has "
            f"observations {describe_space(observation_space)} and actions "
            f"{describe_space(action_space)}; "
            f"agents that fit: {', '.join(fitting)}"
        )
    return entry.build(*parts, observation_space=observation_space, action_space=action_space)
