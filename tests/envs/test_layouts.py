"""Gridworld text layouts (envs.layouts): parsing, the built-ins, the errors bad ones raise."""

import re
from collections import deque

import numpy as np
import pytest
from gymnasium.envs.toy_text.frozen_lake import MAPS
from hypothesis import example, given, settings
from hypothesis import strategies as st

from envs.gridworld import GridWorldEnv
from envs.layouts import BUILTIN, CELLS, Layout, LayoutError, get_layout, parse_layout

KNOWN = (
    "'S' start, 'G' goal (terminal), '#' wall, '.' floor, 'X' pit (terminal), "
    "'C' cliff (back to start)"
)


def raises_exactly(message):
    """``pytest.raises`` for a LayoutError whose whole message is ``message``."""
    return pytest.raises(LayoutError, match=f"^{re.escape(message)}$")


# -- parsing ---------------------------------------------------------------------------------------


def test_indentation_and_blank_lines_are_ignored():
    layout = parse_layout(
        """

            S..#

            .X.G
        """
    )
    assert layout.grid == ("S..#", ".X.G")
    assert layout.shape == (2, 4)


def test_slash_separates_rows():
    layout = get_layout("S..#/.X.G")
    assert layout.grid == ("S..#", ".X.G")
    assert get_layout(" S.. / ..G ").grid == ("S..", "..G")


def test_slash_and_multiline_strings_give_the_same_layout():
    assert get_layout("S.C/..G").grid == get_layout("S.C\n..G").grid == ("S.C", "..G")


def test_get_layout_passes_a_layout_through():
    layout = parse_layout("S.G")
    assert get_layout(layout) is layout


def test_cells_are_listed_row_by_row_and_shape_is_rows_by_columns():
    layout = parse_layout(
        """
        S.#.
        .XCG
        S...
        """
    )
    assert layout.shape == (3, 4)
    assert layout.cells("S") == [(0, 0), (2, 0)]
    assert layout.cells("G") == [(1, 3)]
    assert layout.cells("#") == [(0, 2)]
    assert layout.cells("X") == [(1, 1)]
    assert layout.cells("C") == [(1, 2)]
    assert layout.cells("GX") == [(1, 1), (1, 3)]
    assert layout.cells("Z") == []
    np.testing.assert_array_equal(layout.as_array(), [list("S.#."), list(".XCG"), list("S...")])


def test_custom_layouts_have_no_defaults():
    assert parse_layout("S.G").defaults == {}
    assert parse_layout("S.G", {"slip": 0.5}).defaults == {"slip": 0.5}


# -- errors ----------------------------------------------------------------------------------------


def test_layout_error_is_a_value_error():
    assert issubclass(LayoutError, ValueError)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n  \n"])
def test_empty_layout(text):
    with raises_exactly("layout is empty"):
        parse_layout(text)


def test_ragged_rows_name_the_row():
    with raises_exactly("layout row 2 has 2 columns, row 1 has 3 (rows must be equal)"):
        parse_layout("S..\n..\n..G")
    with raises_exactly("layout row 3 has 4 columns, row 1 has 3 (rows must be equal)"):
        parse_layout("S..\n...\n...G")


def test_unknown_character_names_row_and_column():
    with raises_exactly(f"layout row 2, column 3: unknown character 'Z' ({KNOWN})"):
        parse_layout("S...\n..Z.\n...G")


def test_space_inside_a_row_is_an_unknown_character():
    with raises_exactly(f"layout row 1, column 2: unknown character ' ' ({KNOWN})"):
        parse_layout("S .\n..G")


def test_no_start():
    with raises_exactly("layout has no start 'S'"):
        parse_layout("...\n..G")


def test_no_goal():
    with raises_exactly("layout has no goal 'G'"):
        parse_layout("S..\n.X.")


def test_goal_behind_walls_is_unreachable():
    with raises_exactly("layout row 1, column 1: no goal is reachable from this start"):
        parse_layout("S.#G")


def test_unreachable_goal_names_the_start_that_cannot_reach_it():
    with raises_exactly("layout row 3, column 1: no goal is reachable from this start"):
        parse_layout(
            """
            S.G
            ###
            S..
            """
        )


def test_goal_only_behind_a_pit_is_unreachable():
    # a pit ends the episode: no path goes through it
    with raises_exactly("layout row 1, column 1: no goal is reachable from this start"):
        parse_layout("SXG")


def test_goal_only_behind_a_cliff_is_unreachable():
    with raises_exactly("layout row 1, column 1: no goal is reachable from this start"):
        parse_layout("SCG")


def test_goal_next_to_a_pit_is_reachable():
    assert parse_layout("SXG\n...").shape == (2, 3)


def test_get_layout_unknown_name():
    with raises_exactly(
        "unknown layout 'foo' (built-in: 4x4, cliff, four-rooms, frozen-8x8; or rows of SG#.XC)"
    ):
        get_layout("foo")


def test_get_layout_reports_parse_errors_of_layout_strings():
    with raises_exactly("layout row 2 has 2 columns, row 1 has 3 (rows must be equal)"):
        get_layout("S../../..G")
    with raises_exactly("layout has no goal 'G'"):
        get_layout("S../...")


@pytest.mark.parametrize("text", ["S.Z/..G", "S.Z\n..G"])
def test_get_layout_locates_an_unknown_character_in_a_layout_string(text):
    with raises_exactly(f"layout row 1, column 3: unknown character 'Z' ({KNOWN})"):
        get_layout(text)


# -- built-ins -------------------------------------------------------------------------------------

