"""The off-policy learners a training run builds, by name (the name a run saves is checked here).

Each kind says how to check an env's spaces, build one learner
(:class:`agents.off_policy.OffPolicyLearner`) and count its memory before building it; the
training itself (:mod:`rlcourse.training.train`) is the same for all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.dqn_config import DQNConfig
from agents.off_policy_config import OffPolicyConfig
from agents.pixel_dqn_config import PixelDQNConfig
from rlcourse.errors import UsageError


@dataclass(frozen=True)
class LearnerKind:
    """How a training run builds and checks one kind of off-policy learner."""

    name: str
    """As the run saves it (``algorithm`` in its settings)."""
    title: str
    """As plots say it."""
    config: type[OffPolicyConfig]
    check_spaces: Callable[[Any, Any], None]
    """``(observation_space, action_space)``; raises ValueError for spaces it cannot use."""
    build: Callable[[Any, Any, Any, np.random.Generator], Any]
    """``(config, observation_space, action_space, rng)`` → the learner."""
    memory: Callable[[Any, Any, Any], dict[str, int]]
    """``(config, observation_space, action_space)`` → the bytes one learner holds, by part."""

    def make_config(self, values: dict[str, Any], source: Any = None) -> OffPolicyConfig:
        """The config from plain data (a saved run's: lists back to tuples).

        Raises:
            UsageError: values the config does not take (``SOURCE has a bad config: …`` when
                the ``source`` file is named).
        """
        try:
            return self.config(
                **{key: tuple(v) if isinstance(v, list) else v for key, v in values.items()}
            )
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            what = f"{source} has a bad" if source is not None else f"bad {self.title}"
            raise UsageError(f"{what} config: {err}") from None


def _dqn_spaces(observation_space, action_space) -> None:
    from agents.dqn import check_spaces

    check_spaces(observation_space, action_space)


def _dqn(config, observation_space, action_space, rng):
    from agents.dqn import DQNLearner

    return DQNLearner(config, observation_space, action_space, rng)


def _dqn_memory(config, observation_space, action_space) -> dict[str, int]:
    from agents.dqn import learner_memory

    return learner_memory(config, observation_space, action_space)


def _pixel_spaces(observation_space, action_space) -> None:
    from agents.pixel_dqn_config import check_spaces

    check_spaces(observation_space, action_space)


def _pixel_dqn(config, observation_space, action_space, rng):
    from agents.pixel_dqn import PixelDQNLearner

    return PixelDQNLearner(config, tuple(action_space.shape), int(action_space.nvec.flat[0]), rng)


def _pixel_memory(config, observation_space, action_space) -> dict[str, int]:
    from agents.pixel_dqn import PixelDQNAgent

    runs = PixelDQNAgent(config, observation_space, action_space).memory_bytes(1)
    return {part.removesuffix("s"): size for part, size in runs.items()}  # one run: one of each


LEARNERS = {
    kind.name: kind
    for kind in (
        LearnerKind("dqn", "DQN", DQNConfig, _dqn_spaces, _dqn, _dqn_memory),
        LearnerKind(
            "pixel-dqn", "per-pixel DQN", PixelDQNConfig, _pixel_spaces, _pixel_dqn, _pixel_memory
        ),  # fmt: skip
    )
}
"""Every learner a training run can build, by name (the allow-list of saved names)."""


def learner_kind(name: Any) -> LearnerKind:
    """The kind a (possibly saved) name names.

    Raises:
        UsageError: a name not in :data:`LEARNERS`.
    """
    if not isinstance(name, str) or name not in LEARNERS:
        raise UsageError(f"unknown learner {name!r}; known: {', '.join(LEARNERS)}")
    return LEARNERS[name]
