"""The one atomic writer: a file or a directory is the old one or the new one, never partial."""

from __future__ import annotations

import pytest

from common.atomic import atomic_directory, atomic_path, write_bytes, write_text


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C in the middle of a write."""


def test_write_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("old")
    assert write_text(target, "new") == target
    assert target.read_text() == "new"
    assert write_bytes(tmp_path / "data.bin", b"\x00\x01") == tmp_path / "data.bin"
    assert (tmp_path / "data.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "notes.txt"]


def test_atomic_path_keeps_the_suffix_and_makes_the_parent(tmp_path):
    target = tmp_path / "deep" / "er" / "plot.png"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".png"
        assert temporary.name.startswith(".plot.")
        temporary.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    assert [p.name for p in target.parent.iterdir()] == ["plot.png"]


def test_an_exception_in_atomic_path_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old model")
    with pytest.raises(Interrupted), atomic_path(target) as temporary:
        temporary.write_bytes(b"half a new mod")
        raise Interrupted
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_an_exception_in_atomic_path_creates_no_file(tmp_path):
    with pytest.raises(Interrupted), atomic_path(tmp_path / "new.csv"):
        raise Interrupted
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_replaces_the_old_directory_whole(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as staging:
        assert staging.parent == tmp_path and staging != target
        assert list(staging.iterdir()) == []
        (staging / "new.txt").write_text("new")
        assert (target / "old.txt").read_text() == "old"  # untouched until the block ends
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_directory_makes_a_new_directory(tmp_path):
    with atomic_directory(tmp_path / "a" / "out") as staging:
        (staging / "f").write_text("x")
    assert (tmp_path / "a" / "out" / "f").read_text() == "x"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["out"]


def test_an_exception_in_atomic_directory_keeps_the_old_one_and_no_staging(tmp_path):
    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "a.bin").write_bytes(b"\x00old")
    (target / "b.txt").write_text("old")
    before = {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    with pytest.raises(Interrupted), atomic_directory(target) as staging:
        (staging / "b.txt").write_text("new")
        raise Interrupted
    after = {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_exception_in_atomic_directory_creates_no_target(tmp_path):
    with pytest.raises(Interrupted), atomic_directory(tmp_path / "out"):
        raise Interrupted
    assert list(tmp_path.iterdir()) == []


def test_files_and_directories_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from common.atomic import atomic_directory, write_text

    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "b.txt").write_text("y")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644  # not mkstemp's 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755  # not mkdtemp's 0o700
