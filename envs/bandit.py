"""The k-armed bandit of Sutton & Barto (2nd ed., ch. 2) and its native vector twin."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.vector import NativeVectorEnv

ARM_KINDS = ("gaussian", "bernoulli")


@dataclass(frozen=True)
class BanditConfig:
    """The bandit problem: how true values are drawn and how rewards are drawn from them."""

    k: int = 10
    """Number of arms."""
    value_mean: float = 0.0
    """Mean of the normal distribution the true values q*(a) are drawn from at reset."""
    value_std: float = 1.0
    """Standard deviation of that distribution (0: all arms start equal)."""
    reward_std: float = 1.0
    """Standard deviation of a Gaussian arm's reward around q*(a)."""
    arms: str = "gaussian"
    """``gaussian`` (reward ~ N(q*(a), reward_std)) or ``bernoulli`` (reward 1 w.p. p(a))."""
    walk_std: float = 0.0
    """Step size of the independent random walk of every q*(a) per step (>0: non-stationary)."""

    def __post_init__(self):
        if int(self.k) != self.k or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k}")
        for name in ("value_std", "reward_std", "walk_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.arms not in ARM_KINDS:
            raise ValueError(f"arms must be one of {', '.join(ARM_KINDS)}, got {self.arms!r}")

    def draw_values(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """True values for ``n`` fresh problems, shape (n, k); Bernoulli arms get p(a) in [0, 1]."""
        if self.arms == "bernoulli":
            values = rng.random((n, self.k))
        else:
            values = self.value_mean + self.value_std * rng.standard_normal((n, self.k))
        return np.asfortranarray(values)  # runs-innermost: fast max over the k arms

    def pull(
        self, rng: np.random.Generator, values: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rewards for pulling ``actions`` (n,) on problems of true ``values`` (n, k), and info."""
        n = values.shape[0]
        chosen = values.ravel("F")[np.arange(n) + n * actions]  # a view when runs are innermost
        best = values.max(axis=1)
        if self.arms == "bernoulli":
            rewards = (rng.random(chosen.shape) < chosen).astype(np.float64)
        else:
            rewards = chosen + self.reward_std * rng.standard_normal(chosen.shape)
        return rewards, {"optimal_action": chosen == best, "regret": best - chosen}

    def walk(self, rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
        """The true values after one step of their random walk (clipped to [0, 1] for Bernoulli)."""
        values = values + self.walk_std * rng.standard_normal(values.shape)
        if self.arms == "bernoulli":
            values = np.clip(values, 0.0, 1.0)
        return np.asfortranarray(values)


class BanditEnv(gym.Env):
    """The k-armed bandit testbed of Sutton & Barto.

    ## Description
    The k-armed bandit testbed of Sutton & Barto (*Reinforcement Learning*, 2nd ed., §2.3): at
    every reset each arm *a* gets a true value q*(a) ~ N(value_mean, value_std²); pulling it pays
    a reward ~ N(q*(a), reward_std²). Variants: Bernoulli arms (reward 1 with probability p(a),
    p(a) ~ U(0, 1)), shifted values (Figure 2.5 uses ``value_mean=4``) and non-stationary values
    that take independent random walks (Exercise 2.5: ``value_std=0, walk_std=0.01``).

    ## Action Space
    `Discrete(k)`: the arm to pull.

    ## Observation Space
    `Discrete(1)`: a bandit has one state, always observed as 0.

    ## Rewards
    Gaussian arms: N(q*(a), reward_std²). Bernoulli arms: 1 with probability p(a), else 0.

    ## Episode End
    A continuing task: never terminates; truncated after `max_episode_steps` (registered: 1000).

    ## Information
    `optimal_action` (bool): the pulled arm had the highest true value.
    `regret` (float): max_a q*(a) − q*(pulled arm), before this step's random walk.

    ## Arguments
    `k`, `value_mean`, `value_std`, `reward_std`, `arms` (`"gaussian"` | `"bernoulli"`),
    `walk_std` — see :class:`BanditConfig`.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, render_mode: str | None = None, **config: Any):
        self.config = BanditConfig(**config)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.config.k)
        self.observation_space = spaces.Discrete(1)
        self.values = np.broadcast_to(0.0, (self.config.k,))  # 0 until reset draws: no memory

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw fresh true values q*(a)."""
        super().reset(seed=seed)
        self.values = self.config.draw_values(self.np_random, 1)[0]
        return 0, {}

    def step(self, action):
        """Pull one arm."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an arm in 0..{self.config.k - 1}, got {action!r}")
        rewards, info = self.config.pull(self.np_random, self.values[None], np.array([action]))
        info = {key: value[0].item() for key, value in info.items()}
        if self.config.walk_std > 0:
            self.values = self.config.walk(self.np_random, self.values)
        return 0, float(rewards[0]), False, False, info

    def render(self):
        """Text: the true values, best arm marked."""
        if self.render_mode == "ansi":
            best = int(np.argmax(self.values))
            return "  ".join(
                f"{'*' if a == best else ' '}{a}:{v:+.2f}" for a, v in enumerate(self.values)
            )
        return None


class BanditVectorEnv(NativeVectorEnv):
    """``num_envs`` independent k-armed bandits in one numpy batch (see :class:`BanditEnv`)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **config: Any,
    ):
        self.config = BanditConfig(**config)
        if render_mode is not None:
            raise ValueError("BanditVectorEnv does not render")
        super().__init__(
            num_envs,
            spaces.Discrete(1),
            spaces.Discrete(self.config.k),
            max_episode_steps,
            autoreset_mode,
        )
        self.values = np.zeros((self.num_envs, self.config.k), order="F")
        self._obs = np.zeros(self.num_envs, dtype=np.int64)

    @classmethod
    def bytes_per_run(cls, **kwargs: Any) -> int:
        """The bytes per run: the ``k`` arms' true values (float64) and three arrays as large.

        The three are what a draw of the values or a step of their walk makes (see
        :meth:`NativeVectorEnv.bytes_per_run`).
        """
        names = {field.name for field in fields(BanditConfig)}
        config = {key: value for key, value in kwargs.items() if key in names}
        return super().bytes_per_run() + 4 * 8 * int(BanditConfig(**config).k)

    def _reset_runs(self, mask):
        n = int(mask.sum())
        self.values[mask] = self.config.draw_values(self.np_random, n)
        return self._obs.copy(), {}

    def _step_runs(self, actions):
        rewards, info = self.config.pull(self.np_random, self.values, actions)
        if self.config.walk_std > 0:
            self.values = self.config.walk(self.np_random, self.values)
        return self._obs.copy(), rewards, np.zeros(self.num_envs, dtype=bool), info
