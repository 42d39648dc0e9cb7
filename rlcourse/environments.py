"""Resolve what a user calls an environment, and build a batch of independent runs of it.

An env is a registered Gymnasium id (``FrozenLake-v1``, ``rlcourse/Bandit-v0``), a short alias
(``bandit``), a ``module:Class`` entry point importable from the user's path, or (from Python) a
callable returning a ``gymnasium.Env``.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode, VectorEnv

import envs as rlcourse_envs  # registers the rlcourse/ ids
from common.packages import find_installed, import_installed
from envs.vector import NativeVectorEnv
from rlcourse.errors import UsageError

EnvLike = str | Callable[..., gym.Env]


SINGLE_ENV_BYTES = 8_000
"""What one single env object holds at least, as a run of a batch (CartPole: about 5 kB)."""


def space_bytes(space: spaces.Space) -> int:
    """The bytes of one observation of ``space`` as numpy holds it (a Discrete: one int64)."""
    if isinstance(space, spaces.Dict | spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        return sum(space_bytes(part) for part in parts)
    if isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        return math.prod(space.shape) * np.dtype(space.dtype).itemsize
    return 8


@dataclass(frozen=True)
class EnvSource:
    """A resolved environment: how to make one run of it, or a native batch."""

    name: str
    """What results and plots call it (the registered id, ``module:Class`` or factory name)."""
    make_one: Callable[[], gym.Env]
    """Builds a single run (with its kwargs bound)."""
    env_id: str | None = None
    """The registered id, if it is one."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments."""
    wrappers: tuple[str, ...] = ()
    """Wrappers applied to each run, in order, as the user named them (``module:Class[:k=v]``)."""

    @property
    def native_vector(self) -> bool:
        """Whether the id's ``vector_entry_point`` is an rlcourse batch (runs in one numpy batch).

        Other native vector envs (Gymnasium's CartPole, …) autoreset on their own, so they run as
        a ``SyncVectorEnv`` of single envs instead.
        """
        if self.wrappers or self.env_id is None:
            return False
        if gym.spec(self.env_id).vector_entry_point is None:
            return False
        entry_point = gym.spec(self.env_id).vector_entry_point
        creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
        return isinstance(creator, type) and issubclass(creator, NativeVectorEnv)

    def bytes_per_run(self, native: bool = True) -> int:
        """The bytes one run of a batch of this env holds, estimated without making the batch.

        Its observations three times (the loop's, the next ones, the batch's own), and a native
        batch's state per run (its class's ``bytes_per_run(**kwargs)``, e.g. the bandit's arm
        values), or a single env object (:data:`SINGLE_ENV_BYTES`) in a batch of single envs.
        """
        probe = self.make_one()
        try:
            observation = space_bytes(probe.observation_space)
        finally:
            probe.close()
        if native and self.native_vector:
            entry_point = gym.spec(self.env_id).vector_entry_point
            creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
            state = getattr(creator, "bytes_per_run", lambda **kwargs: 0)(**self.kwargs)
        else:
            state = SINGLE_ENV_BYTES
        return 3 * observation + state

    def make_runs(self, n_runs: int, native: bool = True) -> VectorEnv:
        """``n_runs`` independent runs whose episodes end without autoreset (the loop resets).

        A native batch draws every run from one generator; ``native=False`` (or an env without
        one) gives a ``SyncVectorEnv`` of single envs, whose run *i* a seed ``s`` seeds as
        ``s + i``, exactly like a single env reset with that seed.
        """
        try:
            if native and self.native_vector:
                return gym.make_vec(
                    self.env_id,
                    num_envs=n_runs,
                    vectorization_mode="vector_entry_point",
                    autoreset_mode=AutoresetMode.DISABLED,
                    **self.kwargs,
                )
            return gym.vector.SyncVectorEnv(
                [self.make_one] * n_runs, autoreset_mode=AutoresetMode.DISABLED
            )
        except (TypeError, ValueError, gym.error.Error) as err:
            raise UsageError(
                f"cannot make {self.name} with {self.kwargs or 'no kwargs'}: {err}"
            ) from None


