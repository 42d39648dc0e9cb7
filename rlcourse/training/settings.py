"""What a training run is asked to do: its settings, their defaults and their checks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.dqn_config import DQNConfig
from agents.off_policy_config import OffPolicyConfig
from agents.specs import SpecError, build_params
from common.deprecation import renamed
from rlcourse.errors import UsageError
from rlcourse.training.learners import learner_kind

STEPS = 50_000
"""Env steps of a run unless told (``--steps``)."""
EVAL_EVERY = 5000
"""Env steps between greedy evaluations unless told (``--eval-every``)."""
EVAL_EPISODES = 20
"""Episodes per greedy evaluation unless told (``--eval-episodes``)."""


def dqn_config(overrides: dict[str, str]) -> DQNConfig:
    """A :class:`DQNConfig` from ``--set KEY=VALUE`` strings (refused with the known keys)."""
    try:
        return build_params(DQNConfig, overrides, "dqn")
    except SpecError as err:
        raise UsageError(str(err)) from None


@dataclass
class TrainingConfig:
    """What a training run was asked to do (saved with it; a resume keeps all but two).

    ``resume.pt`` keeps it under ``"settings"``; ``Settings``, its old name, still imports from
    here for one release (a DeprecationWarning).
    """

    env: str
    env_kwargs: dict[str, Any]
    steps: int
    """The total budget in env steps (a resume may raise it)."""
    seed: int
    config: dict[str, Any]
    """The learner's hyperparameters, as plain data."""
    eval_every: int = EVAL_EVERY
    eval_episodes: int = EVAL_EPISODES
    checkpoint_every: int | None = None
    """Env steps between ``resume.pt`` checkpoints (None: at every evaluation)."""
    stop_at: float | None = None
    """Stop at the first greedy evaluation whose mean return reaches it (a resume may change it)."""
    wrappers: list[str] = field(default_factory=list)
    """Gymnasium wrappers of the env, in order (``module:Class[:k=v,...]``)."""
    preset: str | None = None
    """The rlcourse preset the settings came from (None: none)."""
    algorithm: str = "dqn"
    """The learner trained (:data:`rlcourse.training.learners.LEARNERS`; runs saved without it
    trained DQN)."""
    gym_packages: list[str] = field(default_factory=list)
    """Installed packages imported to register the env's id (``--gym-package``), imported again
    by a resume (checked as the command line's names are; runs saved without it named none)."""

    @property
    def every(self) -> int:
        """Env steps between checkpoints."""
        return self.checkpoint_every or self.eval_every

    def learner_config(self) -> OffPolicyConfig:
        """The learner's config, checked (by its kind: :data:`rlcourse.training.learners.LEARNERS`).

        Raises:
            UsageError: an unknown learner or a bad config.
        """
        return learner_kind(self.algorithm).make_config(self.config)


def check_run(settings: TrainingConfig) -> None:
    """Refuse settings that cannot make a run (budgets, counts, thresholds).

    Raises:
        UsageError: steps < 1 or too many, ``learning_starts`` >= ``steps`` (it would never
            learn), a count < 1, or a ``stop_at`` that is not a finite number.
    """
    check_steps(settings.steps, settings.learner_config())
    for name, value in (("eval_every", settings.eval_every),
                        ("eval_episodes", settings.eval_episodes),
                        ("checkpoint_every", settings.checkpoint_every or 1)):  # fmt: skip
        if value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    check_stop_at(settings.stop_at)


def check_steps(steps: int, config: OffPolicyConfig) -> None:
    """Refuse a budget the learner would never take a gradient step in."""
    from rlcourse.memory import check_count

    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    check_count("steps", steps)
    if config.learning_starts >= steps:
        raise UsageError(
            f"learning_starts ({config.learning_starts}) >= steps ({steps}): the agent would "
            "never take a gradient step; lower learning_starts or raise --steps"
        )


def check_stop_at(stop_at: Any) -> float | None:
    """``stop_at``: None, or a finite number (NaN would never stop, inf never be reached).

    Raises:
        UsageError: anything else.
    """
    number = isinstance(stop_at, int | float) and not isinstance(stop_at, bool)
    if stop_at is None or (number and math.isfinite(stop_at)):
        return stop_at
    raise UsageError(f"stop_at must be a finite number or None, got {stop_at!r}")


def plain(config: OffPolicyConfig) -> dict[str, Any]:
    """A config as plain data (tuples as lists), as a run saves it."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in asdict(config).items()
    }


# -- memory ----------------------------------------------------------------------------------------


def training_memory(settings: TrainingConfig, source) -> dict[str, int]:
    """Bytes a training run will hold at most, by part (:func:`rlcourse.memory.training_memory`)."""
    from rlcourse import memory

    kind = learner_kind(settings.algorithm)
    return memory.training_memory(settings.learner_config(), source, settings.steps,
                                  settings.eval_episodes, kind.memory)  # fmt: skip


def check_training_memory(settings: TrainingConfig, source) -> None:
    """Refuse a run that will not fit in the memory available now."""
    from rlcourse.memory import check_fits

    check_fits(
        training_memory(settings, source),
        "lower --steps, --eval-episodes or the sizes of --set (buffer_size, hidden)",
    )


__getattr__ = renamed(__name__, {"Settings": "TrainingConfig"})
