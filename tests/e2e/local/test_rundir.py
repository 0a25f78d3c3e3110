"""The data and run directories of `portway up`: private, kept, and wiped only when they are ours."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from portway.local.rundir import MARKER, RunDirError, prepare


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_directories_are_private_and_survive_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "d"
    rundir = prepare(root)
    assert {mode(root), mode(rundir.data), mode(rundir.run)} == {0o700}
    (rundir.data / "users.db").write_text("kept")
    rundir.run.chmod(0o755)  # loosened by hand: tightened again on the next start
    again = prepare(root)
    assert (again.data / "users.db").read_text() == "kept"
    assert mode(again.run) == 0o700


def test_reset_wipes_only_a_directory_portway_up_created(tmp_path: Path) -> None:
    ours = prepare(tmp_path / "ours")
    (ours.data / "users.db").write_text("old")
    assert not (prepare(tmp_path / "ours", reset=True).data / "users.db").exists()

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirError, match="not created by `portway up`"):
        prepare(theirs, reset=True)
    assert (theirs / "thesis.tex").exists() and not (theirs / MARKER).exists()


def test_a_deep_data_dir_gets_a_short_run_dir_for_its_sockets(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 40)
    rundir = prepare(deep)
    assert not rundir.run.is_relative_to(deep)
    assert len(str(rundir.socket("notifications", 12))) < 104  # sun_path, macOS's smaller limit
    assert mode(rundir.run) == 0o700
    rundir.run.rmdir()
