"""Deprecated: :mod:`rlcourse.training` (for one release this module re-exports its names).

Import from :mod:`rlcourse.training.train` (``train_dqn``, ``resume_dqn``, ``prepare_training``,
``prepare_resume``, ``train_from_settings``, ``finished_metrics``, ``RUN_FILES``),
:mod:`rlcourse.training.settings` (``TrainingConfig``, here also as ``Settings``; ``dqn_config``,
``training_memory``, the defaults), :mod:`rlcourse.training.callbacks`,
:mod:`rlcourse.training.resume_format` and :mod:`rlcourse.training.curves` instead.
"""

from __future__ import annotations

import warnings

from rlcourse.training.callbacks import Checkpoints, Clock, EpisodeLog, Evaluations, loss_log
from rlcourse.training.curves import SOLVED, Curves, require_tensorboard, save_curves
from rlcourse.training.resume_format import (
    RESUME_FORMAT,
    read_training,
    run_finished,
    save_training,
)
from rlcourse.training.settings import (
    TrainingConfig,
    check_training_memory,
    dqn_config,
    training_memory,
)
from rlcourse.training.train import (
    RUN_FILES,
    finished_metrics,
    prepare_resume,
    prepare_training,
    resume_dqn,
    train_dqn,
    train_from_settings,
)

Settings = TrainingConfig

__all__ = [
    "RESUME_FORMAT",
    "RUN_FILES",
    "SOLVED",
    "Checkpoints",
    "Clock",
    "Curves",
    "EpisodeLog",
    "Evaluations",
    "Settings",
    "TrainingConfig",
    "check_training_memory",
    "dqn_config",
    "finished_metrics",
    "loss_log",
    "prepare_resume",
    "prepare_training",
    "read_training",
    "require_tensorboard",
    "resume_dqn",
    "run_finished",
    "save_curves",
    "save_training",
    "train_dqn",
    "train_from_settings",
    "training_memory",
]

warnings.warn(
    "rlcourse.dqn_training is deprecated: import from rlcourse.training (rlcourse.training.train "
    "for train_dqn and resume_dqn)",
    DeprecationWarning,
    stacklevel=2,
)
