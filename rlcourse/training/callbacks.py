"""The run loop's callbacks of a training run: they log, evaluate and checkpoint any learner.

The learner is any :class:`agents.off_policy.OffPolicyLearner` (what it needs: ``greedy``,
``state``, ``training_state``, ``losses``); the callbacks share a :class:`Clock` (training time)
and the run's :class:`~rlcourse.training.curves.Curves`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlcourse.checkpoints import evaluate_greedy, save_checkpoint
from rlcourse.environments import EnvSource
from rlcourse.loop import Step
from rlcourse.training.curves import Curves, save_curves
from rlcourse.training.learners import learner_kind
from rlcourse.training.resume_format import save_training
from rlcourse.training.settings import TrainingConfig


class Clock:
    """Training time: wall time minus the time evaluations and checkpoints take."""

    def __init__(self, already: float = 0.0):
        self.start, self.paused, self.already = time.perf_counter(), 0.0, already

    def train_seconds(self) -> float:
        """Training seconds so far (those of earlier sessions of a resumed run included)."""
        return self.already + time.perf_counter() - self.start - self.paused

    @contextmanager
    def pause(self) -> Iterator[None]:
        """Time spent inside the block is not training time."""
        at = time.perf_counter()
        try:
            yield
        finally:
            self.paused += time.perf_counter() - at


class EpisodeLog:
    """Callback: ``(step, return, length)`` of every training episode (of run 0 of the batch)."""

    def __init__(self, curves: Curves, writer=None):
        self.curves, self.writer = curves, writer

    def __call__(self, step: Step) -> None:
        """Note an episode that ended at this step."""
        if step.done[0]:
            ret, length = float(step.episode_return[0]), int(step.episode_length[0])
            self.curves.episodes.append((step.t, ret, length))
            if self.writer:
                self.writer.add_scalar("charts/episodic_return", ret, step.t)
                self.writer.add_scalar("charts/episodic_length", length, step.t)


class Evaluations:
    """Callback: a greedy evaluation every ``eval_every`` env steps and at the last.

    Each writes ``checkpoint.pt`` (the latest policy) and, when it is the best so far,
    ``best.pt``. Returns ``True`` (stop) once an evaluation reaches ``stop_at``.
    """

    def __init__(self, learner, source: EnvSource, out: Path, settings: TrainingConfig,
                 curves: Curves, clock: Clock, writer=None, report: bool = False):  # fmt: skip
        self.learner, self.source, self.out, self.settings = learner, source, out, settings
        self.curves, self.clock, self.writer, self.report = curves, clock, writer, report
        self.stopped = False

    def __call__(self, step: Step) -> bool:
        """Evaluate (and save the policies) when due; stop at the threshold."""
        s = self.settings
        if step.t % s.eval_every and step.t != s.steps:
            return False
        train_seconds = self.clock.train_seconds()
        with self.clock.pause():
            seed = 10_000 + s.seed
            kept = self.learner.episode_state()  # a learner with a memory: training's episodes
            score = float(evaluate_greedy(self.learner, self.source, s.eval_episodes, seed).mean())
            self.learner.load_episode_state(kept)
            save_checkpoint(self.out / "checkpoint.pt", self.learner, self.source,
                            algorithm=s.algorithm)  # fmt: skip
            if score > self.curves.best_return:
                self.curves.best_step, self.curves.best_return = step.t, score
                save_checkpoint(self.out / "best.pt", self.learner, self.source,
                                algorithm=s.algorithm, step=step.t, mean_return=score)  # fmt: skip
        self.curves.evaluations.append((step.t, score, s.eval_episodes, train_seconds))
        step.bar.set_postfix(eval=f"{score:.1f}")
        if self.report:  # a line per evaluation, also where no bar is drawn (not a terminal)
            step.bar.write(
                f"eval at step {step.t} of {s.steps}: mean return {score:.2f} over "
                f"{s.eval_episodes} episodes; best {self.curves.best_return:.2f} at step "
                f"{self.curves.best_step}",
                file=sys.stderr,
            )
        if self.writer:
            self.writer.add_scalar("eval/mean_return", score, step.t)
        self.stopped = s.stop_at is not None and score >= s.stop_at
        return self.stopped


class Checkpoints:
    """Callback: ``resume.pt`` and the curves every ``settings.every`` env steps.

    Also at the last step and where an evaluation stops the run (it runs after the evaluations).
    """

    def __init__(self, learner, out: Path, settings: TrainingConfig, curves: Curves, clock: Clock,
                 evaluations: Evaluations):  # fmt: skip
        self.learner, self.out, self.settings = learner, out, settings
        self.curves, self.clock, self.evaluations = curves, clock, evaluations

    def __call__(self, step: Step) -> None:
        """Save when due."""
        due = step.t % self.settings.every == 0 or step.t == self.settings.steps
        if not (due or self.evaluations.stopped):
            return
        with self.clock.pause():
            save_training(self.out, self.learner, self.settings, self.curves,
                          step.position(), self.clock.train_seconds())  # fmt: skip
            save_curves(self.out, self.settings.env, self.curves,
                        learner_kind(self.settings.algorithm).title)  # fmt: skip


def loss_log(learner, writer, every: int = 100):
    """Callback: TD loss and env steps per second to TensorBoard every ``every`` env steps."""
    start = time.perf_counter()

    def log(step: Step) -> None:
        if learner.losses and step.t % every == 0:
            writer.add_scalar("losses/td_loss", learner.losses[-1], step.t)
            writer.add_scalar("charts/SPS", step.t / (time.perf_counter() - start), step.t)

    return log
