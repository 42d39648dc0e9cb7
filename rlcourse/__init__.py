"""rlcourse: compare reinforcement-learning agents on Gymnasium environments.

>>> import rlcourse
>>> results = rlcourse.compare("bandit", ["greedy", "epsilon-greedy:epsilon=0.1"],
...                            runs=200, steps=500, progress=False)
>>> results.summary.columns.tolist()
['agent', 'metric', 'mean', 'ci_low', 'ci_high', 'n']
"""

from rlcourse.errors import UsageError
from rlcourse.loop import compare, run
from rlcourse.plots import plot
from rlcourse.results import Results, load_results

__all__ = ["Results", "UsageError", "compare", "load_results", "plot", "run"]
