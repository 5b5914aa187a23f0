"""Modes mirrored and multiworker: exact w, the loss as shard sums, the fallback, and workers that die or hang.

Fault tests start clusters of their own with short timeouts (the defaults are for loaded CI
machines) and inject faults with DECAYBENCH_WORKER_FAULT (see decaybench/test_hooks.py).
Each costs one cluster start-up, seconds of TensorFlow import, so there are few of them.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench import cli, golden
from decaybench.cli import commands
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY
from decaybench.modes.distributed import local_supervisor
from decaybench.modes.distributed.faults import DistributedError, Fault
from decaybench.modes.distributed.local_supervisor import HOST, LocalCluster
from decaybench.modes.distributed.timeouts import GRACE_SECONDS, POLL_SECONDS, TIMEOUTS, Timeouts
from decaybench.modes.distributed.training import shard_bounds
from decaybench.modes.emulation import emulate
from decaybench.oracle import max_ulp, ulp_distance
from decaybench.test_hooks import WORKER_FAULT
from decaybench.verify import summation_order_bound, verify

if TYPE_CHECKING:
    from tests.conftest import Lateness

DISTRIBUTED = ["mirrored", "multiworker"]
ROOT = Path(__file__).resolve().parents[1]
# Scheduling on a loaded 2-core machine: added to every time bound below, with the lateness measured
# during the run (tests/conftest.py, Lateness).
SLACK_SECONDS = 3.0


def gone(pid: int) -> bool:
    """True when neither the process nor anything in its process group is left."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_gone(pids: tuple[int, ...] | list[int], seconds: float = 10.0) -> list[int]:
    """The pids still alive after waiting up to ``seconds``."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends and not all(gone(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if not gone(pid)]


# ---- numerics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
def test_shards_are_array_split(replicas: int) -> None:
    for size in range(12):
        bounds = shard_bounds(size, replicas)
        parts = np.array_split(np.arange(size), replicas)
        assert [list(range(b, e)) for b, e in itertools.pairwise(bounds)] == [part.tolist() for part in parts]


@pytest.mark.parametrize("mode", DISTRIBUTED)
@pytest.mark.parametrize(
    "config",
    [DecayConfig(), DecayConfig(dtype="float64", staircase=True, decay_steps=3, w0=-7.5, epochs=30, record_every=4)],
    ids=["seed", "float64-staircase"],
)
def test_size_one_is_eager_bit_for_bit(mode: str, config: DecayConfig) -> None:
    # One replica holds the element, the other an empty shard: its loss and gradient are exact zeros.
    trace, eager = run(config, mode), run(config, "eager")
    for name in ("epoch", "w", "loss", "lr"):
        assert_array_equal(getattr(trace, name), getattr(eager, name), err_msg=name)
    if config.is_seed:
        assert all(check.ok for check in golden.check_documented(trace))


@pytest.mark.parametrize("mode", DISTRIBUTED)
@pytest.mark.parametrize(
    "config",
    [
        DecayConfig(size=17),
        DecayConfig(size=1000, epochs=25),
        DecayConfig(size=4097, epochs=12, record_every=5, w0=-3.25),
        DecayConfig(size=999, dtype="float64", epochs=20, staircase=True, decay_steps=4),
        # Shards of 150,001 float32: Eigen sums each on 2 threads, the workers' pinned pool size.
        DecayConfig(size=300_001, epochs=3),
    ],
    ids=lambda config: f"{config.dtype}-n{config.size}",
)
def test_w_is_exact_and_the_loss_is_the_shard_sums(mode: str, config: DecayConfig) -> None:
    trace = run(config, mode)
    sharded = emulate(config, shards=shard_bounds(config.size, 2))
    assert_array_equal(trace.w, emulate(config).w)  # the unsharded emulation of record: eager's w
    assert_array_equal(trace.loss, sharded.loss)
    assert_array_equal(trace.lr, sharded.lr)


SPLIT_SIZES = [("float32", 17), ("float32", 1000), ("float32", 4097), ("float32", 100_000), ("float64", 1000)]


def _tensorflow_split_ulps(dtype: str, size: int) -> int:
    """TensorFlow's own numbers: the most ULPs the seed's loss moves, over its epochs, when
    ``tf.reduce_sum`` adds 2 shards' sums instead of summing all ``size`` squares at once."""
    import tensorflow as tf  # this test alone asks TensorFlow itself

    seed = emulate(DecayConfig(dtype=dtype))  # every element of a vector run follows it
    w_before = np.concatenate([[np.asarray(seed.config.w0, dtype)], seed.w[:-1, 0]])
    first, middle, last = shard_bounds(size, 2)
    worst = 0
    for w in w_before:
        squares = tf.square(tf.fill([size], tf.constant(w, dtype)) + tf.constant(1, dtype))
        split = tf.reduce_sum(squares[first:middle]) + tf.reduce_sum(squares[middle:last])
        worst = max(worst, max_ulp(split.numpy(), tf.reduce_sum(squares).numpy()))
    return worst


