"""The restore report's RL agents: the per-pixel DQN trained on a task, and the rollouts.

The agent trains and acts through the one run loop (:func:`rlcourse.loop.run`): one learner fed
by a batch of training crops of the task's environment; every evaluation is a rollout over the
held-out crops (:func:`rlcourse.denoise.training.rollout`).
"""

from __future__ import annotations

import numpy as np

from rlcourse.denoise.training import rollout
from rlcourse.loop import Step, VectorSource, run
from rlcourse.restore.config import RestoreConfig


def train_pixel_dqn(config: RestoreConfig, progress: bool = False):
    """The per-pixel DQN on batches of ``pixel_envs`` training crops; the learner and its gains.

    Its lookahead is the task's (what every action makes of the observation); the gains are
    the mean PSNR gain (dB) of each episode's batch of crops.
    """
    from gymnasium.vector import AutoresetMode

    from agents.off_policy import SharedLearner
    from agents.pixel_dqn import PixelDQNLearner
    from envs.denoise import PixelDenoiseVectorEnv

    task = config.env_task()
    learner = PixelDQNLearner(
        config.pixel_dqn_config(),
        (config.crop, config.crop),
        len(task.actions),
        np.random.default_rng([config.seed, 3]),
        lookahead=task.lookahead,
        channels=task.channels,
    )
    source = VectorSource(
        f"PixelDenoise task={config.task} (training crops)",
        lambda n: PixelDenoiseVectorEnv(
            n, images="train", crop=config.crop, max_episode_steps=config.steps,
            autoreset_mode=AutoresetMode.DISABLED, **config.env_kwargs(),
        ),
    )  # fmt: skip
    gains: list[float] = []

    def note_gain(step: Step) -> None:
        if step.done.all():  # every crop of the batch ends its episode at step T
            gains.append(float(step.info["psnr_gain"].mean()))
            step.bar.set_postfix(gain=f"{np.mean(gains[-10:]):.2f}dB")

    run(source, SharedLearner(learner), runs=config.pixel_envs, episodes=config.pixel_episodes,
        seed=config.seed, progress=progress, callbacks=[note_gain])  # fmt: skip
    return learner, gains


def task_rollout(agent, config: RestoreConfig, clean, start, masks, rng=None):
    """``agent`` for T steps from the given crops of the task: final images, actions per step."""
    kwargs = config.env_kwargs()
    given = masks if config.task == "inpaint" else None
    return rollout(agent, clean, start, config.steps, per_pixel=True, rng=rng,
                   env_kwargs=kwargs, masks=given)  # fmt: skip


def run_fixed(config: RestoreConfig, start: np.ndarray, masks: np.ndarray, action: int):
    """One action taken at every pixel for T steps (a fixed policy), the final images."""
    task = config.env_task()
    images = start
    states = task.start_states(masks) if config.task == "inpaint" else None
    for _ in range(config.steps):
        images, states, _ = task.step(images, states, np.full(images.shape, action), True)
    return images
