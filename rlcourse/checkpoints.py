"""DQN checkpoints: saved as tensors and plain data, loaded safely, evaluated greedily.

``checkpoint.pt`` (the latest policy) and ``best.pt`` (the best evaluation's) hold
``{"model": state_dict, "config": {...}, "env": ..., "env_kwargs": {...},
"observation_shape": [...], "n_actions": n}`` (``observation_shape`` is ``{part: [...]}`` for
observations stored as several arrays; ``best.pt`` also holds its ``step`` and
``mean_return``): tensors and plain data only, read back with ``torch.load(weights_only=True)``,
so a checkpoint is never unpickled as code, and the env it names is made only when it is a
registered Gymnasium id (a ``module:Class`` runs only when the user names it).
``rlcourse evaluate DIR`` runs the greedy policy of ``best.pt`` (``--final``: ``checkpoint.pt``)
and writes ``evaluation-seedS-episodesN.json`` (one file per question: :func:`evaluation_name`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.atomic import atomic_path, write_text
from rlcourse.environments import EnvSource, resolve_env
from rlcourse.errors import UsageError
from rlcourse.loop import VectorSource, run
from rlcourse.memory import check_count, check_fits, evaluation_memory
from rlcourse.outputs import add_to_stamp
from rlcourse.reading import check_depth, read_json


def single_envs(source: EnvSource) -> VectorSource:
    """A source's runs as single envs side by side, never its native batch.

    Run *i* of a batch seeded ``s`` is then the lone env reset with seed ``s + i``: a training
    run or a greedy episode is the same whether it runs alone or in a batch.
    """
    return VectorSource(source.name, functools.partial(source.make_runs, native=False))


def save_checkpoint(path: Path, learner, source: EnvSource, **extra: Any) -> None:
    """Write the learner's policy and the env it was trained on (atomically), with ``extra``."""
    import torch

    checkpoint = {
        **learner.state(),
        "env": source.name,
        "env_kwargs": source.kwargs,
        "observation_shape": learner.buffer.obs_shape,
        "n_actions": learner.n_actions,
        "wrappers": list(source.wrappers),
        **extra,
    }
    with atomic_path(path) as temporary:
        torch.save(checkpoint, temporary)


