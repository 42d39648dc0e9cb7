"""``resume.pt``: everything a training run goes on from, as tensors and plain data.

``{"format": RESUME_FORMAT, "settings": {...}, "learner": training_state, "torch_rng": tensor,
"position": {...}, "episodes": [...], "evaluations": [...], "best": [step, return],
"train_seconds": s}``, written atomically and read back with ``torch.load(weights_only=True)``
(never unpickled as code); every part is checked before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from common.atomic import atomic_path
from rlcourse.checkpoints import check_finite_weights, read_checkpoint
from rlcourse.errors import UsageError
from rlcourse.loop import Position
from rlcourse.training.curves import Curves
from rlcourse.training.settings import TrainingConfig, check_stop_at

RESUME_FORMAT = "rlcourse-dqn-training/1"
"""What ``resume.pt`` says it is (refused when it says anything else; every learner's run)."""


def save_training(out: Path, learner, settings: TrainingConfig, curves: Curves, position: Position,
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


def saved_settings(saved: dict, path: Path) -> TrainingConfig:
    """The settings of a read ``resume.pt``, with every other part of it checked.

    Raises:
        UsageError: a part of the wrong type or value (an unknown learner among them).
    """
    try:
        settings = TrainingConfig(**saved["settings"])
        for name in ("steps", "seed", "eval_every", "eval_episodes"):
            if not isinstance(getattr(settings, name), int):
                raise TypeError(f"{name} is not an integer")
        if not isinstance(settings.env, str) or not isinstance(settings.env_kwargs, dict):
            raise TypeError("env is not a name with kwargs")
        if not isinstance(settings.preset, str | None):
            raise TypeError("preset is not a name")
        packages = settings.gym_packages
        if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
            raise TypeError("gym_packages is not a list of names")
        check_stop_at(settings.stop_at)
        Position.from_dict(saved["position"])
        settings.learner_config()
        saved_curves(saved)  # the rest of resume.pt, read before anything is written
        float(saved["train_seconds"])
        _check_torch_rng(saved["torch_rng"])
    except (TypeError, ValueError, KeyError, UsageError) as err:
        raise UsageError(f"{path} has bad settings: {err}") from None
    return settings


def saved_curves(saved: dict) -> Curves:
    """The curves of a read ``resume.pt``.

    Raises:
        TypeError, ValueError, KeyError: rows of the wrong form.
    """
    best_step, best_return = saved["best"]
    return Curves(
        [(int(t), float(r), int(n)) for t, r, n in saved["episodes"]],
        [(int(t), float(r), int(n), float(s)) for t, r, n, s in saved["evaluations"]],
        None if best_step is None else int(best_step),
        float(best_return),
    )


def run_finished(settings: TrainingConfig, saved: dict) -> bool:
    """Whether the saved run has nothing left to do: its last step, or a stop at ``stop_at``."""
    t = int(saved["position"]["t"])
    if t >= settings.steps:
        return True
    evaluations = saved_curves(saved).evaluations  # checked by saved_settings
    return (settings.stop_at is not None and bool(evaluations) and evaluations[-1][0] == t
            and evaluations[-1][1] >= settings.stop_at)  # fmt: skip


def _check_torch_rng(state: Any) -> None:
    import torch

    if not (torch.is_tensor(state) and state.shape == torch.get_rng_state().shape):
        raise ValueError("torch_rng is not a state of torch's generator")
