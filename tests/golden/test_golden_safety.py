"""Golden files change only when asked, atomically: a killed update leaves the old file whole."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from decaybench import golden

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


def test_golden_without_update_never_writes(tmp_path: Path) -> None:
    directory = _golden_copy(tmp_path, "After 0 epoch,w is 2.600001,loss is 36.000000,lr is 0.200000\n")
    before = {path.name: path.stat().st_mtime_ns for path in directory.iterdir()}
    done = subprocess.run(
        [sys.executable, "-m", "decaybench", "golden", "--dir", str(directory)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2 and "seed_trace.txt:1: does not match seed_trace.json" in done.stderr
    assert {path.name: path.stat().st_mtime_ns for path in directory.iterdir()} == before


def test_update_writes_with_a_diff_summary(tmp_path: Path) -> None:
    directory = _golden_copy(tmp_path, (golden.golden_dir() / golden.TRACE_TEXT).read_text().replace("2.600000", "2.600001"))
    done = subprocess.run(
        [sys.executable, "-m", "decaybench", "golden", "--update", "--dir", str(directory)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"{directory / golden.TRACE_TEXT}: updated, -1 +1 lines" in done.stdout
    assert f"{directory / golden.TRACE_JSON}: unchanged" in done.stdout
    assert (directory / golden.TRACE_TEXT).read_text() == (golden.golden_dir() / golden.TRACE_TEXT).read_text()
