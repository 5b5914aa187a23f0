"""Atomic writes: all or nothing, and clear errors, through the API and through ``--output``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decaybench.files import OutputError, atomic_writer, update_text, write_atomic

if TYPE_CHECKING:
    from tests.conftest import Command


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


def test_a_writer_without_fsync_is_still_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The distributed workers' traces skip fsync: the file only lives until the supervisor reads it.
    def no_fsync(descriptor: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(os, "fsync", no_fsync)
    target = tmp_path / "trace.npz"
    with atomic_writer(target, fsync=False) as handle:
        handle.write(b"bytes")
        assert not target.exists()
    assert target.read_bytes() == b"bytes" and os.listdir(tmp_path) == ["trace.npz"]


def test_update_text_says_what_happened(tmp_path: Path) -> None:
    target = tmp_path / "golden.txt"

    def describe(old: str | None) -> str:
        return "created" if old is None else f"updated from {old!r}"

    assert update_text(target, "a\n", describe) == f"{target}: created"
    assert update_text(target, "a\n", describe) == f"{target}: unchanged"
    assert update_text(target, "b\n", describe) == f"{target}: updated from 'a\\n'" and target.read_text() == "b\n"


def test_only_regular_files_and_missing_paths_are_replaced(tmp_path: Path) -> None:
    import stat
    import threading

    write_atomic("/dev/null", "x")  # written in place: still the character device
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if Path("/dev/full").exists():
        with pytest.raises(OutputError, match="No space left on device"):
            write_atomic("/dev/full", "x" * 10_000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(timeout=30)
    assert received == [b"through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_symlink_keeps_its_link_and_its_target_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "target.txt").write_text("old")
    (tmp_path / "target.txt").chmod(0o600)
    (tmp_path / "link").symlink_to("target.txt")
    write_atomic(tmp_path / "link", "new")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target.txt").read_text() == "new"
    assert (tmp_path / "target.txt").stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["link", "target.txt"]


def test_an_empty_path_is_refused() -> None:
    with pytest.raises(OutputError, match="cannot write '': the path is empty"):
        write_atomic("", "x")


def test_update_texts_is_all_or_nothing(tmp_path: Path) -> None:
    from decaybench.files import read_old, update_texts

    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "b.txt").mkdir()  # cannot be written: nothing is, not even a.txt
    with pytest.raises(OutputError, match="it is a directory"):
        update_texts({tmp_path / "a.txt": "new a", tmp_path / "b.txt": "new b"}, lambda path, old: "updated")
    assert (tmp_path / "a.txt").read_text() == "old a"
    (tmp_path / "b.txt").rmdir()
    (tmp_path / "b.txt").write_bytes(b"\n\xff")
    assert read_old(tmp_path / "b.txt") == (None, "not UTF-8 (line 2, byte 1)")
    lines = update_texts({tmp_path / "a.txt": "new a", tmp_path / "b.txt": "new b"}, lambda path, old: f"was {old!r}")
    assert lines == [f"{tmp_path / 'a.txt'}: was 'old a'", f"{tmp_path / 'b.txt'}: replaced a file that was not UTF-8 (line 2, byte 1)"]
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]


# --- Through the command line: --output names the path and the reason, in one line.


def test_output_to_dev_full_is_the_one_line_error(decaybench: Command) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    status, out, err = decaybench.main("run", "--epochs", "2", "--output", "/dev/full")
    assert status == 2 and out == "" and "--output: cannot write '/dev/full': No space left on device" in err


def test_output_to_a_character_device_is_written_in_place(decaybench: Command, tmp_path: Path) -> None:
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    for target in ("/dev/null", str(link)):
        status, _, err = decaybench.main("run", "--epochs", "2", "--output", target)
        assert status == 0, err
    assert Path("/dev/null").is_char_device() and link.is_symlink()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["null"]


def test_output_to_a_fifo_is_written_in_place(decaybench: Command, tmp_path: Path) -> None:
    import stat
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    status, _, err = decaybench.main("run", "--epochs", "2", "--output", str(fifo))
    reader.join(timeout=60)
    assert status == 0, err
    assert received[0].startswith("After 0 epoch,w is 2.600000") and stat.S_ISFIFO(fifo.stat().st_mode)


def test_output_to_a_socket_is_refused_in_one_line(decaybench: Command, tmp_path: Path) -> None:
    import socket
    import stat

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        status, out, err = decaybench.main("run", "--epochs", "2", "--output", str(path))
    assert status == 2 and out == "" and f"--output: cannot write {str(path)!r}" in err
    assert stat.S_ISSOCK(path.stat().st_mode)


def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(decaybench: Command, tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old\n")
    (tmp_path / "link").symlink_to("real.txt")
    (tmp_path / "dangling").symlink_to("created.txt")
    for name in ("link", "dangling"):
        status, _, err = decaybench.main("run", "--epochs", "2", "--output", str(tmp_path / name))
        assert status == 0, err
    assert (tmp_path / "link").is_symlink() and (tmp_path / "dangling").is_symlink()
    assert (tmp_path / "real.txt").read_text().startswith("After 0 epoch") and (tmp_path / "created.txt").read_text().count("\n") == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["created.txt", "dangling", "link", "real.txt"]


def test_read_old_never_blocks_on_a_fifo_swapped_in_after_its_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # golden --update reads the old files first: a FIFO there since the check must be refused, not read (it would block)
    from decaybench.files import read_old

    regular = tmp_path / "regular"
    regular.write_text("old")
    os.mkfifo(tmp_path / "seed_trace.txt")
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *args, **kwargs: real_stat(regular if str(path).endswith("seed_trace.txt") else path))
    assert read_old(tmp_path / "seed_trace.txt") == (None, "unreadable (is a FIFO, not a regular file (it changed while being opened))")
