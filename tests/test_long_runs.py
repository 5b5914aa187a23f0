"""Long runs: record_every keeps memory O(epochs / K) without subsampling afterwards; Ctrl-C is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench import progress
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes import BUILTIN
from decaybench.modes._scaffold.unrolled import UNROLL_FROM
from decaybench.modes.emulation import emulate, xla_model

if TYPE_CHECKING:
    from tests.conftest import Command


@pytest.mark.parametrize("mode", MODES)
def test_recording_every_k_is_the_full_run_at_those_epochs(mode: str) -> None:
    full = run(DecayConfig(epochs=50, staircase=True, decay_steps=3, size=2), mode)
    sparse = run(DecayConfig(epochs=50, staircase=True, decay_steps=3, size=2, record_every=8), mode)
    rows = [0, 8, 16, 24, 32, 40, 48, 49]  # every 8th, and the last epoch
    assert sparse.epoch.tolist() == rows
    for name in ("w", "loss", "lr"):
        assert_array_equal(getattr(sparse, name), getattr(full, name)[rows])


MEMORY_PROBE = """
    import resource, sys
    from decaybench import DecayConfig, run
    mode, epochs, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run(DecayConfig(epochs=1000, record_every=1), mode)            # warm up TensorFlow
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    trace = run(DecayConfig(epochs=epochs, record_every=every), mode)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(trace), (after - before) * 1024)
"""


@pytest.mark.parametrize("mode", ["xla"])
def test_compiled_loop_does_not_record_every_step(mode: str) -> None:
    # Recording all 3e7 epochs would take 3e7 * 24 bytes = 720 MB at least; recording every
    # 1e6th takes 31 rows. The peak memory of the process must not grow by anything like that.
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_PROBE), mode, str(30_000_000), str(1_000_000)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rows, grown = map(int, done.stdout.split())
    assert rows == 31
    assert grown < 100 * 2**20, f"peak memory grew by {grown:,} bytes"


def test_progress_bar_on_request(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    run(DecayConfig(epochs=30), "eager", progress=True)
    assert "eager" in capsys.readouterr().err
    run(DecayConfig(epochs=30), "eager")  # stderr is not a terminal here: no bar
    assert capsys.readouterr().err == ""


def test_ctrl_c_stops_cleanly_without_a_partial_file(decaybench: Command, tmp_path: Path) -> None:
    output = tmp_path / "trace.csv"
    process = subprocess.Popen(
        decaybench.argv("run", "--epochs", "2000000", "--format", "csv", "--output", str(output), "--progress"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    seen = ""
    while "epoch" not in seen and time.monotonic() < deadline:  # the bar appears once the loop runs
        seen += process.stderr.read(1)
    assert "epoch" in seen, "the run never started"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1].endswith("decaybench: interrupted")
    assert "Traceback" not in stderr and stdout == ""
    assert list(tmp_path.iterdir()) == []


LONG = UNROLL_FROM + 7  # not a multiple of the unroll: the last block runs past the chunk's end


@pytest.mark.parametrize(
    "config",
    [
        DecayConfig(epochs=LONG, initial_learning_rate=0.01, decay_rate=0.99999),
        DecayConfig(epochs=LONG, dtype="float64", staircase=True, decay_steps=7, transition_begin=30, end_value=0.15),
        DecayConfig(epochs=LONG, size=5, w0=-2.5, initial_learning_rate=0.3, decay_rate=0.999),
        # 16-bit rows are packed as uint16 words: XLA computes a bfloat16 concat through float32,
        # which flushed lr words that read as subnormals (the seed's lrs, before the rows were packed so)
        DecayConfig(epochs=LONG, dtype="bfloat16"),
    ],
    ids=["float32", "float64-staircase", "size5", "bfloat16"],
)
def test_a_long_run_is_unrolled_and_keeps_its_contracts(config: DecayConfig, tmp_path: Path) -> None:
    # From UNROLL_FROM epochs XLA runs the schedule as one vector and the steps 4 at a time
    # (modes/_scaffold/unrolled.py); shorter runs, the seed's included, keep the plain loop. Both
    # contracts hold there: xla-exact is the emulation bit for bit, xla its model (w and lr bit for bit;
    # the loss of size > 1 in XLA's order is held by tests/properties/test_xla_model.py).
    exact = run(config, "xla-exact")
    assert any(long for _, _, long in BUILTIN["xla-exact"].compiled_loop()._functions)  # the unrolled function ran
    assert exact.identical(emulate(config))
    fast, model = run(config, "xla"), xla_model(config)
    assert_array_equal(fast.w, model.w)
    assert_array_equal(fast.lr, model.lr)
    if config.size == 1:
        assert_array_equal(fast.loss, model.loss)
    # chunked by checkpoints (each chunk shorter than the run, unrolled all the same): the same bits
    chunked = run(config, "xla-exact", checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=1500)
    assert chunked.identical(exact)


def _root(array: Any) -> Any:
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


@pytest.mark.parametrize("mode", ["xla", "xla-exact"])
def test_a_compiled_run_s_trace_holds_views_of_what_its_call_wrote(mode: str) -> None:
    # Tensor.numpy() copies its buffer: 1-2 ms of a 1e6-epoch run's 16-24 MB, about 10% of the native
    # floor. run() reads the call's outputs back as read-only views instead (compiled_loop.host), and
    # the Trace keeps them: its rows lead back to the TensorFlow buffers, not to a NumPy copy.
    for config in (DecayConfig(epochs=40), DecayConfig(epochs=UNROLL_FROM + 7, initial_learning_rate=0.01, decay_rate=0.99999)):
        trace = run(config, mode)
        for name in ("w", "loss", "lr"):
            column = getattr(trace, name)
            assert isinstance(_root(column), memoryview), (config.epochs, name, type(_root(column)))
            assert not column.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                column[0] = 0
