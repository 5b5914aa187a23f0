"""Atomic writes: all or nothing, and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from decaybench.files import OutputError, write_atomic


def test_replaces_whole_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("where", ["missing/out.txt", "."])
def test_unwritable_targets_are_refused(tmp_path: Path, where: str) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_atomic(tmp_path / where, "x")


def test_failure_leaves_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def broken_replace(source: str, destination: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