def resolve_env(
    env: EnvLike,
    kwargs: dict[str, Any] | None = None,
    *,
    wrappers: Sequence[str] = (),
    read_from: str | None = None,
) -> EnvSource:
    """Turn an id, alias, ``module:Class`` or factory into an :class:`EnvSource`.

    The env is built once here, so that bad names and bad kwargs fail now with a clear message.

    Args:
        env: what the user named.
        kwargs: constructor arguments.
        wrappers: Gymnasium wrappers to apply to each run, in order: ``module:Class`` with
            optional keyword arguments, ``gymnasium.wrappers:FrameStackObservation:stack_size=4``.
        read_from: the file the name was read from (a checkpoint, a manifest), if it was:
            then only a registered Gymnasium id or an alias resolves. A ``module:Class`` is code
            that would be imported and called, so a name from a file someone sent never runs
            it: the user names it on the command line to trust it.

    Raises:
        UsageError: unknown id or alias, unimportable entry point, refused kwargs, or code named
            by a file.
    """
    if read_from is not None and (not isinstance(env, str) or ":" in env):
        raise UsageError(
            f"{read_from} names the env {env!r}, which is code to import and run; from a file "
            f"rlcourse makes only registered Gymnasium ids. If you trust it, name it yourself: "
            f"--env {env}"
        )
    kwargs = dict(kwargs or {})
    env_id = None if callable(env) else registered_id(env)
    wrap = _wrapping([_wrapper(text) for text in wrappers])
    if env_id is None:
        factory = env if callable(env) else _entry_point(env)
        name = env if isinstance(env, str) else getattr(env, "__name__", type(env).__name__)
        make = _time_limited(factory, kwargs)
        source = EnvSource(name, lambda: wrap(make()), None, kwargs, tuple(wrappers))
    else:
        source = EnvSource(env_id, lambda: wrap(gym.make(env_id, **kwargs)), env_id, kwargs,
                           tuple(wrappers))  # fmt: skip
    try:
        probe = source.make_one()
    except UsageError:  # a wrapper that refused its kwargs says so itself
        raise
    except Exception as err:  # the env's own code: whatever it raises, say so in one line
        raise _cannot_make(source.name, kwargs, err) from None
    if not isinstance(probe, gym.Env):
        raise UsageError(
            f"{source.name} returned an object of type {type(probe).__name__!r}, "
            "not a gymnasium.Env"
        )
    for kind in ("observation", "action"):
        space = getattr(probe, f"{kind}_space", None)
        if not isinstance(space, gym.spaces.Space):
            raise UsageError(
                f"env {source.name} has no valid {kind}_space ({space!r}): no agent fits it"
            )
    probe.close()
    return source


def registered_id(env: str) -> str | None:
    """The registered id that ``env`` names, or None for a ``module:Class``; nothing is built.

    An entry point is checked for its form only (``module.path:Name``): nothing is imported, so
    this is what a dry run uses.

    Raises:
        UsageError: an unknown id or alias, or a malformed entry point.
    """
    if ":" in env:
        module_name, _, attr = env.partition(":")
        if not attr or not all(part.isidentifier() for part in module_name.split(".")):
            raise UsageError(
                f"env {env!r} is not module:Class (a module path such as my_envs.grid, a colon, "
                "then a class or factory in it)"
            )
        return None
    env_id = rlcourse_envs.ALIASES.get(env, env)
    if env_id not in gym.registry:
        register_ecosystem(env_id)
    try:
        gym.spec(env_id)
    except gym.error.Error as err:
        if isinstance(err, gym.error.DeprecatedEnv):  # gymnasium names the successor
            raise UsageError(f"unknown env {env!r}: {err}") from None
        aliases = ", ".join(rlcourse_envs.ALIASES)
        raise UsageError(
            f"unknown env {env!r} (aliases: {aliases}; any registered Gymnasium id; "
            "or module:Class; another package's id: --gym-package PACKAGE, or PACKAGE:ID)"
        ) from None
    return env_id


def import_gym_packages(names: Sequence[str], *, dry_run: bool = False) -> None:
    """Import installed packages so that they register their env ids (``--gym-package``).

    Only installed packages are imported (:func:`common.packages.import_installed`): one of
    that name in the working folder never is. ``dry_run`` checks that each is installed
    without importing it.

    Raises:
        UsageError: a name that is not a package name, or no installed package of that name.
    """
    for name in names:
        if not (name and all(part.isidentifier() for part in name.split("."))):
            raise UsageError(f"--gym-package {name!r} is not a package name (such as highway_env)")
        missing = UsageError(
            f"--gym-package {name!r}: no installed package of that name (pip install it; "
            "one in the working folder is not imported)"
        )
        if find_installed(name.split(".")[0]) is None:
            raise missing
        if dry_run:
            continue
        try:
            import_installed(name)
        except ImportError:
            raise missing from None
        except Exception as err:  # the package's own code: say so in one line
            raise UsageError(
                f"--gym-package {name!r}: importing it failed: {type(err).__name__}: {err}"
            ) from None


ECOSYSTEM = (
    # id prefix, the module whose import registers it, the package to install
    ("ALE/", "ale_py", "ale-py"),
    ("MinAtar/", "minatar.gym", "minatar"),
    ("MiniGrid-", "minigrid", "minigrid"),
    ("BabyAI-", "minigrid", "minigrid"),
)
"""Ecosystem envs whose ids resolve as typed: their package is imported and registers them."""