@pytest.mark.parametrize(("dtype", "size"), SPLIT_SIZES)
def test_splitting_the_sum_moves_the_loss_as_tensorflow_does_within_the_bound(dtype: str, size: int) -> None:
    config = DecayConfig(size=size, dtype=dtype)
    sharded, whole = emulate(config, shards=shard_bounds(size, 2)), emulate(config)
    assert_array_equal(sharded.w, whole.w)
    assert max_ulp(sharded.loss, whole.loss) == _tensorflow_split_ulps(dtype, size)
    # 100,000 = 2 x 50,000 is where Eigen's own tree splits: the same additions, 0 ULP.
    assert np.all(ulp_distance(sharded.loss, whole.loss) <= summation_order_bound(emulate(DecayConfig(dtype=dtype)), size))


def test_verify_rows_meet_the_sharded_sum_contract() -> None:
    report = verify(DecayConfig(size=1000, epochs=10), modes=tuple(DISTRIBUTED), reference=False)
    assert report.ok
    for row in report.rows:
        assert REGISTRY[row.mode].contract == row.contract == "sharded-sum"
        assert row.max_ulp_w == row.bound_w == 0 and 0 < row.max_ulp_loss <= row.bound_loss


def test_a_warm_cluster_repeats_itself() -> None:
    # tests/test_determinism.py repeats every mode 20 times; this adds the cluster's other
    # concern, that runs of other shapes in between leave a run unchanged.
    config = DecayConfig(size=33, epochs=9)
    first = run(config, "multiworker")
    run(DecayConfig(size=5, dtype="float64"), "multiworker")
    again = run(config, "multiworker")
    assert_array_equal(first.w, again.w)
    assert_array_equal(first.loss, again.loss)


# ---- faults ---------------------------------------------------------------------------------------


def test_default_timeouts_are_the_stated_ones() -> None:
    assert (TIMEOUTS.startup, TIMEOUTS.stall, TIMEOUTS.collective, TIMEOUTS.total) == (60.0, 30.0, 10.0, 120.0)
    assert TIMEOUTS.run_seconds(DecayConfig()) == pytest.approx(120.0 + 40 * (0.05 + 1e-7))


def test_fault_specs_are_checked() -> None:
    assert Fault.parse("") is None and Fault.parse("hang:1:epoch3") == Fault("hang", 1, "epoch3")
    for spec in ("hang", "sleep:1:join", "hang:x:join", "hang:1:epoch", "kill:0:later"):
        with pytest.raises(ValueError, match="DECAYBENCH_WORKER_FAULT"):
            Fault.parse(spec)


def failing_run(cluster: LocalCluster, config: DecayConfig, lateness: Lateness) -> tuple[DistributedError, float, float]:
    """The run's error, its seconds, and the machine's lateness during it."""
    started = time.monotonic()
    with pytest.raises(DistributedError) as caught:
        cluster.run(config)
    ended = time.monotonic()
    return caught.value, ended - started, lateness.between(started, ended)