SHAPES = {"4x4": (4, 4), "cliff": (4, 12), "four-rooms": (13, 13), "frozen-8x8": (8, 8)}


def test_builtins_are_the_four_named_layouts():
    assert set(SHAPES) <= set(BUILTIN)
    for name in SHAPES:
        assert isinstance(BUILTIN[name], Layout)
        assert get_layout(name) is BUILTIN[name]


@pytest.mark.parametrize("name", list(SHAPES))
def test_builtin_shape(name):
    layout = get_layout(name)
    assert layout.shape == SHAPES[name]
    assert all(len(row) == SHAPES[name][1] for row in layout.grid)


def test_4x4_is_example_4_1():
    layout = get_layout("4x4")
    assert layout.cells("G") == [(0, 0), (3, 3)]  # terminal corners
    starts = layout.cells("S")
    assert len(starts) == 14
    assert set(starts) == {(r, c) for r in range(4) for c in range(4)} - {(0, 0), (3, 3)}
    assert layout.defaults == {"step_reward": -1.0, "goal_reward": -1.0}


def test_cliff_is_example_6_6():
    layout = get_layout("cliff")
    assert layout.cells("S") == [(3, 0)]
    assert layout.cells("G") == [(3, 11)]
    assert layout.cells("C") == [(3, c) for c in range(1, 11)]
    assert layout.cells("#X") == []
    assert layout.defaults == {"step_reward": -1.0, "goal_reward": -1.0, "cliff_reward": -100.0}


def _components(grid: list[list[str]]) -> int:
    """Connected groups of non-wall cells (4-neighbourhood)."""
    rows, cols = len(grid), len(grid[0])
    seen, count = set(), 0
    for r0 in range(rows):
        for c0 in range(cols):
            if grid[r0][c0] == "#" or (r0, c0) in seen:
                continue
            count += 1
            seen.add((r0, c0))
            queue = deque([(r0, c0)])
            while queue:
                r, c = queue.popleft()
                for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] != "#":
                        if (nr, nc) not in seen:
                            seen.add((nr, nc))
                            queue.append((nr, nc))
    return count


def test_four_rooms_has_four_rooms_joined_by_four_doorways():
    layout = get_layout("four-rooms")
    grid = [list(row) for row in layout.grid]
    rows, cols = layout.shape
    assert all(ch == "#" for ch in grid[0] + grid[-1])  # walled all around
    assert all(row[0] == "#" and row[-1] == "#" for row in grid)
    assert len(layout.cells("S")) == 1 and len(layout.cells("G")) == 1
    assert layout.cells("XC") == []
    assert _components(grid) == 1
    # a doorway: an open cell squeezed between two walls on opposite sides
    doorways = [
        (r, c)
        for r in range(1, rows - 1)
        for c in range(1, cols - 1)
        if grid[r][c] != "#"
        and (
            (grid[r - 1][c] == "#" and grid[r + 1][c] == "#")
            or (grid[r][c - 1] == "#" and grid[r][c + 1] == "#")
        )
    ]
    assert len(doorways) == 4
    for r, c in doorways:
        grid[r][c] = "#"
    assert _components(grid) == 4  # closing the doorways leaves four rooms
    (start,), (goal,) = layout.cells("S"), layout.cells("G")
    assert start[0] < rows // 2 and start[1] < cols // 2  # start top-left,
    assert goal[0] > rows // 2 and goal[1] > cols // 2  # goal bottom-right
    assert layout.defaults == {"step_reward": -1.0, "goal_reward": -1.0}


def test_frozen_8x8_is_gymnasiums_frozen_lake_map():
    ours = get_layout("frozen-8x8").grid
    theirs = MAPS["8x8"]
    translate = {"S": "S", "F": ".", "H": "X", "G": "G"}
    assert len(ours) == len(theirs) == 8
    for r in range(8):
        assert len(ours[r]) == len(theirs[r]) == 8
        for c in range(8):
            assert ours[r][c] == translate[theirs[r][c]], (r, c)


def test_frozen_8x8_defaults_are_frozen_lakes_rewards_and_slip():
    defaults = get_layout("frozen-8x8").defaults
    assert defaults["step_reward"] == 0.0
    assert defaults["goal_reward"] == 1.0
    assert defaults["pit_reward"] == 0.0
    assert defaults["slip"] == pytest.approx(2 / 3)  # the intended move with probability 1/3


# -- any text --------------------------------------------------------------------------------------

LAYOUT_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from([*CELLS, " ", "\t", "\n", "\r", "/", "a", "é"]), max_size=40),
    st.text(max_size=40),
    st.sampled_from(list(BUILTIN)),
)


@settings(max_examples=400, deadline=None)
@given(LAYOUT_TEXT)
def test_any_text_is_a_layout_or_one_layout_error(text):
    try:
        layout = get_layout(text)
    except LayoutError as err:
        assert str(err) and "\n" not in str(err)
        return
    rows, cols = layout.shape
    assert rows >= 1 and cols >= 1
    assert all(len(row) == cols and set(row) <= set(CELLS) for row in layout.grid)
    assert layout.cells("S") and layout.cells("G")
    env = GridWorldEnv(layout=text)
    assert env.observation_space.n == rows * cols
    env.reset(seed=0)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.lists(st.text())))
@example(5)  # --env-kwargs layout=5 reaches the env as an int
@settings(max_examples=50, deadline=None)
def test_a_layout_that_is_not_text_is_one_layout_error(value):
    with pytest.raises(LayoutError, match="^layout must be"):
        get_layout(value)
