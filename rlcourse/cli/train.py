"""``rlcourse train dqn``: train one DQN agent; save its checkpoints, curves and metrics.

The run writes into ``OUT.partial/`` (a checkpoint to resume from every ``--checkpoint-every``
steps) and becomes ``OUT/`` when it ends; ``--resume OUT`` continues an interrupted run (or a
finished one, with more ``--steps``).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from rlcourse.cli.common import (
    add_device_option,
    add_gym_package_option,
    add_wrapper_option,
    announce_device,
    chosen_device,
    finite_float,
    nonempty,
    parse_pairs,
    positive_int,
    seed_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train``."""
    from rlcourse.training.settings import EVAL_EPISODES, EVAL_EVERY, STEPS

    p = sub.add_parser(
        "train",
        help="train one DQN agent and save it",
        description=cmd_train_dqn.__doc__,
        epilog="examples:\n  rlcourse train dqn CartPole-v1 --out results/dqn\n"
        "  rlcourse train dqn --resume results/dqn          # continue an interrupted run\n"
        "  rlcourse train dqn --resume results/dqn --steps 100000   # train a finished run on",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("algorithm", choices=["dqn"], help="what to train")
    p.add_argument(
        "env", nargs="?", help="registered id, alias or module:Class (with --resume: optional)"
    )
    p.add_argument(
        "--preset",
        default="auto",
        help="DQN settings by env (rlcourse presets); auto (default): the one matching ENV; none",
    )
    p.add_argument(
        "--steps", type=positive_int, help=f"env steps (default: the preset's, or {STEPS})"
    )
    p.add_argument("--seed", type=seed_int, help="seed (default 0)")
    p.add_argument(
        "--set", nargs="+", metavar="KEY=VALUE", help="DQN hyperparameters (rlcourse agents)"
    )
    p.add_argument("--env-kwargs", nargs="+", metavar="K=V", help="env constructor arguments")
    add_wrapper_option(p)
    add_gym_package_option(p)
    p.add_argument(
        "--eval-every", type=positive_int, help=f"steps between evaluations ({EVAL_EVERY})"
    )
    p.add_argument(
        "--eval-episodes", type=positive_int, help=f"episodes per evaluation ({EVAL_EPISODES})"
    )
    p.add_argument(
        "--checkpoint-every",
        type=positive_int,
        help="steps between resumable checkpoints (default: at each evaluation)",
    )
    p.add_argument(
        "--stop-at",
        type=finite_float,
        metavar="RETURN",
        help="stop at the first evaluation whose mean return reaches RETURN",
    )
    p.add_argument("--tensorboard", action="store_true", help="log to OUT/tensorboard")
    add_device_option(p)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch threads (default 1: fastest for small networks on CPU)",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="output directory")
    target.add_argument(
        "--resume", metavar="OUT", help="continue the run of OUT (its settings are kept)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--dry-run", action="store_true", help="check everything, print the plan, write nothing"
    )
    p.set_defaults(func=cmd_train_dqn)


FIXED_ON_RESUME = ("seed", "set", "env_kwargs", "eval_every", "eval_episodes", "checkpoint_every")
"""Options a resume keeps from the run (ENV, ``--wrapper`` and ``--preset`` must be the run's)."""


def cmd_train_dqn(args) -> int:
    """Train one DQN; save checkpoints, curves and metrics.json into --out."""
    from rlcourse.environments import import_gym_packages
    from rlcourse.errors import UsageError

    if args.resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in FIXED_ON_RESUME if getattr(args, name)]
        if given or args.force:
            raise UsageError(
                f"--resume continues with the saved settings; {' '.join(given) or '--force'} "
                "cannot change them (only --steps and --stop-at can)"
            )
        import_gym_packages(args.gym_package)  # with the run's own: see prepare_resume
        return _resume(args)
    if args.env is None:
        raise UsageError("name the env to train on (or --resume a run)")
    import_gym_packages(args.gym_package)
    return _train(args)


