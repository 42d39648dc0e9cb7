"""``rlcourse restore report``: the per-pixel DQN beside classical restorers and a U-Net.

All methods are measured on one evaluation set: ``eval_per_image`` seeded crops of every test
image (:data:`envs.images.TEST_IMAGES`), degraded as the task's environment degrades them
(in-painting: the course's centre hole, or seeded random ones; up-resing: block means brought
back by repeating pixels). PSNR (dB, data range 1) and SSIM (scikit-image) are averaged over the
crops; in-painting also reports the PSNR inside the hole. Everything trained sees only the
training images:

- ``input``: the start image (in-painting: the black hole; up-resing: ``nearest``);
- ``fixed:<action>``: one of the task's actions taken at every pixel at every step;
- in-painting: ``mean-fill`` (the hole filled with the crop's mean) and ``biharmonic``
  (``skimage.restoration.inpaint_biharmonic``); up-resing: ``bilinear``, ``bicubic``;
- ``unet``: a U-Net (:mod:`supervised.unet`) fitted to (degraded, clean) training crops;
- ``random``: uniformly random actions per pixel;
- ``pixel-dqn``: :mod:`agents.pixel_dqn` on the task's per-pixel environment, greedy.

The output directory holds ``metrics.csv`` (``method,psnr,ssim[,psnr_hole]``), ``report.png``
(clean, input, the best classical method, the U-Net, the per-pixel agent, and its action at every
pixel and step), ``metrics.json`` (settings, every score, the agent's action shares, seconds)
and ``unet_history.csv|png``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common.atomic import write_text
from envs.images import TRAIN_IMAGES
from rlcourse.restore.config import RestoreConfig

CLASSICAL = ("mean-fill", "biharmonic", "bilinear", "bicubic")


def restore_report(
    out: Path,
    config: RestoreConfig | None = None,
    progress: bool = True,
    command: str = "",
    device: str | None = None,
) -> dict:
    """Measure every method (see the module docstring); write the report into ``out``.

    ``device``: where the U-Net and the DQN train (``auto``, ``cpu``, ``cuda[:N]``; None:
    :func:`common.devices.current`), recorded in ``metrics.json``.
    """
    from common import devices
    from rlcourse.denoise.figure import plot_report
    from rlcourse.restore.methods import evaluation_set, scores
    from supervised.train import single_thread

    config, out = config or RestoreConfig(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean, start, masks, names = evaluation_set(config)
    with single_thread(), devices.using(device) as chosen:
        outputs, facts = _measure(config, clean, start, masks, out, progress)
    table = {method: scores(images, clean, masks) for method, images in outputs.items()}
    _write_csv(out / "metrics.csv", table)
    best_classical = max((m for m in table if m in CLASSICAL), key=lambda m: table[m]["psnr"])
    shown = {m: outputs[m] for m in ("input", best_classical, "unet", "pixel-dqn")}
    task = config.env_task()
    title = {"inpaint": f"In-painting held-out crops ({config.mask} hole)",
             "upres": f"Up-resing held-out crops ×{config.factor}"}[config.task]  # fmt: skip
    plot_report(out / "report.png", config, clean, shown, facts["actions"], names,
                action_names=task.actions, title=title)  # fmt: skip
    metrics = {**_metrics(config, command, table, best_classical, names, facts),
               "device": devices.describe(chosen)}  # fmt: skip
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _measure(config: RestoreConfig, clean, start, masks, out: Path, progress: bool):
    """Every method's output images on the evaluation crops, and what the metrics need."""
    from gymnasium import spaces

    from agents.off_policy import GreedyPolicy
    from agents.uniform import RandomAgent
    from rlcourse.restore.agent import run_fixed, task_rollout, train_pixel_dqn
    from rlcourse.restore.methods import classical, run_unet, train_unet
    from supervised.train import count_parameters

    task = config.env_task()
    seconds, clock = {}, time.perf_counter()
    outputs = {"input": start}
    for action, name in enumerate(task.actions):
        outputs[f"fixed:{name}"] = run_fixed(config, start, masks, action)
    outputs.update(classical(config, start, masks))
    seconds["classical"] = time.perf_counter() - clock

    _say(progress, "training the U-Net")
    clock = time.perf_counter()
    unet, history = train_unet(config, progress)
    outputs["unet"] = run_unet(unet, config, start, masks)
    history.save(out, "unet_history")
    seconds["unet"] = time.perf_counter() - clock

    random = RandomAgent(spaces.MultiDiscrete(np.full(clean.shape[1:], len(task.actions))))
    rng = np.random.default_rng([config.seed, 4])
    outputs["random"], _ = task_rollout(random, config, clean, start, masks, rng=rng)

    _say(progress, "training the per-pixel DQN")
    clock = time.perf_counter()
    learner, gains = train_pixel_dqn(config, progress)
    outputs["pixel-dqn"], actions = task_rollout(GreedyPolicy(learner), config, clean, start,
                                                 masks)  # fmt: skip
    seconds["pixel-dqn"] = time.perf_counter() - clock
    facts = {"seconds": seconds, "actions": actions, "gains": gains,
             "unet_parameters": count_parameters(unet),
             "pixel_dqn_parameters": count_parameters(learner.online)}  # fmt: skip
    return outputs, facts


def _metrics(config, command, table, best_classical, names, facts) -> dict:
    """What metrics.json holds: settings, every score, the margins, what the agent did."""
    names_of = config.env_task().actions
    fixed = [m for m in table if m.startswith("fixed:")]
    best_fixed = max(fixed, key=lambda m: table[m]["psnr"])
    psnr = {m: row["psnr"] for m, row in table.items()}
    share = np.bincount(facts["actions"].ravel(), minlength=len(names_of))
    return {
        "command": command,
        "config": asdict(config),
        "test_crops": len(names),
        "test_images": list(dict.fromkeys(names)),
        "train_images": list(TRAIN_IMAGES),
        "actions": list(names_of),
        "scores": {m: {k: round(v, 4) for k, v in row.items()} for m, row in table.items()},
        "best_fixed": best_fixed,
        "best_classical": best_classical,
        "pixel_dqn_minus_keep": round(psnr["pixel-dqn"] - psnr["fixed:keep"], 3),
        "pixel_dqn_minus_best_fixed": round(psnr["pixel-dqn"] - psnr[best_fixed], 3),
        "pixel_dqn_minus_best_classical": round(psnr["pixel-dqn"] - psnr[best_classical], 3),
        "pixel_dqn_minus_unet": round(psnr["pixel-dqn"] - psnr["unet"], 3),
        "pixel_dqn_action_share": (share / share.sum()).round(4).tolist(),
        "pixel_dqn_train_gain_last": round(float(np.mean(facts["gains"][-10:])), 3),
        "unet_parameters": facts["unet_parameters"],
        "pixel_dqn_parameters": facts["pixel_dqn_parameters"],
        "seconds": {k: round(v, 1) for k, v in facts["seconds"].items()},
    }


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"restore report: {text}", file=sys.stderr)


def _write_csv(path: Path, table: dict[str, dict[str, float]]) -> None:
    import pandas as pd

    frame = pd.DataFrame([{"method": m, **row} for m, row in table.items()]).round(4)
    write_text(path, frame.to_csv(index=False))
