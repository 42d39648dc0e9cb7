"""Gridworlds defined by text layouts (:mod:`envs.layouts`), one run or a native numpy batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from envs.layouts import Layout, get_layout
from envs.vector import NativeVectorEnv

#: Actions, as in Gymnasium's CliffWalking: 0 up, 1 right, 2 down, 3 left.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
ACTION_NAMES = ("up", "right", "down", "left")
OBSERVATIONS = ("index", "onehot", "coords", "rgb")
COLORS = {  # RGB of each cell kind in image observations and rgb_array renders
    ".": (235, 235, 235),
    "S": (190, 215, 245),
    "G": (80, 190, 90),
    "#": (60, 60, 60),
    "X": (20, 20, 20),
    "C": (170, 110, 70),
}
AGENT_COLOR = (220, 40, 40)


@dataclass(frozen=True)
class GridConfig:
    """Rewards and dynamics of a gridworld (defaults: the layout's own, else these)."""

    step_reward: float = -1.0
    """Reward of a step onto floor or start (or into a wall: the agent stays)."""
    goal_reward: float = -1.0
    """Reward of the step that enters a goal (−1: every step costs 1, as in Sutton & Barto)."""
    pit_reward: float = -100.0
    """Reward of the step that enters a pit 'X' (ends the episode)."""
    cliff_reward: float = -100.0
    """Reward of stepping on a cliff 'C' (the agent goes back to a start)."""
    slip: float = 0.0
    """Probability of moving perpendicular to the chosen direction (half each way)."""

    def __post_init__(self):
        if not 0.0 <= self.slip <= 1.0:
            raise ValueError(f"slip must be in [0, 1], got {self.slip}")


class GridModel:
    """The transition model of a layout: ``P[s][a] = [(prob, next_state, reward, terminated)]``.

    States are cells, ``s = row * columns + column`` (walls included, never entered). Goal and pit
    cells, and walls, are absorbing: ``P[s][a] = [(1.0, s, 0.0, True)]``. The same model drives
    the single env, the vector env and dynamic programming.
    """

    def __init__(self, layout: Layout, config: GridConfig):
        self.layout, self.config = layout, config
        self.rows, self.cols = layout.shape
        self.n_states, self.n_actions = self.rows * self.cols, len(MOVES)
        self.starts = [r * self.cols + c for r, c in layout.cells("S")]
        self.chars = "".join(layout.grid)
        self.P = {
            s: {a: self._outcomes(s, a) for a in range(self.n_actions)}
            for s in range(self.n_states)
        }
        self._tables()

    def _target(self, s: int, move: int) -> int:
        r, c = divmod(s, self.cols)
        nr, nc = r + MOVES[move][0], c + MOVES[move][1]
        if not (0 <= nr < self.rows and 0 <= nc < self.cols) or self.layout.grid[nr][nc] == "#":
            return s
        return nr * self.cols + nc

    def _outcomes(self, s: int, a: int) -> list[tuple[float, int, float, bool]]:
        cfg = self.config
        if self.chars[s] in "GX#":
            return [(1.0, s, 0.0, True)]
        moves = [(1.0 - cfg.slip, a), (cfg.slip / 2, (a + 1) % 4), (cfg.slip / 2, (a - 1) % 4)]
        merged: dict[tuple[int, float, bool], float] = {}
        for prob, move in moves:
            if prob == 0.0:
                continue
            target = self._target(s, move)
            kind = self.chars[target]
            if kind == "C":
                for start in self.starts:
                    key = (start, cfg.cliff_reward, False)
                    merged[key] = merged.get(key, 0.0) + prob / len(self.starts)
                continue
            reward = {"G": cfg.goal_reward, "X": cfg.pit_reward}.get(kind, cfg.step_reward)
            key = (target, reward, kind in "GX")
            merged[key] = merged.get(key, 0.0) + prob
        return [(p, nxt, r, term) for (nxt, r, term), p in merged.items()]

    def _tables(self) -> None:
        """Padded arrays of P for batched sampling: ``(S, A, K)`` cumulative probabilities, etc."""
        k = max(len(out) for row in self.P.values() for out in row.values())
        shape = (self.n_states, self.n_actions, k)
        self.cum_prob = np.ones(shape)
        self.next_state = np.zeros(shape, dtype=np.int64)
        self.reward = np.zeros(shape)
        self.terminal = np.zeros(shape, dtype=bool)
        self.cum_lists: dict[tuple[int, int], list[float]] = {}
        for s, row in self.P.items():
            for a, outcomes in row.items():
                cum = np.cumsum([p for p, *_ in outcomes])
                cum[-1] = 1.0  # no rounding gap past the last outcome
                self.cum_lists[s, a] = cum.tolist()
                for i, (_, nxt, r, term) in enumerate(outcomes):
                    self.cum_prob[s, a, i] = cum[i]
                    self.next_state[s, a, i], self.reward[s, a, i] = nxt, r
                    self.terminal[s, a, i] = term
                self.next_state[s, a, len(outcomes) :] = outcomes[-1][1]  # padding: never drawn

    def image(self, cell: int) -> np.ndarray:
        """The layout as an RGB image, ``cell`` pixels per cell, without the agent."""
        colors = np.array([COLORS[ch] for ch in self.chars], dtype=np.uint8)
        grid = colors.reshape(self.rows, self.cols, 3)
        return np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)


