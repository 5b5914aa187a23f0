"""Golden files change only when asked, atomically: a killed update leaves the old file whole."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decaybench import golden
from tests.unprivileged import owned_directory, run_cli

if TYPE_CHECKING:
    from tests.conftest import Command

# Runs the real `decaybench golden --update`, but pauses right after the temporary file is
# written and flushed, before os.replace, and says so: the parent then kills it mid-write.
PAUSED_UPDATE = """
    import os, sys, time
    real_fsync = os.fsync
    def fsync_then_pause(fd):
        real_fsync(fd)
        print("MID-WRITE", flush=True)
        time.sleep(120)
    os.fsync = fsync_then_pause
    from decaybench.cli import main
    sys.exit(main(["golden", "--update", "--dir", sys.argv[1]]))
"""


def _golden_copy(tmp_path: Path, seed_trace_text: str) -> Path:
    shutil.copy(golden.golden_dir() / golden.DOCUMENTED, tmp_path)
    (tmp_path / golden.TRACE_TEXT).write_text(seed_trace_text)
    (tmp_path / golden.TRACE_JSON).write_text((golden.golden_dir() / golden.TRACE_JSON).read_text())
    return tmp_path


def test_killed_update_leaves_the_old_file_intact(tmp_path: Path) -> None:
    old = "an old golden trace that the update will replace\n"
    directory = _golden_copy(tmp_path, old)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PAUSED_UPDATE), str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "MID-WRITE"  # the new content sits in a temporary file
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (directory / golden.TRACE_TEXT).read_text() == old
    leftovers = [path.name for path in directory.iterdir() if path.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".{golden.TRACE_TEXT}.")  # hidden, never the golden name


def test_golden_without_update_never_writes(decaybench: Command, tmp_path: Path) -> None:
    directory = _golden_copy(tmp_path, "After 0 epoch,w is 2.600001,loss is 36.000000,lr is 0.200000\n")
    before = {path.name: path.stat().st_mtime_ns for path in directory.iterdir()}
    done = decaybench("golden", "--dir", str(directory))
    assert done.returncode == 2 and "seed_trace.txt:1: does not match seed_trace.json" in done.stderr
    assert {path.name: path.stat().st_mtime_ns for path in directory.iterdir()} == before


def test_update_writes_with_a_diff_summary(decaybench: Command, tmp_path: Path) -> None:
    directory = _golden_copy(tmp_path, (golden.golden_dir() / golden.TRACE_TEXT).read_text().replace("2.600000", "2.600001"))
    done = decaybench("golden", "--update", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    assert f"{directory / golden.TRACE_TEXT}: updated, -1 +1 lines" in done.stdout
    assert f"{directory / golden.TRACE_JSON}: unchanged" in done.stdout
    assert (directory / golden.TRACE_TEXT).read_text() == (golden.golden_dir() / golden.TRACE_TEXT).read_text()


@pytest.mark.parametrize("broken", ["seed_trace.json", "seed_trace.txt"])
def test_golden_update_over_an_unreadable_file_rewrites_the_pair(decaybench: Command, tmp_path: Path, broken: str) -> None:
    directory = _golden_copy(tmp_path, (golden.golden_dir() / golden.TRACE_TEXT).read_text())
    (directory / broken).write_bytes(b"\xff\xfe not UTF-8\n")
    status, out, err = decaybench.main("golden", "--update", "--dir", str(directory))
    assert status == 0, err
    assert (
        "the old golden trace is invalid, treated as absent" in out and f"{directory / broken}: replaced a file that was not UTF-8" in out
    )
    assert golden.read_golden_trace(directory).identical(golden.read_golden_trace(golden.golden_dir()))


def test_golden_update_checks_both_files_before_writing_either(decaybench: Command, tmp_path: Path) -> None:
    directory = _golden_copy(tmp_path, (golden.golden_dir() / golden.TRACE_TEXT).read_text())
    (directory / "seed_trace.txt").write_text("an old text twin\n")
    (directory / "seed_trace.json").unlink()
    (directory / "seed_trace.json").mkdir()  # cannot be replaced by a file
    status, out, err = decaybench.main("golden", "--update", "--dir", str(directory))
    assert status == 2 and out == "" and "--dir: cannot write" in err and "seed_trace.json" in err and "it is a directory" in err
    assert (directory / "seed_trace.txt").read_text() == "an old text twin\n"


def test_golden_update_in_a_read_only_directory_names_dir() -> None:
    # For real: its owner, unprivileged, may not write a 0555 directory (root would).
    with owned_directory() as directory:
        _golden_copy(directory, (golden.golden_dir() / golden.TRACE_TEXT).read_text())
        directory.chmod(0o555)
        before = {path.name: path.read_bytes() for path in directory.iterdir()}
        done = run_cli("golden", "--update", "--dir", str(directory))
        assert {path.name: path.read_bytes() for path in directory.iterdir()} == before
    err = done.stderr
    assert (
        done.returncode == 2 and done.stdout == "" and err.startswith("decaybench: error: --dir: cannot write") and "is not writable" in err
    )
