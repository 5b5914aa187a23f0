"""The memory check's constants hold what each path really allocates (measured with tracemalloc)."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from decaybench import memory
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY


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
    from decaybench.loops import run

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
