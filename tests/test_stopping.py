"""SIGTERM: exit 143 at once leaving no partial output, or, deferred, at the next epoch boundary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decaybench import stopping
from decaybench.files import atomic_writer
from decaybench.stopping import Terminated

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "decaybench", "run", "--mode", "numpy", "--epochs", "100000000", "--record-every", "100000000"]


def test_sigterm_while_writing_leaves_no_partial_output(tmp_path: Path) -> None:
    target = tmp_path / "trace.csv"
    with stopping.stop_on_sigterm(), pytest.raises(Terminated), atomic_writer(target) as handle:
        handle.write(b"half a trace")
        os.kill(os.getpid(), signal.SIGTERM)
        handle.write(b"never")  # pragma: no cover - the handler raised before this line
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_deferred_sigterm_is_only_recorded_until_the_run_looks() -> None:
    with stopping.stop_on_sigterm():
        with stopping.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            assert stopping.requested()
        assert stopping.requested()
    assert not stopping.requested()  # cleared with the handler


def test_the_cli_exits_143_on_sigterm_with_one_line(tmp_path: Path) -> None:
    # Mode numpy loads no TensorFlow: the run is under way within a second or two.
    process = subprocess.Popen(
        [*COMMAND, "--output", str(tmp_path / "trace.txt")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4.0)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, stdout, stderr) == (143, "", "decaybench: terminated by SIGTERM\n")
    assert list(tmp_path.iterdir()) == []
