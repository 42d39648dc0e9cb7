"""Train one off-policy learner on one env: the run loop with callbacks that evaluate, log and save.

``rlcourse train dqn ENV --out DIR`` writes into DIR (each file atomically, so a run killed at
any moment leaves the files of its last checkpoint):

- ``resume.pt``: everything training goes on from (both networks, Adam, the replay buffer, every
  generator, the counters, the env's position, the curves so far), every ``checkpoint_every``
  steps (:mod:`rlcourse.training.resume_format`); :func:`resume_dqn` (``rlcourse train dqn
  --resume DIR``) continues from it and ends exactly where the uninterrupted run would have;
- ``checkpoint.pt``: the latest policy (the online network and what it was trained on,
  :mod:`rlcourse.checkpoints`), rewritten at every evaluation, and ``best.pt``: the policy of the
  best greedy evaluation so far (the earliest, on ties);
- ``episodes.csv`` (``step,return,length`` of every training episode) and
  ``evaluations.csv`` (``step,mean_return,episodes,train_seconds``: greedy evaluations during
  training; ``train_seconds`` is the training time so far, evaluations and checkpoints not
  counted), ``training.png`` (training returns and evaluations against env steps);
- ``metrics.json`` at the end: final and best greedy evaluation (and which file holds each
  policy), steps, seconds, steps per second.

Any learner of :data:`rlcourse.training.learners.LEARNERS` trains so (``algorithm``; DQN unless
told).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.off_policy_config import OffPolicyConfig
from common.atomic import write_text
from rlcourse.checkpoints import resolve_saved_env, single_envs
from rlcourse.environments import EnvSource, import_gym_packages, resolve_env
from rlcourse.errors import UsageError
from rlcourse.loop import Position, run
from rlcourse.outputs import listed_as_written
from rlcourse.training import curves as logs
from rlcourse.training.callbacks import Checkpoints, Clock, EpisodeLog, Evaluations, loss_log
from rlcourse.training.curves import Curves
from rlcourse.training.learners import learner_kind
from rlcourse.training.resume_format import (
    read_training,
    run_finished,
    saved_curves,
    saved_settings,
)
from rlcourse.training.settings import (
    EVAL_EPISODES,
    EVAL_EVERY,
    STEPS,
    TrainingConfig,
    check_run,
    check_steps,
    check_stop_at,
    check_training_memory,
    plain,
)

RUN_FILES = ("resume.pt", "checkpoint.pt", "best.pt", "episodes.csv", "evaluations.csv",
             "training.png", "metrics.json")  # fmt: skip
"""What every training run writes, listed in its stamp before it is (and kept there once it is:
:meth:`rlcourse.outputs.ResumableOutput.finish`); TensorBoard's files join the list as they are
made."""


def prepare_training(
    env: str,
    *,
    steps: int = STEPS,
    seed: int = 0,
    config: OffPolicyConfig | None = None,
    env_kwargs: dict[str, Any] | None = None,
    eval_every: int = EVAL_EVERY,
    eval_episodes: int = EVAL_EPISODES,
    checkpoint_every: int | None = None,
    stop_at: float | None = None,
    wrappers: list[str] | tuple[str, ...] = (),
    preset: str | None = None,
    algorithm: str = "dqn",
    gym_packages: list[str] | tuple[str, ...] = (),
) -> tuple[TrainingConfig, EnvSource]:
    """Validate a training run before anything is written: its settings and its env.

    Args:
        env: a registered id, an alias or ``module:Class``.
        steps: env steps.
        seed: drives everything.
        config: the learner's hyperparameters (default: its config class's).
        env_kwargs: constructor arguments of the env.
        eval_every: env steps between greedy evaluations (and at the last step).
        eval_episodes: episodes per evaluation.
        checkpoint_every: env steps between ``resume.pt`` checkpoints (default: each evaluation).
        stop_at: stop at the first evaluation whose mean return reaches it.
        wrappers: Gymnasium wrappers of the env, in order (``module:Class[:k=v,...]``).
        preset: the name of the rlcourse preset the settings came from (saved with the run).
        algorithm: the learner (:data:`rlcourse.training.learners.LEARNERS`): ``dqn`` or
            ``pixel-dqn``.
        gym_packages: installed packages to import first, so that they register the env's id
            (:func:`rlcourse.environments.import_gym_packages`); saved with the run, whose
            resume imports them again.

    Raises:
        UsageError: an unknown learner, a bad env, a ``gym_packages`` name that is not an
            installed package, spaces the learner cannot use,
            ``learning_starts`` >= ``steps`` (it would never learn), or a replay buffer that
            does not fit in memory.
    """
    kind = learner_kind(algorithm)
    config = config or kind.config()
    gym_packages = list(dict.fromkeys(gym_packages))
    import_gym_packages(gym_packages)
    source = resolve_env(env, env_kwargs, wrappers=wrappers)
    probe = source.make_one()
    try:
        kind.check_spaces(probe.observation_space, probe.action_space)
    except ValueError as err:
        raise UsageError(f"{err}; agents that fit {source.name}: random") from None
    finally:
        probe.close()
    settings = TrainingConfig(source.name, source.kwargs, steps, seed, plain(config), eval_every,
                        eval_episodes, checkpoint_every, stop_at, list(source.wrappers), preset,
                        kind.name, gym_packages)  # fmt: skip
    check_run(settings)
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
    """Train, evaluate every ``eval_every`` env steps, save everything into ``out``; return metrics.

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
            ``eval_episodes``, ``checkpoint_every``, ``stop_at``, ``algorithm`` (another
            off-policy learner than DQN): see :func:`prepare_training`.

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
    gym_packages: list[str] | tuple[str, ...] = (),
) -> tuple[TrainingConfig, EnvSource, dict]:
    """Read and check the run saved in ``out/resume.pt`` before anything is written.

    Args:
        out: the directory of the run.
        steps: a new total budget in env steps (default: the saved one).
        stop_at: a new early-stop threshold (None: none; default: the saved one).
        env: the env's name when the saved one is ``module:Class`` (which a file alone never
            runs: naming it trusts it); it must be the run's env.
        wrappers: the saved wrappers, named again to trust them (a file alone never runs them);
            they must be the run's.
        preset: a preset's name (``none``: none) that must be the run's (None: not checked).
        finished_ok: accept a run with nothing left to do (:func:`run_finished`), to complete
            one killed between its last checkpoint and its swap (:func:`finished_metrics`).
        gym_packages: packages to import besides the run's own (saved, imported again: names
            read from the file are checked as given ones are, and only installed packages are
            imported); they join the run's.

    Raises:
        UsageError: no resumable run in ``out``, a file that is not one, code the user did not
            name, another env, wrappers or preset than the run's, or nothing left to do.
    """
    saved = read_training(Path(out))
    settings = saved_settings(saved, Path(out) / "resume.pt")
    if steps is not None:
        settings.steps = steps
    if stop_at != "saved":
        settings.stop_at = check_stop_at(stop_at)
    _check_same_run(out, settings, wrappers, preset)
    try:  # the run's own names are data: checked, and imported from installed packages only
        import_gym_packages(settings.gym_packages)
    except UsageError as err:
        raise UsageError(f"{Path(out) / 'resume.pt'} names a package to import: {err}") from None
    settings.gym_packages = list(dict.fromkeys([*settings.gym_packages, *gym_packages]))
    import_gym_packages(gym_packages)
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