def warm(cluster: LocalCluster) -> None:
    """Start the workers with a run too short to reach an injected ``epoch3`` fault; it is exact."""
    config = DecayConfig(size=17, epochs=3)
    trace = cluster.run(config)
    assert len(cluster.pids) == cluster.size
    sharded = emulate(config, shards=shard_bounds(config.size, 2))
    assert_array_equal(trace.w, sharded.w)
    assert_array_equal(trace.loss, sharded.loss)


LONG = DecayConfig(epochs=20_000)  # minutes at a few ms per step: only a fault ends it early


@pytest.fixture
def clashing_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[int]]]:
    """The first cluster start gets a port already in use; yields the ports each start got."""
    starts: list[list[int]] = []
    free_ports = local_supervisor.free_ports
    with socket.socket() as squatter:
        squatter.bind((HOST, 0))
        squatter.listen()

        def ports(count: int) -> list[int]:
            chosen = free_ports(count)
            if not starts:
                chosen[-1] = squatter.getsockname()[1]
            starts.append(chosen)
            return chosen

        monkeypatch.setattr(local_supervisor, "free_ports", ports)
        yield starts


def test_a_taken_port_is_retried_and_a_worker_killed_mid_run_ends_the_run_at_once(
    clashing_ports: list[list[int]], lateness: Lateness
) -> None:
    # One cluster for two checks (each start costs seconds): its start meets a port in use.
    with LocalCluster("multiworker") as cluster:
        warm(cluster)
        assert len(clashing_ports) == 2  # a worker could not bind: the cluster started again on fresh ports
        pids = cluster.pids
        timer = threading.Timer(1.0, os.kill, (pids[1], signal.SIGKILL))
        timer.start()
        error, seconds, late = failing_run(cluster, LONG, lateness)
        timer.join()
    assert error.worker == 1 and "killed by SIGKILL" in error.fault, error
    assert str(error).startswith("multiworker run failed: worker 1 was killed by SIGKILL")
    assert seconds - 1.0 < POLL_SECONDS + GRACE_SECONDS + SLACK_SECONDS + late, (seconds, late)
    assert error.pids == pids and wait_gone(pids) == []


def test_a_hung_worker_is_named_when_its_peers_collective_times_out(monkeypatch: pytest.MonkeyPatch, lateness: Lateness) -> None:
    monkeypatch.setenv(WORKER_FAULT, "hang:1:epoch3")
    timeouts = Timeouts(collective=3.0)
    with LocalCluster("multiworker", timeouts) as cluster:
        warm(cluster)
        error, seconds, late = failing_run(cluster, LONG, lateness)
    assert error.worker == 1 and error.fault.startswith("hangs"), error
    assert "epoch 2" in error.fault and "DeadlineExceededError" in str(error)
    assert "injected fault" in error.stderr_tail  # the tail of the worker's stderr
    assert timeouts.collective <= seconds < timeouts.collective + GRACE_SECONDS + SLACK_SECONDS + late, (seconds, late)
    assert wait_gone(error.pids) == []


def test_a_hang_no_collective_notices_is_a_stall(monkeypatch: pytest.MonkeyPatch, lateness: Lateness) -> None:
    # The mirrored fallback: one worker process, no peer to time out, only the supervisor's clock.
    # Its warm-up run also checks the fallback's trace, bit for bit.
    monkeypatch.setenv(WORKER_FAULT, "hang:0:epoch3")
    timeouts = Timeouts(stall=3.0)
    with LocalCluster("mirrored", timeouts) as cluster:
        warm(cluster)
        error, seconds, late = failing_run(cluster, LONG, lateness)
    assert error.worker == 0 and error.fault.startswith("hangs"), error
    assert "epoch 2" in error.fault and "no progress for" in str(error)
    assert timeouts.stall <= seconds < timeouts.stall + GRACE_SECONDS + SLACK_SECONDS + late, (seconds, late)
    assert wait_gone(error.pids) == []


