"""The memory check: its constants hold what each path really allocates (measured with tracemalloc), and a run
that does not fit is refused before any work, with the bytes it needs."""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from decaybench import memory
from decaybench.config import DecayConfig
from decaybench.loops import run
from decaybench.modes import REGISTRY

HUGE_EPOCHS = 10**13  # 10**13 rows of 24 bytes: far beyond any machine's memory


def _peak(call: Callable[[], Any]) -> int:
    """Peak bytes NumPy and Python allocate during ``call`` (TensorFlow's own buffers are not traced)."""
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_every_mode_says_what_it_allocates() -> None:
    with pytest.raises(ValueError, match="does not know what mode 'warp' allocates"):
        memory.footprint(DecayConfig(), ["warp"])
    for mode in REGISTRY:
        assert memory.footprint(DecayConfig(epochs=1000), [mode]).total >= memory.PEAK_COPIES * DecayConfig(epochs=1000).trace_bytes


# The rows' cost in a fresh process: the small run first (TensorFlow's start-up, tracing, the
# runtime's own arenas), then the peak RSS reset to the current RSS (Linux's clear_refs "5") and the
# big run's peak read against it. A peak across two processes would include TensorFlow's start-up
# transient, which under load can exceed the rows and read as 0.
PEAK_GROWTH = """
import sys
from pathlib import Path
from decaybench import DecayConfig, run

def status(key):
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(key + ":"))
    return int(line.split()[1]) * 1024  # kB

run(DecayConfig(epochs=40, size=1), sys.argv[2])
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS")
run(DecayConfig(epochs=40, size=int(sys.argv[1])), sys.argv[2])
print(status("VmHWM") - before)
"""
# The big run's own compilation and allocator slack move the growth by a few MB run to run
# (graph 226 MB, xla 198 MB against 252 MB counted, here): the growth is read within 32 MiB.
RSS_NOISE = 32 * 2**20


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="resetting the peak RSS needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_compiled_modes_buffers_are_counted(mode: str) -> None:
    # tracemalloc cannot see TensorFlow's buffers: the peak RSS growth of a fresh process over the
    # run of a big w is what the rows cost (the 40 x 2**19 float32 trace is 84 MB a copy).
    small, big = DecayConfig(epochs=40, size=1), DecayConfig(epochs=40, size=2**19)
    done = subprocess.run([sys.executable, "-c", PEAK_GROWTH, str(big.size), mode], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = int(done.stdout.split()[-1])
    counted = memory.footprint(big, [mode]).total - memory.footprint(small, [mode]).total
    # Counted from above (the refusal must not let through a run that cannot fit), and not wildly so.
    assert measured - RSS_NOISE <= counted <= 3 * measured, (measured, counted)


@pytest.mark.parametrize("record_every", [1, 10_000])
def test_numpy_mode_per_epoch_arrays_are_counted(record_every: int) -> None:
    from decaybench.modes.emulation import emulate

    config = DecayConfig(epochs=10_000, record_every=record_every)
    measured = _peak(lambda: emulate(config))
    counted = memory.footprint(config, ["numpy"]).total
    # Counted from above, and not wildly so: the refusal must not turn away runs that fit.
    assert measured <= counted <= 3 * measured, (measured, counted)


def test_the_oracle_is_counted_per_epoch_whatever_record_every() -> None:
    from decaybench.oracle import exact_trajectory

    config = DecayConfig(epochs=2_000, record_every=2_000)
    measured = _peak(lambda: exact_trajectory(config))
    assert measured <= config.epochs * memory.ORACLE_EPOCH <= 2 * measured, measured
    assert memory.footprint(config, ["numpy"], "verify").per_epoch >= config.epochs * memory.ORACLE_EPOCH


@pytest.mark.parametrize("size", [1, 100])
def test_per_epoch_loops_count_their_row_objects(size: int) -> None:
    config = DecayConfig(epochs=400, size=size)
    run(DecayConfig(epochs=2, size=size), "function")  # tracing aside
    measured = _peak(lambda: run(config, "function"))
    counted = memory.footprint(config, ["function"]).total
    assert measured <= counted <= 3 * measured, (measured, counted)


def test_refusals_name_the_flag_that_helps() -> None:
    cases = [
        (DecayConfig(epochs=10**10, record_every=10**9), "numpy", "run", "epochs", "run fewer epochs"),
        (DecayConfig(epochs=10**12, record_every=10**12), "eager", "verify", "epochs", "run fewer epochs"),
        (DecayConfig(size=10**11), "xla", "run", "size", "use a smaller size"),
        (DecayConfig(epochs=10**13), "graph", "run", "epochs", "record fewer with record_every"),
    ]
    for config, mode, task, argument, advice in cases:
        with pytest.raises(ValueError, match=advice) as raised:
            memory.check_memory(config, mode, task)  # type: ignore[arg-type]
        assert raised.value.argument == argument  # type: ignore[attr-defined]
    memory.check_memory(DecayConfig(), list(REGISTRY), "verify")  # the seed always fits


# The memory check through the API: refused before any work, with the bytes needed.


def test_too_many_epochs_are_refused_with_the_bytes_needed_before_running() -> None:
    # 10**13 rows: three trace copies of 24 bytes and the Recorder's 800 bytes of NumPy objects each (decaybench.memory).
    with pytest.raises(ValueError, match=r"needs 10,760,000,000,000,000 bytes .* record_every \(--record-every\)"):
        run(DecayConfig(epochs=HUGE_EPOCHS))
    # The same run, recorded every 10**9 epochs, fits: it is refused for nothing but memory.
    assert DecayConfig(epochs=HUGE_EPOCHS, record_every=10**9).trace_bytes < 10**6


def test_numpy_mode_counts_its_per_epoch_arrays() -> None:
    sparse = DecayConfig(epochs=10**10, record_every=10**9)
    with pytest.raises(ValueError, match=r"epochs needs 800,000,000,\d{3} bytes to run mode numpy"):
        run(sparse, "numpy")
    # The same configuration keeps 12 rows in a compiled mode: it is refused in numpy for its per-epoch arrays alone.
    assert memory.footprint(sparse, ["xla"]).total < 10**4


def test_verify_plot_and_sweep_are_refused_before_any_work() -> None:
    from decaybench.plot import run_modes
    from decaybench.sweep import run_sweep
    from decaybench.verify import verify

    huge = DecayConfig(epochs=10**12, record_every=10**12)
    with pytest.raises(ValueError, match=r"epochs needs .* bytes to verify .*run fewer epochs, got 1000000000000"):
        verify(huge)
    with pytest.raises(ValueError, match=r"epochs needs .* bytes to plot mode numpy"):
        run_modes(huge, ["numpy"])
    with pytest.raises(ValueError, match=r"configs needs .* bytes for their traces"):
        run_sweep([DecayConfig(epochs=10**10)] * 10)


def test_verify_counts_an_emulation_per_update_order_of_its_modes() -> None:
    # At size 2 function updates in (lr*2)*x: verify keeps its emulation beside the seed order's.
    config = DecayConfig(size=2, epochs=50)
    one, two = (memory.footprint(config, modes, "verify").total for modes in (["numpy"], ["numpy", "function"]))
    assert two - one >= memory.footprint(config, ["numpy"], "run").total
