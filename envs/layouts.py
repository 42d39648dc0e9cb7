"""Gridworld layouts written as text, the built-in ones, and the checks that refuse bad ones.

Characters: ``S`` start (several: a uniformly random one), ``G`` goal (terminal), ``#`` wall,
``.`` floor, ``X`` pit (terminal, pit reward), ``C`` cliff (cliff reward, back to a start).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

CELLS = {
    "S": "start",
    "G": "goal (terminal)",
    "#": "wall",
    ".": "floor",
    "X": "pit (terminal)",
    "C": "cliff (back to start)",
}


MAX_CELLS = 10_000
"""The most cells a layout may have (100 × 100): the transition model holds every cell's moves."""
MAX_CLIFF_OUTCOMES = 1_000_000
"""With cliffs, the most cells × starts (a step into a cliff may land on any start: the model's
tables hold every start as an outcome of every move)."""


class LayoutError(ValueError):
    """A layout that cannot be a gridworld; the message names the row and column."""


@dataclass(frozen=True)
class Layout:
    """A parsed layout: the grid of characters and where its special cells are."""

    grid: tuple[str, ...]
    """The rows, all of one width."""
    defaults: dict[str, float] = field(default_factory=dict)
    """Reward and slip settings this layout is known with (Sutton & Barto's, FrozenLake's)."""

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return len(self.grid), len(self.grid[0])

    def cells(self, chars: str) -> list[tuple[int, int]]:
        """(row, column) of every cell whose character is in ``chars``, row by row."""
        return [
            (r, c) for r, row in enumerate(self.grid) for c, ch in enumerate(row) if ch in chars
        ]

    def as_array(self) -> np.ndarray:
        """The characters as a (rows, columns) array."""
        return np.array([list(row) for row in self.grid])


def parse_layout(text: str, defaults: dict[str, float] | None = None) -> Layout:
    """Parse a multi-line layout; blank leading/trailing lines and indentation are ignored.

    Raises:
        LayoutError: empty, more than :data:`MAX_CELLS` cells, ragged rows, unknown character,
            no start, cliffs with more than :data:`MAX_CLIFF_OUTCOMES` cells × starts, no goal,
            or no goal reachable from some start — naming the row and column (1-based) at fault.
    """
    lines = [line.strip() for line in text.strip("\n").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise LayoutError("layout is empty")
    width = len(lines[0])
    if len(lines) * width > MAX_CELLS:
        raise LayoutError(f"layout has {len(lines)} rows of {width} cells; {_limit()}")
    for r, line in enumerate(lines, 1):
        if len(line) != width:
            raise LayoutError(
                f"layout row {r} has {len(line)} columns, row 1 has {width} (rows must be equal)"
            )
        for c, ch in enumerate(line, 1):
            if ch not in CELLS:
                known = ", ".join(f"{k!r} {v}" for k, v in CELLS.items())
                raise LayoutError(f"layout row {r}, column {c}: unknown character {ch!r} ({known})")
    layout = Layout(tuple(lines), dict(defaults or {}))
    starts = len(layout.cells("S"))
    if not starts:
        raise LayoutError("layout has no start 'S'")
    if layout.cells("C") and starts * len(lines) * width > MAX_CLIFF_OUTCOMES:
        raise LayoutError(
            f"layout has cliffs, {starts} starts and {len(lines) * width} cells; a layout with "
            f"cliffs has at most {MAX_CLIFF_OUTCOMES} cells × starts (fewer starts, or no cliff)"
        )
    if not layout.cells("G"):
        raise LayoutError("layout has no goal 'G'")
    _check_reachable(layout)
    return layout


def _limit() -> str:
    return f"layouts have at most {MAX_CELLS} cells (rows × columns)"


def _check_reachable(layout: Layout) -> None:
    """Every start reaches a goal by moving through non-wall, non-terminal cells.

    One search backwards from the goals: a cell reaches a goal when a neighbour does and the
    cell itself can be passed through (a pit ends the episode; a cliff sends back to a start).
    """
    rows, cols = layout.shape
    goals = layout.cells("G")
    reaching, queue = set(goals), deque(goals)
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in reaching:
                if layout.grid[nr][nc] not in "#XCG":
                    reaching.add((nr, nc))
                    queue.append((nr, nc))
    for start in layout.cells("S"):
        if start not in reaching:
            raise LayoutError(
                f"layout row {start[0] + 1}, column {start[1] + 1}: no goal is reachable from "
                "this start"
            )


BUILTIN: dict[str, Layout] = {
    # Sutton & Barto Example 4.1: terminal corners, -1 on every transition, any other cell a start.
    "4x4": parse_layout(
        """
        GSSS
        SSSS
        SSSS
        SSSG
        """,
        {"step_reward": -1.0, "goal_reward": -1.0},
    ),
    # Sutton & Barto Example 6.6: -1 per step, -100 and back to the start for stepping on the cliff.
    "cliff": parse_layout(
        """
        ............
        ............
        ............
        SCCCCCCCCCCG
        """,
        {"step_reward": -1.0, "goal_reward": -1.0, "cliff_reward": -100.0},
    ),
    # Sutton, Precup & Singh (1999): four rooms joined by four doorways.
    "four-rooms": parse_layout(
        """
        #############
        #S....#.....#
        #.....#.....#
        #...........#
        #.....#.....#
        #.....#.....#
        ##.####.....#
        #.....###.###
        #.....#.....#
        #.....#.....#
        #...........#
        #.....#....G#
        #############
        """,
        {"step_reward": -1.0, "goal_reward": -1.0},
    ),
    # Gymnasium's FrozenLake 8x8 map: slippery (the intended move with probability 1/3), +1 at
    # the goal, holes end the episode with 0.
    "frozen-8x8": parse_layout(
        """
        S.......
        ........
        ...X....
        .....X..
        ...X....
        .XX...X.
        .X..X.X.
        ...X...G
        """,
        {"step_reward": 0.0, "goal_reward": 1.0, "pit_reward": 0.0, "slip": 2 / 3},
    ),
}


def get_layout(layout: str | Layout) -> Layout:
    """A built-in layout by name, or a layout string: rows on lines, or separated by ``/``.

    ``"S..#/...G"`` is the two-row layout ``S..#`` over ``...G`` (handy on a command line).

    Raises:
        LayoutError: an unknown name, a value that is not text, or a bad layout.
    """
    if isinstance(layout, Layout):
        return layout
    if not isinstance(layout, str):  # env kwargs typed on a command line or in a TOML file
        raise LayoutError(
            f"layout must be a name ({', '.join(BUILTIN)}) or rows of text, "
            f"got {type(layout).__name__} {layout!r}"
        )
    if layout in BUILTIN:
        return BUILTIN[layout]
    text = layout.replace("/", "\n")
    looks_like_rows = "\n" in text or set(text) <= set(CELLS) | set(" \t")
    if not looks_like_rows:
        names = ", ".join(BUILTIN)
        raise LayoutError(
            f"unknown layout {layout!r} (built-in: {names}; or rows of {''.join(CELLS)})"
        )
    return parse_layout(text)
