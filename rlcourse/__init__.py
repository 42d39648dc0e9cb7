"""rlcourse: compare reinforcement-learning agents on Gymnasium environments.

>>> import rlcourse
>>> results = rlcourse.compare("bandit", ["greedy", "epsilon-greedy:epsilon=0.1"],
...                            runs=200, steps=500, progress=False)
>>> results.summary.columns.tolist()
['agent', 'metric', 'mean', 'ci_low', 'ci_high', 'n']

Importing it registers the ``rlcourse/`` env ids with Gymnasium (as ``import minigrid`` does):
``gym.make("rlcourse/Bandit-v0")`` after it, or ``gym.make("rlcourse:rlcourse/Bandit-v0")``
without it. Attributes are imported on first use, so ``rlcourse --help`` does not pay for
pandas, scipy and matplotlib.
"""

import envs  # noqa: F401  (registers the rlcourse/ ids: cheap, no env code is imported)
from rlcourse.lazy import lazy_exports

_EXPORTS = {
    "compare": "rlcourse.comparison",
    "run": "rlcourse.loop",
    "Results": "rlcourse.results",
    "load_results": "rlcourse.results",
    "plot": "rlcourse.plots",
    "UsageError": "rlcourse.errors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
