"""Greedy evaluations of every run of a comparison, as a callback of the run loop.

``compare(..., eval_every=N, eval_episodes=K)`` adds :class:`GreedyEvaluations` to each agent's
loop: every ``N`` steps (a step budget) or every ``N`` episodes of a run (an episode budget), the
greedy policy of each run that is due plays ``K`` episodes on evaluation envs of its own, and
the mean return is recorded as the metric ``eval_return``, ``(runs, budget // N)``. Run ``r``'s
episode ``k`` is seeded ``EVAL_SEED_OFFSET + seed + r * K + k`` at every evaluation, so all
agents and all evaluation points face the same evaluation problems, apart from the training
runs' seeds (``seed + r``). The evaluation episodes are one batch of the same run loop
(:func:`rlcourse.loop.run`), as :func:`rlcourse.checkpoints.evaluate_greedy` does for one
learner; they leave the agent's learning untouched.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from agents.base import Agent, HasGreedyPolicy
from rlcourse.checkpoints import single_envs
from rlcourse.environments import EnvSource
from rlcourse.errors import UsageError
from rlcourse.loop import Step, run

EVAL_SEED_OFFSET = 10_000
"""Evaluation envs are seeded from ``EVAL_SEED_OFFSET + seed``, away from the training runs'."""
EVAL_EPISODES = 10
"""Greedy episodes per run and evaluation, unless told."""


class GreedyRuns:
    """The greedy policies of an agent's runs as an agent: row ``j`` acts as run ``runs[j]``."""

    def __init__(self, agent: HasGreedyPolicy, runs: np.ndarray):
        self.agent, self.runs = agent, runs

    def reset(self, n_runs: int, rng: np.random.Generator) -> None:
        """Nothing to forget: the policies are the agent's, read as they are."""

    def act(self, obs) -> np.ndarray:
        """Each row's action under its run's greedy policy."""
        return self.agent.greedy_actions(obs, self.runs)

    def update(self, obs, action, reward, next_obs, terminated, truncated, info) -> None:
        """Nothing to learn."""


def check_evaluations(
    agents: Mapping[str, Agent],
    every: int | None,
    episodes: int,
    budget: int,
) -> None:
    """Refuse evaluations that cannot run: a bad count, or an agent without a greedy policy.

    Raises:
        UsageError: naming the value or the agent.
    """
    if every is None:
        return
    for name, value in (("eval_every", every), ("eval_episodes", episodes)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if every > budget:
        raise UsageError(f"eval_every {every} is more than the budget ({budget}): no evaluation")
    without = [label for label, agent in agents.items() if not isinstance(agent, HasGreedyPolicy)]
    if without:
        raise UsageError(
            f"{', '.join(without)} has no greedy policy to evaluate; leave it out or drop "
            "eval_every"
        )


class GreedyEvaluations:
    """Evaluates the greedy policy of each due run; ``returns`` is ``(runs, evaluations)``."""

    def __init__(self, source: EnvSource, runs: int, *, every: int, episodes: int, budget: int,
                 seed: int, by_episode: bool, first_run: int = 0):  # fmt: skip
        self.source, self.every, self.episodes = source, every, episodes
        self.seed, self.by_episode, self.budget = EVAL_SEED_OFFSET + seed, by_episode, budget
        self.seed += first_run * episodes  # runs first_run, ... of a batch split into processes
        self.returns = np.full((runs, budget // every), np.nan)
        self.finished = np.zeros(runs, dtype=np.int64)

    def __call__(self, step: Step) -> None:
        """Evaluate the runs due after this step."""
        if self.by_episode:
            self.finished += step.done
            counts = self.finished
            due = step.done & (counts % self.every == 0) & (counts <= self.budget)
        else:
            counts = np.full(len(self.finished), step.t)
            due = np.full(len(self.finished), step.t % self.every == 0 and step.t <= self.budget)
        columns = counts // self.every - 1
        for first, last in _contiguous(np.flatnonzero(due)):  # a step budget: one batch
            self._evaluate(step.agent, first, last, columns)

    def _evaluate(self, agent, first: int, last: int, columns: np.ndarray) -> None:
        k = self.episodes
        runs = np.repeat(np.arange(first, last + 1), k)
        metrics = run(single_envs(self.source), GreedyRuns(agent, runs), runs=len(runs),
                      episodes=1, seed=self.seed + first * k, progress=False)  # fmt: skip
        means = metrics["return"][:, 0].reshape(-1, k).mean(axis=1)
        self.returns[np.arange(first, last + 1), columns[first : last + 1]] = means

    def arrays(self) -> dict[str, np.ndarray]:
        """``{"eval_return": (runs, evaluations)}``."""
        return {"eval_return": self.returns}


def run_evaluated(
    source: EnvSource,
    agent: Agent,
    evaluations: Mapping[str, int] | None,
    *,
    eval_seed: int,
    first_run: int = 0,
    **settings,
) -> dict[str, np.ndarray]:
    """:func:`rlcourse.loop.run` of ``agent``, with its runs' greedy evaluations when asked.

    ``evaluations``: ``{"every": N, "episodes": K}`` or None; ``settings``: the run's keyword
    arguments (``runs``, ``steps`` or ``episodes``, ``seed``, …). The evaluations are numbered
    from ``eval_seed`` as those of runs ``first_run, first_run + 1, …`` of a whole comparison
    (:class:`GreedyEvaluations`), and their ``eval_return`` joins the run's metrics.
    """
    steps, episodes = settings.get("steps"), settings.get("episodes")
    callbacks = []
    if evaluations is not None:
        callbacks = [GreedyEvaluations(source, settings["runs"], **evaluations,
                                       budget=steps or episodes, seed=eval_seed,
                                       by_episode=steps is None, first_run=first_run)]  # fmt: skip
    arrays = run(source, agent, callbacks=callbacks, **settings)
    for callback in callbacks:
        arrays.update(callback.arrays())
    return arrays


def _contiguous(rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive indices in sorted ``rows``, as (first, last) pairs."""
    if not len(rows):
        return []
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.concatenate([[rows[0]], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], [rows[-1]]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
