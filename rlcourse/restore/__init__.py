"""The restore report: the per-pixel DQN beside classical methods and a U-Net, per task.

Split by concern: :mod:`~rlcourse.restore.config` (what is measured, how much is trained),
:mod:`~rlcourse.restore.methods` (the evaluation set, the classical methods, the U-Net),
:mod:`~rlcourse.restore.agent` (the per-pixel DQN, trained and rolled out through the run loop),
:mod:`~rlcourse.restore.report` (the measurements and the files). The environments are
:mod:`envs.denoise`'s with ``task=inpaint|upres`` (:mod:`envs.restore_tasks`); ``denoise`` is
``rlcourse denoise report`` (:mod:`rlcourse.denoise`).
"""

from rlcourse.restore.config import QUICK, RestoreConfig
from rlcourse.restore.report import restore_report

__all__ = ["QUICK", "RestoreConfig", "restore_report"]
