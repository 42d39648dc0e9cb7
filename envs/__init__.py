"""Gymnasium environments of rlcourse, registered under the ``rlcourse/`` namespace on import.

>>> import gymnasium as gym, envs
>>> env = gym.make("rlcourse/Bandit-v0")                     # one run
>>> vec = gym.make_vec("rlcourse/Bandit-v0", num_envs=2000)  # 2000 runs in one numpy batch
"""

from gymnasium.envs.registration import register, registry

#: Short names accepted wherever an env id is (the CLI, ``rlcourse.compare``).
ALIASES: dict[str, str] = {
    "bandit": "rlcourse/Bandit-v0",
    "gridworld": "rlcourse/GridWorld-v0",
    "denoise": "rlcourse/ImageDenoise-v0",
    "pixel-denoise": "rlcourse/PixelDenoise-v0",
}

if "rlcourse/Bandit-v0" not in registry:
    register(
        id="rlcourse/Bandit-v0",
        entry_point="envs.bandit:BanditEnv",
        vector_entry_point="envs.bandit:BanditVectorEnv",
        max_episode_steps=1000,
    )

if "rlcourse/GridWorld-v0" not in registry:
    register(
        id="rlcourse/GridWorld-v0",
        entry_point="envs.gridworld:GridWorldEnv",
        vector_entry_point="envs.gridworld:GridWorldVectorEnv",
        max_episode_steps=1000,
    )

for _name in ("ImageDenoise", "PixelDenoise"):
    if f"rlcourse/{_name}-v0" not in registry:
        register(
            id=f"rlcourse/{_name}-v0",
            entry_point=f"envs.denoise:{_name}Env",
            vector_entry_point=f"envs.denoise:{_name}VectorEnv",
            max_episode_steps=5,
        )


def registered_ids() -> list[str]:
    """The ids this package registers, sorted."""
    return sorted(env_id for env_id in registry if env_id.startswith("rlcourse/"))