def _train(args) -> int:
    from rlcourse.cli.common import command_line
    from rlcourse.memory import describe
    from rlcourse.outputs import ResumableOutput, output_lock
    from rlcourse.training.curves import require_tensorboard
    from rlcourse.training.settings import (
        EVAL_EPISODES,
        EVAL_EVERY,
        STEPS,
        dqn_config,
        training_memory,
    )
    from rlcourse.training.train import RUN_FILES, prepare_training, train_from_settings

    preset = _preset(args)
    steps = args.steps or (preset.steps if preset else STEPS)
    overrides = {
        "lr_decay_steps": str(steps),  # the run's length, unless the preset or --set fix it
        **(preset.overrides() if preset else {}),
        **parse_pairs(args.set, "--set", convert=nonempty),
    }
    settings, source = prepare_training(
        args.env,
        steps=steps,
        seed=args.seed or 0,
        config=dqn_config(overrides),
        env_kwargs={
            **(preset.env_kwargs if preset else {}),
            **parse_pairs(args.env_kwargs, "--env-kwargs"),
        },
        eval_every=args.eval_every or EVAL_EVERY,
        eval_episodes=args.eval_episodes or EVAL_EPISODES,
        checkpoint_every=args.checkpoint_every,
        stop_at=args.stop_at,
        wrappers=[*(preset.wrappers if preset else []), *args.wrapper],
        preset=preset.name if preset else None,
        gym_packages=args.gym_package,
    )
    if args.tensorboard:
        require_tensorboard()
    run_dir = ResumableOutput(Path(args.out))
    run_dir.check_new(args.force)
    device = chosen_device(args)
    memory = describe(training_memory(settings, source))
    if args.dry_run:
        print(f"would train DQN on {settings.env} for {settings.steps} steps into {args.out}/")
        print(f"preset: {preset.name if preset else 'none (the defaults)'}")
        print(f"memory: {memory}")
        return 0
    with output_lock(run_dir.out):  # one run at a time writes OUT
        run_dir.check_new(args.force)  # again: another run may have started meanwhile
        _notes(settings, preset)
        staging = run_dir.start(command_line(args), planned=RUN_FILES)
        print(f"training in {staging}/ (becomes {args.out}/ when done); memory {memory}",
              file=sys.stderr)  # fmt: skip
        announce_device(device)
        with run_dir.interruptible():
            metrics = train_from_settings(settings, source, staging,
                                          tensorboard=args.tensorboard, device=device,
                                          threads=args.threads)  # fmt: skip
        run_dir.finish(args.force)
    _print(metrics, args.out)
    return 0


def _notes(settings, preset, resumed: bool = False) -> None:
    """What a user may want to change before a long run (on stderr)."""
    config = settings.config
    if config["lr_end"] is not None and settings.steps > config["lr_decay_steps"]:
        spread = ("a resume keeps it; a new run with --set lr_decay_steps=" if resumed
                  else "--set lr_decay_steps=")  # fmt: skip
        print(f"note: the learning rate reaches lr_end={config['lr_end']} at step "
              f"{config['lr_decay_steps']} of {settings.steps}; {spread}"
              f"{settings.steps} spreads it over the run", file=sys.stderr)  # fmt: skip
    if preset:
        print(f"preset {preset.name}: {preset.source} (--set overrides it; --preset none for "
              "the defaults)", file=sys.stderr)  # fmt: skip


def _resume(args) -> int:
    from rlcourse.outputs import ResumableOutput, output_lock
    from rlcourse.training.curves import require_tensorboard

    if args.tensorboard:
        require_tensorboard()
    run_dir = ResumableOutput(Path(args.resume), "--resume")
    run_dir.holder()  # refused before the lock is taken (its folder may not even exist)
    lock = nullcontext() if args.dry_run else output_lock(run_dir.out)
    with lock:  # one run at a time writes OUT
        return _resume_held(args, run_dir)


def _resume_held(args, run_dir) -> int:
    from rlcourse.training.resume_format import run_finished
    from rlcourse.training.train import finished_metrics, prepare_resume, train_from_settings

    held = run_dir.holder()
    stop_at = args.stop_at if args.stop_at is not None else "saved"
    settings, source, saved = prepare_resume(  # everything checked before anything is written
        held, steps=args.steps, stop_at=stop_at, env=args.env, wrappers=args.wrapper,
        preset=None if args.preset == "auto" else args.preset,
        finished_ok=held == run_dir.partial, gym_packages=args.gym_package,
    )  # fmt: skip
    device = chosen_device(args)
    finished = run_finished(settings, saved)  # killed after its last checkpoint, before the swap
    if not finished:
        _notes(settings, None, resumed=True)  # training on past the learning rate's decay
    if args.dry_run:
        what = "finish" if finished else "resume"
        print(f"would {what} {held}/ at step {saved['position']['t']} of {settings.steps}")
        return 0
    staging = run_dir.resumable(held)
    if finished:
        print(f"finishing {staging}/ (it ended before it became {args.resume}/)", file=sys.stderr)
        metrics = finished_metrics(staging, settings, saved, device)
    else:
        print(f"resuming {staging}/", file=sys.stderr)
        announce_device(device)
        with run_dir.interruptible():
            metrics = train_from_settings(settings, source, staging, saved=saved,
                                          tensorboard=args.tensorboard, device=device,
                                          threads=args.threads)  # fmt: skip
    run_dir.finish()
    _print(metrics, args.resume)
    return 0


def _preset(args):
    """The preset ``--preset`` names (auto: the one matching the env; none: no preset)."""
    from rlcourse.environments import registered_id
    from rlcourse.presets import find_preset, preset_for

    if args.preset == "none":
        return None
    if args.preset != "auto":
        return find_preset(args.preset)
    env_id = registered_id(args.env)
    return preset_for(env_id) if env_id else None


def _print(metrics: dict, out: str) -> None:
    for key, value in metrics.items():
        if key != "settings":  # the run's settings, saved in metrics.json for plot and aggregate
            print(f"{key:24s} {value}")
    print(f"wrote {out}/", file=sys.stderr)
