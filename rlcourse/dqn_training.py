"""Train one DQN on one env: the run loop with callbacks that evaluate, log and checkpoint.

``rlcourse train dqn ENV --out DIR`` writes into DIR (each file atomically, so a run killed at
any moment leaves the files of its last checkpoint):

- ``resume.pt``: everything training goes on from (both networks, Adam, the replay buffer, every
  generator, the counters, the env's position, the curves so far), every ``checkpoint_every``
  steps; :func:`resume_dqn` (``rlcourse train dqn --resume DIR``) continues from it and ends
  exactly where the uninterrupted run would have;
- ``checkpoint.pt``: the latest policy (the online network and what it was trained on,
  :mod:`rlcourse.checkpoints`), rewritten at every evaluation, and ``best.pt``: the policy of the
  best greedy evaluation so far (the earliest, on ties);
- ``episodes.csv`` (``step,return,length`` of every training episode) and
  ``evaluations.csv`` (``step,mean_return,episodes,train_seconds``: greedy evaluations during
  training; ``train_seconds`` is the training time so far, evaluations and checkpoints not
  counted), ``training.png`` (training returns and evaluations against env steps);
- ``metrics.json`` at the end: final and best greedy evaluation (and which file holds each
  policy), steps, seconds, steps per second.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.dqn_config import DQNConfig
from agents.specs import SpecError, build_params
from common.atomic import atomic_path, write_text
from rlcourse.checkpoints import (
    check_finite_weights,
    evaluate_greedy,
    read_checkpoint,
    resolve_saved_env,
    save_checkpoint,
    single_envs,
)
from rlcourse.environments import EnvSource, resolve_env
from rlcourse.errors import UsageError
from rlcourse.loop import Position, Step, run
from rlcourse.outputs import listed_as_written

SOLVED = {"CartPole-v1": 475.0}
"""Greedy mean returns that count as solving an env (for reports)."""
RUN_FILES = ("resume.pt", "checkpoint.pt", "best.pt", "episodes.csv", "evaluations.csv",
             "training.png", "metrics.json")  # fmt: skip
"""What every training run writes, listed in its stamp before it is (and kept there once it is:
:meth:`rlcourse.outputs.ResumableOutput.finish`); TensorBoard's files join the list as they are
made."""
RESUME_FORMAT = "rlcourse-dqn-training/1"
"""What ``resume.pt`` says it is (refused when it says anything else)."""


def dqn_config(overrides: dict[str, str]) -> DQNConfig:
    """A :class:`DQNConfig` from ``--set KEY=VALUE`` strings (refused with the known keys)."""
    try:
        return build_params(DQNConfig, overrides, "dqn")
    except SpecError as err:
        raise UsageError(str(err)) from None


@dataclass
class Settings:
    """What a training run was asked to do (saved with it; a resume keeps all but two)."""

    env: str
    env_kwargs: dict[str, Any]
    steps: int
    """The total budget (a resume may raise it)."""
    seed: int
    config: dict[str, Any]
    eval_every: int = 5000
    eval_episodes: int = 20
    checkpoint_every: int | None = None
    """Steps between ``resume.pt`` checkpoints (None: at every evaluation)."""
    stop_at: float | None = None
    """Stop at the first greedy evaluation whose mean return reaches it (a resume may change it)."""
    wrappers: list[str] = field(default_factory=list)
    """Gymnasium wrappers of the env, in order (``module:Class[:k=v,...]``)."""
    preset: str | None = None
    """The rlcourse preset the settings came from (None: none)."""

    @property
    def every(self) -> int:
        """Steps between checkpoints."""
        return self.checkpoint_every or self.eval_every


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


@dataclass
class Curves:
    """What a run has logged so far: training episodes, greedy evaluations, the best one."""

    episodes: list[tuple[int, float, int]] = field(default_factory=list)
    evaluations: list[tuple[int, float, int, float]] = field(default_factory=list)
    best_step: int | None = None
    best_return: float = -math.inf


class EpisodeLog:
    """Callback: ``(step, return, length)`` of every training episode (one run)."""

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
    """Callback: a greedy evaluation every ``eval_every`` steps and at the last.

    Each writes ``checkpoint.pt`` (the latest policy) and, when it is the best so far,
    ``best.pt``. Returns ``True`` (stop) once an evaluation reaches ``stop_at``.
    """

    def __init__(self, learner, source: EnvSource, out: Path, settings: Settings,
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
            score = float(evaluate_greedy(self.learner, self.source, s.eval_episodes, seed).mean())
            save_checkpoint(self.out / "checkpoint.pt", self.learner, self.source)
            if score > self.curves.best_return:
                self.curves.best_step, self.curves.best_return = step.t, score
                save_checkpoint(self.out / "best.pt", self.learner, self.source,
                                step=step.t, mean_return=score)  # fmt: skip
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
    """Callback: ``resume.pt`` and the curves every ``settings.every`` steps.

    Also at the last step and where an evaluation stops the run (it runs after the evaluations).
    """

    def __init__(self, learner, out: Path, settings: Settings, curves: Curves, clock: Clock,
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
            save_curves(self.out, self.settings.env, self.curves)


def loss_log(learner, writer, every: int = 100):
    """Callback: TD loss and steps per second to TensorBoard every ``every`` steps."""
    start = time.perf_counter()

    def log(step: Step) -> None:
        if learner.losses and step.t % every == 0:
            writer.add_scalar("losses/td_loss", learner.losses[-1], step.t)
            writer.add_scalar("charts/SPS", step.t / (time.perf_counter() - start), step.t)

    return log


def prepare_training(
    env: str,
    *,
    steps: int = 50_000,
    seed: int = 0,
    config: DQNConfig | None = None,
    env_kwargs: dict[str, Any] | None = None,
    eval_every: int = 5000,
    eval_episodes: int = 20,
    checkpoint_every: int | None = None,
    stop_at: float | None = None,
    wrappers: list[str] | tuple[str, ...] = (),
    preset: str | None = None,
) -> tuple[Settings, EnvSource]:
    """Validate a training run before anything is written: its settings and its env.

    Args:
        env: a registered id, an alias or ``module:Class``.
        steps: env steps.
        seed: drives everything.
        config: DQN's hyperparameters (default: :class:`DQNConfig`'s).
        env_kwargs: constructor arguments of the env.
        eval_every: steps between greedy evaluations (and at the last step).
        eval_episodes: episodes per evaluation.
        checkpoint_every: steps between ``resume.pt`` checkpoints (default: each evaluation).
        stop_at: stop at the first evaluation whose mean return reaches it.
        wrappers: Gymnasium wrappers of the env, in order (``module:Class[:k=v,...]``).
        preset: the name of the rlcourse preset the settings came from (saved with the run).

    Raises:
        UsageError: bad env, spaces DQN cannot use, ``learning_starts`` >= ``steps`` (it would
            never learn), or a replay buffer that does not fit in memory.
    """
    from agents.dqn import check_spaces

    config = config or DQNConfig()
    source = resolve_env(env, env_kwargs, wrappers=wrappers)
    probe = source.make_one()
    try:
        check_spaces(probe.observation_space, probe.action_space)
    except ValueError as err:
        raise UsageError(f"{err}; agents that fit {source.name}: random") from None
    finally:
        probe.close()
    _check_steps(steps, config)
    for name, value in (("eval_every", eval_every), ("eval_episodes", eval_episodes),
                        ("checkpoint_every", checkpoint_every or 1)):  # fmt: skip
        if value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    _check_stop_at(stop_at)
    settings = Settings(source.name, source.kwargs, steps, seed, _plain(asdict(config)),
                        eval_every, eval_episodes, checkpoint_every, stop_at,
                        list(source.wrappers), preset)  # fmt: skip
    check_training_memory(settings, source)
    return settings, source


def train_dqn(
    env: str,
    out: Path,
    *,
    progress: bool = True,
    tensorboard: bool = False,
    device: str | None = None,
    threads: int = 1,
    **settings: Any,
) -> dict[str, Any]:
    """Train, evaluate every ``eval_every`` steps, save everything into ``out``; return metrics.

    Args:
        env: a registered id, an alias or ``module:Class``.
        out: the directory to write (made if missing).
        progress: show a progress bar.
        tensorboard: log to ``out/tensorboard``.
        device: ``auto`` (default), ``cpu`` or ``cuda[:N]``: where the networks train
            (:mod:`common.devices`); recorded in the metrics.
        threads: torch (and BLAS) threads while training; 1, the default, is the fastest for
            small networks on a CPU.
        **settings: ``steps``, ``seed``, ``config``, ``env_kwargs``, ``eval_every``,
            ``eval_episodes``, ``checkpoint_every``, ``stop_at``: see :func:`prepare_training`.

    Raises:
        UsageError: see :func:`prepare_training`.
        DeviceError: the device is not available.
    """
    settings, source = prepare_training(env, **settings)
    return train_from_settings(settings, source, Path(out), progress=progress,
                               tensorboard=tensorboard, device=device,
                               threads=threads)  # fmt: skip


def resume_dqn(
    out: Path,
    *,
    steps: int | None = None,
    stop_at: float | None | str = "saved",
    env: str | None = None,
    wrappers: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    tensorboard: bool = False,
    device: str | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Continue the training run saved in ``out/resume.pt``, writing into ``out``.

    The run ends with the same weights, curves and metrics (training time aside) as if it had
    never stopped (one torch thread, the same machine and device). The arguments are
    :func:`prepare_resume`'s; ``progress``, ``tensorboard``, ``device`` and ``threads`` as for
    :func:`train_dqn` (a run may resume on another device than it started on).

    Raises:
        UsageError: see :func:`prepare_resume`.
    """
    settings, source, saved = prepare_resume(out, steps=steps, stop_at=stop_at, env=env,
                                             wrappers=wrappers)  # fmt: skip
    return train_from_settings(settings, source, Path(out), progress=progress,
                               tensorboard=tensorboard, saved=saved, device=device,
                               threads=threads)  # fmt: skip


