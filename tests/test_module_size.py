"""Every module of the packages stays under 500 lines, so that it reads top to bottom.

A module that grows past the limit is split by concern. The few that may not, for now, are
listed in :data:`ALLOWED` with the reason; an entry that is no longer needed (the module was
split, or is gone) fails too, so that the list stays short.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rlcourse", "envs", "agents", "supervised", "common")
MAX_LINES = 500
ALLOWED = {
    "supervised/face_detect.py": "one idea: MTCNN's three networks and their cascade",
}
"""Modules allowed over :data:`MAX_LINES`, by path from the repository root, with the reason."""


def line_count(path: Path) -> int:
    """Lines of a file, as ``wc -l`` counts them for a file that ends with a newline."""
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(root: Path, packages=PACKAGES, limit: int = MAX_LINES) -> dict[str, int]:
    """``{path: lines}`` of every ``.py`` under the packages of ``root`` over ``limit`` lines."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            lines = line_count(path)
            if lines > limit:
                found[path.relative_to(root).as_posix()] = lines
    return found


def test_every_module_is_under_the_limit_or_allowed_with_a_reason():
    too_long = {path: n for path, n in oversized(ROOT).items() if path not in ALLOWED}
    assert not too_long, "\n".join(
        f"{path}: {n} lines (more than {MAX_LINES}): split it by concern"
        for path, n in too_long.items()
    )


def test_every_allowed_module_still_needs_its_exception():
    found = oversized(ROOT)
    stale = [path for path in ALLOWED if path not in found]
    assert not stale, f"remove from ALLOWED (no longer over {MAX_LINES} lines): {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())


def test_the_check_sees_a_long_module_in_a_subpackage(tmp_path):
    deep = tmp_path / "agents" / "more"
    deep.mkdir(parents=True)
    (deep / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (deep / "short.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "notes.txt").write_text("x\n" * 1000)
    assert oversized(tmp_path) == {"agents/more/long.py": MAX_LINES + 1}
