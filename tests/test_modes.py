"""Every mode: the seed's documented lines, shapes, tracing and compiling once, XLA's one difference."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from decaybench import golden
from decaybench.config import DecayConfig
from decaybench.loops import MODES, run
from decaybench.modes import REGISTRY
from decaybench.modes.compiled import tracing_counts
from decaybench.modes.emulation import emulate
from decaybench.oracle import fused_update_bound, ulp_distance
from decaybench.xla_flags import XLA_NO_FMA, cpu_has_fma

EXACT_MODES = [mode for mode in MODES if REGISTRY[mode].contract == "exact"]


@pytest.mark.parametrize("mode", MODES)
def test_the_spec_says_whether_the_runner_checkpoints(mode: str) -> None:
    # run() passes the keyword checkpoint only to a mode whose ModeSpec says it checkpoints.
    takes = "checkpoint" in inspect.signature(REGISTRY[mode].runner()).parameters
    assert takes == (REGISTRY[mode].checkpoints is not None)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reproduces_the_documented_lines(mode: str) -> None:
    trace = run(mode=mode)
    for check in golden.check_documented(trace):
        assert check.actual == check.expected, f"{mode}, epoch {check.epoch}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "config",
    [
        DecayConfig(staircase=True, decay_steps=3, epochs=23, record_every=5),
        DecayConfig(dtype="float64", size=7, epochs=9, w0=-12.5, initial_learning_rate=0.45),
    ],
    ids=["staircase-float32", "vector-float64"],
)
def test_every_mode_supports_the_whole_config(mode: str, config: DecayConfig) -> None:
    trace = run(config, mode)
    assert trace.w.shape == (config.recorded_count, config.size) and trace.w.dtype == np.dtype(config.dtype)
    assert trace.loss.shape == (config.recorded_count,) and trace.lr.dtype == np.float64
    assert_array_equal(trace.epoch, config.recorded())
    # Mode numpy is the emulation: it is held to eager, TensorFlow's own kernels, instead.
    emulated = run(config, "eager") if mode == "numpy" else emulate(config)
    assert_array_equal(trace.lr, emulated.lr)
    if REGISTRY[mode].contract == "exact":
        assert_array_equal(trace.w, emulated.w)
        assert_array_equal(trace.loss, emulated.loss)


# Sizes no other test uses, so that the counts below do not depend on test order.
FRESH_SIZE = 4099


def test_function_traces_once_per_dtype_and_size() -> None:
    run(DecayConfig(epochs=2, size=FRESH_SIZE), "function")
    before = tracing_counts()
    for config in (
        DecayConfig(epochs=5, size=FRESH_SIZE),
        DecayConfig(epochs=50, size=FRESH_SIZE, w0=-4.0, initial_learning_rate=0.1),
        DecayConfig(epochs=1, size=FRESH_SIZE, staircase=True),
    ):
        run(config, "function")
    assert tracing_counts()["function"] == before["function"]
    run(DecayConfig(epochs=2, size=FRESH_SIZE, dtype="float64"), "function")
    assert tracing_counts()["function"] == before["function"] + 1


def test_graph_traces_once_for_any_config_of_a_dtype_and_size() -> None:
    count = tracing_counts()["graph"]
    run(DecayConfig(size=FRESH_SIZE + 1, epochs=3), "graph")
    assert tracing_counts()["graph"] == count + 1
    for epochs, every in ((1, 1), (40, 1), (97, 7)):
        run(DecayConfig(size=FRESH_SIZE + 1, epochs=epochs, record_every=every, staircase=epochs % 2 == 0, w0=epochs / 3), "graph")
    assert tracing_counts()["graph"] == count + 1


def _xla_compiles(tmp_path: Path, script: str) -> int:
    # XLA's persistent cache writes one file per compilation: an honest compile counter.
    cache = tmp_path / "xla-cache"
    cache.mkdir()
    env = {**os.environ, "TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={cache}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300)
    if "No available targets are compatible with triple" in done.stderr:
        # TF 2.15's XLA cannot compile for the CPU with the persistent cache on (target triple "unknown").
        pytest.skip("this XLA's persistent cache does not work on CPU, so compiles cannot be counted")
    assert done.returncode == 0, done.stderr[-2000:]
    return len(list(cache.iterdir()))


def test_xla_compiles_once_per_dtype_size_and_length(tmp_path: Path) -> None:
    script = """
        from decaybench import DecayConfig, run
        for lr in (0.2, 0.1, 0.3):
            run(DecayConfig(initial_learning_rate=lr), "xla")
            run(DecayConfig(initial_learning_rate=lr, staircase=True, decay_steps=4), "xla")
        run(DecayConfig(epochs=41), "xla")
    """
    assert _xla_compiles(tmp_path, script) == 2  # 40 epochs (six runs) and 41 epochs


def test_xla_is_the_fused_update_bit_for_bit() -> None:
    # The cause of XLA's difference, pinned: LLVM contracts w - lr*g into one FMA on CPUs that
    # have it. Emulating exactly that reproduces every w bit; size 1 makes the loss identical too.
    for config in (
        DecayConfig(),
        DecayConfig(w0=-17.3, initial_learning_rate=0.37, decay_rate=0.97, epochs=60),
        DecayConfig(dtype="float64", w0=9.1),
    ):
        xla, fused = run(config, "xla"), emulate(config, fused=cpu_has_fma())
        assert_array_equal(xla.w, fused.w)
        assert_array_equal(xla.loss, fused.loss)


def test_xla_on_the_seed_differs_by_one_ulp_within_its_bound() -> None:
    xla, emulated = run(mode="xla"), emulate(DecayConfig())
    distance = ulp_distance(xla.w[:, 0], emulated.w[:, 0])
    # Measured on x86-64 with FMA: epochs 3, 4 and 5 round differently by one ULP.
    assert distance.max() <= 1
    w_bound, loss_bound = fused_update_bound(emulated)
    assert np.all(distance <= w_bound)
    assert np.all(ulp_distance(xla.loss, emulated.loss) <= loss_bound)


def test_xla_without_fma_is_bit_identical(tmp_path: Path) -> None:
    # The setting that makes XLA exact: cap the CPU ISA below FMA, so no contraction happens.
    env = {**os.environ, "XLA_FLAGS": XLA_NO_FMA, "TF_CPP_MIN_LOG_LEVEL": "2"}
    script = """
        import numpy as np
        from decaybench import DecayConfig, run
        from decaybench.modes.emulation import emulate
        for config in (DecayConfig(), DecayConfig(w0=-17.3, initial_learning_rate=0.37, epochs=60), DecayConfig(dtype="float64", w0=9.1)):
            xla, emulated = run(config, "xla"), emulate(config)
            assert np.array_equal(xla.w, emulated.w) and np.array_equal(xla.loss, emulated.loss), config
        print("bit-identical")
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300)
    if "Unknown flag" in done.stderr or "unknown flag" in done.stderr.lower():
        pytest.skip("this XLA has no --xla_cpu_max_isa flag")
    assert done.returncode == 0 and done.stdout.strip() == "bit-identical", done.stderr[-2000:]


def test_a_subnormal_float64_lr_is_flushed_by_the_compiled_schedules_only() -> None:
    # A finding, pinned: TensorFlow's CPU kernels run with FTZ/DAZ, so the in-graph float64 schedule
    # of graph, xla and xla-exact turns a subnormal lr (here end_value, the floor of a decaying rate)
    # into 0, while eager, function, keras and numpy record the Python float. The update flushes
    # lr * g alike (its product is subnormal or 0), so w and the loss stay bit for bit; only the
    # recorded lr column differs.
    config = DecayConfig(initial_learning_rate=0.0, decay_rate=0.875, epochs=5, w0=0.0, end_value=5e-324)
    eager = run(config, "eager")
    assert_array_equal(eager.lr, np.full(5, 5e-324))
    for mode in ("function", "numpy"):
        assert run(config, mode).identical(eager), mode
    for mode in ("graph", "xla", "xla-exact"):
        trace = run(config, mode)
        assert_array_equal(trace.lr, np.zeros(5))
        assert_array_equal(trace.w, eager.w)
        assert_array_equal(trace.loss, eager.loss)