def prepare_resume(
    out: Path,
    *,
    steps: int | None = None,
    stop_at: float | None | str = "saved",
    env: str | None = None,
    wrappers: list[str] | tuple[str, ...] = (),
    preset: str | None = None,
    finished_ok: bool = False,
) -> tuple[Settings, EnvSource, dict]:
    """Read and check the run saved in ``out/resume.pt`` before anything is written.

    Args:
        out: the directory of the run.
        steps: a new total budget (default: the saved one).
        stop_at: a new early-stop threshold (None: none; default: the saved one).
        env: the env's name when the saved one is ``module:Class`` (which a file alone never
            runs: naming it trusts it); it must be the run's env.
        wrappers: the saved wrappers, named again to trust them (a file alone never runs them);
            they must be the run's.
        preset: a preset's name (``none``: none) that must be the run's (None: not checked).
        finished_ok: accept a run with nothing left to do (:func:`run_finished`), to complete
            one killed between its last checkpoint and its swap (:func:`finished_metrics`).

    Raises:
        UsageError: no resumable run in ``out``, a file that is not one, code the user did not
            name, another env, wrappers or preset than the run's, or nothing left to do.
    """
    saved = read_training(Path(out))
    settings = _saved_settings(saved, Path(out) / "resume.pt")
    if steps is not None:
        settings.steps = steps
    if stop_at != "saved":
        settings.stop_at = _check_stop_at(stop_at)
    _check_same_run(out, settings, wrappers, preset)
    position = Position.from_dict(saved["position"])
    if not finished_ok and run_finished(settings, saved):
        if position.t >= settings.steps:
            raise UsageError(
                f"{out} finished at step {position.t} of {settings.steps}: nothing to resume "
                f"(give more steps to train on)"
            )
        raise UsageError(
            f"{out} stopped at step {position.t}, where an evaluation reached --stop-at "
            f"{settings.stop_at}: nothing to resume (give a higher --stop-at to train on)"
        )
    source = resolve_saved_env(settings.env, settings.env_kwargs, env, Path(out) / "resume.pt",
                               settings.wrappers, wrappers)  # fmt: skip
    if source.name != settings.env:
        raise UsageError(
            f"{out} was trained on {settings.env}, not {source.name}: a resume keeps the run's "
            f"env (leave ENV out)"
        )
    check_training_memory(settings, source)
    return settings, source, saved