def test_a_worker_that_never_starts_ends_the_start_up(monkeypatch: pytest.MonkeyPatch, lateness: Lateness) -> None:
    # It hangs before importing TensorFlow: the start-up limit alone can notice.
    monkeypatch.setenv(WORKER_FAULT, "hang:0:start")
    timeouts = Timeouts(startup=5.0)
    with LocalCluster("mirrored", timeouts) as cluster:
        error, seconds, late = failing_run(cluster, DecayConfig(), lateness)
    assert error.worker == 0 and "before joining the cluster (last stage: started)" in error.fault, error
    assert "injected fault" in error.stderr_tail  # the hang, not a slow TensorFlow import, ended the start-up
    assert "the cluster did not start within 5 s" in str(error)
    assert timeouts.startup <= seconds < timeouts.startup + GRACE_SECONDS + SLACK_SECONDS + late, (seconds, late)
    assert wait_gone(error.pids) == []


PARENT = """
    import json, sys
    from decaybench import DecayConfig, run
    from decaybench.modes.distributed.local_supervisor import shared_cluster
    run(DecayConfig(epochs=3), "multiworker")
    print(json.dumps(shared_cluster("multiworker").pids), flush=True)
    sys.stdin.read()
"""


def test_workers_die_with_their_parent() -> None:
    # Every worker, of either role, sets PR_SET_PDEATHSIG in decaybench/modes/distributed/local_worker.py.
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, parent.communicate(timeout=60)[1][-3000:]
        pids = json.loads(line)
        assert len(pids) == 2 and not any(gone(pid) for pid in pids)
    finally:
        parent.kill()  # SIGKILL: no atexit, no clean-up; PR_SET_PDEATHSIG must do it
        parent.communicate(timeout=60)
    assert wait_gone(pids) == []


def test_a_real_cluster_runs_the_same_command_on_every_host() -> None:
    # What docs/distributed.md shows: TF_CONFIG per host, `decaybench run --mode multiworker` on each.
    spec = {"worker": [f"{HOST}:{port}" for port in local_supervisor.free_ports(2)]}
    command = [
        sys.executable,
        "-m",
        "decaybench",
        "run",
        "--mode",
        "multiworker",
        "--size",
        "5",
        "--epochs",
        "4",
        "--format",
        "csv",
        "--output-all",
    ]
    hosts = [
        subprocess.Popen(
            command,
            env={**os.environ, "TF_CONFIG": json.dumps({"cluster": spec, "task": {"type": "worker", "index": index}})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        for index in range(2)
    ]
    try:
        outputs = [host.communicate(timeout=120) for host in hosts]
    finally:
        for host in hosts:
            if host.poll() is None:
                os.killpg(host.pid, signal.SIGKILL)
    assert [host.returncode for host in hosts] == [0, 0], [err[-2000:] for _, err in outputs]
    assert outputs[0][0] == outputs[1][0] == run(DecayConfig(size=5, epochs=4), "multiworker").to_csv()


def test_a_clusters_stderr_lines_are_escaped_one_by_one(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The local cluster's error quotes its worker's stderr, a line each; a worker may write control characters.
    tail = "InvalidArgumentError: bad\x1b[2J value\rsame line\u2028still"
    error = DistributedError(
        f"multiworker run failed: worker 1 exited with code 3\n--- worker 1 stderr (last lines) ---\n{tail}", 1, "exit"
    )

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(commands, "run_mode", fail)
    assert cli.main(["run", "--mode", "eager", "--epochs", "1"]) == 1
    assert capsys.readouterr().err.split("\n") == [
        "decaybench: error: multiworker run failed: worker 1 exited with code 3",
        "--- worker 1 stderr (last lines) ---",
        "InvalidArgumentError: bad\\x1b[2J value\\rsame line\\u2028still",
        "",
    ]
