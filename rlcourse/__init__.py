"""rlcourse: compare reinforcement-learning agents on Gymnasium environments.

>>> import rlcourse
>>> results = rlcourse.compare("bandit", ["greedy", "epsilon-greedy:epsilon=0.1"],
...                            runs=200, steps=500, progress=False)
>>> results.summary.columns.tolist()
['agent', 'metric', 'mean', 'ci_low', 'ci_high', 'n']

Attributes are imported on first use, so ``rlcourse --help`` does not pay for pandas, scipy and
matplotlib.
"""

import importlib

_EXPORTS = {
    "compare": "rlcourse.loop",
    "run": "rlcourse.loop",
    "Results": "rlcourse.results",
    "load_results": "rlcourse.results",
    "plot": "rlcourse.plots",
    "UsageError": "rlcourse.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rlcourse' has no attribute {name!r}")