def make_model(layout: str | Layout, **rewards: float) -> GridModel:
    """A model from a layout name or text, the layout's reward defaults, and overrides."""
    parsed = get_layout(layout)
    return GridModel(parsed, GridConfig(**{**parsed.defaults, **rewards}))


class _Observer:
    """Observation space and encoding for one of :data:`OBSERVATIONS`."""

    def __init__(self, model: GridModel, kind: str, cell: int | None):
        if kind not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, got {kind!r}")
        if cell is None:  # at least 40 pixels a side: SB3's CnnPolicy needs 36
            cell = max(1, -(-40 // min(model.rows, model.cols)))
        if int(cell) < 1:
            raise ValueError(f"cell_size must be >= 1 pixel, got {cell}")
        self.model, self.kind, self.cell = model, kind, int(cell)
        m = model
        if kind == "index":
            self.space = spaces.Discrete(m.n_states)
        elif kind == "onehot":
            self.space = spaces.Box(0.0, 1.0, (m.n_states,), np.float32)
        elif kind == "coords":
            self.space = spaces.MultiDiscrete([m.rows, m.cols])
        else:
            self.background = m.image(self.cell)
            self.space = spaces.Box(0, 255, self.background.shape, np.uint8)

    def encode(self, states: np.ndarray) -> np.ndarray:
        """Observations of a batch of states (one leading axis)."""
        m = self.model
        if self.kind == "index":
            return states.astype(np.int64)
        if self.kind == "onehot":
            return np.eye(m.n_states, dtype=np.float32)[states]
        if self.kind == "coords":
            return np.stack(np.divmod(states, m.cols), axis=-1).astype(np.int64)
        frames = np.repeat(self.background[None], len(states), axis=0)
        k = self.cell
        for i, s in enumerate(states):
            r, c = divmod(int(s), m.cols)
            frames[
                i, r * k + k // 4 : (r + 1) * k - k // 4, c * k + k // 4 : (c + 1) * k - k // 4
            ] = AGENT_COLOR
        return frames


def _ansi(model: GridModel, state: int) -> str:
    rows = []
    for r, line in enumerate(model.layout.grid):
        rows.append(
            "".join("A" if r * model.cols + c == state else ch for c, ch in enumerate(line))
        )
    return "\n".join(rows) + "\n"


class GridWorldEnv(gym.Env):
    """A gridworld drawn as text: built-in layouts (4x4, cliff, four-rooms, frozen-8x8) or yours.

    ## Description
    The agent moves between the cells of a layout: ``S`` start (several: one at random), ``G``
    goal, ``#`` wall, ``.`` floor, ``X`` pit, ``C`` cliff. Built-in layouts: ``4x4`` (Sutton &
    Barto Example 4.1), ``cliff`` (Example 6.6), ``four-rooms`` (Sutton, Precup & Singh 1999),
    ``frozen-8x8`` (Gymnasium's FrozenLake 8x8, slippery). ``layout`` also takes the rows of your
    own as a multi-line string, or separated by ``/`` (``"S.#/..G"``).

    ## Action Space
    `Discrete(4)`: 0 up, 1 right, 2 down, 3 left. Moving into a wall or off the grid stays put.
    With `slip > 0` the move goes perpendicular instead with probability `slip` (half each way).

    ## Observation Space
    `observation="index"` (default): `Discrete(rows*cols)`, the cell `row*cols + col`.
    `"onehot"`: `Box(0, 1, (rows*cols,), float32)`. `"coords"`: `MultiDiscrete([rows, cols])`.
    `"rgb"`: `Box(0, 255, (rows*cell_size, cols*cell_size, 3), uint8)`, the agent a red square;
    `cell_size` defaults to the smallest giving at least 40 pixels a side.

    ## Rewards
    `step_reward` per step (default −1), `goal_reward` for the step into `G` (default −1),
    `pit_reward` into `X` (−100), `cliff_reward` onto `C` (−100, and back to a start). Built-in
    layouts bring their published values (`frozen-8x8`: 0 per step, +1 at the goal).

    ## Episode End
    Terminates on entering `G` or `X`; truncated after `max_episode_steps` (registered: 1000).

    ## Information
    `prob`: the probability of the transition taken (as in Gymnasium's toy-text envs).
    The model `P[s][a] = [(prob, next_state, reward, terminated), ...]` is `env.unwrapped.P`.

    ## Arguments
    `layout` (default `"4x4"`), `observation`, `cell_size`, `step_reward`, `goal_reward`,
    `pit_reward`, `cliff_reward`, `slip`, `render_mode` (`"ansi"`, `"rgb_array"`).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: str | Layout = "4x4",
        observation: str = "index",
        cell_size: int | None = None,
        render_mode: str | None = None,
        **rewards: float,
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.model = make_model(layout, **rewards)
        self.P = self.model.P
        self.observer = _Observer(self.model, observation, cell_size)
        self.observation_space = self.observer.space
        self.action_space = spaces.Discrete(self.model.n_actions)
        self.render_mode = render_mode
        self.s = self.model.starts[0]

    def _obs(self):
        if self.observer.kind == "index":
            return self.s
        return self.observer.encode(np.array([self.s]))[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start at a start cell (uniformly among several)."""
        super().reset(seed=seed)
        starts = self.model.starts
        self.s = starts[int(self.np_random.integers(len(starts)))] if len(starts) > 1 else starts[0]
        return self._obs(), {"prob": 1.0}

    def step(self, action):
        """Move; the outcome is drawn from ``P[s][action]``."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0..3 (up, right, down, left), got {action!r}")
        outcomes = self.P[self.s][int(action)]
        i = 0
        if len(outcomes) > 1:
            u, cum = self.np_random.random(), self.model.cum_lists[self.s, int(action)]
            while i < len(cum) - 1 and u >= cum[i]:
                i += 1
        prob, self.s, reward, terminated = outcomes[i]
        return self._obs(), reward, terminated, False, {"prob": prob}

    def render(self):
        """``ansi``: the layout with the agent as ``A``; ``rgb_array``: an image."""
        if self.render_mode == "ansi":
            return _ansi(self.model, self.s)
        if self.render_mode == "rgb_array":
            return _Observer(self.model, "rgb", max(self.observer.cell, 16)).encode(
                np.array([self.s])
            )[0]
        return None


class GridWorldVectorEnv(NativeVectorEnv):
    """``num_envs`` independent runs of one gridworld, stepped together in numpy."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        layout: str | Layout = "4x4",
        observation: str = "index",
        cell_size: int | None = None,
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **rewards: float,
    ):
        if render_mode is not None:
            raise ValueError("GridWorldVectorEnv does not render; render a GridWorldEnv")
        self.model = make_model(layout, **rewards)
        self.observer = _Observer(self.model, observation, cell_size)
        super().__init__(
            num_envs,
            self.observer.space,
            spaces.Discrete(self.model.n_actions),
            max_episode_steps,
            autoreset_mode,
        )
        self.states = np.zeros(self.num_envs, dtype=np.int64)
        self._starts = np.array(self.model.starts)

    @classmethod
    def bytes_per_run(cls, **kwargs: Any) -> int:
        """Each run's state (an int64; see :meth:`NativeVectorEnv.bytes_per_run`)."""
        return super().bytes_per_run() + 8

    def _reset_runs(self, mask):
        n = int(mask.sum())
        self.states[mask] = self._starts[self.np_random.integers(len(self._starts), size=n)]
        return self.observer.encode(self.states), {}

    def _step_runs(self, actions):
        actions = np.asarray(actions)
        valid = np.issubdtype(actions.dtype, np.integer) and np.isin(actions, np.arange(4)).all()
        if actions.shape != (self.num_envs,) or not valid:
            raise ValueError(f"actions must be {self.num_envs} values in 0..3, got {actions!r}")
        m, s = self.model, self.states
        u = self.np_random.random(self.num_envs)
        k = np.count_nonzero(u[:, None] >= m.cum_prob[s, actions], axis=1)
        k = np.minimum(k, m.cum_prob.shape[2] - 1)
        rewards = m.reward[s, actions, k]
        terminated = m.terminal[s, actions, k]
        self.states = m.next_state[s, actions, k]
        return self.observer.encode(self.states), rewards, terminated, {}