def register_ecosystem(env_id: str) -> None:
    """Register the ids of the installed package an id belongs to (``ALE/``, ``MinAtar/``, …).

    Raises:
        UsageError: the id belongs to a package that is not installed (says which to install).
    """
    for prefix, module_name, package in ECOSYSTEM:
        if env_id.startswith(prefix):
            try:
                module = import_installed(module_name)
            except ImportError:
                raise UsageError(
                    f"{env_id} is an env of the {package} package, which is not installed: "
                    f"pip install {package}"
                ) from None
            if hasattr(module, "register_envs"):  # minatar.gym registers on request
                module.register_envs()
            elif module_name == "ale_py":
                gym.register_envs(module)
            return


def wrapper_form(text: str) -> tuple[str, str, dict[str, Any]]:
    """``module:Class[:k=v,...]`` → (module, class name, kwargs); nothing is imported.

    Raises:
        UsageError: a text not of that form.
    """
    from rlcourse.cli.common import literal

    module_name, _, rest = text.partition(":")
    attr, _, options = rest.partition(":")
    kwargs: dict[str, Any] = {}
    for item in filter(None, options.split(",")):
        key, sep, value = item.partition("=")
        if not (sep and key.isidentifier()):
            raise UsageError(f"wrapper {text!r}: {item!r} is not KEY=VALUE")
        kwargs[key] = literal(value)
    if not (attr.isidentifier() and all(p.isidentifier() for p in module_name.split("."))):
        raise UsageError(f"wrapper {text!r} is not module:Class[:KEY=VALUE,...]")
    return module_name, attr, kwargs


def _wrapper(text: str) -> tuple[str, type, dict[str, Any]]:
    """``module:Class[:k=v,...]`` → (its name, the class, its kwargs), imported now.

    Raises:
        UsageError: a malformed text, a module that cannot be imported, no such class.
    """
    module_name, attr, kwargs = wrapper_form(text)
    try:
        target = getattr(importlib.import_module(module_name), attr, None)
    except ImportError as err:
        raise UsageError(f"cannot import {module_name!r} for wrapper {text!r}: {err}") from None
    if not callable(target):
        raise UsageError(f"module {module_name!r} has no wrapper {attr!r}")
    return f"{module_name}:{attr}", target, kwargs


def _wrapping(wrappers: list[tuple[str, type, dict[str, Any]]]) -> Callable[[gym.Env], gym.Env]:
    """A function that applies the wrappers in order (each refusal becomes one line)."""

    def wrap(env: gym.Env) -> gym.Env:
        for name, wrapper, kwargs in wrappers:
            try:
                env = wrapper(env, **kwargs)
            except Exception as err:  # the wrapper's own code: say so in one line
                raise UsageError(
                    f"wrapper {name} refused {kwargs or 'no kwargs'}: {type(err).__name__}: {err}"
                ) from None
        return env

    return wrap


def _cannot_make(name: str, kwargs: dict[str, Any], err: Exception) -> UsageError:
    return UsageError(
        f"cannot make {name} with {kwargs or 'no kwargs'}: {type(err).__name__}: {err}"
    )


def _entry_point(text: str) -> Callable[..., gym.Env]:
    """The class or factory ``module:Attr`` names (or gymnasium's ``module:Env-v0`` form)."""
    module_name, _, attr = text.partition(":")
    if os.getcwd() not in sys.path:  # last: a file in the working directory never shadows a module
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        known = {module: package for _, module, package in ECOSYSTEM}
        package = known.get(module_name) or known.get(module_name.split(".")[0])
        hint = f"; pip install {package}" if package else ""
        raise UsageError(f"cannot import {module_name!r} for env {text!r}: {err}{hint}") from None
    target = getattr(module, attr, None)
    if target is None:
        if attr in gym.registry:
            return lambda **kwargs: gym.make(attr, **kwargs)
        raise UsageError(f"module {module_name!r} has no {attr!r} (env {text!r})")
    if not callable(target):
        raise UsageError(f"{text!r} is not a class or factory")
    return target


def _time_limited(factory: Callable[..., gym.Env], kwargs: dict[str, Any]) -> Callable[[], gym.Env]:
    """``factory(**kwargs)``, wrapped in a TimeLimit when ``max_episode_steps`` is given.

    This is what ``gym.make`` does for registered ids.
    """
    kwargs = dict(kwargs)
    limit = kwargs.pop("max_episode_steps", None)

    def make() -> gym.Env:
        env = factory(**kwargs)
        if not isinstance(env, gym.Env):
            return env  # refused by resolve_env
        env = gym.wrappers.PassiveEnvChecker(env)  # clear errors for a broken step API
        return gym.wrappers.TimeLimit(env, int(limit)) if limit is not None else env

    return make


def describe_envs() -> list[tuple[str, str, str]]:
    """(id, alias, first docstring line) of every env rlcourse registers."""
    aliases = {env_id: alias for alias, env_id in rlcourse_envs.ALIASES.items()}
    rows = []
    for env_id in rlcourse_envs.registered_ids():
        spec = gym.spec(env_id)
        env_class = load_env_creator(spec.entry_point)
        summary = (env_class.__doc__ or "").strip().splitlines()[0]
        rows.append((env_id, aliases.get(env_id, ""), summary))
    return rows