def _check_same_run(out: Path, settings: Settings, wrappers, preset: str | None) -> None:
    """Refuse wrappers or a preset other than those the run was trained with."""
    if wrappers and list(wrappers) != list(settings.wrappers):
        raise UsageError(
            f"{out} was trained with the wrappers {', '.join(settings.wrappers) or '(none)'}, "
            f"not {', '.join(wrappers)}: a resume keeps the run's wrappers"
        )
    if preset is not None and preset != (settings.preset or "none"):
        raise UsageError(
            f"{out} was trained with the preset {settings.preset or 'none'}, not {preset}: a "
            "resume keeps the run's preset (leave --preset out)"
        )


def run_finished(settings: Settings, saved: dict) -> bool:
    """Whether the saved run has nothing left to do: its last step, or a stop at ``stop_at``."""
    t = int(saved["position"]["t"])
    if t >= settings.steps:
        return True
    evaluations = _saved_curves(saved).evaluations  # checked by _saved_settings
    return (settings.stop_at is not None and bool(evaluations) and evaluations[-1][0] == t
            and evaluations[-1][1] >= settings.stop_at)  # fmt: skip


def finished_metrics(out: Path, settings: Settings, saved: dict, device: str | None = None) -> dict:
    """The metrics of a finished run (``out/metrics.json``, written from ``resume.pt`` if missing).

    For a run killed after its last checkpoint, before it became ``OUT/``. ``device`` is the one
    recorded when ``metrics.json`` must be written (the run's own is not saved in ``resume.pt``).
    """
    from common import devices

    try:
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        if isinstance(metrics, dict):
            return metrics
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass
    curves = _saved_curves(saved)
    metrics = _metrics(settings, int(saved["position"]["t"]), float(saved["train_seconds"]), curves)
    with devices.using(device) as chosen:
        metrics["device"] = devices.describe(chosen)
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def train_from_settings(
    settings: Settings,
    source: EnvSource,
    out: Path,
    *,
    progress: bool = True,
    tensorboard: bool = False,
    saved: dict | None = None,
    device: str | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Train as ``settings`` say (from :func:`prepare_training`), or go on from ``saved``.

    ``device``: where the networks train (None: :func:`common.devices.current`);
    ``threads``: torch and BLAS threads meanwhile.
    """
    from common import devices
    from supervised.train import threads as using_threads

    with devices.using(device) as chosen, using_threads(threads):
        metrics = _train(settings, source, out, progress, tensorboard, saved)
        metrics["device"] = devices.describe(chosen)
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _train(settings: Settings, source: EnvSource, out: Path, progress: bool, tensorboard: bool,
           saved: dict | None) -> dict[str, Any]:  # fmt: skip
    import torch

    from agents.dqn import DQNLearner
    from agents.off_policy import OneLearner

    config = _config(settings.config)
    _check_steps(settings.steps, config)
    probe = source.make_one()
    learner = DQNLearner(config, probe.observation_space, probe.action_space,
                         np.random.default_rng([settings.seed, 1]))  # fmt: skip
    probe.close()
    curves, clock, resume = Curves(), Clock(), None
    if saved is not None:
        try:
            learner.load_training_state(saved["learner"])
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{out / 'resume.pt'} does not fit: {err}") from None
        torch.set_rng_state(saved["torch_rng"])
        curves = _saved_curves(saved)
        clock = Clock(float(saved["train_seconds"]))
        resume = Position.from_dict(saved["position"])
    out.mkdir(parents=True, exist_ok=True)
    writer = None
    if tensorboard:
        with listed_as_written(out, "tensorboard"):  # its event files, none of anyone else's
            writer = _tensorboard(out)
            writer.flush()
    evaluations = Evaluations(learner, source, out, settings, curves, clock, writer, progress)
    callbacks = [
        EpisodeLog(curves, writer),
        evaluations,
        Checkpoints(learner, out, settings, curves, clock, evaluations),
    ]
    if writer:
        callbacks.append(loss_log(learner, writer))
    done = run(single_envs(source), OneLearner(learner), runs=1, steps=settings.steps,
               seed=settings.seed, progress=progress, callbacks=callbacks,
               resumable=True, resume=resume)["reward"].shape[1]  # fmt: skip
    if writer:
        writer.close()
    steps = (resume.t if resume else 0) + done
    return _metrics(settings, steps, clock.train_seconds(), curves)


# -- resume.pt -------------------------------------------------------------------------------------


def save_training(out: Path, learner, settings: Settings, curves: Curves, position: Position,
                  train_seconds: float) -> None:  # fmt: skip
    """Write ``resume.pt`` atomically: tensors and plain data only."""
    import torch

    state = {
        "format": RESUME_FORMAT,
        "settings": asdict(settings),
        "learner": learner.training_state(),
        "torch_rng": torch.get_rng_state(),
        "position": position.as_dict(),
        "episodes": [list(row) for row in curves.episodes],
        "evaluations": [list(row) for row in curves.evaluations],
        "best": [curves.best_step, curves.best_return],
        "train_seconds": train_seconds,
    }
    with atomic_path(out / "resume.pt") as temporary:
        torch.save(state, temporary)


def read_training(out: Path) -> dict:
    """The saved state of a training run (``resume.pt``), checked; never unpickled as code.

    Raises:
        UsageError: no ``resume.pt``, a corrupt one, or one that is not an rlcourse run.
    """
    path = out / "resume.pt"
    if not path.is_file():
        raise UsageError(f"{out} holds no resume.pt: no training run to resume there")
    saved = read_checkpoint(path, needed=("format", "settings", "learner", "position"))
    if saved["format"] != RESUME_FORMAT:
        raise UsageError(f"{path} is not an rlcourse DQN training state ({saved['format']!r})")
    learner = saved["learner"] if isinstance(saved["learner"], dict) else {}
    for part in ("online", "target"):
        check_finite_weights(learner.get(part), path)
    return saved


def _saved_settings(saved: dict, path: Path) -> Settings:
    try:
        settings = Settings(**saved["settings"])
        for name in ("steps", "seed", "eval_every", "eval_episodes"):
            if not isinstance(getattr(settings, name), int):
                raise TypeError(f"{name} is not an integer")
        if not isinstance(settings.env, str) or not isinstance(settings.env_kwargs, dict):
            raise TypeError("env is not a name with kwargs")
        if not isinstance(settings.preset, str | None):
            raise TypeError("preset is not a name")
        _check_stop_at(settings.stop_at)
        Position.from_dict(saved["position"])
        _config(settings.config)
        _saved_curves(saved)  # the rest of resume.pt, read before anything is written
        float(saved["train_seconds"])
        _check_torch_rng(saved["torch_rng"])
    except (TypeError, ValueError, KeyError, UsageError) as err:
        raise UsageError(f"{path} has bad settings: {err}") from None
    return settings


def _check_stop_at(stop_at: Any) -> float | None:
    """``stop_at``: None, or a finite number (NaN would never stop, inf never be reached).

    Raises:
        UsageError: anything else.
    """
    number = isinstance(stop_at, int | float) and not isinstance(stop_at, bool)
    if stop_at is None or (number and math.isfinite(stop_at)):
        return stop_at
    raise UsageError(f"stop_at must be a finite number or None, got {stop_at!r}")


def _check_torch_rng(state: Any) -> None:
    import torch

    if not (torch.is_tensor(state) and state.shape == torch.get_rng_state().shape):
        raise ValueError("torch_rng is not a state of torch's generator")


def _saved_curves(saved: dict) -> Curves:
    best_step, best_return = saved["best"]
    return Curves(
        [(int(t), float(r), int(n)) for t, r, n in saved["episodes"]],
        [(int(t), float(r), int(n), float(s)) for t, r, n, s in saved["evaluations"]],
        None if best_step is None else int(best_step),
        float(best_return),
    )


def _config(config: dict[str, Any]) -> DQNConfig:
    try:
        return DQNConfig(**{**config, "hidden": tuple(config["hidden"])})
    except (TypeError, ValueError, KeyError) as err:
        raise UsageError(f"bad DQN config: {err}") from None


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    return {
        key: list(value) if isinstance(value, tuple) else value for key, value in config.items()
    }


# -- memory ----------------------------------------------------------------------------------------


def training_memory(settings: Settings, source: EnvSource) -> dict[str, int]:
    """Bytes a training run will hold at most, by part (:func:`rlcourse.memory.training_memory`)."""
    from rlcourse import memory

    config = _config(settings.config)
    return memory.training_memory(config, source, settings.steps, settings.eval_episodes)


def check_training_memory(settings: Settings, source: EnvSource) -> None:
    """Refuse a run that will not fit in the memory available now."""
    from rlcourse.memory import check_fits

    check_fits(
        training_memory(settings, source),
        "lower --steps, --eval-episodes or the sizes of --set (buffer_size, hidden)",
    )


# -- results ---------------------------------------------------------------------------------------


def _check_steps(steps: int, config: DQNConfig) -> None:
    from rlcourse.memory import check_count

    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    check_count("steps", steps)
    if config.learning_starts >= steps:
        raise UsageError(
            f"learning_starts ({config.learning_starts}) >= steps ({steps}): the agent would "
            "never take a gradient step; lower learning_starts or raise --steps"
        )


def _metrics(settings: Settings, steps: int, train_seconds: float, curves: Curves) -> dict:
    rows = curves.evaluations
    solved = next((e for e in rows if e[1] >= SOLVED.get(settings.env, math.inf)), None)
    return {
        "env": settings.env,
        "steps": steps,
        "seed": settings.seed,
        "train_seconds": round(train_seconds, 3),
        "steps_per_second": round(steps / train_seconds, 1),
        "episodes": len(curves.episodes),
        "final_eval_return": rows[-1][1],
        "final_checkpoint": "checkpoint.pt",
        "best_eval_return": curves.best_return,
        "best_eval_step": curves.best_step,
        "best_checkpoint": "best.pt",
        "stopped_early": steps < settings.steps,
        "solved_at_step": solved[0] if solved else None,
        "solved_at_train_seconds": round(solved[3], 3) if solved else None,
    }


def require_tensorboard():
    """TensorBoard's ``SummaryWriter``.

    Raises:
        UsageError: the tensorboard package is missing (says how to install it).
    """
    from common.packages import import_installed

    try:
        import_installed("tensorboard")  # what torch.utils.tensorboard imports: the installed one
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(
            "--tensorboard needs the tensorboard package: pip install 'rlcourse[tensorboard]'"
        ) from None
    return SummaryWriter


def _tensorboard(out: Path):
    return require_tensorboard()(str(out / "tensorboard"))


def save_curves(out: Path, env: str, curves: Curves) -> None:
    """``episodes.csv``, ``evaluations.csv`` and ``training.png`` of the run so far."""
    import pandas as pd
    from matplotlib.figure import Figure

    frame = pd.DataFrame(curves.episodes, columns=["step", "return", "length"])
    write_text(out / "episodes.csv", frame.to_csv(index=False))
    columns = ["step", "mean_return", "episodes", "train_seconds"]
    evals = pd.DataFrame(curves.evaluations, columns=columns)
    write_text(out / "evaluations.csv", evals.to_csv(index=False))
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    if len(frame):
        ax.plot(frame.step, frame["return"], color="0.7", linewidth=0.8, label="training episodes")
        smooth = frame["return"].rolling(20, min_periods=1).mean()
        ax.plot(frame.step, smooth, label="training, mean of 20")
    ax.plot(evals.step, evals.mean_return, marker="o", label="greedy evaluation")
    if curves.best_step is not None:
        ax.plot([curves.best_step], [curves.best_return], marker="*", markersize=14,
                linestyle="none", color="C3", label="best (best.pt)")  # fmt: skip
    ax.set_xlabel("Env steps")
    ax.set_ylabel("Return")
    ax.set_title(f"DQN on {env}")
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(out / "training.png") as temporary:
        fig.savefig(temporary, dpi=110)
