"""rliable's own estimates for ``rlcourse aggregate``, used where rliable imports and works.

The estimates are those of :mod:`rlcourse.sweep.analysis` and :mod:`rlcourse.aggregate`, computed
by rliable (``from rliable import library as rly, metrics``): the IQM (``metrics.aggregate_iqm``)
and mean of the runs pooled over envs, the probability of improvement per env
(``metrics.probability_of_improvement``) averaged over envs, each with a 95% percentile interval
from rliable's stratified bootstrap (``rly.get_interval_estimates`` given one array per env:
each env's runs are resampled on their own, so envs may hold different numbers of runs), with
:data:`rlcourse.sweep.analysis.N_RESAMPLES` resamples seeded like the scipy ones.

rliable 1.2 needs ``arch < 8``, and ``arch`` 7 does not import with pandas 3: :func:`load` tries a
tiny estimate and falls back to the scipy implementation, saying why, when it fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType

import numpy as np

from common.packages import import_installed
from rlcourse.stats import CONFIDENCE
from rlcourse.sweep.analysis import N_RESAMPLES

SCIPY = "scipy"
"""The implementation named when rliable is not used."""


@dataclass(frozen=True)
class Rliable:
    """rliable's ``library`` and ``metrics`` modules, and its version."""

    rly: ModuleType
    metrics: ModuleType
    version: str

    def _intervals(self, arrays: list[np.ndarray], statistic, seed: int):
        """Point estimates and 95% percentile intervals of ``statistic(*arrays)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # arch's and rliable's deprecation notices
            points, intervals = self.rly.get_interval_estimates(
                {"x": [np.asarray(a, dtype=np.float64)[:, None] for a in arrays]},
                statistic,
                reps=N_RESAMPLES,
                confidence_interval_size=CONFIDENCE,
                random_state=np.random.RandomState(seed),
            )
        return np.asarray(points["x"]), np.asarray(intervals["x"])

    def mean_iqm(self, strata: Sequence[np.ndarray], seed: int = 0) -> dict[str, float]:
        """What :func:`rlcourse.sweep.analysis.mean_iqm_intervals` returns, by rliable."""
        strata = [np.asarray(s, dtype=np.float64) for s in strata]

        def statistic(*arrays: np.ndarray) -> np.ndarray:
            pooled = np.concatenate([a.ravel() for a in arrays])[:, None]  # runs × one task
            return np.array([self.metrics.aggregate_mean(pooled),
                             self.metrics.aggregate_iqm(pooled)])  # fmt: skip

        if min(len(s) for s in strata) < 2:  # no interval: the point estimates
            point = statistic(*strata)
            low = high = point
        else:
            point, (low, high) = self._intervals(strata, statistic, seed)
        return {
            "mean": float(point[0]),
            "mean_low": float(low[0]),
            "mean_high": float(high[0]),
            "iqm": float(point[1]),
            "iqm_low": float(low[1]),
            "iqm_high": float(high[1]),
            "n": sum(len(s) for s in strata),
        }

    def improvement(
        self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], seed: int = 0
    ) -> tuple[float, float, float]:
        """P(X > Y) averaged over envs (``pairs``: X's and Y's scores per env), 95% interval."""
        arrays = [np.asarray(a, dtype=np.float64) for pair in pairs for a in pair]

        def statistic(*arrays: np.ndarray) -> np.ndarray:
            per_env = [
                self.metrics.probability_of_improvement(arrays[i], arrays[i + 1])
                for i in range(0, len(arrays), 2)
            ]
            return np.array([np.mean(per_env)])

        if min(len(a) for a in arrays) < 2:
            estimate = float(statistic(*[a[:, None] for a in arrays])[0])
            return estimate, estimate, estimate
        point, (low, high) = self._intervals(arrays, statistic, seed)
        return float(point[0]), float(low[0]), float(high[0])


def load() -> tuple[Rliable | None, str]:
    """The rliable modules where they import and bootstrap (else None), and the method's name.

    The name is ``rliable X.Y.Z``, or ``scipy (…)`` saying why rliable is not used.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = Rliable(import_installed("rliable.library"),
                            import_installed("rliable.metrics"),
                            metadata.version("rliable"))  # fmt: skip
        found.mean_iqm([np.arange(4.0)])  # rliable 1.2 with arch 8 fails only here
    except ImportError:
        return None, f"{SCIPY} (rliable is not installed)"
    except Exception as err:  # a broken install (arch against pandas): say so, use scipy
        reason = (str(err).strip().splitlines() or [""])[0]
        return None, f"{SCIPY} (rliable does not work here: {type(err).__name__}: {reason})"
    return found, f"rliable {found.version}"
