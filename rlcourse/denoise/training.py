"""The report's learned denoisers: the DnCNN, the image-level DQN and the per-pixel DQN.

The agents train and act through the one run loop (:func:`rlcourse.loop.run`): the per-pixel
DQN as one learner fed by a batch of training crops, and every method's evaluation as a greedy
rollout over the held-out crops, read back from the env (its ``images()``) after the last step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envs.denoise import ImageDenoiseVectorEnv, PixelDenoiseVectorEnv
from envs.filters import ACTIONS, filter_bank_channels
from rlcourse.denoise.config import ReportConfig
from rlcourse.denoise.data import training_crops
from rlcourse.loop import Step, VectorSource, run


def train_dncnn(config: ReportConfig, progress: bool):
    """A DnCNN fitted to noisy/clean 40×40 patches of the training images."""
    from supervised.dncnn import TrunkConfig
    from supervised.dncnn import train_dncnn as fit_dncnn
    from supervised.train import TrainConfig, seed_torch

    train = training_crops(config, config.dncnn_patches, 40, salt=11)
    val = training_crops(config, max(config.dncnn_patches // 10, 8), 40, salt=12)
    seed_torch(config.seed)
    fit_config = TrainConfig(
        epochs=config.dncnn_epochs, batch_size=16, lr=1e-3, seed=config.seed, progress=progress
    )
    return fit_dncnn(train, val, fit_config, TrunkConfig(config.channels, config.depth))


def scaled_image_denoise(**kwargs):
    """``ImageDenoise`` whose rewards are divided by σ² (DQN's Huber loss wants rewards near 1)."""
    import gymnasium as gym

    env = gym.make("rlcourse/ImageDenoise-v0", **kwargs)
    return gym.wrappers.TransformReward(env, lambda r: r / kwargs["sigma"] ** 2)


def train_image_dqn(config: ReportConfig, out: Path, progress: bool):
    """The image-level DQN (:mod:`agents.dqn`, CNN Q-network) on training crops."""
    from agents.dqn_config import DQNConfig
    from rlcourse.checkpoints import load_checkpoint
    from rlcourse.training.train import train_dqn

    out.mkdir(parents=True, exist_ok=True)
    dqn = DQNConfig(
        lr=5e-4,
        lr_end=None,  # a constant rate, as the report was measured with
        gamma=0.9,
        buffer_size=max(config.dqn_steps, 64),
        batch_size=32,
        learning_starts=min(1000, config.dqn_steps // 4),
        train_freq=4,
        gradient_steps=1,
        target_update=250,
        hidden=(128,),
        exploration_steps=max(config.dqn_steps // 2, 1),
        epsilon_end=0.05,
    )
    kwargs = {"images": "train", "crop": config.crop, "sigma": config.sigma}
    env = f"{__name__}:scaled_image_denoise"
    train_dqn(
        env,
        out,
        steps=config.dqn_steps,
        seed=config.seed,
        config=dqn,
        env_kwargs={**kwargs, "max_episode_steps": config.steps},
        eval_every=max(config.dqn_steps // 4, 1),
        eval_episodes=20,
        progress=progress,
    )
    learner, _, _ = load_checkpoint(out, env=env, final=True)  # code this module names
    return learner


def train_pixel_dqn(config: ReportConfig, dncnn, progress: bool, out: Path | None = None,
                    eval_episodes: int = 8):  # fmt: skip
    """The per-pixel DQN on batches of ``pixel_envs`` training crops; the learner and its gains.

    The gains are the mean PSNR gain (dB) of each episode's batch of crops. With ``out``, the
    training's callbacks (:mod:`rlcourse.training.callbacks`) also evaluate the greedy policy
    on ``eval_episodes`` crops of the test images after every quarter of the episodes (and the
    last), and write ``checkpoint.pt``, ``best.pt``, ``episodes.csv`` (run 0's), ``evaluations.csv``
    and ``training.png`` there: the same learner and gains as without (an evaluation falls
    where every episode of the batch has ended, and acts greedily: it draws nothing).
    """
    from gymnasium.vector import AutoresetMode

    from agents.off_policy import SharedLearner
    from agents.pixel_dqn import PixelDQNLearner

    learner = PixelDQNLearner(
        config.pixel_dqn_config(),
        (config.crop, config.crop),
        len(ACTIONS),
        np.random.default_rng([config.seed, 3]),
        lookahead=filter_bank_channels if config.pixel_lookahead else None,
    )
    if config.pixel_from_dncnn:
        learner.load_trunk(dncnn)
    source = VectorSource(
        "PixelDenoise (training crops)",
        lambda n: PixelDenoiseVectorEnv(
            n, images="train", crop=config.crop, sigma=config.sigma,
            max_episode_steps=config.steps, autoreset_mode=AutoresetMode.DISABLED,
        ),
    )  # fmt: skip
    gains: list[float] = []

    def note_gain(step: Step) -> None:
        if step.done.all():  # every crop of the batch ends its episode at step T
            gains.append(float(step.info["psnr_gain"].mean()))
            step.bar.set_postfix(gain=f"{np.mean(gains[-20:]):.2f}dB")

    logs = [] if out is None else _evaluations(config, learner, Path(out), eval_episodes)
    run(source, SharedLearner(learner), runs=config.pixel_envs, episodes=config.pixel_episodes,
        seed=config.seed, progress=progress, callbacks=[note_gain, *logs])  # fmt: skip
    if logs:
        from rlcourse.training.curves import save_curves

        curves = logs[0].curves
        save_curves(Path(out), logs[1].settings.env, curves, "per-pixel DQN")
    return learner, gains


def _evaluations(config: ReportConfig, learner, out: Path, episodes: int) -> list:
    """The training's episode log and greedy evaluations of the per-pixel DQN, into ``out``."""
    from rlcourse.environments import resolve_env
    from rlcourse.training.callbacks import Clock, EpisodeLog, Evaluations
    from rlcourse.training.curves import Curves
    from rlcourse.training.settings import TrainingConfig, plain

    source = resolve_env("pixel-denoise", {"images": "test", "crop": config.crop,
                                           "sigma": config.sigma,
                                           "max_episode_steps": config.steps})  # fmt: skip
    settings = TrainingConfig(
        source.name, source.kwargs, config.pixel_episodes * config.steps, config.seed,
        plain(learner.config), eval_every=max(config.pixel_episodes // 4, 1) * config.steps,
        eval_episodes=episodes, algorithm="pixel-dqn",
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    curves = Curves()
    return [EpisodeLog(curves), Evaluations(learner, source, out, settings, curves, Clock())]


def rollout(agent, clean: np.ndarray, noisy: np.ndarray, steps: int, per_pixel: bool, rng=None,
            env_kwargs: dict | None = None, masks: np.ndarray | None = None):  # fmt: skip
    """Run ``agent`` for ``steps`` steps from the given crops, one run each.

    Returns the final images and the actions of every step, ``(steps, n, ...)``. ``rng`` is the
    agent's generator (a random agent's draws). ``env_kwargs``: the env's task arguments
    (``task``, ``mask``, ``factor``); ``masks``: in-painting's masks of the crops.
    """
    from gymnasium.vector import AutoresetMode

    vector = PixelDenoiseVectorEnv if per_pixel else ImageDenoiseVectorEnv
    source = VectorSource(
        "denoising evaluation crops",
        lambda n: vector(n, images=list(clean), crop=clean.shape[-1], sigma=1.0,
                         autoreset_mode=AutoresetMode.DISABLED, **(env_kwargs or {})),
    )  # fmt: skip
    options = {"clean": clean, "noisy": noisy} | ({} if masks is None else {"mask": masks})
    taken, final = [], []

    def record(step: Step) -> None:
        taken.append(np.asarray(step.action))
        if step.t == steps:
            final.append(step.env.images())

    run(source, agent, runs=len(clean), steps=steps, seed=0, progress=False, callbacks=[record],
        rng=rng, reset_options=options)  # fmt: skip
    return final[0], np.stack(taken)
