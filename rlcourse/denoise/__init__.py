"""The denoise report: every denoiser of the course on the same held-out crops.

Split by concern: :mod:`~rlcourse.denoise.config` (what is measured, how much is trained),
:mod:`~rlcourse.denoise.data` (evaluation and training crops), :mod:`~rlcourse.denoise.baselines`
(filters and scikit-image's denoisers), :mod:`~rlcourse.denoise.training` (DnCNN, the DQNs and
their rollouts, through the run loop), :mod:`~rlcourse.denoise.report` (the measurements and
the files) and :mod:`~rlcourse.denoise.figure`. The environments are :mod:`envs.denoise`'s (with
:mod:`envs.filters` and :mod:`envs.images`).
"""

from rlcourse.denoise.config import QUICK, ReportConfig
from rlcourse.denoise.report import denoise_report

__all__ = ["QUICK", "ReportConfig", "denoise_report"]