def evaluate_greedy(learner, source: EnvSource, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (ε = 0), episode *i*'s env seeded ``seed + i``.

    The episodes run side by side as the runs of one batch of the run loop.
    """
    from agents.off_policy import GreedyPolicy

    metrics = run(single_envs(source), GreedyPolicy(learner), runs=episodes, episodes=1,
                  seed=seed, progress=False)  # fmt: skip
    return metrics["return"][:, 0]


def resolve_saved_env(
    saved: Any,
    kwargs: Any,
    named: str | None,
    path: Path,
    saved_wrappers: Any = (),
    named_wrappers: Sequence[str] = (),
) -> EnvSource:
    """The env a file names, made only if it is a registered id, or the one the user ``named``.

    The saved kwargs (plain data) go with the saved name, also when the user names that same
    env to trust it; another named env gets none. Saved wrappers are code: they are applied only
    when the user names the same ones (``named_wrappers``).

    Raises:
        UsageError: a saved name, kwargs or wrappers of the wrong type, or a ``module:Class`` or
            wrappers the user did not name.
    """
    if not isinstance(saved, str) or not isinstance(kwargs, dict):
        raise UsageError(f"{path} names its env wrongly: {saved!r} with {kwargs!r}")
    if not isinstance(saved_wrappers, list | tuple) or not all(
        isinstance(w, str) for w in saved_wrappers
    ):
        raise UsageError(f"{path} names its wrappers wrongly: {saved_wrappers!r}")
    from rlcourse.presets import trusted_wrappers

    if saved_wrappers and list(saved_wrappers) in trusted_wrappers() and not named_wrappers:
        named_wrappers = list(saved_wrappers)  # a preset's: rlcourse's own data
    if saved_wrappers and list(named_wrappers) != list(saved_wrappers):
        trust = " ".join(f"--wrapper {w}" for w in saved_wrappers)
        raise UsageError(
            f"{path} applies the wrappers {', '.join(saved_wrappers)}, code to import and run; "
            f"if you trust them, name them yourself: {trust}"
        )
    if named is None:
        return resolve_env(saved, kwargs, wrappers=named_wrappers, read_from=str(path))
    return resolve_env(named, kwargs if named == saved else None, wrappers=named_wrappers)


def checkpoint_path(directory: Path, final: bool = False) -> Path:
    """``best.pt`` (or ``checkpoint.pt`` when ``final``, or when the run kept no best)."""
    directory = Path(directory)
    best = directory / "best.pt"
    return directory / "checkpoint.pt" if final or not best.is_file() else best


def load_checkpoint(
    directory: Path, env: str | None = None, final: bool = False, wrappers: Sequence[str] = ()
) -> tuple[Any, EnvSource, dict]:
    """The trained learner (best evaluation's, or ``final``), the env to run it on, the raw file.

    Raises:
        UsageError: no checkpoint, a corrupt one, one that is not plain tensors and data (it is
            refused, never unpickled), one with fields of the wrong types, a ``module:Class`` env
            not named by the user, or an env whose spaces differ from the checkpoint's.
    """
    from rlcourse.training.learners import learner_kind

    path = checkpoint_path(directory, final)
    checkpoint = read_checkpoint(path)
    try:  # runs saved before learners had names are DQN's
        kind = learner_kind(checkpoint.get("algorithm", "dqn"))
    except UsageError as err:
        raise UsageError(f"{path}: {err}") from None
    config = kind.make_config(checkpoint["config"], path)
    saved_shape, saved_actions = checkpoint["observation_shape"], checkpoint["n_actions"]
    if not (_is_shape(saved_shape) and isinstance(saved_actions, int)):
        raise UsageError(
            f"{path} has a bad observation_shape or n_actions: {saved_shape!r}, {saved_actions!r}"
        )
    source = resolve_saved_env(checkpoint["env"], checkpoint["env_kwargs"], env, path,
                               checkpoint.get("wrappers", []), wrappers)  # fmt: skip
    probe = source.make_one()
    check_fits(kind.memory(config, probe.observation_space, probe.action_space),
               f"{path} asks for more (its config's buffer_size, hidden)")  # fmt: skip
    learner = kind.build(config, probe.observation_space, probe.action_space,
                         np.random.default_rng(0))  # fmt: skip
    shape, n_actions = learner.buffer.obs_shape, learner.n_actions
    if shape != _as_shape(saved_shape) or n_actions != saved_actions:
        raise UsageError(
            f"{path} was trained on {checkpoint['env']} (observations "
            f"{checkpoint['observation_shape']}, {checkpoint['n_actions']} actions); "
            f"{source.name} has observations {shape} and {n_actions} actions"
        )
    try:
        learner.load_weights(checkpoint["model"])
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"{path} does not fit the network: {str(err).splitlines()[0]}") from None
    check_finite_weights(checkpoint["model"], path)
    return learner, source, checkpoint


def _is_shape(saved: Any) -> bool:
    """A saved observation shape: a list of ints, or a mapping of names to such (several arrays)."""

    def one(shape: Any) -> bool:
        return isinstance(shape, list | tuple) and all(isinstance(n, int) for n in shape)

    if isinstance(saved, dict):
        return bool(saved) and all(isinstance(k, str) and one(v) for k, v in saved.items())
    return one(saved)


def _as_shape(saved: list | tuple | dict) -> list | dict:
    """A saved observation shape as :attr:`agents.replay.ReplayBuffer.obs_shape` gives it."""
    if isinstance(saved, dict):
        return {name: list(shape) for name, shape in saved.items()}
    return list(saved)


CHECKPOINT_KEYS = ("model", "config", "env", "env_kwargs", "observation_shape", "n_actions")


def read_checkpoint(path: Path, needed: tuple[str, ...] = CHECKPOINT_KEYS) -> dict:
    """A checkpoint file's tensors and plain data (``weights_only``: never code).

    Raises:
        UsageError: no such file, a corrupt one, or one without the ``needed`` keys.
    """
    import pickle
    import re
    import zipfile

    import torch

    if not path.is_file():
        raise UsageError(f"{path.parent} holds no {path.name} (train one with rlcourse train)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise UsageError(f"{path} is corrupt: not a torch checkpoint archive")
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: \S+ \S+", str(err))
        why = found.group(0) if found else "it holds more than tensors and plain data"
        raise UsageError(
            f"{path} is not a plain state dict (refused, not unpickled): {why}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise UsageError(f"{path} is corrupt: {type(err).__name__}: {err}") from None
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in needed):
        raise UsageError(f"{path} is not an rlcourse DQN checkpoint (keys {', '.join(needed)})")
    check_depth(checkpoint, str(path))
    return checkpoint


def check_finite_weights(weights: Any, path: Path) -> None:
    """Refuse a state dict (``{name: tensor}``) that holds NaN or infinite weights.

    Raises:
        UsageError: naming the first tensors that do.
    """
    from supervised.networks import non_finite

    if not isinstance(weights, dict):
        return  # not a state dict: refused where it is loaded
    bad = non_finite(weights)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise UsageError(
            f"{path} holds NaN or infinite weights ({', '.join(bad[:3])}{more}): "
            "the training diverged or the file is damaged"
        )


def evaluate_checkpoint(
    directory: Path,
    episodes: int = 20,
    seed: int = 0,
    env: str | None = None,
    final: bool = False,
    force: bool = False,
    wrappers: Sequence[str] = (),
) -> dict[str, Any]:
    """Greedy returns of a saved DQN (``best.pt``, or ``final``); writes them beside it.

    Each question has its own file (:func:`evaluation_name`), so an evaluation never replaces
    another; asking the same question again rewrites its file with the same numbers. ``force``
    is accepted and changes nothing.

    Raises:
        UsageError: see :func:`load_checkpoint`; a file of that name that rlcourse did not write;
            another rlcourse process writing the directory (a ``--resume`` of it).
    """
    from rlcourse.outputs import output_lock
    from rlcourse.stats import mean_ci

    del force  # evaluations never replace one another
    directory = Path(directory)
    learner, source, checkpoint = load_checkpoint(directory, env, final, wrappers)
    settings = {
        "checkpoint": checkpoint_path(directory, final).name,
        "env": source.name,
        "wrappers": list(source.wrappers),
        "episodes": episodes,
        "seed": seed,
    }
    check_count("episodes", episodes)
    check_fits(evaluation_memory(source, episodes), "lower --episodes")
    with output_lock(directory):  # a --resume of this run would swap it away meanwhile
        target = directory / evaluation_name(settings, checkpoint)
        if (target.exists() or target.is_symlink()) and not _an_earlier_answer(target, settings):
            raise UsageError(f"{target} exists and rlcourse did not write it; move it away first")
        returns = evaluate_greedy(learner, source, episodes, seed)
        mean, low, high, n = mean_ci(returns)
        result = {
            **settings,
            "mean_return": float(mean),
            "ci_low": float(low),
            "ci_high": float(high),
            "returns": returns.tolist(),
            "file": target.name,
        }
        add_to_stamp(directory, target.name)  # listed as it is written, never someone else's
        write_text(target, json.dumps(result, indent=2) + "\n")
    return result


def _an_earlier_answer(path: Path, settings: dict[str, Any]) -> bool:
    """Whether ``path`` is rlcourse's answer to the same question.

    Its directory's stamp lists it, or (where there is no stamp) it holds the same settings.
    """
    from rlcourse.outputs import read_stamp

    stamp = read_stamp(path.parent)
    if stamp is not None:
        return path.name in stamp["files"]
    try:
        earlier = read_json(path)
    except UsageError:  # unreadable, not JSON, nested too deeply
        return False
    return isinstance(earlier, dict) and all(earlier.get(k) == v for k, v in settings.items())


def evaluation_name(settings: dict[str, Any], checkpoint: dict) -> str:
    """``evaluation-seedS-episodesN.json``: the file of one evaluation's answer.

    ``-final`` follows ``evaluation`` for ``checkpoint.pt``, ``-env-NAME`` for an env other than
    the one trained on, ``-wrappers-HASH`` for other wrappers than the trained ones.
    """
    import hashlib
    import re

    parts = ["evaluation"]
    if settings["checkpoint"] != "best.pt":
        parts.append("final")
    if settings["env"] != checkpoint["env"]:
        parts.append("env-" + re.sub(r"[^A-Za-z0-9._=-]+", "_", settings["env"]))
    if settings["wrappers"] != list(checkpoint.get("wrappers", [])):
        digest = hashlib.sha256(json.dumps(settings["wrappers"]).encode()).hexdigest()[:8]
        parts.append(f"wrappers-{digest}")
    parts += [f"seed{settings['seed']}", f"episodes{settings['episodes']}"]
    return "-".join(parts) + ".json"
