"""SIGINT and SIGTERM: exit 143 at once leaving no partial output, or, deferred, at the next epoch boundary; Ctrl-C never lost."""

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
from decaybench.progress import epoch_bar
from decaybench.stopping import Terminated

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "decaybench", "run", "--mode", "numpy", "--epochs", "100000000", "--record-every", "100000000"]


def test_sigterm_while_writing_leaves_no_partial_output(tmp_path: Path) -> None:
    target = tmp_path / "trace.csv"
    with stopping.stop_on_signals(), pytest.raises(Terminated), atomic_writer(target) as handle:
        handle.write(b"half a trace")
        os.kill(os.getpid(), signal.SIGTERM)
        handle.write(b"never")  # pragma: no cover - the handler raised before this line
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_deferred_sigterm_is_only_recorded_until_the_run_looks() -> None:
    with stopping.stop_on_signals():
        with stopping.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            assert stopping.requested()
        assert stopping.requested()
    assert not stopping.requested()  # cleared with the handler


def test_ctrl_c_is_raised_at_once_and_again_at_the_next_epoch() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stopping.stop_on_signals():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # pragma: no cover - the handler raised before this line
        assert stopping.interrupted()
        with pytest.raises(KeyboardInterrupt), epoch_bar(3, enabled=False) as bar:
            bar.update()  # a KeyboardInterrupt swallowed somewhere is raised again here
    assert not stopping.interrupted()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


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