def _check_same_run(out: Path, settings: TrainingConfig, wrappers, preset: str | None) -> None:
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


def finished_metrics(
    out: Path, settings: TrainingConfig, saved: dict, device: str | None = None
) -> dict:
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
    curves = saved_curves(saved)
    steps, seconds = int(saved["position"]["t"]), float(saved["train_seconds"])
    metrics = logs.metrics(settings, steps, seconds, curves)
    with devices.using(device) as chosen:
        metrics["device"] = devices.describe(chosen)
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def train_from_settings(
    settings: TrainingConfig,
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


def build_learner(settings: TrainingConfig, source: EnvSource):
    """The run's learner, fresh: its kind's, on the env's spaces, seeded from the run's seed."""
    kind = learner_kind(settings.algorithm)
    config = settings.learner_config()
    check_steps(settings.steps, config)
    probe = source.make_one()
    try:
        return kind.build(config, probe.observation_space, probe.action_space,
                          np.random.default_rng([settings.seed, 1]))  # fmt: skip
    finally:
        probe.close()


def _train(settings: TrainingConfig, source: EnvSource, out: Path, progress: bool,
           tensorboard: bool, saved: dict | None) -> dict[str, Any]:  # fmt: skip
    import torch

    from agents.off_policy import SharedLearner

    learner = build_learner(settings, source)
    curves, clock, resume = Curves(), Clock(), None
    if saved is not None:
        try:
            learner.load_training_state(saved["learner"])
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{out / 'resume.pt'} does not fit: {err}") from None
        torch.set_rng_state(saved["torch_rng"])
        curves = saved_curves(saved)
        clock = Clock(float(saved["train_seconds"]))
        resume = Position.from_dict(saved["position"])
    out.mkdir(parents=True, exist_ok=True)
    writer = None
    if tensorboard:
        with listed_as_written(out, "tensorboard"):  # its event files, none of anyone else's
            writer = logs.tensorboard(out)
            writer.flush()
    evaluations = Evaluations(learner, source, out, settings, curves, clock, writer, progress)
    callbacks = [
        EpisodeLog(curves, writer),
        evaluations,
        Checkpoints(learner, out, settings, curves, clock, evaluations),
    ]
    if writer:
        callbacks.append(loss_log(learner, writer))
    agent = SharedLearner(learner, episodes=learner.episode_state())  # resumed: in progress
    done = run(single_envs(source), agent, runs=1, steps=settings.steps,
               seed=settings.seed, progress=progress, callbacks=callbacks,
               resumable=True, resume=resume)["reward"].shape[1]  # fmt: skip
    if writer:
        writer.close()
    steps = (resume.t if resume else 0) + done
    return logs.metrics(settings, steps, clock.train_seconds(), curves)
