"""``rlcourse denoise report``: every denoiser of the course on the same held-out crops.

All methods are measured on one evaluation set: ``eval_per_image`` seeded crops of every test
image (:data:`envs.images.TEST_IMAGES`) with seeded Gaussian noise; the PSNR (dB, data range 1)
is averaged over the crops (the same number per image, so it is also the mean over the images).
Everything that is tuned or trained sees only the training images:

- ``noisy``: the input; ``filter:<name>``: one of the 9 actions applied T times;
- ``sequence:best``: the best fixed sequence of T actions, found by beam search on training crops;
- ``skimage:<name>``: scikit-image's total variation, wavelet, non-local means and bilateral
  denoisers, their main parameter chosen on training crops;
- ``dncnn``: a DnCNN-style residual CNN fitted to noisy/clean training patches;
- ``random``: uniformly random actions per pixel (the floor of the RL agents);
- ``dqn``: :mod:`agents.dqn` on ``ImageDenoise`` (one action per crop, a CNN Q-network);
- ``pixel-dqn``: :mod:`agents.pixel_dqn` on ``PixelDenoise``, its trunk started from the DnCNN's.

The output directory holds ``psnr.csv`` (``method,sigma,psnr``), ``report.png`` (clean, noisy,
best classical, DnCNN, the per-pixel agent, and the action it chose at every pixel and step),
``metrics.json`` (settings, tuned parameters, training times) and the DQN's training files in
``dqn/``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common.atomic import write_text
from envs.filters import ACTIONS
from envs.images import TRAIN_IMAGES
from rlcourse.denoise.baselines import classical
from rlcourse.denoise.config import ReportConfig
from rlcourse.denoise.data import evaluation_set, mean_psnr, training_crops
from rlcourse.denoise.figure import plot_report
from rlcourse.denoise.training import rollout, train_dncnn, train_image_dqn, train_pixel_dqn

METHOD_ORDER = ("noisy", "filter:", "sequence:", "skimage:", "dncnn", "random", "dqn", "pixel-dqn")


def denoise_report(
    out: Path,
    config: ReportConfig | None = None,
    progress: bool = True,
    command: str = "",
    device: str | None = None,
) -> dict:
    """Measure every method (see the module docstring); write the report into ``out``.

    ``device``: where the DnCNN and the DQNs train (``auto``, ``cpu``, ``cuda[:N]``; None:
    :func:`common.devices.current`), recorded in ``metrics.json``.
    """
    from common import devices
    from supervised.train import single_thread

    config, out = config or ReportConfig(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean, noisy, names = evaluation_set(config)
    with single_thread(), devices.using(device) as chosen:
        outputs, facts = _measure(config, clean, noisy, out, progress)
    table = {method: mean_psnr(images, clean) for method, images in outputs.items()}
    _write_csv(out / "psnr.csv", table, config.sigma)
    best_classical = max(
        (m for m in table if m.split(":")[0] in ("filter", "sequence", "skimage")), key=table.get
    )
    shown = {m: outputs[m] for m in ("noisy", best_classical, "dncnn", "pixel-dqn")}
    plot_report(out / "report.png", config, clean, shown, facts["pixel_actions"], names)
    metrics = {**_metrics(config, command, table, best_classical, names, facts),
               "device": devices.describe(chosen)}  # fmt: skip
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


def _measure(config: ReportConfig, clean, noisy, out: Path, progress: bool) -> tuple[dict, dict]:
    """Every method's output images on the evaluation crops, and what the metrics need."""
    from gymnasium import spaces

    from agents.off_policy import GreedyPolicy
    from agents.uniform import RandomAgent
    from supervised.dncnn import denoise
    from supervised.train import count_parameters

    seconds, clock = {}, time.perf_counter()
    tune = training_crops(config, config.tune_crops, config.crop, salt=5)
    outputs = {"noisy": noisy}
    classic, settings = classical(config, clean, noisy, tune)
    outputs.update(classic)
    seconds["classical"] = time.perf_counter() - clock

    _say(progress, "training the DnCNN")
    clock = time.perf_counter()
    dncnn, history = train_dncnn(config, progress)
    outputs["dncnn"] = denoise(dncnn, noisy)
    history.save(out, "dncnn_history")
    seconds["dncnn"] = time.perf_counter() - clock

    random = RandomAgent(spaces.MultiDiscrete(np.full(clean.shape[1:], len(ACTIONS))))
    outputs["random"], _ = rollout(random, clean, noisy, config.steps, per_pixel=True,
                                   rng=np.random.default_rng([config.seed, 4]))  # fmt: skip

    _say(progress, "training the image-level DQN")
    clock = time.perf_counter()
    dqn = GreedyPolicy(train_image_dqn(config, out / "dqn", progress))
    outputs["dqn"], dqn_actions = rollout(dqn, clean, noisy, config.steps, per_pixel=False)
    seconds["dqn"] = time.perf_counter() - clock

    _say(progress, "training the per-pixel DQN")
    clock = time.perf_counter()
    pixel, gains = train_pixel_dqn(config, dncnn, progress)
    outputs["pixel-dqn"], pixel_actions = rollout(
        GreedyPolicy(pixel), clean, noisy, config.steps, per_pixel=True
    )
    seconds["pixel-dqn"] = time.perf_counter() - clock
    facts = {
        "settings": settings, "seconds": seconds, "dqn_actions": dqn_actions,
        "pixel_actions": pixel_actions, "gains": gains, "dncnn_parameters": count_parameters(dncnn),
    }  # fmt: skip
    return outputs, facts


def _metrics(config, command, table, best_classical, names, facts) -> dict:
    """What metrics.json holds: settings, every PSNR, the margins, what the agents did."""
    best_filter = max((m for m in table if m.startswith("filter:")), key=table.get)
    share = np.bincount(facts["pixel_actions"].ravel(), minlength=len(ACTIONS))
    return {
        "command": command,
        "config": asdict(config),
        "test_crops": len(names),
        "test_images": list(dict.fromkeys(names)),
        "train_images": list(TRAIN_IMAGES),
        "psnr": {m: round(v, 3) for m, v in table.items()},
        "best_filter": best_filter,
        "best_classical": best_classical,
        "pixel_dqn_minus_best_filter": round(table["pixel-dqn"] - table[best_filter], 3),
        "pixel_dqn_minus_dncnn": round(table["pixel-dqn"] - table["dncnn"], 3),
        "settings": facts["settings"],
        "dqn_actions": np.bincount(facts["dqn_actions"].ravel(), minlength=len(ACTIONS)).tolist(),
        "pixel_dqn_action_share": (share / share.sum()).round(4).tolist(),
        "pixel_dqn_train_gain_last": round(float(np.mean(facts["gains"][-20:])), 3),
        "dncnn_parameters": facts["dncnn_parameters"],
        "seconds": {k: round(v, 1) for k, v in facts["seconds"].items()},
    }


def _say(progress: bool, text: str) -> None:
    if progress:
        print(f"denoise report: {text}", file=sys.stderr)


def _order(method: str) -> int:
    return next(i for i, prefix in enumerate(METHOD_ORDER) if method.startswith(prefix))


def _write_csv(path: Path, table: dict[str, float], sigma: float) -> None:
    import pandas as pd

    rows = sorted(table.items(), key=lambda item: _order(item[0]))
    frame = pd.DataFrame(
        [(m, sigma, round(v, 3)) for m, v in rows], columns=["method", "sigma", "psnr"]
    )
    write_text(path, frame.to_csv(index=False))
