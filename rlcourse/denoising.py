"""``rlcourse denoise report``: every denoiser of the course on the same held-out crops.

All methods are measured on one evaluation set: ``eval_per_image`` seeded crops of every test
image (:data:`envs.denoise.TEST_IMAGES`) with seeded Gaussian noise; the PSNR (dB, data range 1)
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
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from envs import denoise as dn
from rlcourse.errors import UsageError

METHOD_ORDER = ("noisy", "filter:", "sequence:", "skimage:", "dncnn", "random", "dqn", "pixel-dqn")


@dataclass(frozen=True)
class ReportConfig:
    """What ``rlcourse denoise report`` measures and how much it trains."""

    sigma: float = 25.0
    """Noise standard deviation in grey levels of 255."""
    crop: int = 64
    """Side of the crops (training and evaluation)."""
    steps: int = 5
    """Episode length T: filters applied per crop."""
    seed: int = 0
    """Seeds the crops, the noise, the weights and the exploration."""
    eval_per_image: int = 16
    """Evaluation crops per test image."""
    tune_crops: int = 32
    """Training crops the classical parameters and the fixed sequence are chosen on."""
    beam: int = 9
    """Beam width of the search for the best fixed sequence."""
    dncnn_patches: int = 2000
    """Noisy/clean 40×40 training patches of the DnCNN (one more tenth for validation)."""
    dncnn_epochs: int = 3
    """DnCNN training epochs."""
    dqn_steps: int = 10_000
    """Env steps of the image-level DQN."""
    pixel_envs: int = 8
    """Crops the per-pixel DQN steps together."""
    pixel_episodes: int = 20
    """Episodes of ``pixel_envs`` crops each the per-pixel DQN trains on."""
    pixel_lr: float = 1e-3
    """Adam learning rate of the per-pixel DQN."""
    pixel_from_dncnn: bool = True
    """Start the per-pixel DQN's trunk from the trained DnCNN's."""
    pixel_freeze: bool = True
    """Keep that trunk fixed and train only the Q head (features cached in the replay)."""
    pixel_gradient_steps: int = 16
    """Gradient steps of the per-pixel DQN per env step of its ``pixel_envs`` crops."""
    pixel_lookahead: bool = True
    """The Q head also sees what each action would make of the image (the 9 filtered images)."""
    pixel_memory: bool = True
    """The Q-network's trunk reads the episode's noisy first crop, kept by the agent
    (``PixelDQNConfig.memory``), not the current, half-filtered one."""
    pixel_gamma: float = 0.0
    """Discount factor of the per-pixel DQN (0: each step's expected reward, per pixel)."""
    pixel_estimate: bool = True
    """The estimate head: Q is the drop of squared error against a learned estimate of the clean
    image (``PixelDQNConfig.estimate``; needs ``pixel_lookahead`` and ``pixel_gamma = 0``)."""
    pixel_all_actions: bool = False
    """Learn from every action's reward map at every pixel (``PixelDQNConfig.all_actions``), not
    only the taken action's (with the estimate head no better: see benchmarks.md)."""
    channels: int = 32
    """Feature maps of the DnCNN and of the Q-map network."""
    depth: int = 7
    """Hidden convolution layers of the DnCNN and of the Q-map network."""

    def __post_init__(self):
        if not self.sigma > 0:
            raise UsageError(f"sigma must be > 0 grey levels (of 255), got {self.sigma}")
        if self.crop < dn.MIN_CROP:
            raise UsageError(f"crop must be >= {dn.MIN_CROP} pixels, got {self.crop}")


QUICK = {
    "eval_per_image": 4,
    "tune_crops": 8,
    "beam": 3,
    "dncnn_patches": 300,
    "dncnn_epochs": 2,
    "dqn_steps": 600,
    "pixel_envs": 4,
    "pixel_episodes": 10,
    "pixel_gradient_steps": 2,
    "channels": 16,
    "depth": 4,
}
"""``--quick``: the whole pipeline in well under a minute (numbers are not meaningful)."""


# -- data ---------------------------------------------------------------------------------------


def noisy_pairs(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Seeded noisy versions of clean crops, as the envs make them."""
    rng = np.random.default_rng([seed, 7])
    noise = rng.normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)
    return np.clip(clean + noise, 0.0, 1.0)


def evaluation_set(config: ReportConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clean and noisy crops of the test images, and the image each comes from."""
    images = dn.load_images("test")
    try:
        dn.check_settings(images, config.crop, config.sigma)
    except ValueError as err:
        raise UsageError(str(err)) from None
    clean, names = dn.fixed_crops(images, config.crop, config.eval_per_image, config.seed)
    return clean, noisy_pairs(clean, config.sigma, config.seed + 1), names


def training_crops(config: ReportConfig, n: int, crop: int, salt: int) -> tuple[np.ndarray, ...]:
    """``n`` random noisy/clean crops of the training images (``salt`` tells uses apart)."""
    source = dn.CropSource("train", crop, config.sigma)
    rng = np.random.default_rng([config.seed, salt])
    clean = source.clean(rng, n)
    return source.noisy(clean, rng), clean


def mean_psnr(images: np.ndarray, clean: np.ndarray) -> float:
    """Mean PSNR (dB) over a batch."""
    return float(dn.psnr(images, clean).mean())


# -- classical methods --------------------------------------------------------------------------


def run_sequence(noisy: np.ndarray, sequence: tuple[int, ...]) -> np.ndarray:
    """The actions of ``sequence`` applied in turn to every crop."""
    images = noisy
    for action in sequence:
        images = dn.apply_filter(images, action)
    return images


def best_sequence(
    noisy: np.ndarray, clean: np.ndarray, steps: int, beam: int
) -> tuple[tuple[int, ...], float]:
    """The fixed action sequence of length ``steps`` of highest mean PSNR (beam search)."""
    frontier = [((), noisy)]
    for _ in range(steps):
        scored = []
        for sequence, images in frontier:
            for action, filtered in enumerate(dn.filter_bank(images)):
                scored.append((mean_psnr(filtered, clean), sequence + (action,), filtered))
        scored.sort(key=lambda item: -item[0])
        frontier = [(sequence, images) for _, sequence, images in scored[:beam]]
    best = frontier[0][0]
    return best, mean_psnr(run_sequence(noisy, best), clean)


def _skimage_denoisers() -> dict[str, tuple[Callable, tuple[float, ...], str]]:
    """Name → (denoise(image, parameter, sigma), parameter grid, what the parameter is)."""
    from skimage.restoration import (
        denoise_bilateral,
        denoise_nl_means,
        denoise_tv_chambolle,
        denoise_wavelet,
        estimate_sigma,
    )

    def nl_means(image, k, sigma):
        estimated = float(estimate_sigma(image))
        return denoise_nl_means(
            image, h=k * estimated, sigma=estimated, patch_size=5, patch_distance=6, fast_mode=True
        )

    def wavelet(image, k, sigma):
        estimated = float(estimate_sigma(image))
        return denoise_wavelet(
            image, sigma=k * estimated, method="BayesShrink", mode="soft", rescale_sigma=True
        )

    def tv(image, weight, sigma):
        return denoise_tv_chambolle(image, weight=weight)

    def bilateral(image, sigma_color, sigma):
        return denoise_bilateral(image, win_size=7, sigma_color=sigma_color, sigma_spatial=2.0)

    return {
        "tv-chambolle": (tv, (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.17, 0.22, 0.3), "weight"),
        "wavelet": (wavelet, (0.5, 0.75, 1.0, 1.25, 1.5, 2.0), "sigma / estimate_sigma"),
        "nl-means": (nl_means, (0.5, 0.65, 0.8, 0.95, 1.1, 1.3), "h / estimate_sigma"),
        "bilateral": (bilateral, (0.03, 0.05, 0.08, 0.12, 0.17, 0.25, 0.35), "sigma_color"),
    }


def apply_each(fn: Callable, images: np.ndarray, parameter: float, sigma: float) -> np.ndarray:
    """``fn(image, parameter, sigma)`` on every image of a batch, clipped to [0, 1]."""
    out = np.stack([fn(image.astype(np.float64), parameter, sigma) for image in images])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def classical(
    config: ReportConfig, clean: np.ndarray, noisy: np.ndarray, tune: tuple[np.ndarray, ...]
) -> tuple[dict[str, np.ndarray], dict]:
    """Outputs of the filters, the best sequence and the tuned skimage denoisers; their settings."""
    outputs, settings = {}, {}
    for action, name in enumerate(dn.ACTIONS):
        outputs[f"filter:{name}"] = run_sequence(noisy, (action,) * config.steps)
    tune_noisy, tune_clean = tune
    sequence, train_psnr = best_sequence(tune_noisy, tune_clean, config.steps, config.beam)
    outputs["sequence:best"] = run_sequence(noisy, sequence)
    settings["sequence:best"] = {
        "actions": [dn.ACTIONS[a] for a in sequence],
        "train_psnr": round(train_psnr, 3),
    }
    for name, (fn, grid, meaning) in _skimage_denoisers().items():
        scores = [mean_psnr(apply_each(fn, tune_noisy, p, config.sigma), tune_clean) for p in grid]
        best = grid[int(np.argmax(scores))]
        outputs[f"skimage:{name}"] = apply_each(fn, noisy, best, config.sigma)
        settings[f"skimage:{name}"] = {meaning: best, "train_psnr": round(max(scores), 3)}
    return outputs, settings


# -- learned methods ----------------------------------------------------------------------------


def train_dncnn(config: ReportConfig, progress: bool):
    """A DnCNN fitted to noisy/clean 40×40 patches of the training images."""
    from supervised.denoise import TrunkConfig
    from supervised.denoise import train_dncnn as fit_dncnn
    from supervised.train import TrainConfig, seed_torch

    train = training_crops(config, config.dncnn_patches, 40, salt=11)
    val = training_crops(config, max(config.dncnn_patches // 10, 8), 40, salt=12)
    seed_torch(config.seed)
    fit_config = TrainConfig(
        epochs=config.dncnn_epochs, batch_size=16, lr=1e-3, seed=config.seed, progress=progress
    )
    model, history = fit_dncnn(train, val, fit_config, TrunkConfig(config.channels, config.depth))
    return model, history


def scaled_image_denoise(**kwargs):
    """``ImageDenoise`` whose rewards are divided by σ² (DQN's Huber loss wants rewards near 1)."""
    import gymnasium as gym

    env = gym.make("rlcourse/ImageDenoise-v0", **kwargs)
    return gym.wrappers.TransformReward(env, lambda r: r / kwargs["sigma"] ** 2)


def train_image_dqn(config: ReportConfig, out: Path, progress: bool):
    """The image-level DQN (:mod:`agents.dqn`, CNN Q-network) on training crops."""
    from agents.dqn_config import DQNConfig
    from rlcourse.training import load_checkpoint, train_dqn

    out.mkdir(parents=True, exist_ok=True)
    starts = min(1000, config.dqn_steps // 4)
    dqn = DQNConfig(
        lr=5e-4,
        gamma=0.9,
        buffer_size=max(config.dqn_steps, 64),
        batch_size=32,
        learning_starts=starts,
        train_freq=4,
        gradient_steps=1,
        target_update=250,
        hidden=(128,),
        exploration_steps=max(config.dqn_steps // 2, 1),
        epsilon_end=0.05,
    )
    kwargs = {
        "images": "train",
        "crop": config.crop,
        "sigma": config.sigma,
        "max_episode_steps": config.steps,
    }
    train_dqn(
        f"{__name__}:scaled_image_denoise",
        out,
        steps=config.dqn_steps,
        seed=config.seed,
        config=dqn,
        env_kwargs=kwargs,
        eval_every=max(config.dqn_steps // 4, 1),
        eval_episodes=20,
        progress=progress,
    )
    learner, _, _ = load_checkpoint(out)
    return learner


def train_pixel_dqn(config: ReportConfig, dncnn, progress: bool):
    """The per-pixel DQN on batches of ``pixel_envs`` training crops; returns the learner."""
    from gymnasium.vector import AutoresetMode
    from tqdm.auto import tqdm

    from agents.pixel_dqn import PixelDQNLearner
    from agents.pixel_dqn_config import PixelDQNConfig

    pixel = PixelDQNConfig(
        lr=config.pixel_lr,
        gamma=config.pixel_gamma,
        freeze_trunk=config.pixel_freeze and config.pixel_from_dncnn,
        gradient_steps=config.pixel_gradient_steps,
        all_actions=config.pixel_all_actions,
        estimate=config.pixel_estimate and config.pixel_lookahead,
        memory=config.pixel_memory,
        reward_scale=1.0 / config.sigma**2,
        channels=config.channels,
        depth=config.depth,
        exploration_steps=config.pixel_envs * config.steps * config.pixel_episodes // 3,
        learning_starts=config.pixel_envs * config.steps,
        buffer_size=max(config.pixel_envs * config.steps * 50, 64),
    )
    env = dn.PixelDenoiseVectorEnv(
        config.pixel_envs,
        images="train",
        crop=config.crop,
        sigma=config.sigma,
        max_episode_steps=config.steps,
        autoreset_mode=AutoresetMode.DISABLED,
    )
    learner = PixelDQNLearner(
        pixel,
        (config.crop, config.crop),
        len(dn.ACTIONS),
        np.random.default_rng([config.seed, 3]),
        lookahead=dn.filter_bank_channels if config.pixel_lookahead else None,
    )
    if config.pixel_from_dncnn:
        learner.load_trunk(dncnn)
    obs, _ = env.reset(seed=config.seed)
    gains = []
    bar = tqdm(range(config.pixel_episodes), disable=not progress or None, leave=False)
    for _ in bar:
        obs, _ = env.reset()
        learner.begin_episodes(obs)
        for _ in range(config.steps):
            actions = learner.act(obs)
            next_obs, _, terminated, truncated, info = env.step(actions)
            maps = info["action_reward_maps" if pixel.all_actions else "reward_map"]
            learner.observe(obs, actions, maps, next_obs, terminated, truncated)
            obs = next_obs
        gains.append(float(info["psnr_gain"].mean()))
        bar.set_postfix(gain=f"{np.mean(gains[-20:]):.2f}dB")
    return learner, gains


def rollout(
    policy: Callable,
    clean: np.ndarray,
    noisy: np.ndarray,
    steps: int,
    per_pixel: bool,
    begin: Callable | None = None,
):
    """Run ``policy(obs) -> actions`` for ``steps`` steps from given crops (a vector env).

    ``begin(obs)`` is told the first observations (an agent with a memory). Returns the final
    images and the actions of every step, ``(steps, n, ...)``.
    """
    vector = dn.PixelDenoiseVectorEnv if per_pixel else dn.ImageDenoiseVectorEnv
    env = vector(len(clean), images=list(clean), crop=clean.shape[-1], sigma=1.0)
    obs, _ = env.reset(seed=0, options={"clean": clean, "noisy": noisy})
    if begin is not None:
        begin(obs)
    taken = []
    for _ in range(steps):
        actions = np.asarray(policy(obs))
        obs, *_ = env.step(actions)
        taken.append(actions)
    return env.state.current.copy(), np.stack(taken)


# -- the report ---------------------------------------------------------------------------------


def denoise_report(
    out: Path, config: ReportConfig = ReportConfig(), progress: bool = True, command: str = ""
) -> dict:
    """Measure every method (see the module docstring); write the report into ``out``."""
    from gymnasium import spaces

    from agents.uniform import RandomAgent
    from supervised.denoise import denoise, parameters
    from supervised.networks import single_thread

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    clean, noisy, names = evaluation_set(config)
    tune = training_crops(config, config.tune_crops, config.crop, salt=5)
    with single_thread():
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

        random = RandomAgent(spaces.MultiDiscrete(np.full(clean.shape[1:], len(dn.ACTIONS))))
        random.reset(len(clean), np.random.default_rng([config.seed, 4]))
        outputs["random"], _ = rollout(random.act, clean, noisy, config.steps, per_pixel=True)

        _say(progress, "training the image-level DQN")
        clock = time.perf_counter()
        dqn = train_image_dqn(config, out / "dqn", progress)
        greedy = lambda obs: np.array([dqn.greedy(o) for o in obs])  # noqa: E731
        outputs["dqn"], dqn_actions = rollout(greedy, clean, noisy, config.steps, per_pixel=False)
        seconds["dqn"] = time.perf_counter() - clock

        _say(progress, "training the per-pixel DQN")
        clock = time.perf_counter()
        pixel, gains = train_pixel_dqn(config, dncnn, progress)
        outputs["pixel-dqn"], pixel_actions = rollout(
            pixel.greedy, clean, noisy, config.steps, per_pixel=True, begin=pixel.begin_episodes
        )
        seconds["pixel-dqn"] = time.perf_counter() - clock

    table = {method: mean_psnr(images, clean) for method, images in outputs.items()}
    _write_csv(out / "psnr.csv", table, config.sigma)
    classical_best = max(
        (m for m in table if m.split(":")[0] in ("filter", "sequence", "skimage")), key=table.get
    )
    plot_report(
        out / "report.png",
        config,
        clean,
        {m: outputs[m] for m in ("noisy", classical_best, "dncnn", "pixel-dqn")},
        pixel_actions,
        names,
    )
    best_filter = max((m for m in table if m.startswith("filter:")), key=table.get)
    metrics = {
        "command": command,
        "config": asdict(config),
        "test_crops": len(clean),
        "test_images": list(dict.fromkeys(names)),
        "train_images": list(dn.TRAIN_IMAGES),
        "psnr": {m: round(v, 3) for m, v in table.items()},
        "best_filter": best_filter,
        "best_classical": classical_best,
        "pixel_dqn_minus_best_filter": round(table["pixel-dqn"] - table[best_filter], 3),
        "pixel_dqn_minus_dncnn": round(table["pixel-dqn"] - table["dncnn"], 3),
        "settings": settings,
        "dqn_actions": np.bincount(dqn_actions.ravel(), minlength=len(dn.ACTIONS)).tolist(),
        "pixel_dqn_action_share": (
            np.bincount(pixel_actions.ravel(), minlength=len(dn.ACTIONS)) / pixel_actions.size
        )
        .round(4)
        .tolist(),
        "pixel_dqn_train_gain_last": round(float(np.mean(gains[-20:])), 3),
        "dncnn_parameters": parameters(dncnn),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


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
    frame.to_csv(path, index=False)


def plot_report(
    path: Path,
    config: ReportConfig,
    clean: np.ndarray,
    outputs: dict[str, np.ndarray],
    actions: np.ndarray,
    names: list[str],
) -> Path:
    """One row per test image: the images, then the per-pixel agent's action map per step."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = [names.index(name) for name in dict.fromkeys(names)]  # the first crop of each image
    columns = 1 + len(outputs) + config.steps
    fig = Figure(figsize=(1.55 * columns, 1.7 * len(rows) + 0.9), layout="constrained")
    grid = fig.subplots(len(rows), columns, squeeze=False)
    colors = ListedColormap(colormaps["tab10"].colors[: len(dn.ACTIONS)])
    labels = {"pixel-dqn": "pixel DQN (RL)", "dncnn": "DnCNN", "noisy": "noisy"}
    for r, i in enumerate(rows):
        panels = [("clean", clean[i])] + [(m, images[i]) for m, images in outputs.items()]
        for c, (method, image) in enumerate(panels):
            ax = grid[r, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if method == "clean":
                title = f"{names[i]}\nclean"
            else:
                name = labels.get(method, method.replace(":", ":\n")) + "\n" if r == 0 else ""
                title = f"{name}{dn.psnr(image, clean[i]):.2f} dB"
            ax.set_title(title, fontsize=7)
        for t in range(config.steps):
            ax = grid[r, len(panels) + t]
            ax.imshow(actions[t, i], cmap=colors, vmin=-0.5, vmax=len(dn.ACTIONS) - 0.5)
            ax.set_title(f"actions, step {t + 1}", fontsize=7)
    for ax in grid.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=colors(a), label=name) for a, name in enumerate(dn.ACTIONS)]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(dn.ACTIONS), fontsize=7)
    fig.suptitle(f"Denoising held-out crops, σ = {config.sigma:g} (PSNR of each crop)", fontsize=9)
    fig.savefig(path, dpi=120)
    return path


# -- the command line ---------------------------------------------------------------------------


def add_parser(sub, parser_class) -> None:
    """``rlcourse denoise report`` and its options."""
    p = sub.add_parser(
        "denoise",
        help="image denoising: filters, DnCNN and DQN agents",
        description="Image denoising as reinforcement learning (PixelRL-style).",
    )
    actions = p.add_subparsers(
        dest="action", required=True, parser_class=parser_class, metavar="ACTION"
    )
    r = actions.add_parser(
        "report",
        help="train and measure every denoiser; write psnr.csv and report.png",
        description=cmd_denoise.__doc__,
        epilog="example: rlcourse denoise report --sigma 25 --out results/denoise-25",
    )
    r.add_argument(
        "--sigma", type=float, default=25.0, help="noise std in grey levels (default 25)"
    )
    r.add_argument("--out", help="output directory (default results/denoise-sigmaS)")
    r.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of a minute")
    r.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    r.add_argument("--force", action="store_true", help="overwrite an existing --out")
    r.set_defaults(func=cmd_denoise)


def cmd_denoise(args) -> int:
    """Train what the report needs, measure every method on held-out crops, write the report."""
    import shutil

    from rlcourse.results import check_output_dir

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    config = ReportConfig(sigma=args.sigma, seed=args.seed)
    if args.quick:
        config = replace(config, **QUICK)
    out = Path(args.out or f"results/denoise-sigma{args.sigma:g}")
    check_output_dir(out, args.force, marker="psnr.csv")
    if out.exists() and args.force:
        shutil.rmtree(out)
    metrics = denoise_report(out, config, command=shlex.join(["rlcourse", *args.argv]))
    for method, value in metrics["psnr"].items():
        print(f"{method:24s} {value:7.2f} dB")
    print(f"wrote {out}/ (psnr.csv, report.png, metrics.json)", file=sys.stderr)
    return 0
