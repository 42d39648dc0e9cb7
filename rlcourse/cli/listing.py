"""``rlcourse envs``, ``agents`` and ``presets``: what can be compared, with which parameters."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``envs`` and ``agents``."""
    sub.add_parser("envs", help="list environments", description=cmd_envs.__doc__).set_defaults(
        func=cmd_envs
    )
    sub.add_parser(
        "agents", help="list agents and their parameters", description=cmd_agents.__doc__
    ).set_defaults(func=cmd_agents)
    sub.add_parser(
        "presets", help="list the DQN presets of train dqn", description=cmd_presets.__doc__
    ).set_defaults(func=cmd_presets)


def cmd_envs(args) -> int:
    """List the registered rlcourse environments."""
    from rlcourse.environments import describe_envs

    rows = list(describe_envs())
    id_width = max(len(env_id) for env_id, _, _ in rows)
    alias_width = max(len(alias) for _, alias, _ in rows)
    for env_id, alias, doc in rows:
        print(f"{env_id:{id_width}s}  {alias:{alias_width}s}  {doc}")
    print("\nAlso accepted: any registered Gymnasium id (e.g. FrozenLake-v1), or module:Class.")
    return 0


def cmd_agents(args) -> int:
    """List agent names and their parameters."""
    from agents import AGENTS

    for entry in AGENTS.values():
        print(f"{entry.name}: {entry.summary}")
        for name, default, doc in entry.parameters():
            default = "none" if default is None else default
            print(f"    {name}={default}  {doc}")
    print("\nSpec: NAME[:KEY=VALUE[,KEY=VALUE...]], e.g. epsilon-greedy:epsilon=0.1,alpha=0.1")
    return 0


def cmd_presets(args) -> int:
    """List the DQN settings ``rlcourse train dqn`` takes by env id or family."""
    from rlcourse.presets import presets

    for preset in presets():
        print(f"{preset.name}  (matches {preset.match}; {preset.steps} steps)")
        print(f"    source: {preset.source}")
        if preset.set:
            print("    set: " + " ".join(f"{k}={v}" for k, v in preset.set.items()))
        if preset.env_kwargs:
            print("    env kwargs: " + " ".join(f"{k}={v}" for k, v in preset.env_kwargs.items()))
        for wrapper in preset.wrappers:
            print(f"    wrapper: {wrapper}")
    print(
        "\ntrain dqn ENV takes the preset that matches ENV; --set overrides it, "
        "--preset NAME picks one, --preset none takes the defaults (rlcourse agents)."
    )
    return 0
