"""``decaybench sweep`` under real signals: Ctrl-C and SIGTERM stop it between two calls, leaving no
output, and ``--resume`` from what a SIGTERM left gives the uninterrupted sweep's bytes, CSV and JSON.

Each test runs one real process (``python -m decaybench sweep``) and signals it once its first
checkpoint after epoch 0 is named, so the signal lands while the compiled calls run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decaybench.checkpoint import MANIFEST, latest_epoch
from decaybench.checkpoint.state import NPZ
from decaybench.cli import main
from tests.test_stopping import TF_CPP_LOG

if TYPE_CHECKING:
    from tests.conftest import Command

# 12 cells; at about 10**6 epochs a call (sized by the mode's step_ns), each call is a fraction of a second.
GRID = ["--initial-lr", "0.1,0.5,1.1", "--decay-rate", "0.99,1.0", "--decay-steps", "1,7", "--tol", "1e-3"]
EVERY = 10**6


def _signalled(argv: list[str], directory: Path, number: signal.Signals) -> tuple[int, str, float]:
    """Run ``argv``; once it has saved a checkpoint after epoch 0, send ``number``: its status, stderr, seconds to exit."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not latest_epoch(directory) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None and latest_epoch(directory), "no checkpoint after epoch 0 while it ran"
        sent = time.monotonic()
        process.send_signal(number)
        out, err = process.communicate(timeout=120)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert out == ""
    return process.returncode, "".join(line for line in err.splitlines(keepends=True) if not TF_CPP_LOG.match(line)), elapsed


def test_ctrl_c_stops_a_sweep_of_ten_billion_epochs_at_once(decaybench: Command, tmp_path: Path) -> None:
    directory, output = tmp_path / "run", tmp_path / "grid.csv"
    argv = decaybench.argv("sweep", *GRID, "--epochs", str(10**10), "--checkpoint-dir", str(directory), "--checkpoint-every", str(EVERY))
    status, err, elapsed = _signalled([*argv, "--output", str(output)], directory, signal.SIGINT)
    assert (status, err) == (130, "decaybench: interrupted\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # no output, not even its temporary
    assert sorted(path.name for path in directory.iterdir()) == sorted([MANIFEST, NPZ])
    # One call is a fraction of a second (and the interpreter's teardown a second or two): a sweep whose
    # calls ran every epoch would take hours. Not a speed bound, whether it stops at all.
    assert elapsed < 20, elapsed


def test_a_sweep_stopped_by_sigterm_resumes_to_the_uninterrupted_bytes(
    decaybench: Command, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    epochs = ["--epochs", str(3 * EVERY)]
    stopped = tmp_path / "stopped"
    argv = decaybench.argv("sweep", *GRID, *epochs, "--checkpoint-dir", str(stopped), "--checkpoint-every", str(EVERY))
    status, err, _ = _signalled([*argv, "--output", str(tmp_path / "never.csv")], stopped, signal.SIGTERM)
    assert (status, err) == (143, "decaybench: terminated by SIGTERM\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stopped"]
    at = latest_epoch(stopped)
    assert at is not None and 0 < at < 3 * EVERY, at  # stopped mid-sweep
    for kind in ("csv", "json"):
        # the directory's name holds a newline and a terminal escape: the notice stays one line
        directory, whole, resumed = tmp_path / f"{kind}\n\x1b[2J", tmp_path / f"whole.{kind}", tmp_path / f"resumed.{kind}"
        shutil.copytree(stopped, directory)  # each format resumes from what the SIGTERM left
        assert main(["sweep", *GRID, *epochs, "--output", str(whole)]) == 0
        capsys.readouterr()
        assert main(["sweep", *GRID, *epochs, "--checkpoint-dir", str(directory), "--resume", "--output", str(resumed)]) == 0
        assert capsys.readouterr().err == f"decaybench: resumed at epoch {at} from {tmp_path}/{kind}\\n\\x1b[2J\n"
        assert resumed.read_bytes() == whole.read_bytes(), kind
