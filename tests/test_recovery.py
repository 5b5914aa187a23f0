"""Multiworker runs that survive a lost worker: the local supervisor restarts, a real cluster resumes.

Faults are injected with DECAYBENCH_WORKER_FAULT, read by a worker when it starts: the tests set
it for the first cluster only, so the restarted workers run clean. Every trace must equal the
uninterrupted run's bit for bit (for multiworker: the 2-shard emulation, tests/test_distributed.py).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from numpy.testing import assert_array_equal

from decaybench import Trace
from decaybench.checkpoint import CheckpointOptions, check_options, latest_epoch
from decaybench.config import DecayConfig
from decaybench.modes.distributed.faults import DistributedError
from decaybench.modes.distributed.local_supervisor import LocalCluster
from decaybench.modes.distributed.recovery import supervised
from decaybench.modes.distributed.timeouts import Timeouts
from decaybench.modes.distributed.training import shard_bounds
from decaybench.modes.emulation import emulate
from decaybench.test_hooks import WORKER_FAULT
from tests.real_hosts import ROOT, Hosts, Result

CONFIG = DecayConfig(epochs=600)
COLLECTIVE = 3.0


def assert_uninterrupted(trace: Trace, config: DecayConfig = CONFIG) -> None:
    expected = emulate(config, shards=shard_bounds(config.size, 2))
    for name in ("epoch", "w", "loss", "lr"):
        assert_array_equal(getattr(trace, name), getattr(expected, name), err_msg=name)


def test_max_restarts_minus_one_is_bad_input(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "decaybench",
            "run",
            "--mode",
            "multiworker",
            "--checkpoint-dir",
            str(tmp_path / "ck"),
            "--max-restarts",
            "-1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (completed.returncode, completed.stdout) == (2, "")
    assert completed.stderr == "decaybench: error: --max-restarts: must be an int >= 0, got -1\n"
    assert list(tmp_path.iterdir()) == []


class FaultyOnce(LocalCluster):
    """The first workers carry DECAYBENCH_WORKER_FAULT; the restarted ones run clean."""

    spawned = 0

    def _environment(self, index: int, ports: Sequence[int]) -> dict[str, str]:
        environ = super()._environment(index, ports)
        if self.spawned >= self.size:
            environ.pop(WORKER_FAULT, None)
        self.spawned += 1
        return environ


@pytest.mark.parametrize("kind", ["kill", "hang"])
def test_the_supervisor_restarts_from_the_last_checkpoint(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(WORKER_FAULT, f"{kind}:1:epoch300")
    options = check_options(CONFIG, "multiworker", tmp_path / "ck", 50, False)
    assert options is not None
    with FaultyOnce("multiworker", Timeouts(collective=COLLECTIVE)) as cluster:
        trace = supervised(cluster, CONFIG, False, options, max_restarts=3)
    assert_uninterrupted(trace)
    [restart] = cluster.restarts
    fault = "was killed by SIGKILL" if kind == "kill" else "hangs"
    # The chief saves epoch 300's checkpoint as worker 1 fails: it may finish before the supervisor stops it.
    assert restart.worker == 1 and fault in restart.fault and restart.resumed_from in (250, 300)
    lines = [line for line in capsys.readouterr().err.splitlines() if "restart" in line]
    assert lines == [f"decaybench: multiworker restart 1 of 3: worker 1 {restart.fault}; resuming from epoch {restart.resumed_from}"]
    assert restart.seconds is not None and 0 < restart.seconds < 120
    print(f"recovery after {kind}: {restart.seconds:.1f} s (fault to the first epoch after the restore)")


class AlwaysFailing:
    """A cluster whose every run fails: what supervised() does with it needs no process."""

    def __init__(self) -> None:
        self.runs: list[CheckpointOptions | None] = []
        self.restarts: list[Any] = []
        self.first_epoch_at: float | None = None

    def run(self, config: DecayConfig, progress: bool | None, checkpoint: CheckpointOptions | None = None) -> Trace:
        self.runs.append(checkpoint)
        raise DistributedError("multiworker run failed: worker 0 exited with code 3", 0, "exited with code 3")


@pytest.mark.parametrize("limit", [0, 2])
def test_the_restarts_are_bounded_then_the_error_stays(limit: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    options = check_options(CONFIG, "multiworker", tmp_path / "ck", 50, False)
    assert options is not None
    cluster = AlwaysFailing()
    with pytest.raises(DistributedError, match="worker 0 exited with code 3"):
        supervised(cluster, CONFIG, False, options, max_restarts=limit)  # type: ignore[arg-type]
    assert len(cluster.runs) == limit + 1 and len(cluster.restarts) == limit
    assert capsys.readouterr().err.count("multiworker restart") == limit


def test_a_real_cluster_stopped_then_killed_resumes_with_the_same_command(tmp_path: Path) -> None:
    checkpoints, outputs = tmp_path / "ck", [tmp_path / f"host{index}.json" for index in range(2)]
    args = ["--epochs", "600", "--checkpoint-dir", str(checkpoints), "--checkpoint-every", "50", "--format", "json"]
    args += ["--collective-timeout", str(COLLECTIVE), "--startup-timeout", "90", "--output-all"]
    per_host = {index: ["--output", str(outputs[index])] for index in range(2)}

    def launch(fault: str | None) -> dict[int, Result]:
        hosts = Hosts()
        try:
            hosts.start(2, args, per_host=per_host, env={int(fault.split(":")[1]): {WORKER_FAULT: fault}} if fault else None)
            return hosts.wait_all()
        finally:
            hosts.close()

    # 1. SIGTERM to the chief: a checkpoint at the next epoch boundary, exit 143, one line saying where.
    chief, peer = launch("term:0:epoch200").values()
    assert chief.returncode == 143, chief.stderr[-2000:]
    [line] = chief.lines()
    stopped = re.fullmatch(
        rf"decaybench: terminated by SIGTERM; checkpoint of epoch (\d+) in {checkpoints}: run the same command to resume", line
    )
    assert stopped is not None and 200 < int(stopped[1]) <= 250, line
    assert peer.returncode == 1 and "worker 0 (" in peer.lines()[0]
    assert not any(output.exists() for output in outputs)
    # 2. The same command resumes there; worker 1 is killed as its epoch 400 starts. The chief saves
    # epoch 400 at that same boundary, and under load the kill can win: the latest checkpoint is then
    # epoch 350 (seen once in a fresh-clone `make test`). Either is a complete checkpoint.
    chief, peer = launch("kill:1:epoch400").values()
    assert (chief.returncode, peer.returncode) == (1, -signal.SIGKILL)
    assert "worker 1 (" in chief.lines()[0] and "is gone" in chief.lines()[0]
    latest = latest_epoch(checkpoints)
    assert latest in (350, 400), latest
    # 3. The same command again: it resumes from the latest checkpoint and ends with the uninterrupted trace.
    chief, peer = launch(None).values()
    assert (chief.returncode, peer.returncode) == (0, 0), (chief.stderr[-2000:], peer.stderr[-2000:])
    assert f"resumed at epoch {latest} from {checkpoints}" in chief.stderr
    assert outputs[0].read_text() == outputs[1].read_text()
    assert_uninterrupted(Trace.from_json(outputs[0].read_text()))
